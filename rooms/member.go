package rooms

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/wirecraft/websocket"
)

// A Member is one connection in a hub, and the user it belongs to.
// Hub.Add makes one. Its methods may be called from any goroutine.
type Member struct {
	hub   *Hub
	conn  *websocket.Conn
	user  string
	queue chan *websocket.PreparedMessage
	rooms map[string]struct{} // guarded by hub.mu; nil once removed

	// leaving is set once the member is on its way out, stopped or with
	// its connection ended: nothing more is queued for it.
	leaving atomic.Bool
	// stop is closed, once, to make the writing goroutine close the
	// connection with code and reason and end. code and reason are set
	// before, and read after.
	stop     chan struct{}
	stopOnce sync.Once
	code     websocket.StatusCode
	reason   string

	done    chan struct{} // closed once the member has left the hub
	dropped atomic.Uint64
}

// User returns the id of the user the member's connection belongs to.
func (m *Member) User() string { return m.user }

// Join adds the member to room, and records it in the fan-out's presence.
// Joining a room the member is in already does nothing.
//
// An error from the fan-out does not undo the join: the member is in the
// room and gets its messages, but other instances may not count it until
// the link recovers, when the hub writes its presence again. Join returns
// ErrClosed once the member is leaving the hub or has left it.
func (m *Member) Join(ctx context.Context, room string) error {
	h := m.hub
	h.mu.Lock()
	if m.leaving.Load() {
		h.mu.Unlock()
		return ErrClosed
	}
	if _, in := m.rooms[room]; in {
		h.mu.Unlock()
		return nil
	}
	m.rooms[room] = struct{}{}
	addTo(h.rooms, room, m)
	h.mu.Unlock()
	return h.sharePresence(ctx, room, m.user)
}

// Leave removes the member from room, and from the fan-out's presence in
// it. Leaving a room the member is not in does nothing. An error from the
// fan-out does not undo the leave (see Join).
func (m *Member) Leave(ctx context.Context, room string) error {
	h := m.hub
	h.mu.Lock()
	if _, in := m.rooms[room]; !in {
		h.mu.Unlock()
		return nil
	}
	delete(m.rooms, room)
	removeFrom(h.rooms, room, m)
	h.mu.Unlock()
	return h.sharePresence(ctx, room, m.user)
}

// Send queues p for this member alone, behind what is queued for it
// already, without waiting. It is how a handler answers its client: the
// answer keeps its place among broadcasts, where writing to the Conn
// directly would overtake the messages still queued.
//
// When the queue is full, Send returns ErrQueueFull and the hub's
// SlowPolicy applies as for any message: p is dropped, and under
// DropMember the member too. Send returns ErrClosed once the member has
// left the hub; a message queued as the connection ends is lost with it.
func (m *Member) Send(p []byte) error {
	pm, err := prepare(m.hub.opts.MessageType, p)
	if err != nil {
		return err
	}
	return m.enqueue(pm)
}

// Broadcast sends p to every member in room but m, on every instance: the
// way to pass on what m's client said. Errors are those of Hub.Broadcast.
func (m *Member) Broadcast(ctx context.Context, room string, p []byte) error {
	return m.hub.send(ctx, envelope{kind: toRoom, to: room, data: p}, m)
}

// Dropped returns how many messages were dropped for this member because
// its queue was full (under DropMessages).
func (m *Member) Dropped() uint64 { return m.dropped.Load() }

// Done returns a channel that is closed once the member has left the hub:
// its connection ended, it was dropped, or the hub closed. Its goroutine
// has ended then, and it is in no room of the hub; the fan-out has been
// told, unless the hub is closing (FanOut.Close withdraws all of the
// hub's presence at once).
func (m *Member) Done() <-chan struct{} { return m.done }

// enqueue queues pm without waiting, and applies the slow-client policy
// when the queue is full.
func (m *Member) enqueue(pm *websocket.PreparedMessage) error {
	if m.leaving.Load() {
		return ErrClosed
	}
	select {
	case m.queue <- pm:
		return nil
	default:
	}
	h := m.hub
	switch h.opts.SlowPolicy {
	case DropMessages:
		m.dropped.Add(1)
		h.droppedMessages.Add(1)
	default:
		if m.stopWith(websocket.StatusPolicyViolation, "too slow") {
			h.droppedMembers.Add(1)
		}
	}
	return ErrQueueFull
}

// stopWith makes the writing goroutine close the connection with code and
// reason, and end. The first call decides; it reports whether it was this
// one.
func (m *Member) stopWith(code websocket.StatusCode, reason string) bool {
	first := false
	m.stopOnce.Do(func() {
		first = true
		m.leaving.Store(true)
		m.code, m.reason = code, reason
		close(m.stop)
	})
	return first
}

// writeLoop is the member's goroutine: the only one that writes data
// messages to its connection, which is what keeps them in queue order.
// It ends when the connection ends, a write fails, or the member is
// stopped, and takes the member out of the hub.
func (m *Member) writeLoop() {
	h := m.hub
	defer h.running.Done()
	defer h.remove(m)
	for {
		select {
		case <-m.stop:
			m.conn.Close(m.code, m.reason)
			return
		case <-m.conn.Done():
			return
		case pm := <-m.queue:
			if m.leaving.Load() {
				// Stopped with messages still queued: they are dropped,
				// and the stop case closes the connection.
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), h.opts.WriteTimeout)
			err := m.conn.WritePrepared(ctx, pm)
			cancel()
			if err != nil {
				// A write that failed on the network has closed the
				// connection; one that timed out waiting for another
				// writer has not. Close it in any case, so that the
				// handler's reading ends with the member.
				m.conn.CloseNow()
				return
			}
		}
	}
}
