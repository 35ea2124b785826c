// Package ours is the scale benchmark's server built with this package
// (github.com/wirecraft/websocket): the echo loop of examples/echo, served
// on a goroutine of its own so that net/http's per-connection buffers go
// once the handler returns. Flags: see bench/scale/srv.
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

func Run(cfg *srv.Config) {
	var conns srv.Set[*websocket.Conn]
	opts := &websocket.AcceptOptions{
		ConnOptions: websocket.ConnOptions{ReadLimit: 64 << 20, CoalesceWrites: true},
		CheckOrigin: func(*http.Request) bool { return true },
	}
	if cfg.Compress {
		opts.Compression = &websocket.CompressionOptions{}
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		go serve(c, cfg, &conns)
	})

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

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		log.Fatal(err)
	}
	srv.Ready(ln.Addr().String())
	log.Fatal(http.Serve(ln, handler))
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
