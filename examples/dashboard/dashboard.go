package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/rooms"
)

// The page: index.html, its script and its style, served at / from the
// binary itself, so the dashboard works offline and from any directory.
//
//go:embed static
var staticFiles embed.FS

// Limits on what clients may send.
const (
	// The page sends nothing over its WebSocket: a tiny read limit makes
	// the package refuse (1009) anything bigger than a stray message
	// before reading it.
	maxClientMessage = 512
	// A notification is a short line of text for a person to read.
	maxNotification = 4 << 10
	// User ids are short and printable (see validUser).
	maxUserLen = 64
)

// options configures a dashboard. A zero field means its default.
type options struct {
	// Interval is how often the figures are measured and pushed: 1 s.
	Interval time.Duration
	// PingInterval is the keepalive of each connection: a ping every
	// interval, and a connection whose pong does not come in time is
	// closed. It notices dead peers, and keeps idle connections open
	// through proxies that cut silent ones. Default 30 s.
	PingInterval time.Duration
	// QueueSize is how many messages may wait for one connection before
	// the hub drops the next ones for it (see newDashboard). Default
	// rooms.DefaultQueueSize.
	QueueSize int
}

// update is the message every connection receives each interval: the
// server's own figures, as one JSON text message.
type update struct {
	Type string `json:"type"` // "update"
	// Seq numbers the updates from 1, one per interval. A client that
	// sees a gap knows it missed updates (its queue was full).
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Conns is the number of open WebSocket connections.
	Conns int `json:"conns"`
	// MsgsPerSec is how many messages the server queued for its clients
	// per second over the last interval: updates and notifications, one
	// per receiving connection.
	MsgsPerSec float64 `json:"msgsPerSec"`
	// HeapInUse is the heap memory in use, in bytes (runtime.MemStats'
	// HeapInuse: live and not yet swept objects, plus the free space in
	// the spans that hold them).
	HeapInUse uint64 `json:"heapInUse"`
	// Goroutines is the number of goroutines: about two per connection
	// (its reader, and the hub's writer for it).
	Goroutines uint64 `json:"goroutines"`
	// Dropped counts messages not sent to a connection whose queue was
	// full, since the server started.
	Dropped uint64 `json:"dropped"`
}

// notification is the message a user's connections receive when someone
// posts to /notify?user=ID.
type notification struct {
	Type string    `json:"type"` // "notify"
	Text string    `json:"text"`
	Time time.Time `json:"time"`
}

// notifyResult answers a POST to /notify.
type notifyResult struct {
	User string `json:"user"`
	// Connections is how many of the user's connections the notification
	// was queued for: 0 when the user has no page open.
	Connections int `json:"connections"`
	// Seq is the number of the last update sent when the notification had
	// been queued: every later update (Seq+1 on) is queued behind it, so a
	// client that has received update Seq+1 has received the notification
	// too, if it was meant for it.
	Seq uint64 `json:"seq"`
}

// dashboard is the server: the page, the WebSocket endpoint, the
// notification endpoint and the loop that pushes the figures.
type dashboard struct {
	opts options
	mux  *http.ServeMux
	// hub keeps every connection, each as a member with the id of its
	// user, a bounded queue and a goroutine writing that queue to it.
	hub *rooms.Hub

	seq  atomic.Uint64 // number of the last update sent
	sent atomic.Uint64 // messages queued for clients so far, for MsgsPerSec

	// serving counts the connections in serveConn, so that a shutdown can
	// wait for their closing handshakes (see waitConns): websocket.Handler
	// runs them on goroutines of their own, which http.Server.Shutdown
	// does not wait for. closing, under mu, stops new ones from being
	// counted once waitConns has begun, as sync.WaitGroup requires.
	mu      sync.Mutex
	closing bool
	serving sync.WaitGroup
}

