package engine

import (
	"context"
	"testing"
	"time"

	"github.com/likeness/likeness"
)

// TestStatsAndReady: the engine reports its workers in use and the
// analyses queued for one, and is not ready once it is closing.
func TestStatsAndReady(t *testing.T) {
	e := newEngine(t, 1)
	if err := e.Ready(); err != nil {
		t.Fatalf("a new engine is not ready: %v", err)
	}
	if got := e.Stats(); got != (Stats{Workers: 1}) {
		t.Fatalf("idle: %+v", got)
	}
	w, err := e.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := e.acquire(ctx); done <- err }()
	deadline := time.Now().Add(5 * time.Second)
	for e.Stats().Waiting != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("a queued analysis is not counted: %+v", e.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	if got := e.Stats(); got != (Stats{Workers: 1, Busy: 1, Waiting: 1}) {
		t.Fatalf("busy: %+v", got)
	}
	cancel()
	if err := <-done; likeness.ErrorCode(err) != likeness.EUNAVAILABLE {
		t.Fatalf("a cancelled wait: %v", err)
	}
	if got := e.Stats(); got != (Stats{Workers: 1, Busy: 1}) {
		t.Fatalf("after the wait ended: %+v", got)
	}
	e.workers <- w
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Ready(); likeness.ErrorCode(err) != likeness.EUNAVAILABLE {
		t.Errorf("a closed engine is ready: %v", err)
	}
}
