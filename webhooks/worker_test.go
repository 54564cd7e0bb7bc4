package webhooks_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/sqlite"
	"github.com/likeness/likeness/webhooks"
)

// fast is a worker configuration for tests: a short retry schedule, no
// jitter, and private addresses allowed (the receivers are on loopback).
func fast(retries ...time.Duration) webhooks.Config {
	if retries == nil {
		retries = []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}
	}
	return webhooks.Config{Schedule: retries, Timeout: 2 * time.Second, AllowPrivate: true,
		Jitter: func(d time.Duration) time.Duration { return d }, PollInterval: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestDeliversSignedEvents(t *testing.T) {
	db := sqlite.OpenTest(t)
	rc := newReceiver(t, nil)
	a, endpointID, secret := app(t, db, rc.srv.URL+"/hooks/likeness?token=abc")
	startWorker(t, db, fast())
	before := time.Now()
	consentID := consentEvent(t, db, a.ID)
	waitFor(t, 5*time.Second, "the delivery", func() bool { return rc.count() == 1 })

	r := rc.requests()[0]
	if err := webhooks.Verify(secret, r.Header, r.Body, time.Now()); err != nil {
		t.Fatalf("the receiver cannot verify the request: %v", err)
	}
	ts, _ := strconv.ParseInt(r.Timestamp, 10, 64)
	if !strings.HasPrefix(r.ID, "msg_") || ts < before.Unix() || ts > time.Now().Unix() {
		t.Errorf("id %q, timestamp %q", r.ID, r.Timestamp)
	}
	if ct, ua := r.Header.Get("Content-Type"), r.Header.Get("User-Agent"); ct != "application/json" || ua != webhooks.UserAgent {
		t.Errorf("Content-Type %q, User-Agent %q", ct, ua)
	}
	p := r.Parsed
	if p.Type != likeness.EventConsentRecorded || p.Data.PublicID != a.PublicID || p.Data.ConsentID != consentID || p.Data.FacialID != "" {
		t.Errorf("body %s", r.Body)
	}
	if at, err := time.Parse(time.RFC3339, p.Timestamp); err != nil || at.Before(before.Add(-time.Second)) {
		t.Errorf("timestamp %q: %v", p.Timestamp, err)
	}

	waitFor(t, 5*time.Second, "the log", func() bool {
		ds, _ := db.WebhookDeliveries(ctx, a.ID, endpointID, likeness.WebhookLogQuery{})
		return len(ds) == 1 && ds[0].Status == likeness.DeliverySucceeded
	})
	as, err := db.WebhookAttempts(ctx, a.ID, endpointID, likeness.WebhookLogQuery{})
	if err != nil || len(as) != 1 || as[0].StatusCode != 204 || as[0].Error != "" || as[0].EventID != r.ID ||
		as[0].Latency < 0 || as[0].Latency > 5*time.Second || as[0].EventType != likeness.EventConsentRecorded {
		t.Fatalf("attempts %+v, %v", as, err)
	}
}

// allowedKeys are the only JSON members a body may have.
var allowedKeys = map[string]bool{"type": true, "timestamp": true, "data": true, "facialId": true, "publicId": true,
	"externalId": true, "payload": true, "reason": true, "consentId": true}

// checkBody fails when a body has a member outside allowedKeys (outside the
// payload), or anything like an embedding or a score.
func checkBody(t *testing.T, body []byte, tmpl []float32) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	var data map[string]json.RawMessage
	_ = json.Unmarshal(top["data"], &data)
	for k := range top {
		if !allowedKeys[k] {
			t.Errorf("body member %q in %s", k, body)
		}
	}
	for k := range data {
		if !allowedKeys[k] {
			t.Errorf("data member %q in %s", k, body)
		}
	}
	low := strings.ToLower(string(body))
	for _, bad := range []string{"template", "embedding", "score", "similarity", "liveness", "image"} {
		if strings.Contains(low, bad) {
			t.Errorf("%q in body %s", bad, body)
		}
	}
	for _, x := range tmpl {
		if s := strconv.FormatFloat(float64(x), 'f', 5, 32); strings.Contains(string(body), s[2:]) {
			t.Errorf("template component %s in body %s", s, body)
		}
	}
}

