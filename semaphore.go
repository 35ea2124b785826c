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
// only makes a queue for the first goroutine that has to wait.

package websocket

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// semaphore is a lock whose waiters can give up. The zero value is
// unlocked.
//
// It is fair: waiters queue in the order they came, and while one waits,
// a release hands the lock to the first of them rather than freeing it,
// so a goroutine that arrives meanwhile queues behind instead of
// overtaking. A writer that waits for its turn is overtaken at most once,
// by a goroutine that took the lock as it fell free, however busy the
// other writers are (TestSemaphoreWaiterNotStarved). The price is a
// goroutine switch per hand-over under contention, which a whole message
// per turn amortizes; the uncontended case stays one compare-and-swap.
type semaphore struct {
	// state is semHeld while the lock is held (or being handed over),
	// plus semWaiter for each goroutine in the queue. Waiters change it
	// only while holding the queue's lock, which is what lets a release
	// that finds waiters find them queued.
	state atomic.Int32
	// queue is made when a goroutine first has to wait, and never
	// replaced: a pointer, so that an idle connection's three locks cost
	// a word each.
	queue atomic.Pointer[waitQueue]
}

// waitQueue holds the goroutines waiting for a semaphore, first come
// first. Each waits on a channel of its own, which the release that
// hands it the lock sends on (while holding mu, so a waiter that gives up
// and no longer finds itself queued knows the token is in its channel).
type waitQueue struct {
	mu      sync.Mutex
	waiters []chan struct{}
}

const (
	semHeld   = 1
	semWaiter = 2
)

// waitChans lends the one-token channels waiters sleep on: a channel is
// empty again whenever its waiter returns.
var waitChans = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

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
	if s.tryAcquire() {
		return nil
	}
	q := s.waitQueue()
	wake := waitChans.Get().(chan struct{})
	q.mu.Lock()
	// Counted and queued in one step under mu. If the lock fell free
	// before we were counted, no release will hand it over: take it
	// ourselves, uncounted again.
	for v := s.state.Add(semWaiter); v&semHeld == 0; v = s.state.Load() {
		if s.state.CompareAndSwap(v, (v-semWaiter)|semHeld) {
			q.mu.Unlock()
			waitChans.Put(wake)
			return nil
		}
	}
	q.waiters = append(q.waiters, wake)
	q.mu.Unlock()

	var err error
	select {
	case <-wake:
		waitChans.Put(wake)
		return nil // handed over by a release
	case <-ctx.Done():
		err = fmt.Errorf("websocket: %w", ctx.Err())
	case <-c.Done():
		err = c.doneErr
	}
	s.giveUp(q, wake)
	return err
}

// giveUp takes a waiter out of the queue. If it is not there any more, a
// release has handed it the lock, and the token is in its channel already:
// it takes it and passes the lock on, or the lock would be held by nobody
// for ever.
func (s *semaphore) giveUp(q *waitQueue, wake chan struct{}) {
	q.mu.Lock()
	if i := slices.Index(q.waiters, wake); i >= 0 {
		q.waiters = slices.Delete(q.waiters, i, i+1)
		s.state.Add(-semWaiter)
		q.mu.Unlock()
		waitChans.Put(wake)
		return
	}
	q.mu.Unlock()
	<-wake
	waitChans.Put(wake)
	s.release()
}

// release hands the lock to the first waiter if there is one, and unlocks
// it otherwise.
func (s *semaphore) release() {
	if s.state.CompareAndSwap(semHeld, 0) {
		return // nobody waits: the common case
	}
	q := s.queue.Load() // not nil: someone was counted as a waiter
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiters) == 0 {
		// The waiters gave up since: just unlock.
		s.state.Add(-semHeld)
		return
	}
	wake := q.waiters[0]
	q.waiters = slices.Delete(q.waiters, 0, 1)
	s.state.Add(-semWaiter) // the lock stays held: it is the waiter's now
	wake <- struct{}{}      // never blocks: the channel is the waiter's own, and empty
}

// waitQueue returns the semaphore's queue, making it on first use.
func (s *semaphore) waitQueue() *waitQueue {
	if q := s.queue.Load(); q != nil {
		return q
	}
	s.queue.CompareAndSwap(nil, new(waitQueue))
	return s.queue.Load()
}
