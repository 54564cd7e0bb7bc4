// Package server is Likeness's HTTP and WebSocket front: the widget's
// streaming sessions, result tokens and their JWKS, and the error
// translation for every reply.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/identify"
)

// Engine is what the server needs of the face engine.
type Engine interface {
	Decode(data []byte) (*engine.Image, error)
	Analyze(ctx context.Context, img *engine.Image, want engine.Want) ([]engine.Face, error)
	Describe(ctx context.Context, img *engine.Image, f *engine.Face, want engine.Want) error
	Workers() int
	// WorkTime is the time the engine's workers have spent on analyses
	// (engine.Engine.WorkTime): the admission control's measure of a
	// frame's cost.
	WorkTime() time.Duration
}

// Config wires a Server. Apps, Consent, Faces, Keys, Policy, Identify,
// Throttles and Engine are required.
type Config struct {
	PublicURL    string // the URL browsers and sites use; the token issuer
	Apps         likeness.AppService
	Consent      likeness.ConsentService
	Faces        likeness.FaceService
	Keys         KeySource
	Engine       Engine
	Logger       *slog.Logger
	Now          func() time.Time
	DemoPublicID string                  // serve /demo for this application when set
	API          APIStore                // the REST API under /v1 is served when set
	Policy       PolicyStore             // applications' security settings
	Identify     identify.Store          // the identification decision's view of the store
	Webhooks     likeness.WebhookService // webhook management under /v1/webhooks when set
	Network      Network                 // trusted proxies and country sources
	Throttles    likeness.Throttles      // failure counts shared by every replica (liveness cool-downs)
	Limits       Limits
	// Mount registers further routes (the console and privacy pages) on the
	// server's router, behind the same middleware and error handler.
	Mount func(e *echo.Echo)
	// Outcomes, when set, counts how widget sessions end, for the console's
	// analytics: "ok" or the FACEIO code name, per application and operation.
	Outcomes interface {
		RecordOutcome(ctx context.Context, appID, op, outcome string) error
		// RecordUnknownApp counts a widget request naming an unknown public
		// ID as "UNAUTHORIZED" for every application that allows its
		// (normalised) origin: a site with a mistyped public ID.
		RecordUnknownApp(ctx context.Context, origin, op string) error
	}
	// Prompts are what strict liveness challenges draw from (default:
	// blink, turn left and turn right); see ParsePrompts.
	Prompts []string
	// Ready are the checks of /readyz (health.go): the database, the vector
	// store, the engine. /healthz checks nothing: it answers while the
	// process serves.
	Ready []ReadyCheck
	// Observer, when set, receives session counts and latencies (metrics).
	Observer likeness.Observer
}

// Limits bound the widget sessions. Zero fields take the defaults.
type Limits struct {
	MaxSessions   int           // concurrent widget sessions; more get TOO_MANY_REQUESTS (default 16 per engine worker)
	MaxFrameBytes int           // one camera frame (default 512 KiB)
	MaxFPS        int           // frames a second the widget may send (default 10)
	EnrollFrames  int           // good frames for an enrollment (default 5)
	AuthFrames    int           // good frames for an authentication (default 3)
	IdleTimeout   time.Duration // default when the widget sends none (27 s, fio.js's)
	ReplyTimeout  time.Duration // default whole-operation limit (40 s)
	APIRate       float64       // requests a second per API key (default 20)
	APIBurst      int           // burst per API key (default 40)

	// DecisionFPS is the frame rate at which an admitted session is
	// answered: admission control admits only as many sessions as the
	// engine's measured capacity answers at this rate. A liveness decision
	// needs pad.MinFrames (6) frames spanning pad.MinSpan (1 s), which 5 a
	// second give. The default is four fifths of MaxFPS, at least 5: 8 at
	// the widget's 10, where the engine is busy nearly all the time and the
	// decision takes as long as at 10 (quiet 2-core machine, `likeness
	// bench load`: 71–78 frames/s answered instead of 60–62, decision p99
	// 1.24–1.29 s against 1.19–1.29 s; at 7, p99 1.32–1.43 s for the same
	// throughput; docs/BENCHMARKS.md).
	DecisionFPS int

	// MaxSessionsPerIP bounds the widget sessions one client address holds
	// at once, across all applications (default 4). Besides, no application
	// holds more than MaxSessions less a quarter kept for the others.
	MaxSessionsPerIP int
	// Each phase of a widget session has its own limit.
	StartWait      time.Duration // socket open → `start` message (10 s)
	FirstFrameWait time.Duration // capture allowed → first frame; covers the camera prompt (30 s)
	ConsentWait    time.Duration // the consent screen (2 min)
	PINWait        time.Duration // PIN entry, each PIN asked for (60 s)

	// The HTTP server's timeouts; WebSocket sessions set their own deadlines.
	ReadHeaderTimeout time.Duration // request line and headers (5 s)
	ReadTimeout       time.Duration // a whole request, body included (60 s)
	HTTPIdleTimeout   time.Duration // a kept-alive connection between requests (60 s)
	MaxConnsPerIP     int           // open connections per client address; trusted proxies exempt (64)
}

