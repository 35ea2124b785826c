package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/rooms"
	"github.com/wirecraft/websocket/wsjson"
)

// waitLimit bounds every wait in these tests.
const waitLimit = 10 * time.Second

var testTokens = tokens{"tok-ann": "ann", "tok-bob": "bob", "tok-cat": "cat"}

// startServer runs a chat server on 127.0.0.1 for the test.
func startServer(t *testing.T, fanOut rooms.FanOut) *httptest.Server {
	t.Helper()
	// Connections are served on goroutines of their own (websocket.Handler)
	// that may log after the test has ended, which the testing package
	// forbids: the log goes quiet at the end instead.
	var mu sync.Mutex
	ended := false
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !ended {
			t.Logf(format, args...)
		}
	}
	s := newChatServer(options{Tokens: testTokens, FanOut: fanOut, Logf: logf})
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
		mu.Lock()
		ended = true
		mu.Unlock()
	})
	return ts
}

// testClient is a chat connection whose events a goroutine collects.
type testClient struct {
	t      *testing.T
	name   string
	conn   *websocket.Conn
	events chan serverEvent
	seq    int // numbers the sync messages
}

func connect(t *testing.T, ts *httptest.Server, token string) *testClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws?token="+token, nil)
	if err != nil {
		t.Fatalf("dial with %s: %v", token, err)
	}
	c := &testClient{t: t, name: testTokens[token], conn: conn, events: make(chan serverEvent, 100)}
	go func() {
		defer close(c.events)
		for {
			var ev serverEvent
			if err := wsjson.Read(context.Background(), conn, &ev); err != nil {
				return
			}
			c.events <- ev
		}
	}()
	t.Cleanup(func() { conn.CloseNow() })
	return c
}

func (c *testClient) send(ev clientEvent) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := wsjson.Write(ctx, c.conn, ev); err != nil {
		c.t.Fatalf("%s sending %+v: %v", c.name, ev, err)
	}
}

// next returns the next event the client receives.
func (c *testClient) next() serverEvent {
	c.t.Helper()
	select {
	case ev, ok := <-c.events:
		if !ok {
			c.t.Fatalf("%s: connection ended while waiting for an event", c.name)
		}
		return ev
	case <-time.After(waitLimit):
		c.t.Fatalf("%s: no event within %v", c.name, waitLimit)
	}
	panic("unreachable")
}

// expect returns the next event other than a presence list, which must
// be of type typ. Presence lists may come at any time: other clients join
// and leave at their own pace, and with several instances the servers
// announce the lists again once they have settled.
func (c *testClient) expect(typ string) serverEvent {
	c.t.Helper()
	for {
		ev := c.next()
		if ev.Type == "presence" && typ != "presence" {
			continue
		}
		if ev.Type != typ {
			c.t.Fatalf("%s got %+v, want a %q event", c.name, ev, typ)
		}
		return ev
	}
}

// ack waits for the ack of id.
func (c *testClient) ack(id string) serverEvent {
	c.t.Helper()
	ev := c.expect("ack")
	if ev.ID != id {
		c.t.Fatalf("%s got the ack of %s, want that of %s", c.name, ev.ID, id)
	}
	return ev
}

// join joins room and checks the answer: the room's history, then a
// presence list that includes the client. It returns the history.
// Presence lists announced by others may come in between; with several
// instances, a list computed before the client joined may even come after
// one that has it (the server sends the room a fresh list shortly after,
// see chatServer.announcePresence).
func (c *testClient) join(room string) []serverEvent {
	c.t.Helper()
	c.send(clientEvent{Type: "join", Room: room})
	var history []serverEvent
	for got := false; !got; {
		ev := c.next()
		switch {
		case ev.Type == "history" && ev.Room == room:
			history, got = ev.Messages, true
		case ev.Type != "presence":
			c.t.Fatalf("%s joined %q and got %+v", c.name, room, ev)
		}
	}
	for {
		ev := c.expect("presence")
		if ev.Room == room && slices.Contains(ev.Users, c.name) {
			return history
		}
	}
}

// presence waits for a presence event of room that lists users, skipping
// earlier lists of it: joins elsewhere make their own announcements,
// which may arrive in between.
func (c *testClient) presence(room string, users ...string) {
	c.t.Helper()
	for {
		ev := c.expect("presence")
		if ev.Room == room && slices.Equal(ev.Users, users) {
			return
		}
		c.t.Logf("%s: presence %v on the way to %v", c.name, ev.Users, users)
	}
}

