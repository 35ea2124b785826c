package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/rooms"
	"github.com/wirecraft/websocket/wsjson"
)

//go:embed static/index.html
var indexHTML []byte

// Limits on what clients send. The read limit makes the package fail a
// connection that sends more (close code 1009) before reading it, so one
// client cannot make the server buffer megabytes.
const (
	readLimit    = 8 << 10
	maxTextRunes = 1000
	maxNameRunes = 32
	maxRoomRunes = 64
	maxIDBytes   = 64
)

// How much the server remembers. historySize messages per room are
// replayed to whoever joins, which is how a client that was away while a
// message went out still gets it (see join). Ids are remembered for
// dedupWindow, so a resend within that time is recognised.
const (
	historySize  = 50
	dedupWindow  = 10 * time.Minute
	dedupMaxIDs  = 100_000
	callTimeout  = 5 * time.Second // bounds hub calls that may go to the fan-out
	roomIdleLife = 10 * time.Minute
	// presenceSettle is how long after a change of presence it is
	// announced again when there are several instances: longer than a
	// message takes to cross the fan-out.
	presenceSettle = time.Second
)

// clientEvent is what a client sends, one JSON text message each:
//
//	{"type":"join","room":"lobby"}
//	{"type":"leave","room":"lobby"}
//	{"type":"message","room":"lobby","text":"hi","id":"k3j9x"}
//	{"type":"typing","room":"lobby"}
//
// The id of a message is the client's own: it stays the same when the
// client sends the message again, which is what lets the server
// acknowledge a resend without showing it twice.
type clientEvent struct {
	Type string `json:"type"`
	Room string `json:"room"`
	Text string `json:"text"`
	ID   string `json:"id"`
}

// serverEvent is what the server sends:
//
//	{"type":"message","room":"lobby","from":"ann","text":"hi","id":"k3j9x","time":"..."}
//	{"type":"typing","room":"lobby","from":"ann"}
//	{"type":"presence","room":"lobby","users":["ann","bob"]}
//	{"type":"presence","room":"lobby","users":["bob"],"partial":true}
//	{"type":"history","room":"lobby","messages":[{"type":"message",...},...]}
//	{"type":"ack","room":"lobby","id":"k3j9x"}
//	{"type":"error","text":"...","id":"k3j9x"}
//
// An ack means the server has taken the message and passed it on; an
// error with an id means it refused that message, and resending it will
// not help.
type serverEvent struct {
	Type  string    `json:"type"`
	Room  string    `json:"room,omitempty"`
	From  string    `json:"from,omitempty"`
	Text  string    `json:"text,omitempty"`
	ID    string    `json:"id,omitempty"`
	Time  time.Time `json:"time,omitzero"`
	Users []string  `json:"users,omitempty"`
	// Partial marks a presence list that holds only this instance's users:
	// the other instances could not be asked (Redis is down).
	Partial  bool          `json:"partial,omitempty"`
	Messages []serverEvent `json:"messages,omitempty"`
}

// options configures a chatServer. The zero value of a field means its
// default.
type options struct {
	Tokens tokens
	// PingInterval is the keepalive: a ping every interval, and a
	// connection without a pong in time is closed. It also keeps idle
	// connections open through proxies that time out silent ones.
	PingInterval time.Duration
	// FanOut, if set, links this server's hub to the hubs of other
	// instances (-redis).
	FanOut rooms.FanOut
	// Logf, if set, receives connection-level log lines.
	Logf func(format string, args ...any)
}

// chatServer serves the page, /me and the WebSocket endpoint. The rooms
// hub does the delivery: it keeps the members, their rooms and their
// queues. What the chat adds is the protocol above, the history and the
// dedup window.
type chatServer struct {
	opts  options
	hub   *rooms.Hub
	mux   *http.ServeMux
	dedup *recentIDs

	// presenceMu makes the presence updates of this instance go out one
	// at a time, so that two joins at once cannot deliver their lists in
	// the opposite order and leave clients with the older one.
	presenceMu sync.Mutex
	// settling holds the rooms whose presence is announced again after
	// presenceSettle (see announcePresence).
	settling map[string]bool

	mu    sync.Mutex
	rooms map[string]*roomState // rooms with members here, or recent history
}

