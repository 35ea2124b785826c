package rooms

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/wirecraft/websocket"
)

// Errors the hub and its members return.
var (
	// ErrClosed is returned by a closed Hub, and by a Member that has left
	// its hub: its connection ended, it was dropped as too slow, or the
	// hub closed.
	ErrClosed = errors.New("rooms: closed")
	// ErrQueueFull is returned by Member.Send when the member's queue is
	// full: the message was dropped, and under DropMember the member too.
	ErrQueueFull = errors.New("rooms: queue full")
)

// SlowPolicy says what a hub does when a message finds a member's queue
// full, because its client reads slower than messages come.
type SlowPolicy int

const (
	// DropMember, the default, closes the member's connection with 1008
	// (policy violation), reason "too slow", and removes it from the hub.
	// It suits a chat: a client that reconnects knows it may have missed
	// something, where one that silently skipped lines would not.
	DropMember SlowPolicy = iota
	// DropMessages keeps the member and drops each message that finds its
	// queue full, counting them (Member.Dropped, Stats.DroppedMessages). It
	// suits feeds where the next message supersedes the last, such as
	// dashboards and prices.
	DropMessages
)

// Defaults used when an Options field is left at zero.
const (
	// DefaultQueueSize is how many messages may wait for one member.
	DefaultQueueSize = 64
	// DefaultWriteTimeout bounds each write to a member.
	DefaultWriteTimeout = 10 * time.Second
)

// Options configures a Hub. A nil *Options, and a zero field, mean the
// defaults.
type Options struct {
	// QueueSize is how many messages may wait for one member before
	// SlowPolicy applies; 0 means DefaultQueueSize. It is the slack a
	// client has to fall behind and catch up.
	QueueSize int

	// SlowPolicy is what happens to a member whose queue is full; the zero
	// value is DropMember.
	SlowPolicy SlowPolicy

	// WriteTimeout bounds each write to a member; 0 means
	// DefaultWriteTimeout. A write that takes longer closes the connection:
	// its client has stopped reading. It also bounds each fan-out call the
	// hub makes on its own, to record presence when a member leaves and
	// when the link recovers (see FanOut).
	WriteTimeout time.Duration

	// MessageType is the type of the messages the hub sends,
	// websocket.MessageText (the zero value means it) or
	// websocket.MessageBinary. The hub refuses text that is not valid
	// UTF-8: every member's client would fail its connection on it (1007).
	MessageType websocket.MessageType

	// FanOut, if set, links the hub to hubs in other processes. The hub
	// owns it: NewHub starts it and Hub.Close closes it.
	FanOut FanOut

	// OnLinkLost and OnLinkRestored, if set, are called when the FanOut
	// reports its link lost and back. What is published while the link is
	// down is lost for the other instances, so an application that must not
	// miss messages can have its clients catch up when the link is back.
	// OnLinkLost is called from the FanOut's goroutine and must not block;
	// OnLinkRestored is called once the hub has recorded its presence again.
	OnLinkLost     func(err error)
	OnLinkRestored func()
}

// Stats are counters of a Hub, for monitoring.
type Stats struct {
	// Members is the number of connections in the hub now.
	Members int
	// DroppedMessages counts messages not queued for a member because its
	// queue was full (DropMessages), over the hub's life.
	DroppedMessages uint64
	// DroppedMembers counts members closed because their queue was full
	// (DropMember), over the hub's life.
	DroppedMembers uint64
}

// Presence is one user's presence in a room.
type Presence struct {
	// User is the user's id, as given to Hub.Add.
	User string `json:"user"`
	// Conns is how many of the user's connections are in the room, over
	// every instance of the fan-out.
	Conns int `json:"conns"`
}

// A Hub holds members, the rooms they are in, and the queues their
// messages wait in. Its methods may be called from any goroutine.
type Hub struct {
	opts Options
	// instance tells this hub's messages from others' on the fan-out.
	instance string

	mu      sync.Mutex
	closed  bool
	members map[*Member]struct{}
	rooms   map[string]map[*Member]struct{} // by room name
	users   map[string]map[*Member]struct{} // by user id

	// presenceMu orders the hub's presence writes to the fan-out (see
	// sharePresence). unshared, which it guards, holds the room and user
	// pairs whose last write failed: they are written again when the link
	// recovers.
	presenceMu sync.Mutex
	unshared   map[presenceKey]struct{}

	// running counts the members' writing goroutines and the presence
	// rewrites after a link recovery; Close waits for them.
	running sync.WaitGroup

	droppedMessages atomic.Uint64
	droppedMembers  atomic.Uint64
}

