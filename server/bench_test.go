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
	live := clip(b, "live_lmm_hamilton_640x480.mjpeg")
	// timeOp runs one operation and returns the time from its first frame.
	timeOp := func(b *testing.B, h *harness, op string, frames [][]byte) float64 {
		c, _, err := h.dial(op, testOrigin)
		if err != nil {
			b.Fatal(err)
		}
		defer c.conn.Close()
		c.begin(op, nil)
		start := time.Now()
		if res := c.stream(frames); res["type"] != "result" {
			b.Fatalf("%s: %v", op, res)
		}
		return float64(time.Since(start).Microseconds()) / 1000
	}
	report := func(b *testing.B, d []float64) {
		sort.Float64s(d)
		b.ReportMetric(d[len(d)/2], "p50-ms")
		b.ReportMetric(d[len(d)*9/10], "p90-ms")
	}
	b.Run("enroll", func(b *testing.B) {
		h := newHarness(b, Limits{})
		var d []float64
		for i := 0; i < b.N; i++ {
			d = append(d, timeOp(b, h, opEnroll, live[i%len(live):]))
		}
		report(b, d)
	})
	b.Run("authenticate", func(b *testing.B) {
		h := newHarness(b, Limits{})
		timeOp(b, h, opEnroll, live)
		var d []float64
		for i := 0; i < b.N; i++ {
			d = append(d, timeOp(b, h, opAuthenticate, live[i%len(live):]))
		}
		report(b, d)
	})
}
