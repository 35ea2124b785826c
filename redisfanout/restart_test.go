package redisfanout_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wirecraft/websocket/redisfanout"
	"github.com/wirecraft/websocket/rooms"
)

// linkEvents records what a hub's OnLinkLost and OnLinkRestored report.
type linkEvents struct {
	lost     chan error
	restored chan struct{}
}

func newLinkEvents() *linkEvents {
	return &linkEvents{lost: make(chan error, 10), restored: make(chan struct{}, 10)}
}

// options returns hub options with link and the callbacks that record.
func (e *linkEvents) options(link rooms.FanOut) *rooms.Options {
	return &rooms.Options{
		FanOut:         link,
		OnLinkLost:     func(err error) { e.lost <- err },
		OnLinkRestored: func() { e.restored <- struct{}{} },
	}
}

func (e *linkEvents) waitLost(t *testing.T, name string) error {
	t.Helper()
	select {
	case err := <-e.lost:
		return err
	case <-time.After(waitLimit):
		t.Fatalf("%s: LinkLost not reported", name)
		return nil
	}
}

func (e *linkEvents) waitRestored(t *testing.T, name string) {
	t.Helper()
	select {
	case <-e.restored:
	case <-time.After(waitLimit):
		t.Fatalf("%s: LinkRestored not reported", name)
	}
}

// drain forgets the events reported so far.
func (e *linkEvents) drain() {
	for {
		select {
		case <-e.lost:
		case <-e.restored:
		default:
			return
		}
	}
}

// checkNoMore fails the test if more link events came than it took.
func (e *linkEvents) checkNoMore(t *testing.T, name string) {
	t.Helper()
	select {
	case err := <-e.lost:
		t.Errorf("%s: LinkLost(%v) reported again", name, err)
	case <-e.restored:
		t.Errorf("%s: LinkRestored reported again", name)
	default:
	}
}

// Redis is killed while two hubs use it, and started again on its port,
// empty. Each link reports the loss once; a broadcast made meanwhile
// reaches the hub's own members and fails for the other instance, and is
// not delivered there later; a client that joins meanwhile is told its
// presence could not be recorded. Once Redis is back, each link reports it
// once, the hubs have written their presence again (the new Redis had
// none), and broadcasts cross again.
func TestRedisRestart(t *testing.T) {
	t.Cleanup(checkLeaks(t))
	redisSrv := startRedis(t)
	// Short waits between attempts, so that the test does not wait long
	// for the links to come back. A killed Redis resets the connections,
	// which the links notice without PING.
	opts := redisfanout.Options{RetryDelay: 20 * time.Millisecond}
	eventsA, eventsB := newLinkEvents(), newLinkEvents()
	a := startServer(t, newHub(t, eventsA.options(newLink(t, redisSrv, opts))))
	b := startServer(t, newHub(t, eventsB.options(newLink(t, redisSrv, opts))))
	redisSrv.waitSubscribers(redisfanout.DefaultPrefix, 2)
	ctx := testContext(t)
	alice := a.dial(t, "alice", "lobby")
	bob := b.dial(t, "bob", "lobby")
	if err := a.hub.Broadcast(ctx, "lobby", []byte("before")); err != nil {
		t.Fatal(err)
	}
	alice.expect("before", "her own hub's broadcast")
	bob.expect("before", "a broadcast of the other instance")

	redisSrv.kill()
	for name, e := range map[string]*linkEvents{"a": eventsA, "b": eventsB} {
		if err := e.waitLost(t, name); err == nil {
			t.Errorf("%s: LinkLost(nil), want the error that took the link down", name)
		}
	}
	// Published while Redis is down: each fails, and reaches only the
	// hub's own members.
	for _, c := range []struct {
		hub    *rooms.Hub
		msg    string
		member *client
	}{{a.hub, "during, from a", alice}, {b.hub, "during, from b", bob}} {
		err := c.hub.Broadcast(ctx, "lobby", []byte(c.msg))
		if !errors.Is(err, redisfanout.ErrLinkDown) {
			t.Errorf("Broadcast(%q) with Redis down: %v, want ErrLinkDown", c.msg, err)
		}
		c.member.expect(c.msg, "the broadcast of its own hub, with Redis down")
	}
	dave := b.dial(t, "dave", "lobby")
	if !strings.Contains(dave.ready, "recording presence") {
		t.Errorf("dave joined with Redis down: %q, want the error of recording his presence", dave.ready)
	}
	if got, err := a.hub.Presence(ctx, "lobby"); err == nil || len(got) != 1 || got[0].User != "alice" {
		t.Errorf("presence on a with Redis down: %v, %v; want alice alone and an error", got, err)
	}

	redisSrv.start()
	eventsA.waitRestored(t, "a")
	eventsB.waitRestored(t, "b")
	eventsA.checkNoMore(t, "a")
	eventsB.checkNoMore(t, "b")
	// The restarted Redis started empty: this is presence written again.
	want := []rooms.Presence{{User: "alice", Conns: 1}, {User: "bob", Conns: 1}, {User: "dave", Conns: 1}}
	checkPresence(t, "a", a.hub, "lobby", want)
	checkPresence(t, "b", b.hub, "lobby", want)

	if err := a.hub.Broadcast(ctx, "lobby", []byte("after, from a")); err != nil {
		t.Fatal(err)
	}
	alice.expect("after, from a", "her own hub's broadcast")
	// What a published while Redis was down would have come before.
	bob.expect("after, from a", "nothing of what a published while Redis was down")
	dave.expect("after, from a", "a broadcast of the other instance")
	if err := b.hub.Broadcast(ctx, "lobby", []byte("after, from b")); err != nil {
		t.Fatal(err)
	}
	alice.expect("after, from b", "nothing of what b published while Redis was down")
	bob.expect("after, from b", "his own hub's broadcast")
	dave.expect("after, from b", "his own hub's broadcast")
	t.Log(`lost while Redis was down: "during, from a" for b's members, "during, from b" for a's members; each hub's own members had theirs`)
}

