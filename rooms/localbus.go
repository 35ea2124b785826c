package rooms

import (
	"context"
	"errors"
	"sync"
)

// LocalBus is a FanOut in memory, linking hubs in one process: for tests,
// and for a server that runs several hubs side by side. It delivers
// within Publish, so once a Broadcast has returned its message is queued
// on every hub of the bus.
type LocalBus struct {
	mu    sync.Mutex
	links map[*localLink]struct{} // the started, unclosed links
}

// NewLocalBus returns a bus with no hubs on it.
func NewLocalBus() *LocalBus {
	return &LocalBus{links: make(map[*localLink]struct{})}
}

// Link returns a new FanOut on the bus, for one hub: pass it in
// Options.FanOut.
func (b *LocalBus) Link() FanOut { return &localLink{bus: b} }

// localLink is one hub's FanOut on a LocalBus.
type localLink struct {
	bus      *LocalBus
	r        Receiver
	presence map[string]map[string]int // room → user → connections; guarded by bus.mu
}

var errLinkClosed = errors.New("rooms: LocalBus link not started or closed")

// Start joins the bus. The instance id is not needed: a link's presence
// is its own, and the bus hands a publisher its own messages back as a
// pub/sub server would, for the hub to recognise.
func (l *localLink) Start(_ string, r Receiver) {
	l.bus.mu.Lock()
	defer l.bus.mu.Unlock()
	l.r = r
	l.presence = make(map[string]map[string]int)
	l.bus.links[l] = struct{}{}
}

func (l *localLink) Publish(_ context.Context, msg []byte) error {
	l.bus.mu.Lock()
	if _, on := l.bus.links[l]; !on {
		l.bus.mu.Unlock()
		return errLinkClosed
	}
	receivers := make([]Receiver, 0, len(l.bus.links))
	for other := range l.bus.links {
		receivers = append(receivers, other.r)
	}
	l.bus.mu.Unlock()
	// Outside the lock, so that no hub is called into while the bus is
	// locked.
	for _, r := range receivers {
		r.Receive(msg)
	}
	return nil
}

func (l *localLink) SetPresence(_ context.Context, room, user string, conns int) error {
	l.bus.mu.Lock()
	defer l.bus.mu.Unlock()
	if _, on := l.bus.links[l]; !on {
		return errLinkClosed
	}
	users := l.presence[room]
	switch {
	case conns > 0 && users == nil:
		l.presence[room] = map[string]int{user: conns}
	case conns > 0:
		users[user] = conns
	default:
		delete(users, user)
		if len(users) == 0 {
			delete(l.presence, room)
		}
	}
	return nil
}

func (l *localLink) Presence(_ context.Context, room string) (map[string]int, error) {
	l.bus.mu.Lock()
	defer l.bus.mu.Unlock()
	if _, on := l.bus.links[l]; !on {
		return nil, errLinkClosed
	}
	conns := make(map[string]int)
	for other := range l.bus.links {
		if other == l {
			continue
		}
		for user, n := range other.presence[room] {
			conns[user] += n
		}
	}
	return conns, nil
}

func (l *localLink) Close() error {
	l.bus.mu.Lock()
	defer l.bus.mu.Unlock()
	delete(l.bus.links, l) // its presence goes with it
	return nil
}