func (l Limits) withDefaults(workers int) Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxSessions, 16*max(1, workers))
	def(&l.MaxFrameBytes, 512<<10)
	def(&l.MaxFPS, 10)
	def(&l.DecisionFPS, max(5, l.MaxFPS*4/5))
	def(&l.EnrollFrames, 5)
	def(&l.AuthFrames, 3)
	defd(&l.IdleTimeout, 27*time.Second)
	defd(&l.ReplyTimeout, 40*time.Second)
	def(&l.MaxSessionsPerIP, 4)
	defd(&l.StartWait, 10*time.Second)
	defd(&l.FirstFrameWait, 30*time.Second)
	defd(&l.ConsentWait, 2*time.Minute)
	defd(&l.PINWait, 60*time.Second)
	defd(&l.ReadHeaderTimeout, 5*time.Second)
	defd(&l.ReadTimeout, 60*time.Second)
	defd(&l.HTTPIdleTimeout, 60*time.Second)
	def(&l.MaxConnsPerIP, 64)
	if l.APIRate <= 0 {
		l.APIRate = 20
	}
	def(&l.APIBurst, 40)
	return l
}

// Server serves the widget, its sessions and the public keys.
type Server struct {
	cfg      Config
	lim      Limits
	log      *slog.Logger
	echo     *echo.Echo
	signer   *signer
	base     context.Context // cancelled at shutdown so open sessions end
	cancel   context.CancelFunc
	sessions sync.WaitGroup
	sessMu   sync.Mutex    // orders sessions.Add against Drain's and Shutdown's Wait
	closing  bool          // Shutdown began: no new session
	draining atomic.Bool   // Drain began: not ready, no new session (set under sessMu)
	open     atomic.Int64  // widget sessions running
	idle     chan struct{} // closed when the last session ends while draining
	idleOnce sync.Once
	ready    *readiness     // /readyz (health.go)
	slots    *sessionSlots  // running widget sessions per application and client address
	capacity *capacity      // the engine's measured capacity in sessions (admission)
	limits   *keyLimits     // per API key
	sessLim  *sessionLimits // widget sessions per IP and per application
	padLim   *padLimits     // failed liveness checks per IP and application
	usage    *usageLog
	workers  sync.WaitGroup // background work owned by the server
	prompts  []string       // what strict liveness challenges draw from
	ident    *identify.Service
}

