package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/webhooks"
)

func TestNewWebhookWorkerConfig(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", filepath.Join(dir, "master.key"))
	db, err := createStore(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, env := range []map[string]string{
		{envWebhookSchedule: "1s,,2s"},
		{envWebhookSchedule: "soon"},
		{envWebhookAllowPrivate: "maybe"},
		{envWebhookRetention: "5m"},
		{envWebhookRetention: "forever"},
		{envWebhookTimeout: "2h"},
	} {
		_, err := newWebhookWorker(db, log, false, func(k string) string { return env[k] })
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", env, err)
		}
	}
	w, err := newWebhookWorker(db, log, false, func(k string) string {
		return map[string]string{envWebhookSchedule: "1s,2s,5s", envWebhookAllowPrivate: "1",
			envWebhookRetention: "720h", envWebhookTimeout: "3s"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
}

// TestWebhooksSurviveKill9 runs the real binary: events wait in the outbox
// while the server is down, the server is killed (SIGKILL) while deliveries
// are in flight, and after a restart every event arrives, each under one
// webhook-id, and the ones in flight at the crash arrive again.
func TestWebhooksSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	models, _ := filepath.Abs(filepath.Join("..", "..", "models"))
	if st, err := os.Stat(models); err != nil || !st.IsDir() {
		t.Skip("skipped: the models directory (../../models) is absent; `make build` fetches it (likeness serve needs it)")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			t.Skip("skipped: no go command to build the binary")
		}
	}
	bin := filepath.Join(t.TempDir(), "likeness")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()

	// The site's receiver: acknowledges the first few requests, then stalls
	// every request until the connection drops, until told to acknowledge all.
	var (
		mu       sync.Mutex
		secret   string
		stall    = true
		acked    = map[string]int{} // webhook-id → acknowledged requests
		seen     = map[string]int{} // webhook-id → requests
		byEvent  = map[string]string{}
		inFlight = map[string]bool{}
		badSig   []string
	)
	const ackFirst = 5
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get(webhooks.HeaderID)
		var b webhooks.Body
		_ = json.Unmarshal(body, &b)
		mu.Lock()
		if err := webhooks.Verify(secret, r.Header, body, time.Now()); err != nil {
			badSig = append(badSig, id+": "+err.Error())
		}
		seen[id]++
		if prev, ok := byEvent[b.Data.ConsentID]; ok && prev != id {
			badSig = append(badSig, "consent "+b.Data.ConsentID+" came as "+prev+" and "+id)
		}
		byEvent[b.Data.ConsentID] = id
		hold := stall && len(acked) >= ackFirst
		if hold {
			inFlight[id] = true
		}
		mu.Unlock()
		if hold {
			select {
			case <-r.Context().Done(): // the sender died
				return
			case <-time.After(30 * time.Second):
			}
		}
		mu.Lock()
		acked[id]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rc.Close()

	// An application whose endpoint is the receiver.
	out, err := exec.Command(bin, "app", "create", "--data", dir, "--name", "Crash test", "--origin", "https://shop.example",
		"--webhook-url", rc.URL+"/hooks", "--json").Output()
	if err != nil {
		t.Fatalf("app create: %v", err)
	}
	var created struct{ PublicID, WebhookSecret string }
	if err := json.Unmarshal(out, &created); err != nil || created.WebhookSecret == "" {
		t.Fatalf("app create: %s %v", out, err)
	}
	mu.Lock()
	secret = created.WebhookSecret
	mu.Unlock()

	// Events made while the server is not running: consent records, through
	// the store the server itself uses.
	consents := func(n int) []string {
		t.Helper()
		t.Setenv("LIKENESS_MASTER_KEY_FILE", filepath.Join(dir, "master.key"))
		db, err := createStore(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		app, err := db.AppByPublicID(context.Background(), created.PublicID)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for range n {
			rec := &likeness.ConsentRecord{ID: uuid.NewString(), AppID: app.ID, Kind: likeness.ConsentAttestation, CreatedAt: time.Now()}
			if err := db.CreateConsentRecord(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, rec.ID)
		}
		return ids
	}
	want := consents(40)

	env := append(os.Environ(), "LIKENESS_WEBHOOK_RETRY_SCHEDULE=1s,1s,2s,5s,10s", "LIKENESS_WEBHOOK_TIMEOUT=3s",
		"LIKENESS_MASTER_KEY_FILE="+filepath.Join(dir, "master.key"))
	serve := func(extraEnv []string, args ...string) (*exec.Cmd, *lockedBuffer) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--models", models}, args...)...)
		cmd.Env = append(env, extraEnv...)
		logs := &lockedBuffer{}
		cmd.Stderr = logs
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			ok := false
			for sc.Scan() {
				if !ok && strings.Contains(sc.Text(), "serving on") {
					ok = true
					ready <- true
				}
			}
			if !ok {
				ready <- false
			}
		}()
		select {
		case ok := <-ready:
			if !ok {
				t.Fatalf("serve did not start:\n%s", logs.String())
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("serve did not start:\n%s", logs.String())
		}
		return cmd, logs
	}
	waitUntil := func(what string, timeout time.Duration, logs *lockedBuffer, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			mu.Lock()
			ok := cond()
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; server log:\n%s", what, logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// First run: some deliveries acknowledged, several in flight, then kill -9.
	first, logs := serve(nil, "--webhook-allow-private")
	waitUntil("deliveries in flight", 30*time.Second, logs, func() bool { return len(acked) >= ackFirst && len(inFlight) >= 3 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	mu.Lock()
	stalled := make([]string, 0, len(inFlight))
	for id := range inFlight {
		if acked[id] == 0 {
			stalled = append(stalled, id)
		}
	}
	ackedBefore := len(acked)
	mu.Unlock()
	if len(stalled) < 3 || ackedBefore >= len(want) {
		t.Fatalf("before the crash: %d acknowledged, %d in flight", ackedBefore, len(stalled))
	}
	t.Logf("killed with %d events acknowledged and %d in flight", ackedBefore, len(stalled))

	// While it is down, more events.
	want = append(want, consents(10)...)

	// Second run: the receiver acknowledges everything; private addresses
	// allowed through the environment this time.
	mu.Lock()
	stall = false
	mu.Unlock()
	second, logs := serve([]string{"LIKENESS_WEBHOOK_ALLOW_PRIVATE=1"})
	waitUntil("every event", 60*time.Second, logs, func() bool {
		for _, c := range want {
			if id, ok := byEvent[c]; !ok || acked[id] == 0 {
				return false
			}
		}
		return true
	})
	// A graceful stop drains and exits cleanly.
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v\n%s", err, logs.String())
	}

	mu.Lock()
	defer mu.Unlock()
	if len(badSig) > 0 {
		t.Fatalf("bad requests: %v", badSig)
	}
	if len(acked) != len(want) || len(byEvent) != len(want) {
		t.Fatalf("%d distinct webhook-ids acknowledged, %d events seen, want %d", len(acked), len(byEvent), len(want))
	}
	for _, id := range stalled {
		if seen[id] < 2 || acked[id] == 0 {
			t.Errorf("in flight at the crash, %s was sent %d times, acknowledged %d", id, seen[id], acked[id])
		}
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	t.Logf("%d events, %d requests (%d repeats: at least once, deduplicated by webhook-id)", len(want), len(want)+dups, dups)
	if m := regexp.MustCompile(`"level":"ERROR","msg":"webhooks:[^\n]*`).FindAllString(logs.String(), -1); len(m) > 0 {
		t.Errorf("webhook errors in the server log:\n%s", strings.Join(m, "\n"))
	}
}

// lockedBuffer is a bytes.Buffer safe for a process's writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