// roomState is what this instance keeps of a room besides the hub's
// members.
type roomState struct {
	members int           // this instance's connections in the room
	history []serverEvent // the last historySize messages sent here
	idle    time.Time     // when members fell to 0
}

func newChatServer(opts options) *chatServer {
	if opts.PingInterval <= 0 {
		opts.PingInterval = 30 * time.Second
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &chatServer{
		opts:     opts,
		mux:      http.NewServeMux(),
		dedup:    newRecentIDs(dedupWindow, dedupMaxIDs),
		rooms:    make(map[string]*roomState),
		settling: make(map[string]bool),
	}
	s.hub = rooms.NewHub(&rooms.Options{
		FanOut: opts.FanOut,
		OnLinkLost: func(err error) {
			opts.Logf("fan-out link lost: %v (messages to other instances are lost until it is back)", err)
		},
		// The hub has written its presence again; the clients' lists may be
		// stale, since leaves and joins elsewhere went unannounced while the
		// link was down, so every room with members here gets a fresh one.
		OnLinkRestored: func() {
			opts.Logf("fan-out link restored")
			go s.refreshPresence()
		},
	})

	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(indexHTML)
	})
	// /me tells the page whose token it holds, and whether it holds a
	// valid one: a browser's WebSocket cannot see the 401 or 403 of a
	// refused handshake (it only reports close code 1006), a fetch can.
	s.mux.Handle("GET /me", requireUser(opts.Tokens, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"user": userOf(r.Context())})
	})))
	// The token is checked before the upgrade; Handler serves each
	// accepted connection by the package's lifetime rule. No method in
	// the pattern: over HTTP/2 the handshake is a CONNECT (RFC 8441),
	// which "GET /ws" would not match. Accept checks the method.
	//
	// The default origin check is kept on purpose: the page comes from
	// this same server, and refusing other origins stops a foreign page
	// from using its visitor's cookie to join rooms (RFC 6455 §10.2).
	s.mux.Handle("/ws", requireUser(opts.Tokens, websocket.Handler(&websocket.AcceptOptions{
		ConnOptions: websocket.ConnOptions{ReadLimit: readLimit, PingInterval: opts.PingInterval},
	}, s.serve)))
	return s
}

func (s *chatServer) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close closes every connection with 1001 (going away) and the fan-out.
func (s *chatServer) Close() error { return s.hub.Close() }

// session is one connection: its member in the hub and the room it is in.
// Only the goroutine running serve touches it.
type session struct {
	s    *chatServer
	m    *rooms.Member
	user string
	room string // "" until the client joins one
}

// serve runs one connection until it ends. Its goroutine is the
// connection's only reader, and it never writes to c: every answer goes
// through the member's queue (Member.Send), behind the broadcasts queued
// before it, so a client never sees them out of order.
func (s *chatServer) serve(ctx context.Context, c *websocket.Conn) {
	user := userOf(ctx)
	m, err := s.hub.Add(c, user)
	if err != nil {
		c.Close(websocket.StatusGoingAway, "shutting down")
		return
	}
	sess := &session{s: s, m: m, user: user}
	err = sess.readLoop(ctx, c)
	s.opts.Logf("%s disconnected: %v", user, err)

	// The member leaves the hub as its connection ends; once it has,
	// presence no longer counts it and the room can be told.
	c.CloseNow()
	<-m.Done()
	if sess.room != "" {
		s.leftRoom(sess.room)
		s.announcePresence(sess.room)
	}
}

// readLoop reads the client's events until the connection ends.
func (sess *session) readLoop(ctx context.Context, c *websocket.Conn) error {
	for {
		var ev clientEvent
		if err := wsjson.Read(ctx, c, &ev); err != nil {
			select {
			case <-c.Done():
				return err // the connection has ended
			default:
				// Binary, not JSON, or not one JSON object: wsjson leaves the
				// connection open, and the client hears why.
				if sess.fail("", "unreadable event: "+err.Error()) == rooms.ErrClosed {
					return err // the member has left: too slow, or the hub closed
				}
				continue
			}
		}
		sess.handle(ctx, ev)
	}
}

