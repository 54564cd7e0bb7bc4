package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/likeness/likeness/store/pgtest"
)

// TestTwoServersOnePostgres: two servers share one PostgreSQL database,
// each with its own in-process vector index. A face enrolled through A is
// found through B within a second; erased through B, it is no longer found
// through A; and the audit trail written by both is one intact chain.
func TestTwoServersOnePostgres(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a := newHarnessAt(t, Limits{}, url, nil)
	b := newHarnessAt(t, Limits{}, url, nil)
	b.app, b.apiKey = a.app, a.apiKey // one application, reached through either server
	cid := a.app.CollectionID
	obama := photo(t, "verify/face_recognition/fr_obama/obama.jpg")
	obama2 := photo(t, "verify/face_recognition/fr_obama/obama2.jpg")

	fid := a.enroll(a.apiKey, cid, "user-1", obama)
	search := func(h *harness) (match bool, body string) {
		t.Helper()
		st, raw, _ := h.call("POST", "/v1/collections/"+cid+"/search", h.apiKey, map[string]any{"image": obama2})
		if st != http.StatusOK {
			t.Fatalf("search: %d %s", st, raw)
		}
		mustNotContain(t, raw, "postgres", "pgx")
		var v struct {
			Matches []struct {
				FacialID string `json:"facialId"`
				Match    bool   `json:"match"`
			} `json:"matches"`
		}
		json.Unmarshal(raw, &v)
		for _, m := range v.Matches {
			if m.FacialID == fid && m.Match {
				return true, string(raw)
			}
		}
		return false, string(raw)
	}
	deadline := time.Now().Add(time.Second)
	for {
		if ok, _ := search(b); ok {
			break
		}
		if time.Now().After(deadline) {
			_, body := search(b)
			t.Fatalf("enrolled through A, not found through B within a second: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st, raw, _ := b.call("DELETE", "/v1/collections/"+cid+"/faces/"+fid, b.apiKey, nil); st != http.StatusNoContent && st != http.StatusOK {
		t.Fatalf("erase through B: %d %s", st, raw)
	}
	if ok, body := search(a); ok || strings.Contains(body, fid) {
		t.Fatalf("erased through B, still found through A: %s", body)
	}
	for _, h := range []*harness{a, b} {
		n, problems, err := h.db.VerifyAudit(t.Context(), "")
		if err != nil || len(problems) > 0 || n == 0 {
			t.Fatalf("audit: %d %v %+v", n, err, problems)
		}
	}
}

// BenchmarkRESTStore measures REST enroll and search (one photo each,
// through the real engine) with SQLite, with PostgreSQL and one server, and
// with two servers on one PostgreSQL database (requests alternate between
// them), 4 clients at a time.
//
//	go test ./server -run '^$' -bench RESTStore -benchtime 60x
func BenchmarkRESTStore(b *testing.B) {
	for _, tc := range []struct {
		name     string
		postgres bool
		servers  int
	}{{"sqlite", false, 1}, {"postgres", true, 1}, {"postgres-2servers", true, 2}} {
		b.Run(tc.name, func(b *testing.B) {
			target := ""
			if tc.postgres {
				target = pgtest.NewDatabase(b)
			}
			hs := []*harness{newHarnessAt(b, Limits{APIRate: 1e6, APIBurst: 1e6}, target, nil)}
			for range tc.servers - 1 {
				h := newHarnessAt(b, Limits{APIRate: 1e6, APIBurst: 1e6}, target, nil)
				h.app, h.apiKey = hs[0].app, hs[0].apiKey
				hs = append(hs, h)
			}
			cid := hs[0].app.CollectionID
			img := photo(b, "verify/face_recognition/fr_obama/obama.jpg")
			probe := photo(b, "verify/face_recognition/fr_obama/obama2.jpg")
			for _, op := range []string{"enroll", "search"} {
				b.Run(op, func(b *testing.B) {
					restLoad(b, 4, func(i int) {
						h := hs[i%len(hs)]
						if op == "enroll" {
							h.enroll(h.apiKey, cid, "", img)
							return
						}
						if st, raw, _ := h.call("POST", "/v1/collections/"+cid+"/search", h.apiKey, map[string]any{"image": probe}); st != http.StatusOK {
							b.Fatalf("search: %d %s", st, raw)
						}
					})
				})
			}
		})
	}
}

// restLoad runs b.N calls of do from clients goroutines and reports
// throughput and latency percentiles.
func restLoad(b *testing.B, clients int, do func(i int)) {
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				do(i)
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/el.Seconds(), "req/s")
	b.ReportMetric(float64(all[len(all)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Milliseconds()), "p99-ms")
}
