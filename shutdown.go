// Closing connections when their server shuts down.
//
// http.Server.Shutdown waits for active connections to become idle. It
// leaves hijacked connections alone (an HTTP/1.1 WebSocket stays open,
// forgotten by the server), but an HTTP/2 WebSocket is a stream whose
// handler is still running: without help Shutdown would wait for it until
// its context expires. By default the package therefore closes every
// connection Accept made with 1001 "going away" (RFC 6455 §7.4.1: "a server
// going down") when its server starts shutting down, over both transports,
// so the two behave alike and handlers waiting on Conn.Done return.
// AcceptOptions.KeepOnShutdown opts a connection out.

package websocket

import (
	"net/http"
	"runtime"
	"sync"
	"weak"
)

// serverConns is the set of open connections one http.Server accepted.
// Its lock is the server's own: connections of different servers never
// wait for each other.
type serverConns struct {
	mu           sync.Mutex
	conns        map[*Conn]struct{}
	shuttingDown bool // goingAway has run: connections added later close at once
}

// watchedServers finds a server's set. It holds the server weakly: when a
// program drops an http.Server, the entry goes with it (see watchServer),
// so servers made and dropped by the thousand in a test suite leave
// nothing behind. Looking an entry up, which every Accept does, takes no
// lock once the entry exists.
var watchedServers sync.Map // weak.Pointer[http.Server] -> *serverConns

// watchServer returns srv's set, making it, and registering the function
// that closes the set's connections on Shutdown, the first time.
func watchServer(srv *http.Server) *serverConns {
	key := weak.Make(srv)
	if set, ok := watchedServers.Load(key); ok {
		return set.(*serverConns)
	}
	set := &serverConns{conns: make(map[*Conn]struct{})}
	if prev, loaded := watchedServers.LoadOrStore(key, set); loaded {
		return prev.(*serverConns)
	}
	// The function lives in srv and refers to the set, not the other way
	// round: nothing here keeps srv reachable.
	srv.RegisterOnShutdown(set.goingAway)
	runtime.AddCleanup(srv, func(key weak.Pointer[http.Server]) { watchedServers.Delete(key) }, key)
	return set
}

// shutdownSet returns the set of the server that received r, for a
// connection about to be accepted from r, or nil if there is no server to
// watch (a handler called directly). Accept asks before it answers the
// handshake: a Shutdown that starts once the client has its answer then
// finds the set's function registered.
func shutdownSet(r *http.Request) *serverConns {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return nil
	}
	return watchServer(srv)
}

// add arranges for c to be closed with 1001 when the server shuts down,
// at once if that has begun already.
func (set *serverConns) add(c *Conn) {
	set.mu.Lock()
	defer set.mu.Unlock()
	if set.shuttingDown {
		go c.Close(StatusGoingAway, "server shutting down")
		return
	}
	// The connection may be closing on another goroutine right now (an
	// HTTP/2 stream the client reset). Publishing the set first and then
	// looking makes one of the two take it out: if forgetOnShutdown ran
	// before the set was published, closedErr already says closed here.
	c.watchedBy.Store(set)
	set.conns[c] = struct{}{}
	if c.closedErr() != nil {
		delete(set.conns, c)
	}
}

// forgetOnShutdown takes a closed connection out of its server's set.
// closeTransport calls it once, after closedErr reports the connection
// closed, so serverConns.add either sees that or has already added it.
func (c *Conn) forgetOnShutdown() {
	set := c.watchedBy.Load()
	if set == nil {
		return
	}
	set.mu.Lock()
	delete(set.conns, c)
	set.mu.Unlock()
}

// goingAway closes the set's open connections with 1001, each with the
// closing handshake, all at once. Shutdown runs it in a goroutine of its
// own.
func (set *serverConns) goingAway() {
	set.mu.Lock()
	set.shuttingDown = true
	conns := make([]*Conn, 0, len(set.conns))
	for c := range set.conns {
		conns = append(conns, c)
	}
	set.mu.Unlock()
	for _, c := range conns {
		go c.Close(StatusGoingAway, "server shutting down")
	}
}
