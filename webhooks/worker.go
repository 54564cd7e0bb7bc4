package webhooks

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/likeness/likeness"
)

// Store is the outbox a Worker drains; store/sqlite implements it.
type Store interface {
	// ClaimWebhookTasks leases up to limit deliveries due at now (to enabled
	// endpoints) until leaseUntil; a lease that ends without a result makes
	// its delivery due again.
	ClaimWebhookTasks(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*likeness.WebhookTask, error)
	// CompleteWebhookTasks records the outcomes of attempts in the delivery
	// log and the deliveries, and returns the endpoints it disabled.
	CompleteWebhookTasks(ctx context.Context, results []*likeness.WebhookResult) ([]likeness.WebhookDisabled, error)
	// NextWebhookDue returns when the soonest pending delivery is due; ok is
	// false when there is none.
	NextWebhookDue(ctx context.Context) (due time.Time, ok bool, err error)
	// PurgeWebhookLog deletes the delivery log older than before.
	PurgeWebhookLog(ctx context.Context, before time.Time) (int64, error)
}

// Defaults of Config.
const (
	DefaultTimeout      = 15 * time.Second
	DefaultConcurrency  = 16
	DefaultDisableAfter = 5 * 24 * time.Hour
	DefaultLogRetention = 30 * 24 * time.Hour
	DefaultPollInterval = 2 * time.Second
	// UserAgent is the User-Agent of webhook requests.
	UserAgent = "Likeness-Webhooks/1.0"

	maxConcurrency = 256
	purgeInterval  = time.Hour
	maxReply       = 256      // bytes of a reply body kept for the log
	maxDrain       = 64 << 10 // bytes of a reply body read to reuse the connection
	maxErrorLen    = 300      // characters of an attempt's error
	storeRetry     = time.Second
	minWait        = 10 * time.Millisecond
)

// Config configures a Worker. Store is required; zero fields take the
// defaults.
type Config struct {
	Store Store
	// Wake, when set, receives a value when deliveries may have become due
	// (store/sqlite's DB.WebhookWake); without it new events wait for the
	// next poll.
	Wake <-chan struct{}
	// Schedule is the delay before each retry (default DefaultSchedule());
	// a delivery gets 1 + len(Schedule) attempts.
	Schedule []time.Duration
	// Timeout bounds one attempt: connection, request and reply (default
	// 15 s). A lease lasts twice as long.
	Timeout time.Duration
	// Concurrency is the number of attempts in flight at once (default 16).
	Concurrency int
	// AllowPrivate lets webhooks go to loopback, private, link-local and
	// other non-public addresses: for development and tests only.
	AllowPrivate bool
	// DisableAfter disables an endpoint whose every attempt has failed for
	// this long (default 5 days).
	DisableAfter time.Duration
	// LogRetention is how long the delivery log is kept (default 30 days).
	LogRetention time.Duration
	// PollInterval is the longest the worker sleeps without looking for due
	// deliveries (default 2 s).
	PollInterval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Jitter spreads a retry delay (default: ±10 % at random).
	Jitter func(time.Duration) time.Duration
	// Logger logs disabled endpoints and store errors (default
	// slog.Default()); bodies and secrets are never logged.
	Logger *slog.Logger
	// OnDisabled, when set, is called after the worker disabled an endpoint
	// (410 Gone, or failing for DisableAfter), from the worker's goroutine:
	// it must not block for long. The audit trail hooks in here.
	OnDisabled func(appID, endpointID, reason string)
}

// Worker sends due deliveries from the outbox. Create it with New, run it
// with Run, stop it with Close.
type Worker struct {
	cfg    Config
	client *http.Client
	lease  time.Duration

	mu      sync.Mutex
	started bool
	closed  bool
	stopped context.Context // cancelled by Close
	stop    context.CancelFunc
	done    chan struct{} // closed when Run returns
}

// AllowPrivate reports whether the worker sends webhooks to private and
// loopback addresses (Config.AllowPrivate), for forms that warn before.
func (w *Worker) AllowPrivate() bool { return w.cfg.AllowPrivate }