func (sess *session) handle(ctx context.Context, ev clientEvent) {
	switch ev.Type {
	case "join":
		sess.join(ctx, ev.Room)
	case "leave":
		if ev.Room == sess.room {
			sess.leave(ctx)
		}
	case "message":
		sess.message(ctx, ev)
	case "typing":
		if sess.in(ev.Room, "") {
			sess.m.Broadcast(ctx, sess.room, encode(serverEvent{Type: "typing", Room: sess.room, From: sess.user}))
		}
	default:
		sess.fail("", "unknown event type "+quote(ev.Type))
	}
}

// join moves the connection into room (a connection is in one room at a
// time), then sends it the room's history and everyone the new presence.
func (sess *session) join(ctx context.Context, room string) {
	room = cleanName(room, maxRoomRunes)
	if room == "" {
		sess.fail("", "a room name is needed")
		return
	}
	if room != sess.room {
		if sess.room != "" {
			sess.leave(ctx)
		}
		if err := sess.m.Join(ctx, room); err != nil {
			// With a fan-out error the member is in the room all the same
			// (see Member.Join); only a member that is leaving stops here.
			sess.s.opts.Logf("%s joining %q: %v", sess.user, room, err)
			if err == rooms.ErrClosed {
				return
			}
		}
		sess.room = room
		sess.s.enteredRoom(room)
	}
	// The history is taken after the member is in the room: a message
	// recorded later is broadcast later, so it reaches the member live.
	// A message may come both ways (recorded before, broadcast after the
	// join); the page shows each (from, id) once.
	sess.m.Send(encode(serverEvent{Type: "history", Room: room, Messages: sess.s.history(room)}))
	sess.s.announcePresence(room)
}

func (sess *session) leave(ctx context.Context) {
	room := sess.room
	sess.m.Leave(ctx, room)
	sess.room = ""
	sess.s.leftRoom(room)
	sess.s.announcePresence(room)
}

// message passes a chat line on to the room and acknowledges it. A line
// whose id was seen lately is a resend (the client did not get the ack,
// and cannot know whether the line went out): it is acknowledged again and
// not passed on a second time.
func (sess *session) message(ctx context.Context, ev clientEvent) {
	if ev.ID == "" || len(ev.ID) > maxIDBytes {
		sess.fail("", "a message needs an id of 1 to 64 bytes")
		return
	}
	if !sess.in(ev.Room, ev.ID) {
		return
	}
	text := strings.TrimSpace(ev.Text)
	if text == "" || len([]rune(text)) > maxTextRunes {
		sess.fail(ev.ID, "a message has 1 to 1000 characters")
		return
	}
	ack := encode(serverEvent{Type: "ack", Room: sess.room, ID: ev.ID})
	now := time.Now().UTC()
	if !sess.s.dedup.firstTime(sess.user, ev.ID, now) {
		sess.m.Send(ack)
		return
	}
	msg := serverEvent{Type: "message", Room: sess.room, From: sess.user, Text: text, ID: ev.ID, Time: now}
	sess.s.record(msg)
	// To the others in the room, this user's other tabs included; the
	// sender has the line already and gets the ack instead.
	if err := sess.m.Broadcast(ctx, sess.room, encode(msg)); err != nil {
		// The members of this instance have it; the others will not (see
		// rooms.FanOut: nothing is resent when the link is back). The
		// client is still told the message was taken: resending it would
		// not reach them either, only be dropped as a duplicate here.
		sess.s.opts.Logf("message %s from %s: %v", ev.ID, sess.user, err)
	}
	sess.m.Send(ack)
}

// in reports whether the connection is in room, and tells the client when
// it is not.
func (sess *session) in(room, id string) bool {
	if sess.room == "" || room != sess.room {
		sess.fail(id, "not in room "+quote(room)+": join it first")
		return false
	}
	return true
}