// TestFaceEvents: the widget's store calls produce enrolled, authenticated
// and deleted events; external ID and payload only for an application that
// opts in; never an embedding or a score.
func TestFaceEvents(t *testing.T) {
	db := sqlite.OpenTest(t)
	rc := newReceiver(t, nil)
	a, _, secret := app(t, db, rc.srv.URL)
	startWorker(t, db, fast())
	tmpl := template()

	lifecycle := func(reason string) (string, map[string]request) {
		t.Helper()
		start := rc.count()
		face, err := db.Enroll(ctx, likeness.Enrollment{AppID: a.ID, ConsentID: consentEvent(t, db, a.ID), Template: tmpl,
			ExternalID: "user-42", Payload: json.RawMessage(`{"plan":"gold"}`)})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.TouchAuth(ctx, a.ID, face.FacialID); err != nil {
			t.Fatal(err)
		}
		// Delivered before the deletion, which erases the external ID and
		// payload from events still in the outbox.
		waitFor(t, 5*time.Second, "three events", func() bool { return rc.count() == start+3 })
		if err := db.DeleteFace(ctx, a.ID, face.FacialID, reason); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "four events", func() bool { return rc.count() == start+4 })
		byType := map[string]request{}
		for _, r := range rc.requests()[start:] {
			if err := webhooks.Verify(secret, r.Header, r.Body, time.Now()); err != nil {
				t.Errorf("%s: %v", r.Parsed.Type, err)
			}
			checkBody(t, r.Body, tmpl)
			byType[r.Parsed.Type] = r
		}
		return face.FacialID, byType
	}

	facialID, got := lifecycle(likeness.ReasonConsole)
	for _, typ := range []string{likeness.EventEnrolled, likeness.EventAuthenticated, likeness.EventDeleted} {
		d := got[typ].Parsed.Data
		if d.FacialID != facialID || d.PublicID != a.PublicID || d.ExternalID != "" || d.Payload != nil {
			t.Errorf("%s without opt-in: %s", typ, got[typ].Body)
		}
	}
	if got[likeness.EventDeleted].Parsed.Data.Reason != likeness.ReasonConsole {
		t.Errorf("deleted: %s", got[likeness.EventDeleted].Body)
	}

	if err := db.SetWebhookIncludePayload(ctx, a.ID, true); err != nil {
		t.Fatal(err)
	}
	facialID, got = lifecycle(likeness.ReasonSelfService)
	for _, typ := range []string{likeness.EventEnrolled, likeness.EventAuthenticated} {
		d := got[typ].Parsed.Data
		if d.FacialID != facialID || d.ExternalID != "user-42" || string(d.Payload) != `{"plan":"gold"}` {
			t.Errorf("%s with opt-in: %s", typ, got[typ].Body)
		}
	}
	if d := got[likeness.EventDeleted].Parsed.Data; d.ExternalID != "user-42" || d.Payload != nil || d.Reason != likeness.ReasonSelfService {
		t.Errorf("deleted with opt-in: %s", got[likeness.EventDeleted].Body)
	}
}

