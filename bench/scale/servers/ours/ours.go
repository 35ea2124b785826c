// Package ours is the scale benchmark's server built with this package
// (github.com/wirecraft/websocket): the echo loop of examples/echo, one
// goroutine per connection. Run upgrades the listener's connections with
// AcceptConn, without net/http's server, the way gobwas's and gws's
// servers upgrade by default; RunNetHTTP (server "ours-http") goes through
// net/http and Accept, serving each connection on a goroutine of its own
// so that net/http's per-connection state goes once the handler returns.
// Flags: see bench/scale/srv.
//
// Broadcast: one PreparedMessage per broadcast, written to each connection
// in turn with WritePrepared, under a write deadline of -write-timeout; a
// connection whose write fails is closed and counted as dropped.
//
// -compress accepts permessage-deflate with the package defaults: context
// takeover both ways, 32 KiB windows, level 1.
package ours

import (
	"context"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/bench/scale/srv"
)

// Run serves with AcceptConn.
func Run(cfg *srv.Config) {
	conns, opts := start(cfg)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		log.Fatal(err)
	}
	srv.Ready(ln.Addr().String())
	for {
		nc, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
			c, _, err := websocket.AcceptConn(ctx, nc, opts)
			cancel()
			if err != nil {
				return
			}
			// A goroutine of its own, which starts with the smallest
			// stack: this one grew while it parsed the request (idle 10k:
			// 4.67 KiB per connection, against 6.71 served here).
			go serve(c, cfg, conns)
		}()
	}
}

// handshakeTimeout bounds AcceptConn's handshake.
const handshakeTimeout = 10 * time.Second

// RunNetHTTP serves through net/http with Accept.
func RunNetHTTP(cfg *srv.Config) {
	conns, opts := start(cfg)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		go serve(c, cfg, conns)
	})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		log.Fatal(err)
	}
	srv.Ready(ln.Addr().String())
	log.Fatal(http.Serve(ln, handler))
}

// start returns the options both forms accept with and the set of open
// connections, whose broadcasts it serves.
func start(cfg *srv.Config) (*srv.Set[*websocket.Conn], *websocket.AcceptOptions) {
	conns := new(srv.Set[*websocket.Conn])
	opts := &websocket.AcceptOptions{
		ConnOptions: websocket.ConnOptions{ReadLimit: 64 << 20, CoalesceWrites: true},
		CheckOrigin: func(*http.Request) bool { return true },
	}
	if cfg.Compress {
		opts.Compression = &websocket.CompressionOptions{}
	}
	var snap []*websocket.Conn
	cfg.Serve(func(p []byte) (dropped int) {
		m, err := websocket.NewPreparedMessage(websocket.MessageText, p)
		if err != nil {
			log.Fatal(err)
		}
		ctx := context.Background()
		snap = conns.Snapshot(snap[:0])
		for _, c := range snap {
			c.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
			if err := c.WritePrepared(ctx, m); err != nil {
				c.CloseNow()
				dropped++
			}
		}
		return dropped
	})
	return conns, opts
}

func serve(c *websocket.Conn, cfg *srv.Config, conns *srv.Set[*websocket.Conn]) {
	defer c.CloseNow()
	if cfg.Broadcasting() {
		conns.Add(c)
		defer conns.Remove(c)
	}
	ctx := context.Background()
	for {
		typ, r, err := c.Reader(ctx)
		if err != nil {
			return
		}
		if _, err := c.WriteFrom(ctx, typ, r); err != nil {
			return
		}
	}
}
