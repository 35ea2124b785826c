package rooms

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/wirecraft/websocket"
)

// A FanOut links hubs in different processes, so that rooms, users and
// "everyone" span all of them. It carries byte slices and keeps a small
// presence table; an implementation over Redis pub/sub, NATS or another
// broker needs nothing more. A FanOut serves one hub: NewHub calls Start
// once, Hub.Close calls Close once, and the other methods may be called
// from any goroutine in between.
//
// # Messages
//
// A hub delivers each broadcast (Hub.Broadcast, Member.Broadcast,
// SendToUser, SendToAll) to its own members first, then hands it to
// Publish. The FanOut passes every message published on it to each hub's
// Receiver.Receive. The publisher's own messages may come back to it, as
// they do with a pub/sub server: a message carries the instance id of
// the hub that published it, and that hub drops it. The bytes are the
// hub's own encoding; a FanOut passes them on unchanged.
//
// Delivery to other instances is at most once. A message published while
// the link is down is lost for them: Publish returns an error (and so does
// the Broadcast that called it), the publishing hub's members have the
// message already, and nothing is queued or retried. The messages one
// goroutine publishes must reach each hub in the order they were
// published; a Redis connection keeps that order.
//
// # Presence
//
// Each hub records with SetPresence how many connections each user has in
// each room on its instance, and asks Presence for the other instances'
// counts. An instance that ends without Close must not leave its entries
// behind for ever: an implementation expires them (with Redis, a key per
// instance whose TTL the instance keeps refreshing).
//
// # Link state
//
// Receiver.LinkLost reports that the link is down (a connection to Redis
// dropped), Receiver.LinkRestored that it is back and subscribed again.
// After LinkRestored the hub records all its presence again, since entries
// may have expired and writes may have failed while the link was down.
type FanOut interface {
	// Start begins passing messages to r, the receiver of the hub whose
	// instance id is instance: its messages carry that id, and its
	// presence is recorded under it. A link that cannot be made is
	// reported with r.LinkLost, not by Start.
	Start(instance string, r Receiver)

	// Publish passes msg to the hubs on the fan-out. It returns an error
	// when msg could not be handed to the link; it does not wait for
	// delivery. It must not modify msg, and may keep it.
	Publish(ctx context.Context, msg []byte) error

	// SetPresence records that this instance has conns connections of
	// user in room; 0 removes the entry.
	SetPresence(ctx context.Context, room, user string, conns int) error

	// Presence returns, for each user with connections in room on other
	// instances, how many they are there in all. It leaves out this
	// instance's entries: the hub counts its own members.
	Presence(ctx context.Context, room string) (map[string]int, error)

	// Close removes this instance's presence entries, stops passing
	// messages to the receiver and releases the link. The hub ignores calls
	// to its receiver once it is closed.
	Close() error
}

// A Receiver takes what a FanOut receives: NewHub passes one to
// FanOut.Start. Its methods may be called from any goroutine. Receive
// does not block (it only queues) and does not keep msg after it returns.
type Receiver interface {
	// Receive delivers msg, published by a hub on the fan-out (this one's
	// own messages are recognised and dropped), to the members it is for.
	Receive(msg []byte)
	// LinkLost reports that the link to the other instances is down:
	// until LinkRestored, messages may not reach them nor come from them.
	LinkLost(err error)
	// LinkRestored reports that the link is up and subscribed again. A
	// first LinkRestored without a LinkLost before it is harmless.
	LinkRestored()
}

// receiver is the Receiver a hub gives its FanOut: a type of its own keeps
// these methods out of Hub's API.
type receiver struct{ h *Hub }

func (r receiver) Receive(msg []byte) {
	h := r.h
	e, err := unmarshalEnvelope(msg)
	if err != nil || e.origin == h.instance {
		// Unreadable messages come from an incompatible version of this
		// package; the hub's own were delivered before they were
		// published.
		return
	}
	pm, err := prepare(e.typ, e.data)
	if err != nil {
		return // the publishing hub checked it; this one is damaged
	}
	h.mu.Lock()
	if !h.closed {
		h.deliverLocked(e.kind, e.to, pm, nil)
	}
	h.mu.Unlock()
}

func (r receiver) LinkLost(err error) {
	h := r.h
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if !closed && h.opts.OnLinkLost != nil {
		h.opts.OnLinkLost(err)
	}
}