// TestReplies: 2xx succeeds; 3xx, 5xx and timeouts are retried on schedule
// with the same webhook-id, then fail; no redirect is followed; 410
// disables the endpoint.
func TestReplies(t *testing.T) {
	var redirected atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { redirected.Add(1) }))
	defer target.Close()
	tests := []struct {
		name     string
		reply    func(n int, w *http.Request) int
		requests int
		status   string // of the delivery
		errWord  string // in the last attempt's error
		disabled bool
	}{
		{"200", func(int, *http.Request) int { return 200 }, 1, likeness.DeliverySucceeded, "", false},
		{"299", func(int, *http.Request) int { return 299 }, 1, likeness.DeliverySucceeded, "", false},
		{"500 then 202", func(n int, _ *http.Request) int { return map[bool]int{true: 500, false: 202}[n == 1] }, 2,
			likeness.DeliverySucceeded, "", false},
		{"always 500", func(int, *http.Request) int { return 500 }, 3, likeness.DeliveryFailed, "500", false},
		{"always 404", func(int, *http.Request) int { return 404 }, 3, likeness.DeliveryFailed, "404", false},
		{"302", nil, 3, likeness.DeliveryFailed, "Redirect (302)", false},
		{"timeout", func(n int, r *http.Request) int {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return 200
		}, 3, likeness.DeliveryFailed, "Timed out", false},
		{"410", func(int, *http.Request) int { return 410 }, 1, likeness.DeliveryFailed, "410", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := sqlite.OpenTest(t)
			rc := newReceiver(t, tt.reply)
			if tt.reply == nil { // the 3xx case: redirect to a server that must not be reached
				rc.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rc.mu.Lock()
					rc.reqs = append(rc.reqs, request{ID: r.Header.Get(webhooks.HeaderID)})
					rc.mu.Unlock()
					http.Redirect(w, r, target.URL, http.StatusFound)
				})
			}
			a, endpointID, _ := app(t, db, rc.srv.URL)
			var disabledCalls atomic.Int32
			cfg := fast()
			cfg.Timeout = 5 * time.Second
			if tt.name == "timeout" {
				cfg.Timeout = 500 * time.Millisecond
			}
			cfg.OnDisabled = func(appID, epID, reason string) {
				if appID == a.ID && epID == endpointID && strings.Contains(reason, "410") {
					disabledCalls.Add(1)
				}
			}
			startWorker(t, db, cfg)
			consentEvent(t, db, a.ID)
			waitFor(t, 10*time.Second, "the delivery to finish", func() bool {
				ds, _ := db.WebhookDeliveries(ctx, a.ID, endpointID, likeness.WebhookLogQuery{})
				return len(ds) == 1 && ds[0].Status != likeness.DeliveryPending
			})
			ds, _ := db.WebhookDeliveries(ctx, a.ID, endpointID, likeness.WebhookLogQuery{})
			if ds[0].Status != tt.status || ds[0].Attempts != tt.requests {
				t.Fatalf("delivery %+v", ds[0])
			}
			time.Sleep(150 * time.Millisecond) // no further attempt comes
			reqs := rc.requests()
			// A timed-out attempt may give up before its request arrives.
			if len(reqs) != tt.requests && (tt.name != "timeout" || len(reqs) == 0 || len(reqs) > tt.requests) {
				t.Fatalf("%d requests, want %d", len(reqs), tt.requests)
			}
			for _, r := range reqs {
				if r.ID != reqs[0].ID || r.ID == "" {
					t.Fatalf("webhook-ids %q and %q", reqs[0].ID, r.ID)
				}
			}
			as, _ := db.WebhookAttempts(ctx, a.ID, endpointID, likeness.WebhookLogQuery{})
			if len(as) != tt.requests || as[0].Attempt != tt.requests || !strings.Contains(as[0].Error, tt.errWord) {
				t.Fatalf("attempts %+v", as)
			}
			ep, _ := db.WebhookEndpoint(ctx, a.ID, endpointID)
			if ep.Enabled == tt.disabled || (tt.disabled && (ep.DisabledAt == nil || !strings.Contains(ep.DisabledReason, "410"))) {
				t.Fatalf("endpoint %+v", ep)
			}
			if tt.disabled {
				if disabledCalls.Load() != 1 {
					t.Errorf("OnDisabled called %d times", disabledCalls.Load())
				}
				consentEvent(t, db, a.ID)
				time.Sleep(200 * time.Millisecond)
				if rc.count() != 1 {
					t.Fatalf("a disabled endpoint got %d requests", rc.count())
				}
			}
		})
	}
	if redirected.Load() != 0 {
		t.Fatalf("a redirect was followed %d times", redirected.Load())
	}
}

// TestPrivateAddressesRefused: without AllowPrivate nothing is sent to
// loopback, whether the URL names an IP or a host name resolving to one.
func TestPrivateAddressesRefused(t *testing.T) {
	db := sqlite.OpenTest(t)
	rc := newReceiver(t, nil)
	u, _ := url.Parse(rc.srv.URL)
	byIP, epIP, _ := app(t, db, rc.srv.URL)
	byName, epName, _ := app(t, db, "http://localhost:"+u.Port()+"/hook")
	cfg := fast()
	cfg.AllowPrivate = false
	startWorker(t, db, cfg)
	consentEvent(t, db, byIP.ID)
	consentEvent(t, db, byName.ID)
	for _, c := range []struct{ app, ep string }{{byIP.ID, epIP}, {byName.ID, epName}} {
		waitFor(t, 5*time.Second, "the refusals", func() bool {
			ds, _ := db.WebhookDeliveries(ctx, c.app, c.ep, likeness.WebhookLogQuery{})
			return len(ds) == 1 && ds[0].Status == likeness.DeliveryFailed
		})
		as, _ := db.WebhookAttempts(ctx, c.app, c.ep, likeness.WebhookLogQuery{})
		if len(as) != 3 || !strings.Contains(as[0].Error, "not allowed (loopback)") || as[0].StatusCode != 0 {
			t.Fatalf("attempts %+v", as)
		}
	}
	if rc.count() != 0 {
		t.Fatalf("the loopback receiver got %d requests", rc.count())
	}
}

