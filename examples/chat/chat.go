package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/wirecraft/websocket"
)

//go:embed static/index.html
var indexHTML []byte

// Limits on what clients send. A chat line is short; the read limit makes
// the package fail a connection that sends more (close code 1009) before
// reading it, so one client cannot make the server buffer megabytes.
const (
	maxMessageBytes = 4096
	maxNameRunes    = 32
	maxRoomRunes    = 64
)

// options configures a chatServer. The zero value of a field means its
// default.
type options struct {
	// PingInterval is the keepalive: a ping every interval, and a
	// connection without a pong in time is dropped. It also keeps idle
	// connections alive through proxies that time out silent ones.
	PingInterval time.Duration
	// SendQueue is how many events may wait for one client. A client whose
	// queue is full has fallen behind and is closed (1008) rather than
	// slowing down the room or making the server buffer without bound.
	SendQueue int
	// WriteTimeout bounds each write to a client. A write blocked longer
	// (the peer stopped reading) closes the connection.
	WriteTimeout time.Duration
	// Logf, if set, receives connection-level log lines.
	Logf func(format string, args ...any)
}

// chatServer serves the page and the WebSocket endpoint, and keeps the
// rooms.
type chatServer struct {
	opts   options
	mux    *http.ServeMux
	guests atomic.Int64 // numbers anonymous users
	mu     sync.Mutex
	rooms  map[string]*room // rooms with at least one member
	hubs   sync.WaitGroup   // running hub goroutines; lets a test check that they end
}

// newChatServer returns the chat's http.Handler: the page at /, the
// WebSocket endpoint at /ws?room=NAME&name=USER.
func newChatServer(opts options) *chatServer {
	if opts.PingInterval <= 0 {
		opts.PingInterval = 30 * time.Second
	}
	if opts.SendQueue <= 0 {
		opts.SendQueue = 64
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &chatServer{opts: opts, mux: http.NewServeMux(), rooms: make(map[string]*room)}
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(indexHTML)
	})
	// No method in the pattern: over HTTP/2 the handshake is a CONNECT
	// (RFC 8441), which "GET /ws" would not match. Accept checks the method.
	s.mux.HandleFunc("/ws", s.serveWS)
	return s
}

func (s *chatServer) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// event is what the server sends to clients, as one JSON text message.
type event struct {
	// Type is "message" (someone said Text), "join" or "leave" (Name
	// entered or left the room; Text may say why).
	Type  string    `json:"type"`
	Room  string    `json:"room"`
	Name  string    `json:"name"`
	Text  string    `json:"text,omitempty"`
	Users []string  `json:"users,omitempty"` // on join and leave: who is in the room now
	Time  time.Time `json:"time"`
}

// client is one connection in a room.
type client struct {
	conn *websocket.Conn
	name string
	// send holds encoded events for the writing goroutine. Only the room's
	// hub sends on it and closes it, so it is never closed twice nor sent
	// on after closing.
	send chan []byte
	// kicked is set by the hub before it closes send when the client fell
	// behind; the writing goroutine reads it after send is closed, which
	// orders the two.
	kicked bool
}

// room is the hub of one room: a goroutine that owns the member set and
// fans events out. Members talk to it through channels, so the set needs no
// lock, and fanning out never blocks on a member (see publish).
type room struct {
	name      string
	join      chan *client
	leave     chan *client
	broadcast chan event
	quit      chan struct{}
	members   int // connections that joined and have not left; guarded by chatServer.mu
	clients   map[*client]struct{}
}

// serveWS upgrades a request to a chat connection and runs it until it
// ends. The handler's goroutine is the connection's only reader; a second
// goroutine writes what the hub queues for it.
func (s *chatServer) serveWS(w http.ResponseWriter, r *http.Request) {
	roomName := cleanName(r.URL.Query().Get("room"), maxRoomRunes)
	if roomName == "" {
		http.Error(w, "a room name is needed: /ws?room=NAME&name=USER", http.StatusBadRequest)
		return
	}
	name := cleanName(r.URL.Query().Get("name"), maxNameRunes)
	if name == "" {
		name = fmt.Sprintf("guest-%d", s.guests.Add(1))
	}

	// The default origin check is kept on purpose: the page comes from this
	// same server, and refusing other origins stops a foreign page from
	// joining rooms with its visitor's browser (RFC 6455 §10.2).
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{ConnOptions: websocket.ConnOptions{
		ReadLimit:    maxMessageBytes,
		PingInterval: s.opts.PingInterval,
	}})
	if err != nil {
		s.opts.Logf("accept: %v", err)
		return // Accept has answered the request
	}
	defer conn.CloseNow()

	c := &client{conn: conn, name: name, send: make(chan []byte, s.opts.SendQueue)}
	rm := s.enter(roomName, c)
	s.opts.Logf("%s joined %q from %s over %s", name, roomName, r.RemoteAddr, transportName(r))

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop(c)
	}()
	err = s.readLoop(rm, c)
	s.exit(rm, c)
	<-writerDone
	s.opts.Logf("%s left %q: %v", name, roomName, err)
}