func newDashboard(opts options) *dashboard {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 30 * time.Second
	}
	d := &dashboard{
		opts: opts,
		mux:  http.NewServeMux(),
		hub: rooms.NewHub(&rooms.Options{
			QueueSize: opts.QueueSize,
			// A connection that falls behind misses updates rather than
			// being closed: the next update supersedes the one it missed,
			// and the page shows the gap. The price is that a client
			// more than QueueSize messages behind can miss a notification
			// too; a service whose notifications must arrive stores them
			// and lets the page fetch what it missed.
			SlowPolicy: rooms.DropMessages,
		}),
	}

	// The page at / exactly, its script and style under /static/. A
	// catch-all "GET /" would conflict with "/ws" below, which must not
	// name a method.
	d.mux.Handle("GET /{$}", securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, staticFiles, "static/index.html")
	})))
	d.mux.Handle("GET /static/", securityHeaders(http.FileServerFS(staticFiles)))

	// No method in the pattern: over HTTP/2 the handshake is a CONNECT
	// (RFC 8441), which "GET /ws" would not match. Accept checks it.
	//
	// websocket.Handler serves each connection on a goroutine of its own
	// and lets the HTTP handler return (over HTTP/1.1), so that net/http
	// frees what it holds per request: with a thousand dashboards open,
	// that is about 16 MiB less. The default origin check stays on: the
	// page comes from this server, and a page of another site must not
	// open a connection with its visitor's browser.
	ws := websocket.Handler(&websocket.AcceptOptions{
		ConnOptions: websocket.ConnOptions{
			ReadLimit:    maxClientMessage,
			PingInterval: opts.PingInterval,
		},
	}, d.serveConn)
	d.mux.Handle("/ws", requireUser(ws))

	// The method is in the pattern, so a GET is answered 405 by the mux.
	d.mux.HandleFunc("POST /notify", d.notify)
	return d
}

func (d *dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.mux.ServeHTTP(w, r) }

// securityHeaders keeps the page to what it needs: its own script, style
// and WebSocket, nothing inline and nothing from elsewhere.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// userKey is the context key under which requireUser passes on the user.
type userKey struct{}

// requireUser answers 400 to a WebSocket request without a valid ?user=,
// before the upgrade, and otherwise passes the user on in the request's
// context, which websocket.Handler hands to serveConn.
//
// This is a demo: the user is whoever the URL says. A real service takes
// the user from its authentication (a session cookie, a token) here, and
// refuses the request with 401 when there is none.
func requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user")
		if !validUser(user) {
			http.Error(w, "a user is needed: /ws?user=ID (letters, digits, '-', '_' or '.')", http.StatusBadRequest)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, user)))
	})
}

// validUser accepts ids of 1 to 64 ASCII letters, digits, '-', '_' and
// '.', so that ids are easy to type in a URL and safe to print in logs.
func validUser(user string) bool {
	if user == "" || len(user) > maxUserLen {
		return false
	}
	for _, c := range []byte(user) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// userRoom is the room every connection of user joins. Sending to a user
// needs no room (Hub.SendToUser), but Hub.Presence counts by room, and
// /notify reports how many connections it reached.
func userRoom(user string) string { return "user:" + user }

// serveConn runs one connection: the hub writes to it, this goroutine
// reads. The connection is closed when serveConn returns.
func (d *dashboard) serveConn(ctx context.Context, c *websocket.Conn) {
	user := ctx.Value(userKey{}).(string) // set by requireUser
	if !d.enter() {
		c.Close(websocket.StatusGoingAway, "shutting down")
		return
	}
	defer d.serving.Done()
	m, err := d.hub.Add(c, user)
	if err != nil {
		// The hub is closed: the server is shutting down.
		c.Close(websocket.StatusGoingAway, "shutting down")
		return
	}
	if err := m.Join(ctx, userRoom(user)); err != nil {
		return // the member is leaving already: its connection ended
	}
	// The page sends nothing, but the connection must still be read:
	// reading is what answers pings, sees the keepalive's pongs and the
	// peer's close, and returns once the connection has ended, which is
	// when the member leaves the hub.
	for {
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
	}
}

// enter counts a connection in, unless the server is shutting down.
func (d *dashboard) enter() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return false
	}
	d.serving.Add(1)
	return true
}

