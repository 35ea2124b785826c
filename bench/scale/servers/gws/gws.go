// Package gws is the scale benchmark's server built with
// github.com/lxzan/gws v1.8.9, in the shape of wsbench's gws server:
// gws.NewServer (gws parses the upgrade itself, no net/http), event-driven
// OnMessage echo, ParallelEnabled false. Flags: see bench/scale/srv.
//
// Broadcast: one gws.Broadcaster per broadcast, Broadcast called for each
// connection (gws encodes the frame once and queues the write on each
// connection's own write queue, so a slow connection delays only itself;
// -write-timeout does not apply), then Close.
//
// -compress enables PermessageDeflate with ServerContextTakeover and
// ClientContextTakeover.
package gws

import (
	"log"
	"net"

	"github.com/lxzan/gws"
	"github.com/wirecraft/websocket/bench/scale/srv"
)

const limit = 64 << 20

type handler struct {
	gws.BuiltinEventHandler
	cfg   *srv.Config
	conns *srv.Set[*gws.Conn]
}

func (h handler) OnOpen(c *gws.Conn) {
	if h.cfg.Broadcasting() {
		h.conns.Add(c)
	}
}

func (h handler) OnClose(c *gws.Conn, err error) {
	if h.cfg.Broadcasting() {
		h.conns.Remove(c)
	}
}

func (handler) OnPing(c *gws.Conn, payload []byte) { _ = c.WritePong(payload) }

func (handler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	_ = c.WriteMessage(m.Opcode, m.Bytes())
}

func Run(cfg *srv.Config) {
	var conns srv.Set[*gws.Conn]
	opt := &gws.ServerOption{
		ParallelEnabled:     false,
		ReadMaxPayloadSize:  limit,
		WriteMaxPayloadSize: limit,
		PermessageDeflate:   gws.PermessageDeflate{Enabled: false},
	}
	if cfg.Compress {
		opt.PermessageDeflate = gws.PermessageDeflate{
			Enabled:               true,
			ServerContextTakeover: true,
			ClientContextTakeover: true,
		}
	}

	var snap []*gws.Conn
	cfg.Serve(func(p []byte) (dropped int) {
		b := gws.NewBroadcaster(gws.OpcodeText, p)
		snap = conns.Snapshot(snap[:0])
		for _, c := range snap {
			if b.Broadcast(c) != nil {
				dropped++
			}
		}
		b.Close()
		return dropped
	})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		log.Fatal(err)
	}
	srv.Ready(ln.Addr().String())
	log.Fatal(gws.NewServer(handler{cfg: cfg, conns: &conns}, opt).RunListener(ln))
}
