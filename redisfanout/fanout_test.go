package redisfanout_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/redisfanout"
	"github.com/wirecraft/websocket/rooms"
)

// testContext returns a context that ends with the test, or after
// waitLimit.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// checkPresence fails the test unless hub's presence in room is want.
func checkPresence(t *testing.T, name string, hub *rooms.Hub, room string, want []rooms.Presence) {
	t.Helper()
	got, err := hub.Presence(testContext(t), room)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("presence in %s on %s: %v, %v; want %v", room, name, got, err, want)
	}
}

// Two hubs, each with a link of its own to one Redis and a client of its
// own in one room: broadcasts cross in both directions, each reaches each
// client once (a hub's own message, coming back from Redis, is not
// delivered again), messages to a user reach their connections on both
// instances and no one else, and presence adds up over both.
func TestAcrossInstances(t *testing.T) {
	t.Cleanup(checkLeaks(t))
	redisSrv := startRedis(t)
	a := startServer(t, newHub(t, &rooms.Options{FanOut: newLink(t, redisSrv, redisfanout.Options{})}))
	b := startServer(t, newHub(t, &rooms.Options{FanOut: newLink(t, redisSrv, redisfanout.Options{})}))
	redisSrv.waitSubscribers(redisfanout.DefaultPrefix, 2)
	ctx := testContext(t)

	alice := a.dial(t, "alice", "lobby")
	bob := b.dial(t, "bob", "lobby")
	if err := a.hub.Broadcast(ctx, "lobby", []byte("from a")); err != nil {
		t.Fatal(err)
	}
	alice.expect("from a", "her own hub's broadcast")
	bob.expect("from a", "a broadcast of the other instance")
	if err := b.hub.Broadcast(ctx, "lobby", []byte("from b")); err != nil {
		t.Fatal(err)
	}
	// A second "from a" would have come before "from b" on either
	// connection: Redis passed it on before b published.
	bob.expect("from b", "his own hub's broadcast, and no second from a")
	alice.expect("from b", "a broadcast of the other instance, and no second from a")
	if err := a.hub.Broadcast(ctx, "lobby", []byte("again from a")); err != nil {
		t.Fatal(err)
	}
	alice.expect("again from a", "no second from b")
	bob.expect("again from a", "no second from b")

	// Carol has a connection on each instance, in no room.
	carolA := a.dial(t, "carol")
	carolB := b.dial(t, "carol")
	if err := b.hub.SendToUser(ctx, "carol", []byte("for carol")); err != nil {
		t.Fatal(err)
	}
	carolA.expect("for carol", "a message to her user from the other instance")
	carolB.expect("for carol", "a message to her user from her own instance")
	// Had alice or bob been sent "for carol", it would be queued for them
	// by now, before "for all".
	if err := a.hub.SendToAll(ctx, []byte("for all")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{alice, bob, carolA, carolB} {
		c.expect("for all", "a message to everyone, after one to carol alone")
	}

	// Presence, with a second connection of bob's.
	bob2 := b.dial(t, "bob", "lobby")
	want := []rooms.Presence{{User: "alice", Conns: 1}, {User: "bob", Conns: 2}}
	checkPresence(t, "a", a.hub, "lobby", want)
	checkPresence(t, "b", b.hub, "lobby", want)
	bob2.conn.Close(websocket.StatusNormalClosure, "")
	select {
	case <-bob2.member.Done():
	case <-time.After(waitLimit):
		t.Fatal("bob's second connection still in its hub")
	}
	checkPresence(t, "a", a.hub, "lobby", []rooms.Presence{{User: "alice", Conns: 1}, {User: "bob", Conns: 1}})
	checkPresence(t, "a", a.hub, "kitchen", []rooms.Presence{})
}

// A link's own Presence leaves out its own entries, as FanOut requires,
// and Close removes them from Redis at once.
func TestPresenceOwnEntriesAndClose(t *testing.T) {
	t.Cleanup(checkLeaks(t))
	redisSrv := startRedis(t)
	ctx := testContext(t)
	x := newLink(t, redisSrv, redisfanout.Options{})
	y := newLink(t, redisSrv, redisfanout.Options{})
	t.Cleanup(func() { x.Close() }) // if the test ends before it closes x itself
	x.Start("x", nopReceiver{})
	y.Start("y", nopReceiver{})
	defer y.Close()
	for _, e := range []struct {
		f          *redisfanout.FanOut
		room, user string
		conns      int
	}{{x, "lobby", "alice", 1}, {x, "lobby", "bob", 2}, {x, "kitchen", "alice", 1}, {y, "lobby", "bob", 1}, {x, "lobby", "alice", 0}} {
		if err := e.f.SetPresence(ctx, e.room, e.user, e.conns); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		f    *redisfanout.FanOut
		room string
		want map[string]int
	}{
		{"x", x, "lobby", map[string]int{"bob": 1}},
		{"y", y, "lobby", map[string]int{"bob": 2}},
		{"y", y, "kitchen", map[string]int{"alice": 1}},
		{"y", y, "attic", map[string]int{}},
	} {
		if got, err := c.f.Presence(ctx, c.room); err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Presence(%s) on %s: %v, %v; want %v", c.room, c.name, got, err, c.want)
		}
	}

	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := y.Presence(ctx, "lobby"); err != nil || len(got) != 0 {
		t.Errorf("Presence(lobby) on y once x is closed: %v, %v; want nothing", got, err)
	}
	keys, err := redisSrv.client().Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.Contains(k, ":x") || strings.Contains(k, "kitchen") {
			t.Errorf("key %q left in Redis after x closed", k)
		}
	}
	if err := x.Close(); !errors.Is(err, redisfanout.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if err := x.Publish(ctx, []byte("late")); !errors.Is(err, redisfanout.ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
}

// New refuses options it cannot work with.
func TestNewOptions(t *testing.T) {
	if _, err := redisfanout.New(redisfanout.Options{}); err == nil {
		t.Error("New without Client or Addr: no error")
	}
	if _, err := redisfanout.New(redisfanout.Options{Addr: "127.0.0.1:1", PresenceTTL: time.Millisecond}); err == nil {
		t.Error("New with a 1ms PresenceTTL: no error")
	}
}
