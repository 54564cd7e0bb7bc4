package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestServeOperations runs `likeness serve --demo --metrics-addr …` and
// checks /healthz, /readyz and /metrics (on its own listener only); then,
// with a widget session open, stops it as SIGTERM does: /readyz turns 503
// and new sessions are refused while the open one may finish, until
// --drain-timeout; then the session is ended and serve returns.
func TestServeOperations(t *testing.T) {
	models, _ := filepath.Abs(filepath.Join("..", "..", "models"))
	if st, err := os.Stat(models); err != nil || !st.IsDir() {
		t.Skip("skipped: the models directory (../../models) is absent; `make build` fetches it (likeness serve needs it)")
	}
	dir := t.TempDir()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", filepath.Join(dir, "master.key"))
	ctx, cancel := context.WithCancel(context.Background()) // cancelled as SIGTERM cancels serve's
	defer cancel()
	var out, logs syncBuffer
	errc := make(chan error, 1)
	go func() {
		errc <- runServe(ctx, []string{"--addr", "127.0.0.1:0", "--data", dir, "--models", models, "--workers", "1",
			"--demo", "--metrics-addr", "127.0.0.1:0", "--drain-timeout", "1500ms"}, &out, &logs)
	}()
	re := regexp.MustCompile(`(?s)serving on (\S+) .*demo: \S+ \(application (\S+)\).*metrics: (\S+) `)
	var m []string
	for deadline := time.Now().Add(60 * time.Second); m == nil; time.Sleep(50 * time.Millisecond) {
		if m = re.FindStringSubmatch(out.String()); m == nil && time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s\n%s", out.String(), logs.String())
		}
		select {
		case err := <-errc:
			t.Fatalf("serve ended: %v\n%s", err, logs.String())
		default:
		}
	}
	base, publicID, metricsURL := m[1], m[2], m[3]
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(base + "/healthz"); code != http.StatusOK || body != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	var ready struct {
		Status string
		Checks []struct {
			Name string
			OK   bool
		}
	}
	code, body := get(base + "/readyz")
	if err := json.Unmarshal([]byte(body), &ready); err != nil || code != http.StatusOK || ready.Status != "ready" || len(ready.Checks) != 3 {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	for i, name := range []string{"database", "vectors", "engine"} {
		if ready.Checks[i].Name != name || !ready.Checks[i].OK {
			t.Errorf("check %d: %+v, want %s ok", i, ready.Checks[i], name)
		}
	}
	if code, body := get(base + "/metrics"); code != http.StatusNotFound || strings.Contains(body, "likeness_") {
		t.Errorf("/metrics on the public listener: %d", code)
	}
	if code, body := get(metricsURL); code != http.StatusOK || !strings.Contains(body, "likeness_sessions_open 0") ||
		!strings.Contains(body, `likeness_db_open_connections{pool="writer"}`) || !strings.Contains(body, "likeness_engine_queue_length 0") {
		t.Errorf("metrics: %d\n%.2000s", code, body)
	}

	ws := "ws" + strings.TrimPrefix(base, "http") + "/widget/ws?op=authenticate&publicId=" + publicID
	hdr := http.Header{"Origin": {base}}
	conn, _, err := websocket.DefaultDialer.Dial(ws, hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteJSON(map[string]any{"type": "start", "locale": "en"}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(func() string { _, b := get(metricsURL); return b }(), "likeness_sessions_open 1"); {
		if time.Now().After(deadline) {
			t.Fatal("the session is not counted as open")
		}
		time.Sleep(10 * time.Millisecond)
	}

	stopped := time.Now()
	cancel()
	for deadline := time.Now().Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
		code, body := get(base + "/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, `"draining"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after the stop: %d %s", code, body)
		}
	}
	if _, resp, err := websocket.DefaultDialer.Dial(ws, hdr); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable ||
		resp.Header.Get("Retry-After") == "" {
		t.Errorf("a new session while draining: %v", err)
	}
	// The open session is still served until the drain timeout, then ended
	// with an error reply.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var last map[string]any
	for {
		var msg map[string]any
		if err := conn.ReadJSON(&msg); err != nil {
			break
		}
		last = msg
	}
	if last["type"] != "error" || time.Since(stopped) < 1400*time.Millisecond {
		t.Errorf("the open session ended after %v with %v; want an error after the 1.5 s drain", time.Since(stopped), last)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("serve: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return after the drain")
	}
	if !strings.Contains(logs.String(), `"msg":"draining"`) || !strings.Contains(logs.String(), "drain timed out") {
		t.Errorf("the drain is not logged:\n%s", logs.String())
	}
}