// NewHub returns a hub configured by opts, and starts opts.FanOut if it
// is set.
func NewHub(opts *Options) *Hub {
	h := &Hub{
		instance: newInstanceID(),
		members:  make(map[*Member]struct{}),
		rooms:    make(map[string]map[*Member]struct{}),
		users:    make(map[string]map[*Member]struct{}),
		unshared: make(map[presenceKey]struct{}),
	}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.QueueSize <= 0 {
		h.opts.QueueSize = DefaultQueueSize
	}
	if h.opts.WriteTimeout <= 0 {
		h.opts.WriteTimeout = DefaultWriteTimeout
	}
	if h.opts.MessageType == 0 {
		h.opts.MessageType = websocket.MessageText
	}
	if h.opts.FanOut != nil {
		h.opts.FanOut.Start(h.instance, receiver{h})
	}
	return h
}

// newInstanceID returns a random id, unique among the hubs on a fan-out:
// two hubs with one id would each drop the other's messages as its own.
func newInstanceID() string {
	return fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64())
}

// Add adds c, a connection of user, to the hub, and starts the goroutine
// that writes to it. The member is in no room yet.
//
// From then on the hub writes to c and the handler only reads: it answers
// through the member (Member.Send), so that its answers keep their place
// among the messages queued for c. The member leaves the hub when c ends,
// however it ends (a deferred c.CloseNow() in the handler is enough), and
// other instances learn it from the fan-out.
//
// Add is called once per connection. Once the hub is closed it returns
// ErrClosed and leaves c as it is.
func (h *Hub) Add(c *websocket.Conn, user string) (*Member, error) {
	m := &Member{
		hub:   h,
		conn:  c,
		user:  user,
		queue: make(chan *websocket.PreparedMessage, h.opts.QueueSize),
		rooms: make(map[string]struct{}),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	h.members[m] = struct{}{}
	addTo(h.users, user, m)
	h.running.Add(1)
	h.mu.Unlock()
	go m.writeLoop()
	return m, nil
}

// Broadcast sends p to every member in room: on this hub, then through
// the fan-out on the others. Once it returns, p is queued for this hub's
// members; an error means the hub is closed, p was refused (text that is
// not UTF-8), or the fan-out failed, in which case only this hub's members
// get p.
func (h *Hub) Broadcast(ctx context.Context, room string, p []byte) error {
	return h.send(ctx, envelope{kind: toRoom, to: room, data: p}, nil)
}

// SendToUser sends p to every connection of user, in whatever rooms, on
// every instance, and to no one else. Errors are those of Broadcast.
func (h *Hub) SendToUser(ctx context.Context, user string, p []byte) error {
	return h.send(ctx, envelope{kind: toUser, to: user, data: p}, nil)
}

// SendToAll sends p to every member of every instance. Errors are those
// of Broadcast.
func (h *Hub) SendToAll(ctx context.Context, p []byte) error {
	return h.send(ctx, envelope{kind: toAll, data: p}, nil)
}

// send delivers e to this hub's members but except, then publishes it.
// Delivering first means local members never wait for the fan-out, and
// get the message even when its link is down.
func (h *Hub) send(ctx context.Context, e envelope, except *Member) error {
	e.typ = h.opts.MessageType
	pm, err := prepare(e.typ, e.data)
	if err != nil {
		return err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	h.deliverLocked(e.kind, e.to, pm, except)
	h.mu.Unlock()
	if h.opts.FanOut == nil {
		return nil
	}
	e.origin = h.instance
	if err := h.opts.FanOut.Publish(ctx, e.marshal()); err != nil {
		return fmt.Errorf("rooms: publishing to other instances: %w", err)
	}
	return nil
}

// prepare builds the frame of a message once, for all its recipients.
func prepare(typ websocket.MessageType, p []byte) (*websocket.PreparedMessage, error) {
	if typ == websocket.MessageText && !utf8.Valid(p) {
		return nil, errors.New("rooms: text message is not valid UTF-8")
	}
	pm, err := websocket.NewPreparedMessage(typ, p)
	if err != nil {
		return nil, fmt.Errorf("rooms: %w", err)
	}
	return pm, nil
}

// deliverLocked queues pm for this hub's members that kind and to name,
// but except. It never waits: a full queue is the slow-client policy's
// business. Holding h.mu for it is what keeps broadcasts in one order for
// every member.
func (h *Hub) deliverLocked(kind target, to string, pm *websocket.PreparedMessage, except *Member) {
	var set map[*Member]struct{}
	switch kind {
	case toRoom:
		set = h.rooms[to]
	case toUser:
		set = h.users[to]
	case toAll:
		set = h.members
	}
	for m := range set {
		if m != except {
			m.enqueue(pm)
		}
	}
}

// Presence returns who is in room, over every instance: each user with
// connections in it and how many, sorted by user. When the fan-out fails,
// Presence returns what this hub knows, with the error.
func (h *Hub) Presence(ctx context.Context, room string) ([]Presence, error) {
	conns := make(map[string]int)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	for m := range h.rooms[room] {
		conns[m.user]++
	}
	h.mu.Unlock()

	var err error
	if h.opts.FanOut != nil {
		var others map[string]int
		if others, err = h.opts.FanOut.Presence(ctx, room); err != nil {
			err = fmt.Errorf("rooms: presence on other instances: %w", err)
		}
		for user, n := range others {
			conns[user] += n
		}
	}
	list := make([]Presence, 0, len(conns))
	for user, n := range conns {
		list = append(list, Presence{User: user, Conns: n})
	}
	slices.SortFunc(list, func(a, b Presence) int { return strings.Compare(a.User, b.User) })
	return list, err
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	n := len(h.members)
	h.mu.Unlock()
	return Stats{
		Members:         n,
		DroppedMessages: h.droppedMessages.Load(),
		DroppedMembers:  h.droppedMembers.Load(),
	}
}

// Close closes every member's connection with 1001 (going away), waits
// until their goroutines have ended, and closes the fan-out, which
// removes this instance's presence. Members are closed in parallel;
// closing one waits for a write in progress (at most WriteTimeout) and
// for the closing handshake (at most the connection's CloseTimeout).
// Messages still queued are not sent.
//
// Close returns the fan-out's error, if any. Once it has been called, Add,
// Broadcast, SendToUser, SendToAll, Presence and Close return ErrClosed.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	h.closed = true
	members := make([]*Member, 0, len(h.members))
	for m := range h.members {
		members = append(members, m)
	}
	h.mu.Unlock()

	for _, m := range members {
		m.stopWith(websocket.StatusGoingAway, "shutting down")
	}
	h.running.Wait()
	if h.opts.FanOut != nil {
		if err := h.opts.FanOut.Close(); err != nil {
			return fmt.Errorf("rooms: closing the fan-out: %w", err)
		}
	}
	return nil
}

// remove takes m out of the hub once its writing goroutine is done with
// the connection, and tells the fan-out of the presence that changed.
func (h *Hub) remove(m *Member) {
	m.leaving.Store(true) // nothing more is queued for m
	h.mu.Lock()
	rooms := m.rooms
	m.rooms = nil
	for room := range rooms {
		removeFrom(h.rooms, room, m)
	}
	removeFrom(h.users, m.user, m)
	delete(h.members, m)
	closed := h.closed
	h.mu.Unlock()

	// A closing hub leaves its presence to FanOut.Close, which removes it
	// whole.
	if !closed {
		for room := range rooms {
			// A failure is remembered, and written again when the link
			// recovers.
			ctx, cancel := context.WithTimeout(context.Background(), h.opts.WriteTimeout)
			_ = h.sharePresence(ctx, room, m.user)
			cancel()
		}
	}
	close(m.done)
}

// addTo adds m to the set of that name in sets.
func addTo(sets map[string]map[*Member]struct{}, name string, m *Member) {
	set := sets[name]
	if set == nil {
		set = make(map[*Member]struct{})
		sets[name] = set
	}
	set[m] = struct{}{}
}

// removeFrom removes m from the set of that name in sets, and the set
// once it is empty, so that a hub keeps nothing for rooms and users gone.
func removeFrom(sets map[string]map[*Member]struct{}, name string, m *Member) {
	set := sets[name]
	delete(set, m)
	if len(set) == 0 {
		delete(sets, name)
	}
}
