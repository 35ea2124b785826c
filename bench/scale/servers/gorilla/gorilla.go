// Package gorilla is the scale benchmark's server built with
// github.com/gorilla/websocket v1.5.3, in the shape of wsbench's gorilla
// server: the handler upgrades (buffers left at 0, so gorilla reuses the
// hijacked net/http connection's 4 KiB buffers) and runs the
// NextReader/NextWriter/io.Copy echo loop itself. Flags: see
// bench/scale/srv.
//
// Broadcast: one PreparedMessage per broadcast, written to each connection
// in turn with WritePreparedMessage under a write deadline of
// -write-timeout; gorilla allows one writer at a time, so each connection
// has a mutex that the echo loop also takes. A connection whose write
// fails is closed and counted as dropped.
//
// -compress sets EnableCompression: gorilla negotiates permessage-deflate
// only without context takeover, so the load generator reports it as n/a.
package gorilla

import (
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wirecraft/websocket/bench/scale/srv"
)

type conn struct {
	mu sync.Mutex // one writer at a time
	c  *websocket.Conn
}

func Run(cfg *srv.Config) {
	var conns srv.Set[*conn]
	up := websocket.Upgrader{
		CheckOrigin:       func(*http.Request) bool { return true },
		EnableCompression: cfg.Compress,
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadLimit(64 << 20)
		wc := &conn{c: c}
		if cfg.Broadcasting() {
			conns.Add(wc)
			defer conns.Remove(wc)
		}
		for {
			mt, rd, err := c.NextReader()
			if err != nil {
				return
			}
			wc.mu.Lock()
			err = echo(c, mt, rd)
			wc.mu.Unlock()
			if err != nil {
				return
			}
		}
	})

	var snap []*conn
	cfg.Serve(func(p []byte) (dropped int) {
		m, err := websocket.NewPreparedMessage(websocket.TextMessage, p)
		if err != nil {
			log.Fatal(err)
		}
		snap = conns.Snapshot(snap[:0])
		for _, wc := range snap {
			wc.mu.Lock()
			wc.c.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
			err := wc.c.WritePreparedMessage(m)
			wc.mu.Unlock()
			if err != nil {
				wc.c.Close()
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

func echo(c *websocket.Conn, mt int, rd io.Reader) error {
	wr, err := c.NextWriter(mt)
	if err != nil {
		return err
	}
	if _, err := io.Copy(wr, rd); err != nil {
		return err
	}
	return wr.Close()
}
