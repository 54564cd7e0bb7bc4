package crypt_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
)

func TestPoolBoundsAndDeadline(t *testing.T) {
	p := crypt.NewPool(2, 50*time.Millisecond)
	var running, most, ran, busy atomic.Int32
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.Do(context.Background(), func() {
				n := running.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(30 * time.Millisecond)
				running.Add(-1)
				ran.Add(1)
			})
			if err != nil {
				if likeness.ErrorCode(err) != likeness.EUNAVAILABLE {
					t.Errorf("err %v, want unavailable", err)
				}
				busy.Add(1)
			}
		}()
	}
	wg.Wait()
	if most.Load() > 2 || p.Peak() > 2 || p.Peak() < 1 {
		t.Errorf("%d ran at once (peak %d), pool size 2", most.Load(), p.Peak())
	}
	if busy.Load() == 0 || ran.Load() < 2 || busy.Load()+ran.Load() != 12 {
		t.Errorf("ran %d, refused %d: want some of each", ran.Load(), busy.Load())
	}
	// A cancelled caller does not run.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	full := crypt.NewPool(1, time.Second)
	hold := make(chan struct{})
	go full.Do(context.Background(), func() { <-hold })
	time.Sleep(10 * time.Millisecond)
	if err := full.Do(ctx, func() { t.Error("ran after cancel") }); likeness.ErrorCode(err) != likeness.EUNAVAILABLE {
		t.Errorf("cancelled: %v", err)
	}
	close(hold)
}