func (r receiver) LinkRestored() {
	h := r.h
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.running.Add(1)
	h.mu.Unlock()
	// On a goroutine of its own: the FanOut's goroutine calling this may be
	// the one that carries the answers to the presence writes.
	go func() {
		defer h.running.Done()
		h.reshare()
		if h.opts.OnLinkRestored != nil {
			h.opts.OnLinkRestored()
		}
	}()
}

// presenceKey names a presence entry: a user in a room.
type presenceKey struct{ room, user string }

// sharePresence records in the fan-out how many of user's connections in
// room this hub has now. Each call counts while it holds presenceMu, so
// however calls for one room and user race, the last one to write writes
// the latest count.
func (h *Hub) sharePresence(ctx context.Context, room, user string) error {
	if h.opts.FanOut == nil {
		return nil
	}
	h.presenceMu.Lock()
	defer h.presenceMu.Unlock()
	return h.sharePresenceLocked(ctx, presenceKey{room, user})
}

// sharePresenceLocked is sharePresence for a caller holding presenceMu.
func (h *Hub) sharePresenceLocked(ctx context.Context, k presenceKey) error {
	h.mu.Lock()
	conns := 0
	for m := range h.users[k.user] {
		if _, in := m.rooms[k.room]; in {
			conns++
		}
	}
	h.mu.Unlock()
	if err := h.opts.FanOut.SetPresence(ctx, k.room, k.user, conns); err != nil {
		h.unshared[k] = struct{}{}
		return fmt.Errorf("rooms: recording presence: %w", err)
	}
	delete(h.unshared, k)
	return nil
}

// reshare records the hub's whole presence in the fan-out again: every
// user in every room, and the entries whose last write failed (a user
// who left while the link was down is written as 0). Writes that fail
// again wait for the next recovery. Each write is bounded by WriteTimeout.
func (h *Hub) reshare() {
	h.presenceMu.Lock()
	defer h.presenceMu.Unlock()
	keys := make(map[presenceKey]struct{}, len(h.unshared))
	for k := range h.unshared {
		keys[k] = struct{}{}
	}
	h.mu.Lock()
	for room, members := range h.rooms {
		for m := range members {
			keys[presenceKey{room, m.user}] = struct{}{}
		}
	}
	h.mu.Unlock()
	for k := range keys {
		ctx, cancel := context.WithTimeout(context.Background(), h.opts.WriteTimeout)
		_ = h.sharePresenceLocked(ctx, k)
		cancel()
	}
}

// target is what a message is for.
type target byte

const (
	toRoom target = iota + 1
	toUser
	toAll
)

// An envelope is a message as it travels between hubs.
type envelope struct {
	origin string // the instance id of the hub that published it
	kind   target
	to     string // the room or the user; empty for everyone
	typ    websocket.MessageType
	data   []byte
}

// envelopeVersion is the first byte of an encoded envelope. The layout
// after it: the target, the message type, the origin and the room or user
// (each a uvarint length and the bytes), and the data to the end.
const envelopeVersion = 1

var errBadEnvelope = errors.New("rooms: malformed message from the fan-out")

// marshal encodes e for Publish.
func (e *envelope) marshal() []byte {
	b := make([]byte, 0, 3+2*binary.MaxVarintLen64+len(e.origin)+len(e.to)+len(e.data))
	b = append(b, envelopeVersion, byte(e.kind), byte(e.typ))
	b = binary.AppendUvarint(b, uint64(len(e.origin)))
	b = append(b, e.origin...)
	b = binary.AppendUvarint(b, uint64(len(e.to)))
	b = append(b, e.to...)
	return append(b, e.data...)
}

// unmarshalEnvelope decodes what marshal encoded. The data of the result
// is part of b.
func unmarshalEnvelope(b []byte) (envelope, error) {
	if len(b) < 3 || b[0] != envelopeVersion {
		return envelope{}, errBadEnvelope
	}
	e := envelope{kind: target(b[1]), typ: websocket.MessageType(b[2])}
	if e.kind < toRoom || e.kind > toAll {
		return envelope{}, errBadEnvelope
	}
	rest := b[3:]
	var ok bool
	if e.origin, rest, ok = cutString(rest); !ok {
		return envelope{}, errBadEnvelope
	}
	if e.to, rest, ok = cutString(rest); !ok {
		return envelope{}, errBadEnvelope
	}
	e.data = rest
	return e, nil
}

// cutString splits a uvarint-prefixed string off the front of b.
func cutString(b []byte) (s string, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	end := k + int(n)
	return string(b[k:end]), b[end:], true
}