// sync sends a message to the client's room and returns every event that
// arrived before its ack. Whatever the server queued for the client before
// the message was handled comes before the ack, so the result shows
// whether something was delivered that should not have been.
func (c *testClient) sync(room string) []serverEvent {
	c.t.Helper()
	c.seq++
	id := fmt.Sprintf("sync-%s-%d", c.name, c.seq)
	c.send(clientEvent{Type: "message", Room: room, Text: "sync", ID: id})
	var before []serverEvent
	for {
		ev := c.next()
		if ev.Type == "ack" && ev.ID == id {
			return before
		}
		before = append(before, ev)
	}
}

func TestAuthBeforeUpgrade(t *testing.T) {
	ts := startServer(t, nil)
	handshake := func(modify func(*http.Request)) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+"/ws", nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		modify(req)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for _, tc := range []struct {
		name   string
		modify func(*http.Request)
		want   int
	}{
		{"no token", func(*http.Request) {}, http.StatusUnauthorized},
		{"empty token", func(r *http.Request) { r.URL.RawQuery = "token=" }, http.StatusUnauthorized},
		{"unknown token", func(r *http.Request) { r.URL.RawQuery = "token=tok-eve" }, http.StatusForbidden},
		{"another user's token cut short", func(r *http.Request) { r.URL.RawQuery = "token=tok-an" }, http.StatusForbidden},
		{"unknown bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, http.StatusForbidden},
		{"query token", func(r *http.Request) { r.URL.RawQuery = "token=tok-ann" }, http.StatusSwitchingProtocols},
		{"cookie", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "chat_token", Value: "tok-bob"}) }, http.StatusSwitchingProtocols},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok-cat") }, http.StatusSwitchingProtocols},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := handshake(tc.modify)
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.want)
			}
			if tc.want != http.StatusSwitchingProtocols && res.Header.Get("Upgrade") != "" {
				t.Errorf("refused with Upgrade: %q; the refusal must be plain HTTP", res.Header.Get("Upgrade"))
			}
		})
	}

	// A client sees the refusal as a handshake error carrying the status.
	_, res, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws?token=tok-eve", nil)
	if !errors.Is(err, websocket.ErrBadHandshake) || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("Dial with an unknown token: %v, response %v; want a bad handshake with 403", err, res)
	}

	// /me answers with the token's user, and refuses like /ws.
	for token, want := range map[string]string{"tok-bob": `{"user":"bob"}`, "": "401", "tok-eve": "403"} {
		res, err := http.Get(ts.URL + "/me?token=" + token)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got := strings.TrimSpace(string(body))
		if res.StatusCode != http.StatusOK {
			got = fmt.Sprint(res.StatusCode)
		}
		if got != want {
			t.Errorf("/me?token=%s: %s, want %s", token, got, want)
		}
	}
}

func TestPresence(t *testing.T) {
	ts := startServer(t, nil)
	ann := connect(t, ts, "tok-ann")
	ann.join("lobby") // presence [ann]
	bob := connect(t, ts, "tok-bob")
	bob.join("lobby")
	ann.presence("lobby", "ann", "bob")

	// A second tab of bob's is still one bob.
	bob2 := connect(t, ts, "tok-bob")
	bob2.send(clientEvent{Type: "join", Room: "lobby"})
	bob2.expect("history")
	bob2.presence("lobby", "ann", "bob")

	// Leaving, and disconnecting, are announced to who stays.
	bob2.send(clientEvent{Type: "leave", Room: "lobby"})
	bob.conn.Close(websocket.StatusNormalClosure, "")
	ann.presence("lobby", "ann")

	// Switching rooms leaves the first.
	cat := connect(t, ts, "tok-cat")
	cat.join("lobby")
	ann.presence("lobby", "ann", "cat")
	cat.join("garden")
	ann.presence("lobby", "ann")
}