// New returns a Worker. EINVALID when Store is missing or a setting is out
// of range.
func New(cfg Config) (*Worker, error) {
	if cfg.Store == nil {
		return nil, likeness.Errorf(likeness.EINVALID, "webhooks: a store is required.")
	}
	if cfg.Schedule == nil {
		cfg.Schedule = DefaultSchedule()
	}
	for _, d := range cfg.Schedule {
		if d <= 0 || d > MaxScheduleDelay {
			return nil, likeness.Errorf(likeness.EINVALID, "webhooks: retry delays must be from 1ms to %s.", MaxScheduleDelay)
		}
	}
	if len(cfg.Schedule) > MaxScheduleLen {
		return nil, likeness.Errorf(likeness.EINVALID, "webhooks: at most %d retries.", MaxScheduleLen)
	}
	if cfg.Concurrency < 0 || cfg.Concurrency > maxConcurrency || cfg.Timeout < 0 || cfg.DisableAfter < 0 ||
		cfg.LogRetention < 0 || cfg.PollInterval < 0 {
		return nil, likeness.Errorf(likeness.EINVALID, "webhooks: settings out of range.")
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.Timeout, DefaultTimeout)
	def(&cfg.DisableAfter, DefaultDisableAfter)
	def(&cfg.LogRetention, DefaultLogRetention)
	def(&cfg.PollInterval, DefaultPollInterval)
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = jitter
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	w := &Worker{
		cfg:    cfg,
		client: NewClient(cfg.Timeout, cfg.AllowPrivate, cfg.Concurrency),
		lease:  2 * cfg.Timeout,
		done:   make(chan struct{}),
	}
	w.stopped, w.stop = context.WithCancel(context.Background())
	return w, nil
}

// Run sends due deliveries until ctx ends or Close is called, then waits
// for the attempts in flight (each bounded by Timeout) and records them
// before it returns. It runs once: a second call, or a call after Close,
// returns at once.
func (w *Worker) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.started || w.closed {
		w.mu.Unlock()
		return nil
	}
	w.started = true
	w.mu.Unlock()
	defer close(w.done)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(w.stopped, cancel)() // Close cancels ctx
	w.loop(ctx)
	return nil
}

// Close stops Run, waits until the attempts in flight are recorded, and
// closes idle connections. It is safe to call more than once.
func (w *Worker) Close() error {
	w.mu.Lock()
	w.closed = true
	w.stop()
	started := w.started
	w.mu.Unlock()
	if started {
		<-w.done
	}
	w.client.CloseIdleConnections()
	return nil
}

// loop claims due deliveries while there are free slots, starts one
// goroutine per attempt, records their results in batches, and sleeps until
// the next delivery is due, a wake-up, or a result.
func (w *Worker) loop(ctx context.Context) {
	// Attempts in flight and their results outlive ctx: they are drained.
	keep := context.WithoutCancel(ctx)
	results := make(chan *likeness.WebhookResult, w.cfg.Concurrency)
	inflight := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var nextPurge time.Time
	for ctx.Err() == nil {
		now := w.cfg.Now()
		if !now.Before(nextPurge) {
			w.purge(ctx, now)
			nextPurge = now.Add(purgeInterval)
		}
		wait := time.Duration(-1) // no timer: a result or a wake-up comes first
		if free := w.cfg.Concurrency - inflight; free > 0 {
			tasks, err := w.cfg.Store.ClaimWebhookTasks(ctx, now, now.Add(w.lease), free)
			switch {
			case err != nil && ctx.Err() != nil:
			case err != nil:
				w.cfg.Logger.Error("webhooks: claim", "err", err)
				wait = storeRetry
			default:
				for _, t := range tasks {
					inflight++
					go func() { results <- w.attempt(keep, t) }()
				}
				if len(tasks) < free {
					wait = w.untilNextDue(ctx)
				}
			}
		}
		if wait >= 0 {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
		case r := <-results:
			inflight -= w.record(keep, r, results)
		case <-w.cfg.Wake:
		case <-timer.C:
		}
		timer.Stop()
	}
	for inflight > 0 {
		inflight -= w.record(keep, <-results, results)
	}
}

// untilNextDue returns how long to sleep until the next delivery is due,
// at most PollInterval.
func (w *Worker) untilNextDue(ctx context.Context) time.Duration {
	due, ok, err := w.cfg.Store.NextWebhookDue(ctx)
	if err != nil || !ok {
		if err != nil && ctx.Err() == nil {
			w.cfg.Logger.Error("webhooks: next due", "err", err)
		}
		return w.cfg.PollInterval
	}
	return min(max(due.Sub(w.cfg.Now()), minWait), w.cfg.PollInterval)
}

// record stores the result r and any others already waiting in one batch,
// reports disabled endpoints, and returns how many results it stored.
func (w *Worker) record(ctx context.Context, r *likeness.WebhookResult, more <-chan *likeness.WebhookResult) int {
	batch := []*likeness.WebhookResult{r}
drain:
	for len(batch) < cap(more) {
		select {
		case r := <-more:
			batch = append(batch, r)
		default:
			break drain
		}
	}
	disabled, err := w.cfg.Store.CompleteWebhookTasks(ctx, batch)
	if err != nil {
		// The leases will expire and the deliveries be attempted again.
		w.cfg.Logger.Error("webhooks: record attempts", "err", err, "attempts", len(batch))
	}
	for _, d := range disabled {
		w.cfg.Logger.Warn("webhooks: endpoint disabled", "app_id", d.AppID, "endpoint_id", d.EndpointID, "reason", d.Reason)
		if w.cfg.OnDisabled != nil {
			w.cfg.OnDisabled(d.AppID, d.EndpointID, d.Reason)
		}
	}
	return len(batch)
}

