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
//
// It is fair: while goroutines wait, a release hands the lock to one of
// them rather than freeing it, so a goroutine that arrives meanwhile
// queues behind them instead of overtaking, and the waiters get the lock
// roughly in the order they came: the runtime wakes the receivers of a
// channel first in, first out, though a waiter that is counted but not yet
// parked on the channel can be passed by one already parked. A writer that waits for its turn is
// therefore overtaken at most once, however busy the other writers are
// (TestSemaphoreWaiterNotStarved). The price is a goroutine switch per
// hand-over under contention, which a whole message per turn amortizes;
// the uncontended case stays one compare-and-swap.
type semaphore struct {
	// state is semHeld while the lock is held (or being handed over),
	// plus semWaiter for each goroutine waiting in acquire that no
	// release has handed the lock to yet. Each change is one atomic
	// operation on it, which is what keeps the counting below exact.
	state atomic.Int32
	// wake carries the lock from a release to a waiter: receiving the
	// token means owning the lock. It is made when a goroutine first has
	// to wait, as a pointer so that making it can be one
	// compare-and-swap, and never replaced. One buffered token is enough:
	// until a waiter has received it nobody else holds the lock, so no
	// release can send a second.
	wake atomic.Pointer[chan struct{}]
}

const (
	semHeld   = 1
	semWaiter = 2
)

// tryAcquire takes the lock if it is free, without waiting.
func (s *semaphore) tryAcquire() bool {
	for {
		v := s.state.Load()
		if v&semHeld != 0 {
			return false
		}
		if s.state.CompareAndSwap(v, v|semHeld) {
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
	select {
	case <-wake:
		return nil // handed over by a release
	case <-ctx.Done():
		s.giveUp(wake)
		return fmt.Errorf("websocket: %w", ctx.Err())
	case <-c.done:
		s.giveUp(wake)
		return c.doneErr
	}
}

// giveUp takes a waiter out of the count. If the count is already zero, a
// release has handed the lock to one of the goroutines that are not
// counted any more, this one among them: the token is on its way, and
// whoever gives up must take it and pass the lock on, or it would be held
// by nobody for ever.
func (s *semaphore) giveUp(wake chan struct{}) {
	for {
		v := s.state.Load()
		if v < semWaiter {
			<-wake
			s.release()
			return
		}
		if s.state.CompareAndSwap(v, v-semWaiter) {
			return
		}
	}
}

// release hands the lock to a waiter if there is one, and unlocks it
// otherwise.
func (s *semaphore) release() {
	for {
		v := s.state.Load()
		if v >= semWaiter {
			if s.state.CompareAndSwap(v, v-semWaiter) {
				s.wakeChan() <- struct{}{} // never blocks: see wake
				return
			}
			continue
		}
		if s.state.CompareAndSwap(v, v&^semHeld) {
			return
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