// fail tells the client that an event was refused.
func (sess *session) fail(id, why string) error {
	return sess.m.Send(encode(serverEvent{Type: "error", ID: id, Text: why}))
}

// announcePresence sends the room's members, over every instance, to
// everyone in it.
//
// With several instances, lists can cross: an instance delivers its list
// to its own members at once and to the others through the fan-out, so a
// list made on one instance before a join on another can reach that
// other's members after the list that has the newcomer. A second
// announcement, once the fan-out has had time to deliver, makes the last
// list everyone gets a current one; changes within that second share it.
func (s *chatServer) announcePresence(room string) {
	s.sendPresence(room)
	if s.opts.FanOut == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.settling[room] {
		s.settling[room] = true
		time.AfterFunc(presenceSettle, func() {
			s.mu.Lock()
			delete(s.settling, room)
			s.mu.Unlock()
			s.sendPresence(room)
		})
	}
}

func (s *chatServer) sendPresence(room string) {
	s.presenceMu.Lock()
	defer s.presenceMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	here, err := s.hub.Presence(ctx, room)
	if err == rooms.ErrClosed {
		return // shutting down
	}
	partial := err != nil
	if partial {
		// Presence holds the users of this instance. They are announced as
		// such: a newcomer gets a list, and the page can say that it may
		// be missing people. The full list follows when the link is back
		// (OnLinkRestored).
		s.opts.Logf("presence of %q: %v", room, err)
	}
	users := make([]string, 0, len(here))
	for _, p := range here {
		users = append(users, p.User) // sorted by the hub; a user with two tabs is listed once
	}
	err = s.hub.Broadcast(ctx, room, encode(serverEvent{Type: "presence", Room: room, Users: users, Partial: partial}))
	if err != nil && err != rooms.ErrClosed {
		s.opts.Logf("presence of %q: %v", room, err)
	}
}

// refreshPresence announces the presence of every room with members here.
func (s *chatServer) refreshPresence() {
	s.mu.Lock()
	var names []string
	for name, r := range s.rooms {
		if r.members > 0 {
			names = append(names, name)
		}
	}
	s.mu.Unlock()
	for _, name := range names {
		s.announcePresence(name)
	}
}

func (s *chatServer) enteredRoom(room string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[room]
	if r == nil {
		r = &roomState{}
		s.rooms[room] = r
	}
	r.members++
	// Rooms that have been empty for a while are forgotten here, on the
	// way in, rather than by a timer that would need stopping.
	now := time.Now()
	for name, r := range s.rooms {
		if r.members == 0 && now.Sub(r.idle) > roomIdleLife {
			delete(s.rooms, name)
		}
	}
}

func (s *chatServer) leftRoom(room string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[room]; r != nil {
		r.members--
		if r.members == 0 {
			// The history outlives the last member for a while: when a whole
			// room reconnects at once (the server restarted, the network
			// came back), the first client back may resend before the others
			// have joined, and they find its message in the history.
			r.idle = time.Now()
		}
	}
}

// record adds msg to its room's history.
func (s *chatServer) record(msg serverEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[msg.Room]
	if r == nil {
		return // no one here is in the room: the sender has just left it
	}
	if len(r.history) == historySize {
		r.history = append(r.history[:0], r.history[1:]...)
	}
	r.history = append(r.history, msg)
}

// history returns a copy of room's history, oldest first.
func (s *chatServer) history(room string) []serverEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[room]; r != nil {
		return append([]serverEvent(nil), r.history...)
	}
	return nil
}

// encode marshals an event. serverEvent holds strings and a time only, so
// it always can.
func encode(ev serverEvent) []byte {
	b, err := json.Marshal(ev)
	if err != nil {
		log.Panicf("encoding %+v: %v", ev, err)
	}
	return b
}

// cleanName trims s, drops control and format characters (which could
// make one name look like another, or break the page's layout) and cuts
// it to max runes.
func cleanName(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > max {
		s = string(r[:max])
	}
	return strings.TrimSpace(s)
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