// An instance that stops without Close (its process is killed) leaves its
// presence entries in Redis; other instances stop counting them within
// its PresenceTTL, while a live instance's entries, refreshed, stay.
func TestDeadInstancePresenceExpires(t *testing.T) {
	t.Cleanup(checkLeaks(t))
	redisSrv := startRedis(t)
	ctx := testContext(t)
	a := startServer(t, newHub(t, &rooms.Options{FanOut: newLink(t, redisSrv, redisfanout.Options{PresenceTTL: crashTTL})}))
	b := startServer(t, newHub(t, &rooms.Options{FanOut: newLink(t, redisSrv, redisfanout.Options{PresenceTTL: crashTTL})}))
	a.dial(t, "alice", "lobby")
	b.dial(t, "bob", "lobby") // written before dave's entry: it outlives it only if refreshed
	crashing := startCrashingInstance(t, redisSrv)
	checkPresence(t, "a", a.hub, "lobby", []rooms.Presence{{User: "alice", Conns: 1}, {User: "bob", Conns: 1}, {User: "dave", Conns: 2}})

	if err := crashing.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	crashing.Wait()
	eventually(t, "without the killed instance's dave", func() bool {
		got, err := a.hub.Presence(ctx, "lobby")
		return err == nil && len(got) == 2
	})
	checkPresence(t, "a", a.hub, "lobby", []rooms.Presence{{User: "alice", Conns: 1}, {User: "bob", Conns: 1}})
	// Reading presence deleted the dead entry, and its instance's own keys
	// expired.
	keys, err := redisSrv.client().Keys(ctx, "*crashing*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("keys of the killed instance: %v, %v; want none", keys, err)
	}
	fields, err := redisSrv.client().HKeys(ctx, "{websocket:rooms}:presence:lobby").Result()
	if err != nil || len(fields) != 2 {
		t.Errorf("fields of the lobby's hash: %v, %v; want alice's and bob's", fields, err)
	}
}
