package webhooks_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/likeness/likeness/store/sqlite"
)

// BenchmarkDelivery measures delivery throughput: b.N events waiting in the
// outbox (a real SQLite file) are sent, signed, to a receiver on loopback,
// and every attempt is recorded in the delivery log. Run it with a fixed
// count, e.g.:
//
//	go test ./webhooks -run '^$' -bench Delivery -benchtime 5000x
func BenchmarkDelivery(b *testing.B) {
	for _, conc := range []int{16, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			db := sqlite.OpenTest(b)
			rc := newReceiver(b, func(int, *http.Request) int { return 204 })
			a, _, _ := app(b, db, rc.srv.URL)
			for range b.N {
				consentEvent(b, db, a.ID)
			}
			cfg := fast()
			cfg.Concurrency = conc
			b.ResetTimer()
			start := time.Now()
			startWorker(b, db, cfg)
			for rc.count() < b.N {
				<-rc.more
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
		})
	}
}