// waitConns waits until every connection has ended, or ctx does. After a
// shutdown has closed them with 1001, that is when their closing handshakes
// are done: a program that exited sooner would cut them, and its clients
// would see the connection lost (1006) instead of the server going away.
func (d *dashboard) waitConns(ctx context.Context) error {
	d.mu.Lock()
	d.closing = true
	d.mu.Unlock()
	done := make(chan struct{})
	go func() {
		d.serving.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("connections still closing: %w", ctx.Err())
	}
}

// run measures and pushes the figures every interval until ctx ends.
func (d *dashboard) run(ctx context.Context) {
	// runtime/metrics rather than runtime.ReadMemStats: reading them
	// does not stop the world, which matters on a server that does it
	// every second.
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}
	ticker := time.NewTicker(d.opts.Interval)
	defer ticker.Stop()
	last := time.Now()
	var lastSent uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			// The time of measuring, not the tick's: a tick read late
			// carries the time it was due, which would make the
			// interval look shorter than the one the counter covers.
			now := time.Now()
			metrics.Read(samples)
			sent := d.sent.Load()
			stats := d.hub.Stats()
			u := update{
				Type:       "update",
				Seq:        d.seq.Load() + 1,
				Time:       now.UTC(),
				Conns:      stats.Members,
				MsgsPerSec: float64(sent-lastSent) / now.Sub(last).Seconds(),
				HeapInUse:  samples[0].Value.Uint64() + samples[1].Value.Uint64(),
				Goroutines: samples[2].Value.Uint64(),
				Dropped:    stats.DroppedMessages,
			}
			last, lastSent = now, sent
			if err := d.push(ctx, u, stats.Members); err != nil {
				if !errors.Is(err, rooms.ErrClosed) {
					log.Printf("dashboard: %v", err)
				}
				return
			}
		}
	}
}

// push sends u to every connection. The message is encoded once: json
// makes the bytes once, and the hub frames them once (a
// websocket.PreparedMessage) and queues the same frame for every member,
// so a thousand dashboards cost one encoding, not a thousand.
func (d *dashboard) push(ctx context.Context, u update, members int) error {
	msg, err := json.Marshal(u)
	if err != nil {
		return err
	}
	// The number is published before the update is queued, never after:
	// /notify reads it once its notification is queued, and promises that
	// the updates after the number it read are queued behind it.
	d.seq.Store(u.Seq)
	if err := d.hub.SendToAll(ctx, msg); err != nil {
		return err
	}
	d.sent.Add(uint64(members))
	return nil
}

// notify serves POST /notify?user=ID: the request body, as text, goes to
// every connection of that user and to nobody else. It answers with a
// notifyResult in JSON.
//
// Like the page, this is a demo: anyone who can reach the server can post.
// A real service authenticates the caller (and, being reachable from
// browsers, guards against cross-site requests).
func (d *dashboard) notify(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if !validUser(user) {
		http.Error(w, "a user is needed: /notify?user=ID (letters, digits, '-', '_' or '.')", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxNotification))
	if err != nil {
		http.Error(w, "the notification must be at most 4 KiB", http.StatusRequestEntityTooLarge)
		return
	}
	// The page shows text; json.Marshal would quietly replace bytes that
	// are not UTF-8, so say so instead.
	if !utf8.Valid(body) {
		http.Error(w, "the notification must be UTF-8 text", http.StatusBadRequest)
		return
	}
	msg, err := json.Marshal(notification{Type: "notify", Text: string(body), Time: time.Now().UTC()})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}

	// Counted just before sending: a tab that opens or closes at this very
	// moment may be counted and miss the notification, or the reverse.
	conns := 0
	if present, err := d.hub.Presence(r.Context(), userRoom(user)); err == nil {
		for _, p := range present {
			if p.User == user {
				conns = p.Conns
			}
		}
	}
	if err := d.hub.SendToUser(r.Context(), user, msg); err != nil {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	d.sent.Add(uint64(conns))

	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(notifyResult{User: user, Connections: conns, Seq: d.seq.Load()})
}
