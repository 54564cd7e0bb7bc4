package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
)

var (
	testPAD   = likeness.ThrottleRule{Purpose: "pad", Max: 5, Window: 3 * time.Minute, Block: 10 * time.Minute}
	testPause = likeness.ThrottleRule{Purpose: "signin", Free: 3, Base: time.Second, Ceiling: 15 * time.Minute, Forget: 24 * time.Hour}
)

// TestThrottleAcrossReplicas: failures recorded through one server block
// the key on the other; purposes and keys are separate; a success forgets.
func TestThrottleAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	a, b := openReplicas(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 5 {
		db := a
		if i%2 == 1 {
			db = b
		}
		until, err := db.RecordFailure(ctx, testPAD, "app_1|203.0.113.7", t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if blocked := until.After(t0.Add(5 * time.Second)); blocked != (i == 4) {
			t.Fatalf("failure %d: blocked until %v", i+1, until)
		}
	}
	for _, tc := range []struct {
		db           *DB
		purpose, key string
		want         time.Time
	}{
		{a, "pad", "app_1|203.0.113.7", t0.Add(4*time.Second + 10*time.Minute)},
		{b, "pad", "app_1|203.0.113.7", t0.Add(4*time.Second + 10*time.Minute)},
		{b, "pad", "app_2|203.0.113.7", time.Time{}},
		{b, "pad", "app_1|203.0.113.8", time.Time{}},
		{b, "signin", "app_1|203.0.113.7", time.Time{}},
	} {
		got, err := tc.db.BlockedUntil(ctx, tc.purpose, tc.key)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("BlockedUntil(%s, %s) = %v, %v; want %v", tc.purpose, tc.key, got, err, tc.want)
		}
	}
	if err := b.ForgetFailures(ctx, "pad", "app_1|203.0.113.7"); err != nil {
		t.Fatal(err)
	}
	if got, err := a.BlockedUntil(ctx, "pad", "app_1|203.0.113.7"); err != nil || !got.IsZero() {
		t.Errorf("after ForgetFailures: %v, %v", got, err)
	}
}

// TestThrottleConcurrent: failures from two servers at once are all
// counted (no lost update).
func TestThrottleConcurrent(t *testing.T) {
	ctx := context.Background()
	a, b := openReplicas(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range 20 {
		db := a
		if i%2 == 1 {
			db = b
		}
		wg.Go(func() {
			if _, err := db.RecordFailure(ctx, testPause, "ann@example.com\x00203.0.113.7", t0); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// 20 failures past 3 free ones: 1 s doubling 17 times, past the ceiling.
	got, err := a.BlockedUntil(ctx, "signin", "ann@example.com\x00203.0.113.7")
	if want := t0.Add(15 * time.Minute); err != nil || !got.Equal(want) {
		t.Errorf("after 20 concurrent failures: until %v, %v; want %v", got, err, want)
	}
}

// TestThrottleStorage: keys are stored only as MACs; expired states are
// deleted as keys are added; a purpose keeps a bounded number of keys.
func TestThrottleStorage(t *testing.T) {
	ctx := context.Background()
	db, _ := openReplicas(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, k := range []string{"203.0.113.1", "203.0.113.2", "ann@example.com"} {
		if _, err := db.RecordFailure(ctx, testPAD, k, t0); err != nil {
			t.Fatal(err)
		}
	}
	rows := func() [][]byte {
		var out [][]byte
		r, err := db.r.QueryContext(ctx, `SELECT key_mac FROM throttles ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for r.Next() {
			var k []byte
			r.Scan(&k)
			out = append(out, k)
		}
		return out
	}
	for _, k := range rows() {
		if bytes.Contains(k, []byte("203.0.113")) || bytes.Contains(k, []byte("example")) || len(k) != 32 {
			t.Fatalf("stored key %q", k)
		}
	}
	// Three minutes on, the three windows have ended: the next new key
	// deletes them.
	if _, err := db.RecordFailure(ctx, testPAD, "203.0.113.4", t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := len(rows()); n != 1 {
		t.Errorf("%d states after expiry, want 1", n)
	}
	// Bounded: with room for 2 keys and 3 held, making room for one more
	// drops the two closest to expiry.
	for i, k := range []string{"203.0.113.5", "203.0.113.6"} {
		if _, err := db.RecordFailure(ctx, testPAD, k, t0.Add(3*time.Minute+time.Duration(i+1)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	err := db.update(ctx, func(tx *sql.Tx) error {
		return makeThrottleRoom(ctx, tx, "pad", t0.Add(3*time.Minute+3*time.Second), 2)
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, dropped := range map[string]bool{"203.0.113.4": true, "203.0.113.5": true, "203.0.113.6": false} {
		// One failure each blocks none, so look at the rows themselves.
		mac, _ := db.throttleMAC("pad", k)
		var n int
		db.r.QueryRowContext(ctx, `SELECT count(*) FROM throttles WHERE key_mac = ?`, mac).Scan(&n)
		if (n == 0) != dropped {
			t.Errorf("%s: %d rows, dropped %v wanted", k, n, dropped)
		}
	}
	if _, err := db.RecordFailure(ctx, likeness.ThrottleRule{Purpose: "x"}, "k", t0); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Errorf("a bad rule: %v", err)
	}
	if _, err := db.RecordFailure(ctx, testPAD, "", t0); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Errorf("an empty key: %v", err)
	}
}

// BenchmarkThrottle times what a console sign-in failure and a widget
// admission now cost in the store: one RecordFailure (a write transaction)
// and one BlockedUntil (a read), over distinct keys.
func BenchmarkThrottle(b *testing.B) {
	ctx := context.Background()
	key, err := crypt.NewDataKey()
	if err != nil {
		b.Fatal(err)
	}
	db, err := Open(ctx, filepath.Join(b.TempDir(), "likeness.db"), Options{MasterKey: key})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	t0 := time.Now()
	b.Run("RecordFailure", func(b *testing.B) {
		for i := range b.N {
			if _, err := db.RecordFailure(ctx, testPause, "203.0.113."+strconv.Itoa(i%50_000), t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("BlockedUntil", func(b *testing.B) {
		for i := range b.N {
			if _, err := db.BlockedUntil(ctx, "signin", "203.0.113."+strconv.Itoa(i%50_000)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
