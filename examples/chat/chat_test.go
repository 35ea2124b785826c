package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wirecraft/websocket"
)

// waitLimit bounds every wait in these tests.
const waitLimit = 10 * time.Second

// startServer runs a chat server on 127.0.0.1 for the test. wrap, if set,
// wraps the listener (to shrink socket buffers). At the end it checks that
// every room's hub stopped once its members left.
func startServer(t *testing.T, opts options, wrap func(net.Listener) net.Listener) (*chatServer, *httptest.Server) {
	t.Helper()
	opts.Logf = t.Logf
	s := newChatServer(opts)
	ts := httptest.NewUnstartedServer(s)
	if wrap != nil {
		ts.Listener = wrap(ts.Listener)
	}
	ts.Start()
	t.Cleanup(func() {
		ts.Close() // also waits for the handlers, hence for every client to leave
		done := make(chan struct{})
		go func() { s.hubs.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(waitLimit):
			t.Error("room hubs still running after every client left")
		}
	})
	return s, ts
}

// testClient is a chat connection whose events a goroutine collects.
type testClient struct {
	t      *testing.T
	name   string
	conn   *websocket.Conn
	events chan event
	done   chan struct{} // closed when reading ends; err says why
	err    error
}

// join connects name to room. If read is false nothing reads the
// connection until startReading is called: a client that has stopped
// reading, as far as the server can tell.
func join(t *testing.T, ts *httptest.Server, room, name string, read bool, opts *websocket.DialOptions) *testClient {
	t.Helper()
	u := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws?" + url.Values{"room": {room}, "name": {name}}.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, u, opts)
	if err != nil {
		t.Fatalf("%s: dial: %v", name, err)
	}
	c := &testClient{t: t, name: name, conn: conn, events: make(chan event, 1<<16), done: make(chan struct{})}
	t.Cleanup(func() { conn.CloseNow() })
	if read {
		c.startReading()
	}
	return c
}

func (c *testClient) startReading() {
	go func() {
		defer close(c.done)
		for {
			_, data, err := c.conn.Read(context.Background())
			if err != nil {
				c.err = err
				return
			}
			var ev event
			if err := json.Unmarshal(data, &ev); err != nil {
				c.err = fmt.Errorf("bad event %q: %v", data, err)
				return
			}
			c.events <- ev
		}
	}()
}

func (c *testClient) say(text string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
}

// waitFor returns the events up to and including the first one match
// accepts, failing the test if none comes in time.
func (c *testClient) waitFor(what string, match func(event) bool) []event {
	c.t.Helper()
	var seen []event
	timeout := time.After(waitLimit)
	for {
		select {
		case ev := <-c.events:
			seen = append(seen, ev)
			if match(ev) {
				return seen
			}
		case <-c.done:
			c.t.Fatalf("%s: connection ended (%v) while waiting for %s; saw %+v", c.name, c.err, what, seen)
		case <-timeout:
			c.t.Fatalf("%s: no %s within %v; saw %+v", c.name, what, waitLimit, seen)
		}
	}
}

func isMessage(from, text string) func(event) bool {
	return func(ev event) bool { return ev.Type == "message" && ev.Name == from && ev.Text == text }
}

func isJoin(name string) func(event) bool {
	return func(ev event) bool { return ev.Type == "join" && ev.Name == name }
}

