package rooms_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/internal/leakcheck"
	"github.com/wirecraft/websocket/rooms"
)

// errLinkDown is what a cut flakyLink fails with.
var errLinkDown = errors.New("link down")

// flakyLink is a FanOut on a LocalBus whose link a test cuts and restores,
// as a connection to Redis drops and comes back: while it is cut, nothing
// passes either way.
type flakyLink struct {
	rooms.FanOut
	r    rooms.Receiver
	down atomic.Bool
}

// Start puts the link itself between the bus and the hub's receiver.
func (f *flakyLink) Start(instance string, r rooms.Receiver) {
	f.r = r
	f.FanOut.Start(instance, f)
}

func (f *flakyLink) cut() {
	f.down.Store(true)
	f.r.LinkLost(errLinkDown)
}

func (f *flakyLink) restore() {
	f.down.Store(false)
	f.r.LinkRestored()
}

func (f *flakyLink) Receive(msg []byte) {
	if !f.down.Load() {
		f.r.Receive(msg)
	}
}

func (f *flakyLink) LinkLost(err error) { f.r.LinkLost(err) }
func (f *flakyLink) LinkRestored()      { f.r.LinkRestored() }

func (f *flakyLink) Publish(ctx context.Context, msg []byte) error {
	if f.down.Load() {
		return errLinkDown
	}
	return f.FanOut.Publish(ctx, msg)
}

func (f *flakyLink) SetPresence(ctx context.Context, room, user string, conns int) error {
	if f.down.Load() {
		return errLinkDown
	}
	return f.FanOut.SetPresence(ctx, room, user, conns)
}

func (f *flakyLink) Presence(ctx context.Context, room string) (map[string]int, error) {
	if f.down.Load() {
		return nil, errLinkDown
	}
	return f.FanOut.Presence(ctx, room)
}

// While the link is down, a hub serves its own members and says that the
// rest failed; nothing from that time is replayed after, and presence
// catches up once the link is back.
func TestLinkLostAndRestored(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	bus := rooms.NewLocalBus()
	link := &flakyLink{FanOut: bus.Link()}
	lost := make(chan error, 1)
	restored := make(chan struct{}, 1)
	a := startServer(t, newHub(t, &rooms.Options{
		FanOut:         link,
		OnLinkLost:     func(err error) { lost <- err },
		OnLinkRestored: func() { restored <- struct{}{} },
	}), nil)
	b := startServer(t, newHub(t, &rooms.Options{FanOut: bus.Link()}), nil)
	alice := a.dial(t, "alice", "lobby")
	carol := a.dial(t, "carol")
	bob := b.dial(t, "bob", "lobby")
	ctx := testContext(t)
	presence := func(hub *rooms.Hub) ([]rooms.Presence, error) { return hub.Presence(ctx, "lobby") }

	link.cut()
	if err := <-lost; err != errLinkDown {
		t.Errorf("OnLinkLost(%v), want the link's error", err)
	}
	if err := a.hub.Broadcast(ctx, "lobby", []byte("during")); !errors.Is(err, errLinkDown) {
		t.Errorf("Broadcast with the link down: %v, want the link's error", err)
	}
	if msg := alice.read(); msg != "during" {
		t.Errorf("alice got %q, want the broadcast of her own hub", msg)
	}
	carol.send("join lobby")
	if msg := carol.read(); !strings.HasPrefix(msg, "joined lobby: ") || !strings.Contains(msg, errLinkDown.Error()) {
		t.Errorf("carol's join with the link down: %q, want it done with the link's error", msg)
	}
	alice.conn.Close(websocket.StatusNormalClosure, "")
	waitDone(t, alice.member)
	// The other hub still has what it was told before.
	if got, err := presence(b.hub); err != nil || !reflect.DeepEqual(got, []rooms.Presence{{User: "alice", Conns: 1}, {User: "bob", Conns: 1}}) {
		t.Errorf("presence on b with the link down: %v, %v", got, err)
	}
	if got, err := presence(a.hub); !errors.Is(err, errLinkDown) || !reflect.DeepEqual(got, []rooms.Presence{{User: "carol", Conns: 1}}) {
		t.Errorf("presence on a with the link down: %v, %v; want its own members and the link's error", got, err)
	}

	link.restore()
	select {
	case <-restored:
	case <-time.After(waitLimit):
		t.Fatal("OnLinkRestored not called")
	}
	want := []rooms.Presence{{User: "bob", Conns: 1}, {User: "carol", Conns: 1}}
	for name, hub := range map[string]*rooms.Hub{"a": a.hub, "b": b.hub} {
		if got, err := presence(hub); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("presence on %s after the link is back: %v, %v; want %v", name, got, err, want)
		}
	}
	if err := a.hub.Broadcast(ctx, "lobby", []byte("after")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{bob, carol} {
		if msg := c.read(); msg != "after" {
			t.Errorf("%s got %q, want the broadcast made after the link came back", c.member.User(), msg)
		}
	}
}
