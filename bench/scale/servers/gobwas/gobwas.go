// Package gobwas is the scale benchmark's server built with
// github.com/gobwas/ws v1.5.0, in the shape of wsbench's gobwas server:
// ws.Upgrade on the raw net.Conn (no net/http), one goroutine per
// connection running the README's low-level frame echo with a bufio reader
// and writer and a reused buffer. Flags: see bench/scale/srv.
//
// Broadcast: the frame is compiled once (ws.CompileFrame) and written to
// each connection in turn with net.Conn.Write under a write deadline of
// -write-timeout, holding the connection's write mutex, which the echo
// loop also takes. A connection whose write fails is closed and counted
// as dropped.
//
// -compress negotiates permessage-deflate with wsflate.DefaultParameters,
// the parameters gobwas's compression helpers are written for: no context
// takeover either way. The load generator reports it as n/a.
package gobwas

import (
	"bufio"
	"io"
	"log"
	"net"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/wirecraft/websocket/bench/scale/srv"
)

const readLimit = 64 << 20

type conn struct {
	mu sync.Mutex // guards writes: bw and net.Conn
	c  net.Conn
}

func Run(cfg *srv.Config) {
	var conns srv.Set[*conn]

	var snap []*conn
	cfg.Serve(func(p []byte) (dropped int) {
		frame, err := ws.CompileFrame(ws.NewTextFrame(p))
		if err != nil {
			log.Fatal(err)
		}
		snap = conns.Snapshot(snap[:0])
		for _, wc := range snap {
			wc.mu.Lock()
			wc.c.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
			_, err := wc.c.Write(frame)
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
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(c, cfg, &conns)
	}
}

func serve(c net.Conn, cfg *srv.Config, conns *srv.Set[*conn]) {
	defer c.Close()
	if cfg.Compress {
		e := wsflate.Extension{Parameters: wsflate.DefaultParameters}
		u := ws.Upgrader{Negotiate: e.Negotiate}
		if _, err := u.Upgrade(c); err != nil {
			return
		}
	} else if _, err := ws.Upgrade(c); err != nil {
		return
	}
	wc := &conn{c: c}
	if cfg.Broadcasting() {
		conns.Add(wc)
		defer conns.Remove(wc)
	}
	br := bufio.NewReader(c)
	bw := bufio.NewWriter(c)
	var buf []byte
	for {
		h, err := ws.ReadHeader(br)
		if err != nil || h.Length > readLimit {
			return
		}
		if int64(cap(buf)) < h.Length {
			buf = make([]byte, h.Length)
		}
		p := buf[:h.Length]
		if _, err := io.ReadFull(br, p); err != nil {
			return
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
			h.Masked = false
		}
		if h.OpCode == ws.OpPong {
			continue
		} else if h.OpCode == ws.OpPing {
			h.OpCode = ws.OpPong
		}
		wc.mu.Lock()
		err = ws.WriteHeader(bw, h)
		if err == nil {
			_, err = bw.Write(p)
		}
		if err == nil {
			err = bw.Flush()
		}
		wc.mu.Unlock()
		if err != nil || h.OpCode == ws.OpClose {
			return
		}
	}
}