func TestMessageAndAck(t *testing.T) {
	ts := startServer(t, nil)
	ann := connect(t, ts, "tok-ann")
	ann.join("lobby")
	bob := connect(t, ts, "tok-bob")
	bob.join("lobby")
	ann.presence("lobby", "ann", "bob")

	before := time.Now().UTC()
	ann.send(clientEvent{Type: "message", Room: "lobby", Text: "  hello bob  ", ID: "m1"})
	// The sender gets the ack, and not its own message: an echo before
	// the ack would show up here.
	if ack := ann.expect("ack"); ack.ID != "m1" || ack.Room != "lobby" {
		t.Fatalf("ann got %+v, want the ack of m1 in lobby", ack)
	}
	msg := bob.expect("message")
	after := time.Now().UTC()
	if msg.From != "ann" || msg.Text != "hello bob" || msg.ID != "m1" || msg.Room != "lobby" {
		t.Fatalf("bob got %+v, want ann's m1 \"hello bob\" in lobby", msg)
	}
	if msg.Time.Before(before) || msg.Time.After(after) {
		t.Errorf("server time %v not within the send (%v to %v)", msg.Time, before, after)
	}
}

func TestTypingStaysInRoom(t *testing.T) {
	ts := startServer(t, nil)
	ann := connect(t, ts, "tok-ann")
	ann.join("lobby")
	bob := connect(t, ts, "tok-bob")
	bob.join("lobby")
	ann.presence("lobby", "ann", "bob")
	cat := connect(t, ts, "tok-cat")
	cat.join("garden")

	ann.send(clientEvent{Type: "typing", Room: "lobby"})
	if ev := bob.expect("typing"); ev.From != "ann" || ev.Room != "lobby" {
		t.Fatalf("bob got %+v, want ann typing in lobby", ev)
	}
	ann.send(clientEvent{Type: "message", Room: "lobby", Text: "hi", ID: "m1"})
	// ann's own typing event is not sent back to her: the ack comes first.
	ann.expect("ack")
	bob.expect("message")

	// Everything ann caused was queued before her ack; cat's room got none
	// of it.
	if got := cat.sync("garden"); len(got) != 0 {
		t.Fatalf("cat, in another room, got %+v", got)
	}
}

func TestResendIsShownOnce(t *testing.T) {
	ts := startServer(t, nil)
	ann := connect(t, ts, "tok-ann")
	ann.join("lobby")
	bob := connect(t, ts, "tok-bob")
	bob.join("lobby")
	ann.presence("lobby", "ann", "bob")

	m1 := clientEvent{Type: "message", Room: "lobby", Text: "only once", ID: "m1"}
	ann.send(m1)
	ann.expect("ack")
	bob.expect("message")

	// The same id again, on the same connection and after reconnecting (the
	// ack was lost with the connection): acknowledged, not passed on.
	ann.send(m1)
	if ack := ann.expect("ack"); ack.ID != "m1" {
		t.Fatalf("resend answered with %+v, want the ack of m1", ack)
	}
	ann.conn.Close(websocket.StatusGoingAway, "")
	ann = connect(t, ts, "tok-ann")
	history := ann.join("lobby")
	if len(history) != 1 || history[0].ID != "m1" {
		t.Fatalf("history %+v, want m1 once", history)
	}
	ann.send(m1)
	ann.ack("m1")

	// Another user may use the same id: ids are per user.
	cat := connect(t, ts, "tok-cat")
	cat.join("lobby")
	cat.send(clientEvent{Type: "message", Room: "lobby", Text: "mine", ID: "m1"})
	cat.ack("m1")

	for _, ev := range bob.sync("lobby") {
		if ev.Type == "message" && (ev.From != "cat" || ev.Text != "mine") {
			t.Errorf("bob got a second message: %+v", ev)
		}
	}
}

func TestHistoryOnJoin(t *testing.T) {
	ts := startServer(t, nil)
	ann := connect(t, ts, "tok-ann")
	ann.join("lobby")
	for i := range historySize + 5 {
		ann.send(clientEvent{Type: "message", Room: "lobby", Text: fmt.Sprint("line ", i), ID: fmt.Sprint("h", i)})
		ann.expect("ack")
	}
	bob := connect(t, ts, "tok-bob")
	history := bob.join("lobby")
	if len(history) != historySize || history[0].Text != "line 5" || history[historySize-1].Text != fmt.Sprint("line ", historySize+4) {
		t.Fatalf("history of %d messages from %q to %q; want the last %d", len(history), history[0].Text, history[len(history)-1].Text, historySize)
	}
	// Another room's history is its own.
	if h := bob.join("garden"); len(h) != 0 {
		t.Fatalf("garden's history: %+v", h)
	}
}

