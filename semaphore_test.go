package websocket

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// semConn is a Conn with nothing under it but what acquire looks at:
// whether it was closed, and why. Its transport is one end of a pipe.
func semConn() *Conn {
	ours, _ := net.Pipe()
	return &Conn{t: ours}
}

// Many goroutines, some of which give up while waiting: the lock must keep
// them apart (an unguarded counter, which the race detector watches), none
// may be left waiting after the lock became free, and at the end the lock
// must be free with no waiter counted.
func TestSemaphoreExcludesAndWakes(t *testing.T) {
	c := semConn()
	var s semaphore
	const goroutines, rounds = 8, 500
	counter := 0
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				ctx := context.Background()
				if (g+i)%3 == 0 {
					// Some waits are cut short: an already ended context
					// makes a waiter leave as soon as it has joined.
					cctx, cancel := context.WithCancel(ctx)
					cancel()
					ctx = cctx
				}
				if err := c.acquire(ctx, &s); err != nil {
					if !errors.Is(err, context.Canceled) {
						t.Errorf("acquire: %v, want context.Canceled", err)
					}
					continue
				}
				counter++
				runtime.Gosched() // let others find the lock held and wait
				s.release()
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		t.Fatalf("goroutines still waiting for a free lock (state %d)", s.state.Load())
	}
	if counter == 0 || s.queue.Load() == nil {
		t.Fatalf("the lock was taken %d times, wait queue made: %v; the test needs both", counter, s.queue.Load() != nil)
	}
	if v := s.state.Load(); v != 0 {
		t.Fatalf("state after all goroutines finished = %d, want 0 (free, no waiters)", v)
	}
}

// A waiter gives up when its context ends or the connection closes, and
// says which; the lock is unaffected and its holder can pass it on.
func TestSemaphoreWaiterGivesUp(t *testing.T) {
	c := semConn()
	var s semaphore
	if err := c.acquire(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	if s.tryAcquire() {
		t.Fatal("tryAcquire took a held lock")
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := c.acquire(ctx, &s); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire with an ending context: %v, want context.DeadlineExceeded", err)
	}

	waiting := make(chan error)
	go func() { waiting <- c.acquire(context.Background(), &s) }()
	waitForWaiter(t, &s)
	c.closeTransport(errClosed)
	if err := <-waiting; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("acquire on a closing connection: %v, want net.ErrClosed", err)
	}

	if v := s.state.Load(); v != semHeld {
		t.Fatalf("state = %d, want %d: held, nobody waiting", v, semHeld)
	}
	s.release()
	if !s.tryAcquire() {
		t.Fatal("tryAcquire failed on a free lock")
	}
}

// The lock passes from its holder to a goroutine that waits for it, and
// the channel that wakes it up is only made because somebody waited.
func TestSemaphoreHandsOver(t *testing.T) {
	c := semConn()
	var s semaphore
	for range 3 { // uncontended: no channel
		if err := c.acquire(context.Background(), &s); err != nil {
			t.Fatal(err)
		}
		s.release()
	}
	if s.queue.Load() != nil {
		t.Fatal("wait queue made without a waiter")
	}

	if err := c.acquire(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	got := make(chan error)
	go func() { got <- c.acquire(context.Background(), &s) }()
	waitForWaiter(t, &s)
	s.release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter was not woken by the release")
	}
	if v := s.state.Load(); v != semHeld {
		t.Fatalf("state = %d, want %d: held by the woken waiter, nobody waiting", v, semHeld)
	}
}

// waitForWaiter returns once a goroutine is counted as waiting for s.
func waitForWaiter(t *testing.T, s *semaphore) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.state.Load() < semHeld+semWaiter {
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine joined the waiters (state %d)", s.state.Load())
		}
		time.Sleep(time.Millisecond)
	}
}
