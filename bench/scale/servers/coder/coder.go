// Package coder is the scale benchmark's server built with
// github.com/coder/websocket v1.8.15, in the shape of wsbench's coder
// server: the handler accepts and runs the Reader/Writer/io.CopyBuffer
// echo loop (one reused 32 KiB buffer) itself. Flags: see
// bench/scale/srv.
//
// Broadcast: coder has no prepared message, so each broadcast calls Write
// on each connection in turn, with a context that times out after
// -write-timeout (coder's way to bound a write; coder closes the
// connection when it expires). A connection whose write fails is closed
// and counted as dropped.
//
// -compress sets CompressionContextTakeover.
package coder

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"

	"github.com/coder/websocket"
	"github.com/wirecraft/websocket/bench/scale/srv"
)

func Run(cfg *srv.Config) {
	var conns srv.Set[*websocket.Conn]
	opts := &websocket.AcceptOptions{
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	}
	if cfg.Compress {
		opts.CompressionMode = websocket.CompressionContextTakeover
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(64 << 20)
		if cfg.Broadcasting() {
			conns.Add(c)
			defer conns.Remove(c)
		}
		ctx := context.Background()
		buf := make([]byte, 32<<10)
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				return
			}
			wr, err := c.Writer(ctx, typ)
			if err != nil {
				return
			}
			if _, err := io.CopyBuffer(wr, rd, buf); err != nil {
				return
			}
			if err := wr.Close(); err != nil {
				return
			}
		}
	})

	var snap []*websocket.Conn
	cfg.Serve(func(p []byte) (dropped int) {
		snap = conns.Snapshot(snap[:0])
		for _, c := range snap {
			ctx, cancel := context.WithTimeout(context.Background(), cfg.WriteTimeout)
			err := c.Write(ctx, websocket.MessageText, p)
			cancel()
			if err != nil {
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
