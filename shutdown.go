// Closing connections when their server shuts down.
//
// http.Server.Shutdown waits for active connections to become idle. It
// leaves hijacked connections alone (an HTTP/1.1 WebSocket stays open,
// forgotten by the server), but an HTTP/2 WebSocket is a stream whose
// handler is still running: without help Shutdown would wait for it until
// its context expires. The package therefore closes every connection
// Accept made with 1001 "going away" (RFC 6455 §7.4.1: "a server going
// down") when its server starts shutting down, over both transports, so the
// two behave alike and handlers waiting on Conn.Done return.

package websocket

import (
	"net/http"
	"sync"
)

// shutdownWatch holds the open connections of each server that Accept has
// served, to close them on Shutdown. A server gets one entry, and one
// function registered with RegisterOnShutdown, the first time Accept runs
// under it; the entry stays (empty) after its connections close, since a
// function cannot be unregistered.
var shutdownWatch struct {
	mu      sync.Mutex
	servers map[*http.Server]map[*Conn]struct{}
}

// closeOnShutdown arranges for c, accepted from r, to be closed with 1001
// when the server that received r shuts down. A request that did not come
// through an http.Server (a handler called directly) has none to watch.
func closeOnShutdown(r *http.Request, c *Conn) {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return
	}
	shutdownWatch.mu.Lock()
	defer shutdownWatch.mu.Unlock()
	if shutdownWatch.servers == nil {
		shutdownWatch.servers = make(map[*http.Server]map[*Conn]struct{})
	}
	conns, ok := shutdownWatch.servers[srv]
	if !ok {
		conns = make(map[*Conn]struct{})
		shutdownWatch.servers[srv] = conns
		srv.RegisterOnShutdown(func() { goingAway(srv) })
	}
	if c.closedErr() != nil {
		// Closed already: closeTransport has run forgetOnShutdown before
		// the connection was in the set, and will not run it again.
		return
	}
	conns[c] = struct{}{}
	c.watchedBy = conns
}

// forgetOnShutdown takes a closed connection out of its server's set.
// closeTransport calls it once, after closedErr reports the connection
// closed, so closeOnShutdown either sees that or has already added it.
func (c *Conn) forgetOnShutdown() {
	shutdownWatch.mu.Lock()
	defer shutdownWatch.mu.Unlock()
	if c.watchedBy != nil {
		delete(c.watchedBy, c)
		c.watchedBy = nil
	}
}

// goingAway closes the open connections of srv with 1001, each with the
// closing handshake, all at once. Shutdown runs it in a goroutine of its
// own.
func goingAway(srv *http.Server) {
	shutdownWatch.mu.Lock()
	conns := make([]*Conn, 0, len(shutdownWatch.servers[srv]))
	for c := range shutdownWatch.servers[srv] {
		conns = append(conns, c)
	}
	shutdownWatch.mu.Unlock()
	for _, c := range conns {
		go c.Close(StatusGoingAway, "server shutting down")
	}
}