// New builds a Server. It loads the signing key.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Apps == nil || cfg.Consent == nil || cfg.Faces == nil || cfg.Keys == nil || cfg.Engine == nil || cfg.Policy == nil ||
		cfg.Identify == nil || cfg.Throttles == nil {
		return nil, errors.New("server: Apps, Consent, Faces, Keys, Policy, Identify, Throttles and Engine are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if _, _, err := cfg.Keys.SigningKey(ctx); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	s := &Server{
		cfg: cfg,
		lim: cfg.Limits.withDefaults(cfg.Engine.Workers()),
		log: cfg.Logger,
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.signer = &signer{ctx: s.base, keys: cfg.Keys, issuer: cfg.PublicURL, now: cfg.Now}
	s.slots = newSessionSlots(s.lim.MaxSessions, s.lim.MaxSessionsPerIP)
	s.capacity = newCapacity(cfg.Engine.Workers(), s.lim.DecisionFPS, cfg.Engine.WorkTime, cfg.Now)
	s.limits = newKeyLimits(s.lim.APIRate, s.lim.APIBurst, cfg.Now)
	s.sessLim = &sessionLimits{now: cfg.Now, byID: map[string]*keyBucket{}}
	var err error
	if s.padLim, err = newPadLimits(cfg.Throttles, cfg.Now); err != nil {
		return nil, err
	}
	s.ready = &readiness{checks: cfg.Ready}
	s.idle = make(chan struct{})
	s.prompts = challengePrompts[:]
	if cfg.Prompts != nil {
		if err := checkPrompts(cfg.Prompts); err != nil {
			return nil, fmt.Errorf("server: Prompts: %w", err)
		}
		s.prompts = append([]string(nil), cfg.Prompts...)
	}
	s.ident = identify.New(cfg.Identify, cfg.Now)
	s.usage = &usageLog{recs: map[usageKey]*likeness.UsageRecord{}, now: cfg.Now}
	s.echo = s.routes()
	if cfg.API != nil {
		s.workers.Add(1)
		go func() { defer s.workers.Done(); s.flushUsage(s.base, 10*time.Second) }()
	}
	return s, nil
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(requestID)
	e.Use(middleware.Recover())
	e.Use(s.securityHeaders)
	e.Use(s.accessLog)

	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/readyz", s.handleReady)
	// No icon, and no 404 in every browser's console for it.
	e.GET("/favicon.ico", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	e.GET("/.well-known/jwks.json", s.handleJWKS)
	assetRoutes(e, "fio.js", "fio.mjs")
	e.GET("/widget/check", s.handleWidgetCheck)
	e.GET("/widget/ws", s.handleWidgetWS)
	if s.cfg.API != nil {
		s.apiRoutes(e)
	}
	if s.cfg.Mount != nil {
		s.cfg.Mount(e)
	}
	if s.cfg.DemoPublicID != "" {
		e.GET("/demo", s.handleDemo)
		assetRoutes(e, "demo.js")
		e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/demo") })
	}
	return e
}

// Handler returns the HTTP handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.echo }

// Serve serves on l until Shutdown. Requests have read and idle timeouts
// (a WebSocket session replaces them with its own once upgraded), and each
// client address may hold at most Limits.MaxConnsPerIP connections.
func (s *Server) Serve(l net.Listener) error {
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: s.lim.ReadHeaderTimeout,
		ReadTimeout:       s.lim.ReadTimeout,
		IdleTimeout:       s.lim.HTTPIdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.echo.Server = srv
	var ln net.Listener
	if t, ok := l.(TLSListener); ok {
		// Count connections before TLS, and let TLS wrap them last so that
		// requests see the TLS state (r.TLS: HSTS and secure cookies).
		ln = tls.NewListener(newConnLimiter(t.Listener, s.lim.MaxConnsPerIP, s.cfg.Network.trusted), t.Config)
	} else {
		ln = newConnLimiter(l, s.lim.MaxConnsPerIP, s.cfg.Network.trusted)
	}
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// beginSession counts a new widget session, unless Drain or Shutdown has
// begun. endSession ends it.
func (s *Server) beginSession(op string) bool {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if s.closing || s.draining.Load() {
		return false
	}
	s.sessions.Add(1)
	s.open.Add(1)
	if s.cfg.Observer != nil {
		s.cfg.Observer.SessionStarted(op)
	}
	return true
}

// endSession ends a session counted by beginSession.
func (s *Server) endSession() {
	if s.open.Add(-1) == 0 && s.draining.Load() {
		s.idleOnce.Do(func() { close(s.idle) })
	}
	s.sessions.Done()
}

// TLSListener is a listener on whose connections Serve terminates TLS with
// Config, after the per-address connection cap.
type TLSListener struct {
	net.Listener
	Config *tls.Config
}

// Shutdown stops accepting connections, ends open widget sessions (they get
// an error reply) and waits for them, or until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.sessMu.Lock()
	s.closing = true
	s.sessMu.Unlock()
	s.cancel()
	err := s.echo.Shutdown(ctx)
	done := make(chan struct{})
	go func() { s.sessions.Wait(); s.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return err
}

// accessLog logs one line per request: never query strings (they may carry
// identifiers) and never bodies.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		s.log.Info("http", "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			"method", c.Request().Method, "path", c.Request().URL.Path,
			"status", c.Response().Status, "ms", time.Since(start).Milliseconds())
		return nil
	}
}
