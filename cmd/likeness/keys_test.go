package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/sqlite"
)

// TestKeysRotate: the command makes a new current key and keeps the old one
// published; on a missing data directory it is an error that creates nothing.
func TestKeysRotate(t *testing.T) {
	ctx := context.Background()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", "")
	var out bytes.Buffer
	if err := run(ctx, []string{"keys", "rotate", "--data", filepath.Join(t.TempDir(), "typo")}, &out, &out); err == nil {
		t.Fatal("keys rotate on a missing directory succeeded")
	}
	dir := t.TempDir()
	db, err := createStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	_, oldKid, err := db.SigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	out.Reset()
	if err := run(ctx, []string{"keys", "rotate", "--data", dir, "--json"}, &out, &out); err != nil {
		t.Fatalf("keys rotate: %v %s", err, out.String())
	}
	var res struct{ Kid string }
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Kid == "" || res.Kid == oldKid {
		t.Fatalf("keys rotate printed %s", out.String())
	}
	db, err = openStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, kid, _ := db.SigningKey(ctx); kid != res.Kid {
		t.Errorf("current key %s, want %s", kid, res.Kid)
	}
	keys, err := db.VerificationKeys(ctx, time.Now().Add(-likeness.KeyGrace))
	if err != nil || len(keys) != 2 || keys[0].KID != res.Kid || keys[1].KID != oldKid || keys[1].RetiredAt == nil {
		t.Fatalf("published keys %+v %v", keys, err)
	}
	if _, problems, err := db.VerifyAudit(ctx, ""); err != nil || len(problems) != 0 {
		t.Errorf("audit after rotation: %v %v", problems, err)
	}
}

// TestKeyMaintenanceSchedule drives serve's schedule with an injected
// clock: no rotation before maxAge, a rotation at maxAge, the old key
// deleted once its tokens have expired.
func TestKeyMaintenanceSchedule(t *testing.T) {
	ctx := context.Background()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", "")
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	db, err := createStore(ctx, t.TempDir(), func(o *sqlite.Options) { o.Now = clock })
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log := slog.New(slog.DiscardHandler)
	_, first, _ := db.SigningKey(ctx)
	published := func() []string {
		keys, err := db.VerificationKeys(ctx, clock().Add(-likeness.KeyGrace))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range keys {
			ids = append(ids, k.KID)
		}
		return ids
	}
	advance(29 * 24 * time.Hour)
	maintainKeys(ctx, db, log, defaultKeyRotation, clock)
	if _, kid, _ := db.SigningKey(ctx); kid != first {
		t.Fatal("rotated before 30 days")
	}
	advance(24 * time.Hour)
	maintainKeys(ctx, db, log, defaultKeyRotation, clock)
	_, second, _ := db.SigningKey(ctx)
	if second == first {
		t.Fatal("not rotated after 30 days")
	}
	if got := published(); len(got) != 2 {
		t.Fatalf("published %v, want both keys", got)
	}
	advance(likeness.KeyGrace + time.Second)
	maintainKeys(ctx, db, log, defaultKeyRotation, clock)
	if got := published(); strings.Join(got, ",") != second {
		t.Fatalf("published %v, want only %s", got, second)
	}
	// Gone from the store too: even a query reaching back finds one key.
	keys, _ := db.VerificationKeys(ctx, time.Time{})
	if len(keys) != 1 {
		t.Fatalf("%d keys stored after the purge", len(keys))
	}
	// maxAge 0: never rotates.
	advance(365 * 24 * time.Hour)
	maintainKeys(ctx, db, log, 0, clock)
	if _, kid, _ := db.SigningKey(ctx); kid != second {
		t.Fatal("rotated with --key-rotation 0")
	}
}