// TestRooms checks that members of a room see each other's messages and
// presence, and that another room sees none of it.
func TestRooms(t *testing.T) {
	_, ts := startServer(t, options{}, nil)

	ann := join(t, ts, "a", "ann", true, nil)
	ann.waitFor("own join", isJoin("ann"))
	bob := join(t, ts, "a", "bob", true, nil)
	bob.waitFor("own join", isJoin("bob"))
	if ev := ann.waitFor("bob's join", isJoin("bob")); !slices.Equal(ev[len(ev)-1].Users, []string{"ann", "bob"}) {
		t.Errorf("user list after bob joined: %q, want [ann bob]", ev[len(ev)-1].Users)
	}
	cid := join(t, ts, "b", "cid", true, nil)
	cid.waitFor("own join", isJoin("cid"))

	ann.say("hello from ann")
	bob.waitFor("ann's message", isMessage("ann", "hello from ann"))
	bob.say("hi ann")
	ann.waitFor("bob's message", isMessage("bob", "hi ann"))

	// Room a's messages were queued before cid says anything, and a
	// client's queue is in order: anything from room a that reached cid
	// would come before cid's own message.
	cid.say("anyone here?")
	for _, ev := range cid.waitFor("own message", isMessage("cid", "anyone here?")) {
		if ev.Room != "b" || ev.Name == "ann" || ev.Name == "bob" {
			t.Errorf("cid in room b received %+v", ev)
		}
	}

	bob.conn.Close(websocket.StatusNormalClosure, "")
	evs := ann.waitFor("bob's leave", func(ev event) bool { return ev.Type == "leave" && ev.Name == "bob" })
	if got := evs[len(evs)-1].Users; !slices.Equal(got, []string{"ann"}) {
		t.Errorf("user list after bob left: %q, want [ann]", got)
	}
	ann.conn.Close(websocket.StatusNormalClosure, "")
	cid.conn.Close(websocket.StatusNormalClosure, "")
}

// smallBuffers shrinks the kernel send buffer of accepted connections, so
// a client that stops reading blocks the server's writes after its own
// receive buffer and a few kilobytes more, instead of megabytes.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestSlowClientIsClosed checks that a member who stops reading is dropped
// with 1008 while the others go on, and that the others are told.
func TestSlowClientIsClosed(t *testing.T) {
	_, ts := startServer(t, options{SendQueue: 4, WriteTimeout: waitLimit}, func(l net.Listener) net.Listener { return smallBuffers{l} })

	ann := join(t, ts, "r", "ann", true, nil)
	ann.waitFor("own join", isJoin("ann"))
	slow := join(t, ts, "r", "slow", false, nil)
	ann.waitFor("slow's join", isJoin("slow"))

	// Send until the server gives up on slow. Each line is big enough to
	// fill the small buffers quickly; ann keeps reading all along.
	line := strings.Repeat("x", 3000)
	kicked := false
	for i := 0; i < 1000 && !kicked; i++ {
		ann.say(fmt.Sprintf("%04d %s", i, line))
	drain:
		for {
			select {
			case ev := <-ann.events:
				if ev.Type == "leave" && ev.Name == "slow" {
					if ev.Text != "too slow" || slices.Contains(ev.Users, "slow") {
						t.Errorf("leave event for slow: %+v", ev)
					}
					kicked = true
				}
				if ev.Type == "message" && strings.HasPrefix(ev.Text, fmt.Sprintf("%04d ", i)) {
					break drain // the room is not held up by slow
				}
			case <-time.After(waitLimit):
				t.Fatalf("ann: own message %d did not come back: the room is blocked", i)
			}
		}
	}
	if !kicked {
		t.Fatal("slow was never dropped")
	}

	// Once slow reads again it gets what was queued before the overflow,
	// then the close frame with the reason.
	slow.startReading()
	select {
	case <-slow.done:
	case <-time.After(waitLimit):
		t.Fatal("slow's connection did not end")
	}
	if code := websocket.CloseStatus(slow.err); code != websocket.StatusPolicyViolation {
		t.Errorf("slow's connection ended with %v, want close code 1008", slow.err)
	}
	ann.say("still here")
	ann.waitFor("own message after slow left", isMessage("ann", "still here"))
	ann.conn.Close(websocket.StatusNormalClosure, "")
}

// TestPage checks that the embedded page is served and that the WebSocket
// endpoint refuses a request without a room.
func TestPage(t *testing.T) {
	_, ts := startServer(t, options{}, nil)
	resp, err := http.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "new WebSocket(") {
		t.Errorf("GET /: %s %q, %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(body))
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, resp, err = websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws?name=x", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("dial without a room: err %v, response %v; want a 400", err, resp)
	}
}
