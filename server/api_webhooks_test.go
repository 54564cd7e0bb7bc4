package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/webhooks"
)

// TestWebhookAPI manages an endpoint through the REST API and receives a
// real, signed delivery from the real worker.
func TestWebhookAPI(t *testing.T) {
	h := newHarness(t, Limits{})
	var mu sync.Mutex
	var got []string // event types received with a valid signature
	var secret string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := webhooks.Verify(secret, r.Header, body, time.Now()); err != nil {
			t.Errorf("bad signature: %v", err)
		}
		var ev struct{ Type string }
		json.Unmarshal(body, &ev)
		got = append(got, ev.Type)
	}))
	defer recv.Close()
	w, err := webhooks.New(webhooks.Config{Store: h.db, Wake: h.db.WebhookWake(), AllowPrivate: true,
		Schedule: []time.Duration{50 * time.Millisecond}, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done; w.Close() }()

	st, body, _ := h.call("POST", "/v1/webhooks", h.apiKey, map[string]any{"url": recv.URL + "/hook", "events": []string{"facialid.enrolled", "facialid.deleted"}})
	if st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	var ep struct{ ID, Secret string }
	json.Unmarshal(body, &ep)
	if !strings.HasPrefix(ep.Secret, "whsec_") {
		t.Fatalf("no secret in the creation reply: %s", body)
	}
	mu.Lock()
	secret = ep.Secret
	mu.Unlock()
	for _, path := range []string{"/v1/webhooks", "/v1/webhooks/" + ep.ID} {
		_, body, _ := h.call("GET", path, h.apiKey, nil)
		if strings.Contains(string(body), ep.Secret) || strings.Contains(string(body), "whsec_") {
			t.Errorf("%s shows the secret again: %s", path, body)
		}
	}
	if st, body, _ := h.call("POST", "/v1/webhooks/"+ep.ID+"/test", h.apiKey, nil); st != 202 {
		t.Fatalf("test event: %d %s", st, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the test event was not delivered")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, body, _ = h.call("GET", "/v1/webhooks/"+ep.ID+"/deliveries", h.apiKey, nil)
	if !strings.Contains(string(body), `"status":"succeeded"`) {
		t.Errorf("delivery log: %s", body)
	}
	_, body, _ = h.call("GET", "/v1/webhooks/"+ep.ID+"/attempts", h.apiKey, nil)
	if !strings.Contains(string(body), `"statusCode":200`) {
		t.Errorf("attempt log: %s", body)
	}

	// Disabled endpoints refuse test events; owners only may change them.
	if st, _, _ := h.call("PATCH", "/v1/webhooks/"+ep.ID, h.apiKey, map[string]any{"enabled": false}); st != 200 {
		t.Fatalf("disable: %d", st)
	}
	if st, _, _ := h.call("POST", "/v1/webhooks/"+ep.ID+"/test", h.apiKey, nil); st != 412 {
		t.Errorf("test on a disabled endpoint: %d, want 412", st)
	}
	_, member, _ := h.call("POST", "/v1/keys", h.apiKey, map[string]any{"role": "member"})
	var mk struct{ Key string }
	json.Unmarshal(member, &mk)
	if st, _, _ := h.call("DELETE", "/v1/webhooks/"+ep.ID, mk.Key, nil); st != 403 {
		t.Errorf("member delete: %d, want 403", st)
	}
	// Rotation shows the new secret once.
	st, body, _ = h.call("POST", "/v1/webhooks/"+ep.ID+"/rotate", h.apiKey, nil)
	var rot struct{ Secret string }
	json.Unmarshal(body, &rot)
	if st != 200 || !strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == ep.Secret || !strings.Contains(string(body), "previousSecretExpiresAt") {
		t.Errorf("rotate: %d %s", st, body)
	}
	// Another application cannot see it.
	_, secB, err := h.db.CreateApp(context.Background(), likeness.AppCreate{Name: "B", Origins: []string{"https://b.example"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ m, p string }{{"GET", "/v1/webhooks/" + ep.ID}, {"GET", "/v1/webhooks/" + ep.ID + "/deliveries"}} {
		if st, _, _ := h.call(r.m, r.p, secB.APIKey, nil); st != 404 {
			t.Errorf("B %s %s: %d, want 404", r.m, r.p, st)
		}
	}
	if st, _, _ := h.call("DELETE", "/v1/webhooks/"+ep.ID, h.apiKey, nil); st != 204 {
		t.Errorf("delete: %d", st)
	}
	if st, _, _ := h.call("GET", "/v1/webhooks/"+ep.ID, h.apiKey, nil); st != 404 {
		t.Errorf("after delete: %d", st)
	}
}
