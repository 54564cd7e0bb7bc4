// Package metrics exports Likeness's measurements in the Prometheus text
// format: the widget sessions (it implements likeness.Observer), the face
// engine's load, the webhook backlog and the database pools, with the Go
// runtime's and the process's own, on a registry of its own (never the
// global one). `likeness serve --metrics-addr` serves Handler on a
// listener of its own, not on the public one.
package metrics

import (
	"context"
	"database/sql"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/likeness/likeness"
)

// Sources are read at each scrape. Every field is optional.
type Sources struct {
	// OpenSessions returns the widget sessions running.
	OpenSessions func() int
	// Engine returns the engine's workers, those busy, and the analyses
	// waiting for one (the queue).
	Engine func() (workers, busy, waiting int)
	// Backlog returns the webhook deliveries not yet made.
	Backlog func(ctx context.Context) (int, error)
	// Pools returns the database connection pools' statistics by name.
	Pools func() map[string]sql.DBStats
}

// backlogTimeout bounds the backlog query of one scrape.
const backlogTimeout = 2 * time.Second

// Metrics holds the registry and the instruments the server feeds. It is
// safe for concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	started  *prometheus.CounterVec
	outcomes *prometheus.CounterVec
	frame    prometheus.Histogram
	decision *prometheus.HistogramVec
}

var _ likeness.Observer = (*Metrics)(nil)

// New builds the registry with src's gauges.
func New(src Sources) (*Metrics, error) {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "likeness_sessions_started_total",
			Help: "Widget sessions started, by operation."}, []string{"op"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "likeness_session_outcomes_total",
			Help: "Widget sessions ended or refused, by operation and outcome (ok or the FACEIO code name)."}, []string{"op", "outcome"}),
		frame: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "likeness_frame_seconds",
			Help:    "Time from a camera frame's arrival to the reply to it.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 10)}), // 10 ms … 5.12 s
		decision: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "likeness_decision_seconds",
			Help:    "Time a session's decision took once liveness was established (search and decision, or the enrollment's storage).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 13)}, []string{"op"}), // 1 ms … 4.1 s
	}
	cs := []prometheus.Collector{m.started, m.outcomes, m.frame, m.decision,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	if f := src.OpenSessions; f != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "likeness_sessions_open",
			Help: "Widget sessions running."}, func() float64 { return float64(f()) }))
	}
	if f := src.Engine; f != nil {
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "likeness_engine_workers",
				Help: "Face analyses that may run at once."}, func() float64 { w, _, _ := f(); return float64(w) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "likeness_engine_busy_workers",
				Help: "Face analyses running."}, func() float64 { _, b, _ := f(); return float64(b) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "likeness_engine_queue_length",
				Help: "Face analyses waiting for a worker."}, func() float64 { _, _, q := f(); return float64(q) }))
	}
	if f := src.Backlog; f != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "likeness_webhook_backlog",
			Help: "Webhook deliveries not yet made (pending in the outbox); NaN when the store does not answer."},
			func() float64 {
				ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
				defer cancel()
				n, err := f(ctx)
				if err != nil {
					return math.NaN()
				}
				return float64(n)
			}))
	}
	if src.Pools != nil {
		cs = append(cs, newPoolCollector(src.Pools))
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// op keeps the operation label to the two known values.
func op(s string) string {
	if s == "enroll" || s == "authenticate" {
		return s
	}
	return "other"
}

// outcome keeps the outcome label to "ok" and FACEIO code names.
func outcome(s string) string {
	if s == "ok" {
		return s
	}
	for c := likeness.FioCode(1); c <= 64; c++ {
		if c.String() == s {
			return s
		}
	}
	return "other"
}

// SessionStarted implements likeness.Observer.
func (m *Metrics) SessionStarted(o string) { m.started.WithLabelValues(op(o)).Inc() }

// SessionEnded implements likeness.Observer.
func (m *Metrics) SessionEnded(o, out string) { m.outcomes.WithLabelValues(op(o), outcome(out)).Inc() }

// FrameProcessed implements likeness.Observer.
func (m *Metrics) FrameProcessed(d time.Duration) { m.frame.Observe(d.Seconds()) }

// Decided implements likeness.Observer.
func (m *Metrics) Decided(o string, d time.Duration) {
	m.decision.WithLabelValues(op(o)).Observe(d.Seconds())
}

// poolCollector reports sql.DBStats per pool at each scrape.
type poolCollector struct {
	stats                                 func() map[string]sql.DBStats
	maxOpen, open, inUse, idle            *prometheus.Desc
	waitCount, waitSeconds, closedByLimit *prometheus.Desc
}

func newPoolCollector(stats func() map[string]sql.DBStats) *poolCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("likeness_db_"+name, help, append([]string{"pool"}, labels...), nil)
	}
	return &poolCollector{
		stats:         stats,
		maxOpen:       d("max_open_connections", "Most connections the pool may open."),
		open:          d("open_connections", "Connections open, in use or idle."),
		inUse:         d("in_use_connections", "Connections in use."),
		idle:          d("idle_connections", "Idle connections."),
		waitCount:     d("wait_count_total", "Times a query waited for a connection."),
		waitSeconds:   d("wait_duration_seconds_total", "Time queries waited for a connection."),
		closedByLimit: d("closed_total", "Connections closed by the pool's limits, by reason.", "reason"),
	}
}

func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{p.maxOpen, p.open, p.inUse, p.idle, p.waitCount, p.waitSeconds, p.closedByLimit} {
		ch <- d
	}
}

func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range p.stats() {
		g := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, name)
		}
		g(p.maxOpen, float64(s.MaxOpenConnections))
		g(p.open, float64(s.OpenConnections))
		g(p.inUse, float64(s.InUse))
		g(p.idle, float64(s.Idle))
		ch <- prometheus.MustNewConstMetric(p.waitCount, prometheus.CounterValue, float64(s.WaitCount), name)
		ch <- prometheus.MustNewConstMetric(p.waitSeconds, prometheus.CounterValue, s.WaitDuration.Seconds(), name)
		for reason, n := range map[string]int64{"max_idle": s.MaxIdleClosed, "max_idle_time": s.MaxIdleTimeClosed,
			"max_lifetime": s.MaxLifetimeClosed} {
			ch <- prometheus.MustNewConstMetric(p.closedByLimit, prometheus.CounterValue, float64(n), name, reason)
		}
	}
}
