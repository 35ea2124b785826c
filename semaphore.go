// The locks that serialise a connection's readers and writers.
//
// A Conn has three: one for reading, one held for a whole data message,
// one held for a single frame (see Conn). A goroutine waiting for one of
// them must be able to give up when its context ends or the connection
// closes, which sync.Mutex cannot do. A buffered channel can, but it is
// 112 bytes of heap, made with the connection whether anyone ever waits or
// not, and an idle server holds one Conn per connection. Most of the time
// nobody waits: one goroutine reads and writes, or the writers take turns
// without overlapping. semaphore keeps that case to one atomic word, and
// only makes a channel for the first goroutine that has to wait.

package websocket

import (
	"context"
	"fmt"
	"sync/atomic"
)

// semaphore is a lock whose waiters can give up. The zero value is
// unlocked.
type semaphore struct {
	// state is semHeld while a goroutine holds the lock, plus semWaiter
	// for each goroutine blocked in acquire. Taking and releasing the lock
	// and joining the waiters are each one atomic operation on it, which
	// is what makes the wake-up below reliable.
	state atomic.Int32
	// wake is made when a goroutine first has to wait. A release that
	// finds waiters puts a token in it; the waiter that takes the token
	// tries to lock again, and goes back to waiting if another goroutine
	// was faster. One buffered token is enough: a waiter either takes the
	// lock, or finds it held, and then its holder's release leaves the
	// next token. It is a pointer to a channel so that making it can be
	// one compare-and-swap; it is never replaced once set.
	wake atomic.Pointer[chan struct{}]
}

const (
	semHeld   = 1
	semWaiter = 2
)

// tryAcquire takes the lock if it is free, without waiting.
func (s *semaphore) tryAcquire() bool { return s.take(0) }

// take takes the lock if it is free. A woken waiter passes semWaiter as
// leaving, so that taking the lock and ceasing to be counted as a waiter
// are one operation.
func (s *semaphore) take(leaving int32) bool {
	for {
		v := s.state.Load()
		if v&semHeld != 0 {
			return false
		}
		if s.state.CompareAndSwap(v, v-leaving+semHeld) {
			return true
		}
	}
}

// acquire takes one of c's locks, waiting as long as it takes, unless ctx
// ends or the connection closes first.
func (c *Conn) acquire(ctx context.Context, s *semaphore) error {
	// Join the waiters only by a compare-and-swap that sees the lock
	// held, so that a release cannot fall between seeing it held and
	// being counted as a waiter.
	for {
		if s.tryAcquire() {
			return nil
		}
		if v := s.state.Load(); v&semHeld != 0 && s.state.CompareAndSwap(v, v+semWaiter) {
			break
		}
	}
	wake := s.wakeChan()
	for {
		select {
		case <-wake:
			if s.take(semWaiter) {
				return nil
			}
			// Another goroutine was faster: wait for its release.
		case <-ctx.Done():
			s.state.Add(-semWaiter)
			return fmt.Errorf("websocket: %w", ctx.Err())
		case <-c.done:
			s.state.Add(-semWaiter)
			return c.doneErr
		}
	}
}

// release unlocks, and wakes a waiter if there is one.
func (s *semaphore) release() {
	if s.state.Add(-semHeld) >= semWaiter {
		select {
		case s.wakeChan() <- struct{}{}:
		default: // a token is already there, not yet taken
		}
	}
}

// wakeChan returns the channel waiters sleep on, made on first use by
// whichever of a waiter or a release gets there first.
func (s *semaphore) wakeChan() chan struct{} {
	if p := s.wake.Load(); p != nil {
		return *p
	}
	ch := make(chan struct{}, 1)
	if s.wake.CompareAndSwap(nil, &ch) {
		return ch
	}
	return *s.wake.Load()
}
