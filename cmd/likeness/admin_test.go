package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/web"
)

func TestAdminCreate(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", filepath.Join(dir, "master.key"))
	ctx := context.Background()
	db, err := createStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	cli, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Made by app create", Origins: []string{"https://a.example"}})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	admin := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := runAdmin(ctx, append([]string{"create", "--data", dir}, args...), strings.NewReader(stdin), &out, &out)
		return out.String(), err
	}
	// Usage and password errors.
	if _, err := admin("", "--email", "ann@example.com"); err == nil || !strings.Contains(err.Error(), "password is empty") {
		t.Errorf("empty stdin: %v", err)
	}
	if _, err := admin("short\n", "--email", "ann@example.com"); err == nil || !strings.Contains(err.Error(), "at least 12") {
		t.Errorf("short password: %v", err)
	}
	if err := run(ctx, []string{"admin"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("`likeness admin` without create succeeds")
	}

	// From stdin: the first line, without its newline.
	out, err := admin("correct horse battery staple\nignored\n", "--email", "Ann@Example.com", "--json")
	if err != nil {
		t.Fatalf("admin create: %v %s", err, out)
	}
	var res struct {
		UserID  string `json:"userId"`
		Email   string `json:"email"`
		OrgName string `json:"orgName"`
		Claimed int    `json:"claimedOrganizations"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Email != "ann@example.com" || res.OrgName != "example.com" || res.Claimed != 1 {
		t.Fatalf("output %s: %+v %v", out, res, err)
	}
	if strings.Contains(out, "correct horse") || strings.Contains(out, "argon2") {
		t.Error("the output shows the password or its hash")
	}
	// From a file, without claiming.
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("another good password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := admin("", "--email", "bob@example.com", "--password-file", pw, "--org", "Bobco", "--claim-unowned=false"); err != nil ||
		!strings.Contains(out, `owner of the organization "Bobco"`) {
		t.Fatalf("from a file: %v %s", err, out)
	}
	if _, err := admin("yet another password\n", "--email", "ann@example.com"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a second account with the same email: %v", err)
	}

	db, err = createStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := web.CheckPassword(u.PasswordHash, "correct horse battery staple"); err != nil || !ok {
		t.Errorf("the stored hash does not check: %v %v", ok, err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %s", u.PasswordHash)
	}
	if m, err := db.Membership(ctx, cli.OrgID, u.ID); err != nil || m.Role != likeness.OrgOwner {
		t.Errorf("the CLI application's organization was not claimed: %+v %v", m, err)
	}
	bob, _ := db.UserByEmail(ctx, "bob@example.com")
	if ms, _ := db.Memberships(ctx, bob.ID); len(ms) != 1 {
		t.Errorf("bob has %d memberships, want 1", len(ms))
	}
}

// admin create prints the console address `likeness serve` announced for
// the same data directory, or the one given with --public-url.
func TestAdminCreatePrintsTheConsoleURL(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", filepath.Join(dir, "master.key"))
	ctx := context.Background()
	admin := func(email string, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		err := runAdmin(ctx, append([]string{"create", "--data", dir, "--email", email}, args...),
			strings.NewReader("correct horse battery staple\n"), &out, &out)
		if err != nil {
			t.Fatalf("admin create: %v %s", err, out.String())
		}
		return out.String()
	}
	if out := admin("a@example.com"); !strings.Contains(out, "once `likeness serve --data "+dir+"` runs") {
		t.Errorf("before serve ran: %s", out)
	}
	db, err := openStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetServerURL(ctx, "https://auth.example"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if out := admin("b@example.com"); !strings.Contains(out, "sign in at https://auth.example/console/signin\n") || strings.Contains(out, "<public URL>") {
		t.Errorf("after serve ran: %s", out)
	}
	if out := admin("c@example.com", "--public-url", "https://other.example/", "--json"); !strings.Contains(out, `"signInUrl":"https://other.example/console/signin"`) {
		t.Errorf("--public-url: %s", out)
	}
}
