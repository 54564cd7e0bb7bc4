package webhooks_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/sqlite"
	"github.com/likeness/likeness/webhooks"
)

var ctx = context.Background()

// request is one webhook request as a receiver saw it.
type request struct {
	ID, Timestamp, Signature string
	Header                   http.Header
	Body                     []byte
	Parsed                   webhooks.Body
	At                       time.Time
}

// receiver is a site's webhook endpoint: a real HTTP server that records
// every request and answers with reply (204 by default).
type receiver struct {
	srv *httptest.Server

	mu    sync.Mutex
	reqs  []request
	reply func(n int, r *http.Request) int // n counts requests from 1
	more  chan struct{}                    // a value after each request
}

func newReceiver(t testing.TB, reply func(n int, r *http.Request) int) *receiver {
	t.Helper()
	rc := &receiver{reply: reply, more: make(chan struct{}, 1)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := request{ID: r.Header.Get(webhooks.HeaderID), Timestamp: r.Header.Get(webhooks.HeaderTimestamp),
			Signature: r.Header.Get(webhooks.HeaderSignature), Header: r.Header.Clone(), Body: body, At: time.Now()}
		_ = json.Unmarshal(body, &req.Parsed)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, req)
		n, f := len(rc.reqs), rc.reply
		rc.mu.Unlock()
		select {
		case rc.more <- struct{}{}:
		default:
		}
		status := http.StatusNoContent
		if f != nil {
			status = f(n, r)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// app creates an application whose one webhook endpoint is url and returns
// it with the endpoint's ID and secret.
func app(t testing.TB, db *sqlite.DB, url string) (*likeness.Application, string, string) {
	t.Helper()
	a, sec, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Shop " + uuid.NewString()[:8],
		Origins: []string{"https://shop.example"}, WebhookURL: url})
	if err != nil {
		t.Fatal(err)
	}
	eps, err := db.WebhookEndpoints(ctx, a.ID)
	if err != nil || len(eps) != 1 {
		t.Fatalf("endpoints %v, %v", eps, err)
	}
	return a, eps[0].ID, sec.WebhookSecret
}

// startWorker runs a worker over db until the test ends. cfg.Store and
// cfg.Wake default to db's.
func startWorker(t testing.TB, db *sqlite.DB, cfg webhooks.Config) *webhooks.Worker {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = db
	}
	if cfg.Wake == nil {
		cfg.Wake = db.WebhookWake()
	}
	w, err := webhooks.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() {
		w.Close()
		<-done
	})
	return w
}

// consentEvent records a consent (a consent.recorded event) and returns its ID.
func consentEvent(t testing.TB, db *sqlite.DB, appID string) string {
	t.Helper()
	rec := &likeness.ConsentRecord{ID: uuid.NewString(), AppID: appID, Kind: likeness.ConsentAPI, CreatedAt: time.Now()}
	if err := db.CreateConsentRecord(ctx, rec); err != nil {
		t.Fatal(err)
	}
	return rec.ID
}

// template returns a unit template whose components are easy to spot.
func template() []float32 {
	v := []float32{0.1234567, 0.2345678, 0.3456789, 0.4567891, 0.5678912, 0.1111111, 0.2222222, 0.3333333}
	var n float64
	for _, x := range v {
		n += float64(x * x)
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}