func TestRefusedEvents(t *testing.T) {
	ts := startServer(t, nil)
	ann := connect(t, ts, "tok-ann")

	ann.send(clientEvent{Type: "message", Room: "lobby", Text: "hi", ID: "early"})
	if ev := ann.expect("error"); ev.ID != "early" {
		t.Fatalf("message before joining: %+v, want an error for its id", ev)
	}
	ann.send(clientEvent{Type: "dance"})
	ann.expect("error")
	// Not JSON: refused, and the connection stays open.
	if err := ann.conn.Write(context.Background(), websocket.MessageText, []byte("{oops")); err != nil {
		t.Fatal(err)
	}
	ann.expect("error")

	ann.join("lobby")
	ann.send(clientEvent{Type: "message", Room: "lobby", Text: strings.Repeat("x", maxTextRunes+1), ID: "long"})
	if ev := ann.expect("error"); ev.ID != "long" {
		t.Fatalf("overlong message: %+v, want an error for its id", ev)
	}
	ann.send(clientEvent{Type: "message", Room: "lobby", Text: "no id"})
	ann.expect("error")
	ann.send(clientEvent{Type: "typing", Room: "garden"})
	ann.expect("error")
	// A refused id was not remembered: the same id with a valid text goes.
	ann.send(clientEvent{Type: "message", Room: "lobby", Text: "shorter", ID: "long"})
	ann.expect("ack")
}

// Two servers linked by a rooms.LocalBus stand for two instances linked by
// Redis: presence, messages and typing cross from one to the other.
func TestTwoInstances(t *testing.T) {
	bus := rooms.NewLocalBus()
	east := startServer(t, bus.Link())
	west := startServer(t, bus.Link())

	ann := connect(t, east, "tok-ann")
	ann.join("lobby")
	bob := connect(t, west, "tok-bob")
	bob.join("lobby")
	ann.presence("lobby", "ann", "bob")

	ann.send(clientEvent{Type: "typing", Room: "lobby"})
	if ev := bob.expect("typing"); ev.From != "ann" {
		t.Fatalf("bob got %+v, want ann typing", ev)
	}
	ann.send(clientEvent{Type: "message", Room: "lobby", Text: "across", ID: "x1"})
	ann.expect("ack")
	if ev := bob.expect("message"); ev.From != "ann" || ev.Text != "across" {
		t.Fatalf("bob got %+v, want ann's message", ev)
	}
	bob.conn.Close(websocket.StatusNormalClosure, "")
	ann.presence("lobby", "ann")
}

func TestRecentIDs(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := newRecentIDs(time.Minute, 3)
	if !r.firstTime("ann", "a", start) || r.firstTime("ann", "a", start) {
		t.Fatal("an id is new once")
	}
	if !r.firstTime("bob", "a", start) {
		t.Fatal("ids are per user")
	}
	// Past the ttl, an id is forgotten.
	if !r.firstTime("ann", "a", start.Add(2*time.Minute)) {
		t.Fatal("an id older than the ttl is still remembered")
	}
	// Past max ids, the oldest is forgotten first.
	now := start.Add(3 * time.Minute)
	for _, id := range []string{"1", "2", "3", "4"} {
		r.firstTime("cat", id, now)
	}
	if r.firstTime("cat", "4", now) || r.firstTime("cat", "3", now) {
		t.Fatal("recent ids forgotten")
	}
	if !r.firstTime("cat", "1", now) {
		t.Fatal("the oldest id is still remembered past the size limit")
	}
	if len(r.seen) > 3 || len(r.order)-r.head != len(r.seen) {
		t.Fatalf("%d ids remembered, %d in order: want at most 3 and the same", len(r.seen), len(r.order)-r.head)
	}
}

func TestParseTokens(t *testing.T) {
	got, err := parseTokens(" ann:a1, bob:b2 ,")
	if err != nil || len(got) != 2 || got["a1"] != "ann" || got["b2"] != "bob" {
		t.Fatalf("parseTokens: %v, %v", got, err)
	}
	for _, bad := range []string{"", "ann", "ann:", ":tok", "ann:t,bob:t"} {
		if _, err := parseTokens(bad); err == nil {
			t.Errorf("parseTokens(%q) accepted", bad)
		}
	}
}
