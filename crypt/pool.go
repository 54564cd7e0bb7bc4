package crypt

import (
	"context"
	"sync"
	"time"

	"github.com/likeness/likeness"
)

// Pool defaults: each argon2id run holds 19 MiB, so four at once bound
// hashing to about 76 MiB, and a caller waits at most two seconds for a turn.
const (
	DefaultPoolSize = 4
	DefaultPoolWait = 2 * time.Second
)

// Pool runs memory-hard work (argon2id hashing of console passwords and
// PINs) a few at a time, so a burst of requests cannot exhaust memory or
// queue without end: a caller waits for a turn at most the pool's wait, then
// gets EUNAVAILABLE (HTTP 503 with Retry-After). One Pool is shared by every
// part of a server that hashes. It is safe for concurrent use.
type Pool struct {
	slots chan struct{}
	wait  time.Duration

	mu         sync.Mutex
	busy, peak int
}

// NewPool returns a pool running at most size jobs at once, each caller
// waiting at most wait for its turn. Zero values take the defaults.
func NewPool(size int, wait time.Duration) *Pool {
	if size <= 0 {
		size = DefaultPoolSize
	}
	if wait <= 0 {
		wait = DefaultPoolWait
	}
	return &Pool{slots: make(chan struct{}, size), wait: wait}
}

// Size is how many jobs run at once.
func (p *Pool) Size() int { return cap(p.slots) }

// Wait is how long a caller waits for a turn before EUNAVAILABLE.
func (p *Pool) Wait() time.Duration { return p.wait }

// Peak is the most jobs that ever ran at once.
func (p *Pool) Peak() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}

// Do runs fn once a turn is free. When none frees within the pool's wait, or
// ctx ends first, fn does not run and Do returns EUNAVAILABLE.
func (p *Pool) Do(ctx context.Context, fn func()) error {
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
	case <-t.C:
		return likeness.Errorf(likeness.EUNAVAILABLE, "The server is busy; try again shortly.")
	case <-ctx.Done():
		return likeness.Wrap(ctx.Err(), likeness.EUNAVAILABLE, "The server is busy; try again shortly.")
	}
	p.mu.Lock()
	p.busy++
	p.peak = max(p.peak, p.busy)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.busy--
		p.mu.Unlock()
		<-p.slots
	}()
	fn()
	return nil
}
