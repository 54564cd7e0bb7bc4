package server

import (
	"sort"
	"testing"
	"time"
)

// BenchmarkSession measures, over a real WebSocket with real frames through
// the real engine and store, the time from the first frame sent to the
// result, for enroll and for authenticate. The client sends the next frame
// as soon as the previous one is answered, as the widget does at full speed.
//
//	go test ./server -run '^$' -bench Session -benchtime 20x
func BenchmarkSession(b *testing.B) {
	h := newHarness(b, Limits{})
	live := clip(b, "live_lmm_hamilton_640x480.mjpeg")
	for _, op := range []string{opEnroll, opAuthenticate} {
		b.Run(op, func(b *testing.B) {
			var d []float64
			for i := 0; i < b.N; i++ {
				c, _, err := h.dial(op, testOrigin)
				if err != nil {
					b.Fatal(err)
				}
				c.begin(op, nil)
				start := time.Now()
				res := c.stream(live[i%len(live):])
				if res["type"] != "result" {
					b.Fatalf("%s: %v", op, res)
				}
				d = append(d, float64(time.Since(start).Microseconds())/1000)
				c.conn.Close()
			}
			sort.Float64s(d)
			b.ReportMetric(d[len(d)/2], "p50-ms")
			b.ReportMetric(d[len(d)*9/10], "p90-ms")
		})
	}
}
