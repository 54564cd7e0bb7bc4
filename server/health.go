package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/singleflight"

	"github.com/likeness/likeness"
)

// ReadyCheck is one dependency /readyz checks.
type ReadyCheck struct {
	Name  string                          // shown in the reply, e.g. "database"
	Check func(ctx context.Context) error // nil when ready; the error is logged, never sent
}

// readyCheckTimeout bounds each check of one /readyz request.
const readyCheckTimeout = 2 * time.Second

// Readiness statuses in /readyz replies.
const (
	statusReady    = "ready"
	statusNotReady = "not_ready"
	statusDraining = "draining"
)

// readyReply is /readyz's body: the overall status and each check's.
type readyReply struct {
	Status string        `json:"status"`
	Checks []checkResult `json:"checks"`
}

type checkResult struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
}

// readiness runs the checks; concurrent requests share one run, so a flood
// of /readyz requests costs one round of checks at a time.
type readiness struct {
	checks []ReadyCheck
	group  singleflight.Group
}

func (r *readiness) run(ctx context.Context, log func(name string, err error)) []checkResult {
	v, _, _ := r.group.Do("", func() (any, error) {
		out := make([]checkResult, len(r.checks))
		var wg sync.WaitGroup
		for i, c := range r.checks {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyCheckTimeout)
				defer cancel()
				err := c.Check(ctx)
				if err != nil {
					log(c.Name, err)
				}
				out[i] = checkResult{Name: c.Name, OK: err == nil}
			})
		}
		wg.Wait()
		return out, nil
	})
	return v.([]checkResult)
}

// handleReady answers 200 when every check passes, else 503; 503 as soon
// as the server drains, so load balancers stop sending new work.
func (s *Server) handleReady(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	res := s.ready.run(c.Request().Context(), func(name string, err error) {
		s.log.Warn("readiness check failed", "check", name, "err", err)
	})
	reply := readyReply{Status: statusReady, Checks: res}
	for _, r := range res {
		if !r.OK {
			reply.Status = statusNotReady
		}
	}
	if s.draining.Load() {
		reply.Status = statusDraining
	}
	status := http.StatusOK
	if reply.Status != statusReady {
		status = http.StatusServiceUnavailable
	}
	return c.JSON(status, reply)
}

// errDraining refuses a new widget session while the server drains: the
// widget reports TOO_MANY_REQUESTS (15), and Retry-After (set for every
// 503) tells it to come back in a moment, to another replica.
var errDraining = withFio(likeness.Errorf(likeness.EUNAVAILABLE, "The server is restarting. Try again in a moment."),
	likeness.FioTooManyRequests)

// Drain begins a graceful stop: /readyz answers 503 at once and new widget
// sessions are refused, while the open ones go on. It returns when they
// have all ended, or with ctx's error when ctx ends first (Shutdown then
// ends the rest). Other requests are still served until Shutdown.
func (s *Server) Drain(ctx context.Context) error {
	s.sessMu.Lock()
	s.draining.Store(true)
	s.sessMu.Unlock()
	// No session begins from here on (beginSession); the last one to end
	// closes s.idle (endSession).
	if s.open.Load() == 0 {
		return nil
	}
	select {
	case <-s.idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// OpenSessions returns the number of widget sessions running.
func (s *Server) OpenSessions() int { return int(s.open.Load()) }