// purge deletes the delivery log older than LogRetention.
func (w *Worker) purge(ctx context.Context, now time.Time) {
	n, err := w.cfg.Store.PurgeWebhookLog(ctx, now.Add(-w.cfg.LogRetention))
	switch {
	case err != nil && ctx.Err() == nil:
		w.cfg.Logger.Error("webhooks: purge log", "err", err)
	case n > 0:
		w.cfg.Logger.Info("webhooks: purged log", "rows", n)
	}
}

// attempt makes one attempt at t and returns its outcome.
func (w *Worker) attempt(ctx context.Context, t *likeness.WebhookTask) *likeness.WebhookResult {
	start := w.cfg.Now()
	res := &likeness.WebhookResult{Task: t, StartedAt: start}
	status, reply, retryAfter, err := w.send(ctx, t, start)
	res.Latency = w.cfg.Now().Sub(start)
	res.StatusCode, res.Response = status, reply
	switch {
	case err != nil:
		res.Error = describe(err, w.cfg.Timeout)
	case status >= 200 && status <= 299:
		res.Succeeded = true
		return res
	case status == http.StatusGone:
		res.Error = "410 Gone."
		res.Disable = "The endpoint answered 410 Gone."
		return res
	case status >= 300 && status <= 399:
		res.Error = fmt.Sprintf("Redirect (%d) not followed: point the endpoint at the final URL.", status)
	default:
		res.Error = fmt.Sprintf("Unexpected status %d.", status)
	}
	if d, ok := retryDelay(w.cfg.Schedule, t.Attempt, retryAfter); ok {
		res.RetryAt = w.cfg.Now().Add(w.cfg.Jitter(d))
	}
	res.DisableIfFailingBefore = start.Add(-w.cfg.DisableAfter)
	w.cfg.Logger.Debug("webhooks: attempt failed", "endpoint_id", t.EndpointID, "event_id", t.Event.ID,
		"attempt", t.Attempt, "status", status, "err", res.Error)
	return res
}

// send signs and posts the event, and returns the reply's status, the
// first bytes of its body, and its Retry-After (for 429 and 503).
func (w *Worker) send(ctx context.Context, t *likeness.WebhookTask, at time.Time) (int, string, time.Duration, error) {
	body, err := Marshal(t.Event)
	if err != nil {
		return 0, "", 0, err
	}
	sig, err := Sign(t.Event.ID, at, body, t.Secrets...)
	if err != nil {
		return 0, "", 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "", 0, likeness.Errorf(likeness.EINVALID, "Invalid endpoint URL.")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderID, t.Event.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, "", 0, err
	}
	defer resp.Body.Close()
	buf := make([]byte, maxReply)
	n, _ := io.ReadFull(resp.Body, buf)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	var retryAfter time.Duration
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s > 0 {
			retryAfter = time.Duration(s) * time.Second
		}
	}
	return resp.StatusCode, string(buf[:n]), retryAfter, nil
}

// netProblem names a network failure by its kind, without the addresses
// (resolvers, internal hosts) that the raw error text carries.
func netProblem(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var ar *addrRefused
	switch {
	case errors.As(err, &ar):
		return ar.Error()
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "The host name does not exist."
	case errors.As(err, &dnsErr):
		return "The host name could not be resolved."
	case errors.As(err, &certErr):
		return "The TLS certificate could not be verified."
	case errors.As(err, &recErr):
		return "The server did not speak TLS."
	case errors.Is(err, syscall.ECONNREFUSED):
		return "The connection was refused."
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "The connection was closed before a reply."
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "The host cannot be reached."
	case errors.As(err, &opErr):
		return "The connection failed (" + opErr.Op + ")."
	default:
		return "The request failed."
	}
}

// describe returns a short, client-safe account of a failed request: never
// the URL (its query may hold a token).
func describe(err error, timeout time.Duration) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var msg string
	switch {
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		msg = fmt.Sprintf("Timed out after %s.", timeout)
	case likeness.ErrorCode(err) != likeness.EINTERNAL:
		msg = likeness.ErrorMessage(err)
	default:
		msg = netProblem(err)
	}
	if utf8.RuneCountInString(msg) > maxErrorLen {
		msg = string([]rune(msg)[:maxErrorLen]) + "…"
	}
	return msg
}
