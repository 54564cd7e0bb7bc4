package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/sqlite"
)

// TestOrgRestoreCommand: `likeness org restore` brings a deleted
// organization back with its members, once, and refuses bad input.
func TestOrgRestoreCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", filepath.Join(dir, "master.key"))
	ctx := context.Background()
	db, err := createStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	_, m, err := db.CreateAccount(ctx, likeness.AccountCreate{Email: "ann@example.com", PasswordHash: "x", OrgName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.CreateApp(ctx, likeness.AppCreate{OrgID: m.Org.ID, Name: "Shop", Origins: []string{"https://shop.example"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeleteOrg(ctx, m.Org.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := db.FinishOrgDeletions(ctx, likeness.DeletionKeyWait); err != nil || n != 1 {
		t.Fatalf("keys: %d %v", n, err)
	}
	db.Close()

	org := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"org"}, args...), &out, &out)
		return out.String(), err
	}
	for _, args := range [][]string{nil, {"restore"}, {"restore", "--data", dir}, {"undelete", "--data", dir, "--org", m.Org.ID}} {
		var ue usageError
		if _, err := org(args...); err == nil || !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	if out, err := org("--help"); err != nil || !strings.Contains(out, "likeness org restore") {
		t.Errorf("--help: %v %q", err, out)
	}
	for _, args := range [][]string{{"restore", "--help"}, {"restore", "-h"}} {
		if out, err := org(args...); err != nil || !strings.Contains(out, "likeness org restore") || !strings.Contains(out, "-org") {
			t.Errorf("%v: %v %q", args, err, out)
		}
	}
	if _, err := org("restore", "--data", dir, "--org", "org_nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown organization: %v", err)
	}
	out, err := org("restore", "--data", dir, "--org", m.Org.ID, "--json")
	if err != nil {
		t.Fatalf("restore: %v %s", err, out)
	}
	var res struct {
		OrgID        string `json:"orgId"`
		Members      int    `json:"members"`
		Applications int    `json:"applications"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.OrgID != m.Org.ID || res.Members != 1 || res.Applications != 1 {
		t.Errorf("restore output %s: %+v %v", out, res, err)
	}
	if _, err := org("restore", "--data", dir, "--org", m.Org.ID); err == nil || !strings.Contains(err.Error(), "not deleted") {
		t.Errorf("restoring twice: %v", err)
	}
}

// TestOrgRestoreTooLate: after 90 days the command refuses.
func TestOrgRestoreTooLate(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", filepath.Join(dir, "master.key"))
	ctx := context.Background()
	past := time.Now().Add(-likeness.OrgRetention - time.Hour)
	db, err := createStore(ctx, dir, func(o *sqlite.Options) { o.Now = func() time.Time { return past } })
	if err != nil {
		t.Fatal(err)
	}
	_, m, err := db.CreateAccount(ctx, likeness.AccountCreate{Email: "ann@example.com", PasswordHash: "x", OrgName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeleteOrg(ctx, m.Org.ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var out bytes.Buffer
	if err := run(ctx, []string{"org", "restore", "--data", dir, "--org", m.Org.ID}, &out, &out); err == nil || !strings.Contains(err.Error(), "90 days") {
		t.Errorf("restore after 90 days: %v", err)
	}
}

// TestAdminCreateOperator: --operator makes an operator account that
// claims no organization.
func TestAdminCreateOperator(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", filepath.Join(dir, "master.key"))
	ctx := context.Background()
	db, err := createStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Unowned", Origins: []string{"https://a.example"}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var out bytes.Buffer
	err = runAdmin(ctx, []string{"create", "--data", dir, "--email", "ops@likeness.example", "--operator", "--json"},
		strings.NewReader("correct horse battery staple\n"), &out, &out)
	if err != nil {
		t.Fatal(err, out.String())
	}
	var res struct {
		Operator bool `json:"operator"`
		Claimed  int  `json:"claimedOrganizations"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || !res.Operator || res.Claimed != 0 {
		t.Errorf("output %s: %+v %v", out.String(), res, err)
	}
	db, err = createStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if u, err := db.UserByEmail(ctx, "ops@likeness.example"); err != nil || !u.Operator {
		t.Errorf("the account: %+v %v", u, err)
	}
}
