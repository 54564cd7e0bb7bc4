package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/metrics"
	"github.com/likeness/likeness/server"
)

// shutdownTimeout bounds the HTTP shutdown after the drain.
const shutdownTimeout = 10 * time.Second

// opsConfig is serve's operations flags: the metrics listener and the
// drain on SIGTERM.
type opsConfig struct {
	metricsAddr  string
	drainTimeout time.Duration
}

func opsFlags(fs *flag.FlagSet) *opsConfig {
	oc := &opsConfig{}
	fs.StringVar(&oc.metricsAddr, "metrics-addr", os.Getenv("LIKENESS_METRICS_ADDR"),
		"serve Prometheus metrics at /metrics on this separate HOST:PORT, e.g. 127.0.0.1:9090; empty: none ($LIKENESS_METRICS_ADDR)")
	fs.DurationVar(&oc.drainTimeout, "drain-timeout", 25*time.Second,
		"on SIGTERM or SIGINT: how long open widget sessions may finish while /readyz answers 503 and new sessions are refused")
	return oc
}

func (oc *opsConfig) validate(addr string) error {
	if oc.drainTimeout < 0 {
		return usageError("--drain-timeout must be 0 (no drain) or a positive duration")
	}
	if oc.metricsAddr != "" && oc.metricsAddr == addr && !strings.HasSuffix(addr, ":0") {
		return usageError("--metrics-addr must differ from --addr: metrics are not served on the public listener")
	}
	return nil
}

// readyChecks are /readyz's checks: the database answers, the vector store
// is ready (Weaviate's readiness; the in-process index is loaded at open),
// the engine's models are loaded.
func readyChecks(db likeness.StoreHealth, eng *engine.Engine) []server.ReadyCheck {
	return []server.ReadyCheck{
		{Name: "database", Check: db.Ping},
		{Name: "vectors", Check: db.VectorsReady},
		{Name: "engine", Check: func(context.Context) error { return eng.Ready() }},
	}
}

// metricsListener is the listener and registry of --metrics-addr.
type metricsListener struct {
	ln  net.Listener
	m   *metrics.Metrics
	srv *http.Server
	// server is the likeness server whose open sessions are reported; set
	// before serve.
	server *server.Server
	done   chan error
}

// listenMetrics listens on --metrics-addr (nil, nil when it is empty) and
// builds the registry over the store and the engine.
func (oc *opsConfig) listenMetrics(db likeness.StoreHealth, eng *engine.Engine) (*metricsListener, error) {
	if oc.metricsAddr == "" {
		return nil, nil
	}
	ml := &metricsListener{}
	m, err := metrics.New(metrics.Sources{
		OpenSessions: func() int { return ml.server.OpenSessions() },
		Engine: func() (int, int, int) {
			s := eng.Stats()
			return s.Workers, s.Busy, s.Waiting
		},
		Backlog: db.PendingWebhooks,
		Pools:   db.PoolStats,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", oc.metricsAddr)
	if err != nil {
		return nil, err
	}
	ml.ln, ml.m = ln, m
	return ml, nil
}

// serve serves /metrics for srv until stop.
func (ml *metricsListener) serve(srv *server.Server, log *slog.Logger) {
	ml.server = srv
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", ml.m.Handler())
	ml.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	ml.done = make(chan error, 1)
	go func() { ml.done <- ml.srv.Serve(ml.ln) }()
}

// stop shuts the metrics listener down.
func (ml *metricsListener) stop() {
	if ml.srv == nil {
		ml.ln.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = ml.srv.Shutdown(ctx)
	<-ml.done
}

// drainAndShutdown stops srv gracefully: /readyz turns 503 and new widget
// sessions are refused at once; open sessions may finish for up to
// drainTimeout; then the HTTP server shuts down, ending what is left.
func drainAndShutdown(srv *server.Server, drainTimeout time.Duration, log *slog.Logger) error {
	if drainTimeout > 0 {
		log.Info("draining", "open_sessions", srv.OpenSessions(), "timeout", drainTimeout.String())
		ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		err := srv.Drain(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			log.Warn("drain timed out; ending the open sessions", "open_sessions", srv.OpenSessions())
		}
	}
	log.Info("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return srv.Shutdown(ctx)
}