// TestDisabledEndpointsGetNothing: an endpoint disabled by its owner gets
// no new event and loses its pending ones (they can be re-sent by hand).
func TestDisabledEndpointsGetNothing(t *testing.T) {
	db := sqlite.OpenTest(t)
	on, off := newReceiver(t, nil), newReceiver(t, nil)
	a, onID, _ := app(t, db, on.srv.URL)
	ep, err := db.CreateWebhookEndpoint(ctx, a.ID, likeness.WebhookEndpointCreate{URL: off.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	pending := consentEvent(t, db, a.ID) // queued for both, before any worker runs
	no := false
	if _, err := db.UpdateWebhookEndpoint(ctx, a.ID, ep.ID, likeness.WebhookEndpointUpdate{Enabled: &no}); err != nil {
		t.Fatal(err)
	}
	startWorker(t, db, fast())
	for range 5 {
		consentEvent(t, db, a.ID)
	}
	waitFor(t, 5*time.Second, "the enabled endpoint's events", func() bool { return on.count() == 6 })
	time.Sleep(200 * time.Millisecond)
	if off.count() != 0 {
		t.Fatalf("the disabled endpoint got %d requests", off.count())
	}
	ds, _ := db.WebhookDeliveries(ctx, a.ID, ep.ID, likeness.WebhookLogQuery{})
	if len(ds) != 1 || ds[0].Status != likeness.DeliveryFailed || ds[0].LastError != "Endpoint disabled." {
		t.Fatalf("the disabled endpoint's deliveries %+v", ds)
	}
	// Enabled again, it gets the re-sent event (same ID as the other endpoint got).
	yes := true
	if _, err := db.UpdateWebhookEndpoint(ctx, a.ID, ep.ID, likeness.WebhookEndpointUpdate{Enabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if err := db.ResendWebhookEvent(ctx, a.ID, ep.ID, ds[0].EventID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the re-sent event", func() bool { return off.count() == 1 })
	var first request // the pending event as the enabled endpoint got it (requests come in any order)
	for _, r := range on.requests() {
		if r.Parsed.Data.ConsentID == pending {
			first = r
		}
	}
	if r := off.requests()[0]; r.ID != first.ID || r.Parsed.Data.ConsentID != pending {
		t.Fatalf("re-sent %s (%s), first %s (%s)", r.ID, r.Body, first.ID, first.Body)
	}
	if ds, _ := db.WebhookDeliveries(ctx, a.ID, onID, likeness.WebhookLogQuery{}); len(ds) != 6 {
		t.Fatalf("%d deliveries", len(ds))
	}
}

// TestTestEventAndRotation: a test event reaches the endpoint; after a
// rotation both the old and the new secret verify every request.
func TestTestEventAndRotation(t *testing.T) {
	db := sqlite.OpenTest(t)
	rc := newReceiver(t, nil)
	a, endpointID, old := app(t, db, rc.srv.URL)
	startWorker(t, db, fast())
	id, err := db.SendTestWebhook(ctx, a.ID, endpointID)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the test event", func() bool { return rc.count() == 1 })
	r := rc.requests()[0]
	if r.ID != id || r.Parsed.Type != likeness.EventTest || r.Parsed.Data.PublicID != a.PublicID || len(strings.Fields(r.Signature)) != 1 {
		t.Fatalf("test event %s %s", r.ID, r.Body)
	}
	ep, err := db.RotateWebhookSecret(ctx, a.ID, endpointID)
	if err != nil {
		t.Fatal(err)
	}
	consentEvent(t, db, a.ID)
	waitFor(t, 5*time.Second, "the event", func() bool { return rc.count() == 2 })
	r = rc.requests()[1]
	if len(strings.Fields(r.Signature)) != 2 {
		t.Fatalf("signatures %q", r.Signature)
	}
	for _, s := range []string{old, ep.Secret} {
		if err := webhooks.Verify(s, r.Header, r.Body, time.Now()); err != nil {
			t.Errorf("during the rotation: %v", err)
		}
	}
}

// TestBurst: a thousand events, made concurrently while the worker runs,
// all arrive, each exactly once, each verified.
func TestBurst(t *testing.T) {
	db := sqlite.OpenTest(t)
	rc := newReceiver(t, nil)
	a, _, secret := app(t, db, rc.srv.URL)
	cfg := fast()
	cfg.Timeout = 10 * time.Second // leases far longer than any attempt here: no repeats
	startWorker(t, db, cfg)
	const n = 1000
	var wg sync.WaitGroup
	var mu sync.Mutex
	want := map[string]bool{}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / 4 {
				rec := &likeness.ConsentRecord{ID: uuid.NewString(), AppID: a.ID, Kind: likeness.ConsentAPI, CreatedAt: time.Now()}
				if err := db.CreateConsentRecord(ctx, rec); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want[rec.ID] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	waitFor(t, 60*time.Second, "a thousand events", func() bool { return rc.count() >= n })
	time.Sleep(200 * time.Millisecond)
	reqs := rc.requests()
	ids := map[string]int{}
	for _, r := range reqs {
		ids[r.ID]++
		if !want[r.Parsed.Data.ConsentID] {
			t.Fatalf("unexpected event %s", r.Body)
		}
		delete(want, r.Parsed.Data.ConsentID)
		if err := webhooks.Verify(secret, r.Header, r.Body, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if len(reqs) != n || len(ids) != n || len(want) != 0 {
		t.Fatalf("%d requests, %d distinct ids, %d events missing", len(reqs), len(ids), len(want))
	}
}

// TestFailingEndpointIsDisabled: every attempt failing for DisableAfter
// disables the endpoint, and the owner's hook is told.
func TestFailingEndpointIsDisabled(t *testing.T) {
	db := sqlite.OpenTest(t)
	rc := newReceiver(t, func(int, *http.Request) int { return 503 })
	a, endpointID, _ := app(t, db, rc.srv.URL)
	cfg := fast()
	cfg.Schedule = []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond,
		50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}
	cfg.DisableAfter = 200 * time.Millisecond
	told := make(chan string, 1)
	cfg.OnDisabled = func(appID, epID, reason string) { told <- reason }
	startWorker(t, db, cfg)
	consentEvent(t, db, a.ID)
	var reason string
	select {
	case reason = <-told:
	case <-time.After(5 * time.Second):
		t.Fatal("the endpoint was not disabled")
	}
	ep, _ := db.WebhookEndpoint(ctx, a.ID, endpointID)
	if ep.Enabled || ep.DisabledReason != reason || !strings.Contains(reason, "failed since") {
		t.Fatalf("endpoint %+v, reason %q", ep, reason)
	}
	n := rc.count()
	if n < 2 || n > 9 {
		t.Errorf("%d attempts before disabling", n)
	}
	consentEvent(t, db, a.ID)
	time.Sleep(200 * time.Millisecond)
	if rc.count() != n {
		t.Fatal("a disabled endpoint was sent more")
	}
}

// TestCloseDrains: Close waits for the attempt in flight and records it.
func TestCloseDrains(t *testing.T) {
	db := sqlite.OpenTest(t)
	rc := newReceiver(t, func(int, *http.Request) int { time.Sleep(300 * time.Millisecond); return 200 })
	a, endpointID, _ := app(t, db, rc.srv.URL)
	w := startWorker(t, db, fast())
	consentEvent(t, db, a.ID)
	waitFor(t, 5*time.Second, "the request", func() bool { return rc.count() == 1 })
	w.Close()
	ds, _ := db.WebhookDeliveries(ctx, a.ID, endpointID, likeness.WebhookLogQuery{})
	if len(ds) != 1 || ds[0].Status != likeness.DeliverySucceeded {
		t.Fatalf("after Close: %+v", ds)
	}
	consentEvent(t, db, a.ID)
	time.Sleep(100 * time.Millisecond)
	if rc.count() != 1 {
		t.Fatal("sent after Close")
	}
	w.Close() // twice is fine
}

// TestLeaseExpiryAfterCrash: a delivery claimed by a worker that died is
// sent once its lease expires.
func TestLeaseExpiryAfterCrash(t *testing.T) {
	db := sqlite.OpenTest(t)
	rc := newReceiver(t, nil)
	a, _, _ := app(t, db, rc.srv.URL)
	consentEvent(t, db, a.ID)
	now := time.Now()
	dead, err := db.ClaimWebhookTasks(ctx, now, now.Add(500*time.Millisecond), 10) // and never completed
	if err != nil || len(dead) != 1 {
		t.Fatal(dead, err)
	}
	startWorker(t, db, fast())
	time.Sleep(300 * time.Millisecond)
	if rc.count() != 0 {
		t.Fatal("sent during the dead worker's lease")
	}
	waitFor(t, 5*time.Second, "the delivery after the lease", func() bool { return rc.count() == 1 })
	if r := rc.requests()[0]; r.ID != dead[0].Event.ID {
		t.Fatalf("id %s, want %s", r.ID, dead[0].Event.ID)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	db := sqlite.OpenTest(t)
	for _, cfg := range []webhooks.Config{
		{},
		{Store: db, Schedule: []time.Duration{-time.Second}},
		{Store: db, Concurrency: -1},
		{Store: db, Timeout: -time.Second},
	} {
		if _, err := webhooks.New(cfg); likeness.ErrorCode(err) != likeness.EINVALID {
			t.Errorf("New(%+v) = %v", cfg, err)
		}
	}
}
