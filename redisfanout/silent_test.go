package redisfanout_test

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirecraft/websocket/redisfanout"
	"github.com/wirecraft/websocket/rooms"
)

// A freezingProxy passes TCP connections through to a server, and can stop
// passing bytes without closing anything: the link looks alive and says
// nothing, as over a network that drops every packet.
type freezingProxy struct {
	addr string
	ln   net.Listener
	gate sync.RWMutex // held for writing while frozen
	mu   sync.Mutex
	open map[net.Conn]struct{}
	wg   sync.WaitGroup
}

// startProxy returns a proxy to target, closed when t ends.
func startProxy(t *testing.T, target string) *freezingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{addr: ln.Addr().String(), ln: ln, open: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept(target)
	t.Cleanup(p.close)
	return p
}

func (p *freezingProxy) accept(target string) {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.open[c], p.open[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pass(s, c)
		go p.pass(c, s)
	}
}

// pass copies from src to dst, holding each chunk while frozen.
func (p *freezingProxy) pass(dst, src net.Conn) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.gate.RLock()
			_, werr := dst.Write(buf[:n])
			p.gate.RUnlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or closed: the deferred closes pass it on
		}
	}
}

func (p *freezingProxy) freeze() { p.gate.Lock() }
func (p *freezingProxy) thaw()   { p.gate.Unlock() }

// close closes the listener and every connection, and waits for the
// copying goroutines. The proxy must not be frozen.
func (p *freezingProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// A link whose connection goes silent, without being closed or reset,
// notices it by its PING going unanswered, reports it lost, and comes back
// once the connection passes bytes again. A message published meanwhile
// by an instance whose link was fine does not reach it later.
func TestSilentLink(t *testing.T) {
	t.Cleanup(checkLeaks(t))
	redisSrv := startRedis(t)
	proxy := startProxy(t, redisSrv.addr)
	events := newLinkEvents()
	linkA, err := redisfanout.New(redisfanout.Options{Addr: proxy.addr, PingInterval: 250 * time.Millisecond, RetryDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a := startServer(t, newHub(t, events.options(linkA)))
	b := startServer(t, newHub(t, &rooms.Options{FanOut: newLink(t, redisSrv, redisfanout.Options{})}))
	redisSrv.waitSubscribers(redisfanout.DefaultPrefix, 2)
	ctx := testContext(t)
	alice := a.dial(t, "alice", "lobby")
	bob := b.dial(t, "bob", "lobby")

	proxy.freeze()
	// On a loaded machine a PING may be answered late and the link lost
	// and restored before the freeze took hold: what matters is the loss
	// that comes after it, which nothing can restore while it lasts.
	events.drain()
	frozen := true
	defer func() {
		if frozen {
			proxy.thaw() // so that the proxy can close
		}
	}()
	if err := events.waitLost(t, "a"); err == nil || !strings.Contains(err.Error(), "PING") {
		t.Errorf("LinkLost(%v), want the unanswered PING", err)
	}
	if err := a.hub.Broadcast(ctx, "lobby", []byte("during, from a")); !errors.Is(err, redisfanout.ErrLinkDown) {
		t.Errorf("Broadcast on the silent link: %v, want ErrLinkDown", err)
	}
	alice.expect("during, from a", "her own hub's broadcast")
	if err := b.hub.Broadcast(ctx, "lobby", []byte("during, from b")); err != nil {
		t.Fatal(err)
	}
	bob.expect("during, from b", "his own hub's broadcast")

	proxy.thaw()
	frozen = false
	events.waitRestored(t, "a")
	redisSrv.waitSubscribers(redisfanout.DefaultPrefix, 2)
	if err := b.hub.Broadcast(ctx, "lobby", []byte("after, from b")); err != nil {
		t.Fatal(err)
	}
	alice.expect("after, from b", "nothing of what b published while her link was silent")
	bob.expect("after, from b", "his own hub's broadcast, and nothing of a's while its link was silent")
}

// If an instance's keys expire while its link is up (its process stalled
// past the TTL, or Redis evicted them), other instances stop counting its
// entries at once; the instance's next refresh finds out and has its hub
// write them again.
func TestExpiredPresenceWrittenAgain(t *testing.T) {
	t.Cleanup(checkLeaks(t))
	redisSrv := startRedis(t)
	ctx := testContext(t)
	events := newLinkEvents()
	a := startServer(t, newHub(t, &rooms.Options{FanOut: newLink(t, redisSrv, redisfanout.Options{})}))
	b := startServer(t, newHub(t, events.options(newLink(t, redisSrv, redisfanout.Options{PresenceTTL: 600 * time.Millisecond}))))
	a.dial(t, "alice", "lobby")
	b.dial(t, "bob", "lobby")
	both := []rooms.Presence{{User: "alice", Conns: 1}, {User: "bob", Conns: 1}}
	checkPresence(t, "a", a.hub, "lobby", both)

	// Expire b's alive key, as a stall would.
	rdb := redisSrv.client()
	fields, err := rdb.HKeys(ctx, "{websocket:rooms}:presence:lobby").Result()
	if err != nil {
		t.Fatal(err)
	}
	var bInstance string
	for _, f := range fields {
		if id, user, _ := strings.Cut(f, "|"); user == "bob" {
			bInstance = id
		}
	}
	if n, err := rdb.Del(ctx, "{websocket:rooms}:instance:"+bInstance).Result(); err != nil || n != 1 {
		t.Fatalf("deleting b's alive key %q: %d, %v", bInstance, n, err)
	}
	checkPresence(t, "a", a.hub, "lobby", []rooms.Presence{{User: "alice", Conns: 1}})

	events.waitRestored(t, "b") // how the link has its hub write presence again
	checkPresence(t, "a", a.hub, "lobby", both)
	events.checkNoMore(t, "b")
}
