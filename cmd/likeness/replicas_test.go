package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/pgtest"
	"github.com/likeness/likeness/store/sqlite"
)

// TestWebhooksSurviveAReplica: two `likeness serve` processes on one
// PostgreSQL database. Replica A is killed (SIGKILL) while it holds the
// leases of deliveries whose attempts fail and are retried; replica B,
// started afterwards, delivers every event once the leases run out, with
// the webhook-id A used.
func TestWebhooksSurviveAReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers")
	}
	url := pgtest.NewDatabase(t)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	t.Setenv("LIKENESS_MASTER_KEY_FILE", "")
	t.Setenv("LIKENESS_DATABASE_URL", "")

	var (
		mu       sync.Mutex
		tried    = map[string]int{}  // webhook-id → attempts seen
		received = map[string]bool{} // webhook-id → answered 2xx
	)
	var phase atomic.Int32 // 0: fail; 1: hang (A holds the leases); 2: succeed
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		mu.Lock()
		tried[id]++
		mu.Unlock()
		switch phase.Load() {
		case 0:
			http.Error(w, "down", http.StatusServiceUnavailable)
		case 1:
			select { // in flight until A dies
			case <-r.Context().Done():
			case <-time.After(20 * time.Second):
			}
			http.Error(w, "down", http.StatusServiceUnavailable)
		default:
			mu.Lock()
			received[id] = true
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer hook.Close()

	ctx := context.Background()
	db, err := openStoreAt(ctx, storeLoc{database: url, keyFile: keyFile}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	app, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Shop", Origins: []string{"https://shop.example"}, WebhookURL: hook.URL + "/hooks"})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	for range 5 {
		tmpl := make([]float32, 128)
		for i := range tmpl {
			tmpl[i] = float32(r.NormFloat64())
		}
		rec := &likeness.ConsentRecord{ID: uuid.NewString(), AppID: app.ID, Kind: likeness.ConsentAPI, CreatedAt: time.Now()}
		if err := db.CreateConsentRecord(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: rec.ID, Template: tmpl}); err != nil {
			t.Fatal(err)
		}
	}
	var events []string
	rows, err := sqlite.OpenRawForTest(t, url).Query(`SELECT id FROM webhook_events`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		events = append(events, id)
	}
	rows.Close()
	if len(events) < 5 {
		t.Fatalf("%d events, want at least 5", len(events))
	}

	seen := func(min int) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range events {
			if tried[id] < min {
				return false
			}
		}
		return true
	}
	waitFor := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s", what, d)
			}
		}
	}

	a := startReplica(t, url, keyFile)
	waitFor("A attempts every event and retries", 60*time.Second, func() bool { return seen(2) })
	phase.Store(1)
	waitFor("A holds leases in flight", 30*time.Second, func() bool { return seen(3) })
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	phase.Store(2)
	startReplica(t, url, keyFile)
	waitFor("B delivers every event A had claimed", 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range events {
			if !received[id] {
				return false
			}
		}
		return true
	})
	// Nothing else arrived: the ids B sent are the events A tried.
	mu.Lock()
	defer mu.Unlock()
	for id := range received {
		if !strings.HasPrefix(id, "msg_") || tried[id] < 4 {
			t.Errorf("delivery %s: %d attempts seen, want A's three and B's", id, tried[id])
		}
	}
}

// startReplica runs `likeness serve` on the database in a child process
// (this test binary, TestServeReplicaChild), killed when the test ends.
func startReplica(t *testing.T, url, keyFile string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeReplicaChild$")
	cmd.Env = append(os.Environ(), "LIKENESS_REPLICA_CHILD=1", "LIKENESS_DATABASE_URL="+url, "LIKENESS_MASTER_KEY_FILE="+keyFile,
		"LIKENESS_WEBHOOK_TIMEOUT=1s", "LIKENESS_WEBHOOK_RETRY_SCHEDULE=1s,1s,1s,1s,1s,1s,1s,1s", "LIKENESS_WEBHOOK_ALLOW_PRIVATE=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("replica output:\n%s", out.String())
		}
	})
	return cmd
}

// TestServeReplicaChild is the child process of startReplica.
func TestServeReplicaChild(t *testing.T) {
	if os.Getenv("LIKENESS_REPLICA_CHILD") == "" {
		t.Skip("child process of TestWebhooksSurviveAReplica")
	}
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--models", filepath.Join("..", "..", "models")}, os.Stdout, os.Stderr)
	os.Stdout.WriteString("serve: " + errString(err) + "\n")
	os.Exit(1)
}
