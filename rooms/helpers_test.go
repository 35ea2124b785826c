package rooms_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/rooms"
)

// waitLimit bounds every wait of these tests, so that a bug fails a test
// instead of hanging it. No test asserts how long anything takes.
const waitLimit = 10 * time.Second

// newHub returns a hub that is closed when the test ends.
func newHub(t *testing.T, opts *rooms.Options) *rooms.Hub {
	h := rooms.NewHub(opts)
	t.Cleanup(func() { h.Close() })
	return h
}

// testServer serves WebSocket connections into a hub.
type testServer struct {
	t         *testing.T
	hub       *rooms.Hub
	url       string
	onMessage func(ctx context.Context, m *rooms.Member, msg string)
	members   chan *rooms.Member // each member, as it is added
}

// startServer runs an httptest server whose handler adds each connection
// to hub, as the user and in the rooms its URL names, sends it "ready",
// and passes each message it reads to onMessage (runCommand if nil). The
// message "quit" makes the handler return, which ends the connection.
func startServer(t *testing.T, hub *rooms.Hub, onMessage func(ctx context.Context, m *rooms.Member, msg string)) *testServer {
	if onMessage == nil {
		onMessage = runCommand
	}
	s := &testServer{t: t, hub: hub, onMessage: onMessage, members: make(chan *rooms.Member, 100)}
	srv := httptest.NewServer(http.HandlerFunc(s.serveWS))
	t.Cleanup(srv.Close)
	s.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	return s
}

func (s *testServer) serveWS(w http.ResponseWriter, r *http.Request) {
	// A long close timeout: a slow client may take a while to read up to
	// the close frame, and these tests want to see it.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{ConnOptions: websocket.ConnOptions{CloseTimeout: waitLimit}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	m, err := s.hub.Add(c, r.URL.Query().Get("user"))
	if err != nil {
		c.Close(websocket.StatusGoingAway, "closed")
		return
	}
	ctx := r.Context()
	for _, room := range r.URL.Query()["room"] {
		if err := m.Join(ctx, room); err != nil {
			s.t.Errorf("join %s: %v", room, err)
		}
	}
	s.members <- m
	m.Send([]byte("ready"))
	for {
		_, msg, err := c.Read(ctx)
		if err != nil || string(msg) == "quit" {
			return
		}
		s.onMessage(ctx, m, string(msg))
	}
}

// runCommand carries out what a test client asks: "join ROOM" and "leave
// ROOM" (answered with "joined ROOM" or "left ROOM", and the error if
// there is one), "say ROOM TEXT" (TEXT to the others in ROOM).
func runCommand(ctx context.Context, m *rooms.Member, msg string) {
	verb, arg, _ := strings.Cut(msg, " ")
	var err error
	switch verb {
	case "join":
		err = m.Join(ctx, arg)
		verb = "joined"
	case "leave":
		err = m.Leave(ctx, arg)
		verb = "left"
	case "say":
		room, text, _ := strings.Cut(arg, " ")
		m.Broadcast(ctx, room, []byte(text))
		return
	}
	answer := verb + " " + arg
	if err != nil {
		answer += ": " + err.Error()
	}
	m.Send([]byte(answer))
}

// client is a test's connection to a testServer, and its member there.
type client struct {
	t      *testing.T
	conn   *websocket.Conn
	member *rooms.Member
}

// dial connects as user, in rooms, and waits until the server is ready.
func (s *testServer) dial(t *testing.T, user string, rooms ...string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, s.url+"?"+url.Values{"user": {user}, "room": rooms}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	c := &client{t: t, conn: conn}
	if msg := c.read(); msg != "ready" {
		t.Fatalf("%s: first message %q, want ready", user, msg)
	}
	// Added before it was sent "ready".
	c.member = <-s.members
	return c
}

// read returns the next message; it is for the test's goroutine.
func (c *client) read() string {
	c.t.Helper()
	msg, err := c.next()
	if err != nil {
		c.t.Fatalf("%s: read: %v", c.member.User(), err)
	}
	return msg
}

// next returns the next message, or an error.
func (c *client) next() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, msg, err := c.conn.Read(ctx)
	return string(msg), err
}

// readUntil returns the messages before end, reading end too.
func (c *client) readUntil(end string) []string {
	c.t.Helper()
	var msgs []string
	for {
		msg := c.read()
		if msg == end {
			return msgs
		}
		msgs = append(msgs, msg)
	}
}

// send sends msg to the server.
func (c *client) send(msg string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		c.t.Fatal(err)
	}
}

// waitDone waits until m has left its hub.
func waitDone(t *testing.T, m *rooms.Member) {
	t.Helper()
	select {
	case <-m.Done():
	case <-time.After(waitLimit):
		t.Fatalf("member %s still in the hub", m.User())
	}
}

// testContext returns a context that ends with the test, or after
// waitLimit.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}