// transportName says how a WebSocket request arrived.
func transportName(r *http.Request) string {
	if r.ProtoMajor >= 2 {
		return "HTTP/2 CONNECT (RFC 8441)"
	}
	return "HTTP/1.1 upgrade"
}

// readLoop hands every chat line the client sends to the hub, until the
// connection ends.
func (s *chatServer) readLoop(rm *room, c *client) error {
	for {
		typ, data, err := c.conn.Read(context.Background())
		if err != nil {
			return err
		}
		if typ != websocket.MessageText {
			c.conn.Close(websocket.StatusUnsupportedData, "text messages only")
			return errors.New("sent a binary message")
		}
		// The package has checked that text is valid UTF-8.
		text := strings.TrimSpace(string(data))
		if text == "" {
			continue
		}
		rm.broadcast <- event{Type: "message", Room: rm.name, Name: c.name, Text: text, Time: time.Now().UTC()}
	}
}

// writeLoop sends what the hub queues for c, until the hub closes the
// queue: because c left, or because it fell behind.
func (s *chatServer) writeLoop(c *client) {
	for data := range c.send {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.WriteTimeout)
		err := c.conn.Write(ctx, websocket.MessageText, data)
		cancel()
		if err != nil {
			// The connection is closed now (a failed write closes it), so
			// the reading goroutine ends too and the client leaves. Events
			// still queued for it are dropped with it.
			return
		}
	}
	if c.kicked {
		// Tell the client why, after what was queued before the overflow.
		c.conn.Close(websocket.StatusPolicyViolation, "too slow: send queue full")
	}
}

// enter adds c to the room of that name, starting its hub if the room was
// empty.
func (s *chatServer) enter(name string, c *client) *room {
	s.mu.Lock()
	rm := s.rooms[name]
	if rm == nil {
		rm = &room{
			name:      name,
			join:      make(chan *client),
			leave:     make(chan *client),
			broadcast: make(chan event),
			quit:      make(chan struct{}),
			clients:   make(map[*client]struct{}),
		}
		s.rooms[name] = rm
		s.hubs.Add(1)
		go func() {
			defer s.hubs.Done()
			rm.run()
		}()
	}
	// Counted under the lock, before the hub hears of it, so that exit of
	// the last other member cannot stop the hub in between.
	rm.members++
	s.mu.Unlock()
	rm.join <- c
	return rm
}

// exit removes c from its room and stops the hub once the room is empty.
// c's reading goroutine calls it after its last broadcast, so nothing of
// this member is still on its way to the hub.
func (s *chatServer) exit(rm *room, c *client) {
	rm.leave <- c
	s.mu.Lock()
	defer s.mu.Unlock()
	rm.members--
	if rm.members == 0 {
		// The next client for this name gets a new room and hub.
		delete(s.rooms, rm.name)
		close(rm.quit)
	}
}

// run is the hub's loop. Nothing in it blocks on a client, so one slow
// client cannot hold up the room.
func (rm *room) run() {
	for {
		select {
		case c := <-rm.join:
			rm.clients[c] = struct{}{}
			rm.publish(event{Type: "join", Name: c.name})
		case c := <-rm.leave:
			// A client the hub already dropped for being slow has been
			// announced already.
			if _, ok := rm.clients[c]; ok {
				rm.drop(c)
				rm.publish(event{Type: "leave", Name: c.name})
			}
		case ev := <-rm.broadcast:
			rm.publish(ev)
		case <-rm.quit:
			return
		}
	}
}

// publish encodes ev once and queues it for every member without waiting.
// Members whose queue is full are dropped and the others are told.
func (rm *room) publish(ev event) {
	ev.Room = rm.name
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if ev.Type == "join" || ev.Type == "leave" {
		ev.Users = rm.users()
	}
	data, err := json.Marshal(ev)
	if err != nil {
		log.Printf("chat: encoding an event: %v", err) // cannot happen with these field types
		return
	}
	var slow []*client
	for c := range rm.clients {
		select {
		case c.send <- data: // the same bytes for everyone: they are only read
		default:
			slow = append(slow, c)
		}
	}
	for _, c := range slow {
		c.kicked = true
		rm.drop(c)
	}
	for _, c := range slow {
		// Each announcement may find more slow members; the set only
		// shrinks, so this ends.
		rm.publish(event{Type: "leave", Name: c.name, Text: "too slow"})
	}
}

// drop removes c from the room and closes its queue, which ends its
// writing goroutine.
func (rm *room) drop(c *client) {
	delete(rm.clients, c)
	close(c.send)
}

// users returns the sorted names of the members.
func (rm *room) users() []string {
	names := make([]string, 0, len(rm.clients))
	for c := range rm.clients {
		names = append(names, c.name)
	}
	slices.Sort(names)
	return names
}

// cleanName trims a user or room name, drops control and format
// characters (which could garble the page or the logs), and cuts it to max
// runes.
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
