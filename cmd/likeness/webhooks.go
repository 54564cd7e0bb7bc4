package main

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/sqlite"
	"github.com/likeness/likeness/webhooks"
)

var _ webhooks.Store = (*sqlite.DB)(nil)

// Environment variables that configure webhook delivery (`serve`).
const (
	envWebhookSchedule     = "LIKENESS_WEBHOOK_RETRY_SCHEDULE" // e.g. "5s,5m,30m,2h"; tests use "1s,2s,5s"
	envWebhookAllowPrivate = "LIKENESS_WEBHOOK_ALLOW_PRIVATE"  // "1": like --webhook-allow-private
	envWebhookRetention    = "LIKENESS_WEBHOOK_LOG_RETENTION"  // e.g. "720h" (the default)
	envWebhookTimeout      = "LIKENESS_WEBHOOK_TIMEOUT"        // one attempt, e.g. "15s" (the default)
)

// maxWebhookTimeout bounds LIKENESS_WEBHOOK_TIMEOUT.
const maxWebhookTimeout = time.Minute

// newWebhookWorker returns the delivery worker for the store, configured by
// the serve flags and the environment (getenv).
func newWebhookWorker(db *sqlite.DB, log *slog.Logger, allowPrivate bool, getenv func(string) string) (*webhooks.Worker, error) {
	cfg := webhooks.Config{Store: db, Wake: db.WebhookWake(), AllowPrivate: allowPrivate, Logger: log, Now: time.Now}
	if v := getenv(envWebhookSchedule); v != "" {
		s, err := webhooks.ParseSchedule(v)
		if err != nil {
			return nil, usageError(envWebhookSchedule + ": " + likeness.ErrorMessage(err))
		}
		cfg.Schedule = s
	}
	if v := getenv(envWebhookAllowPrivate); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, usageError(envWebhookAllowPrivate + " must be 1 or 0")
		}
		cfg.AllowPrivate = cfg.AllowPrivate || b
	}
	if v := getenv(envWebhookRetention); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Hour {
			return nil, usageError(envWebhookRetention + " must be a duration of at least 1h, like 720h")
		}
		cfg.LogRetention = d
	}
	if v := getenv(envWebhookTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 100*time.Millisecond || d > maxWebhookTimeout {
			return nil, usageError(envWebhookTimeout + " must be a duration from 100ms to 1m, like 15s")
		}
		cfg.Timeout = d
	}
	if cfg.AllowPrivate {
		log.Warn("webhooks may be sent to private and loopback addresses (development only)")
	}
	return webhooks.New(cfg)
}
