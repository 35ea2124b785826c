package bench

// The three libraries behind one small interface, so that every benchmark
// drives them through the same code: a server accepted with net/http on
// 127.0.0.1, a client dialled through a byte-counting net.Conn, binary
// messages read whole and written whole with each library's simplest API.

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
	ours "github.com/wirecraft/websocket"
)

// readLimit is raised on every side: coder's default (32 KiB) would
// refuse the 64 KiB messages.
const readLimit = 1 << 20

// Compression modes. "none" is the uncompressed baseline.
const (
	modeNone       = "none"
	modeTakeover   = "takeover"
	modeNoTakeover = "no-takeover"
)

// wsConn is what the benchmarks need of a connection. Messages are binary:
// text would add UTF-8 validation, which our package does on every text
// message and gorilla and coder do not, and that is not what is compared
// here.
type wsConn interface {
	write(ctx context.Context, p []byte) error
	read(ctx context.Context) ([]byte, error)
	// closeNow drops the connection without a closing handshake.
	closeNow()
}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// impl is one library in one compression mode. accept and dial are nil
// when the library cannot negotiate that mode.
type impl struct {
	lib, mode string
	accept    func(w http.ResponseWriter, r *http.Request) (wsConn, error)
	dial      func(ctx context.Context, url string, netDial dialFunc) (wsConn, error)
}

func (im impl) name() string { return im.lib + "/" + im.mode }

// impls lists every library and mode, ours first. All compress at level 1
// (BestSpeed), which is each library's default; all messages sent are at
// least 1 KiB, above every default threshold (coder: 128 or 512 bytes;
// ours and gorilla: none).
func impls() []impl {
	var list []impl
	for _, mode := range []string{modeNone, modeTakeover, modeNoTakeover} {
		list = append(list, oursImpl(mode))
	}
	for _, mode := range []string{modeNone, modeTakeover, modeNoTakeover} {
		list = append(list, gorillaImpl(mode))
	}
	for _, mode := range []string{modeNone, modeTakeover, modeNoTakeover} {
		list = append(list, coderImpl(mode))
	}
	return list
}

// --- ours ---

type oursConn struct{ c *ours.Conn }

func (c oursConn) write(ctx context.Context, p []byte) error {
	return c.c.Write(ctx, ours.MessageBinary, p)
}

func (c oursConn) read(ctx context.Context) ([]byte, error) {
	_, p, err := c.c.Read(ctx)
	return p, err
}

func (c oursConn) closeNow() { c.c.CloseNow() }

func oursImpl(mode string) impl {
	var comp func() *ours.CompressionOptions
	switch mode {
	case modeTakeover:
		// The zero value: level 1, no threshold, 32 KiB windows and
		// context takeover in both directions.
		comp = func() *ours.CompressionOptions { return &ours.CompressionOptions{} }
	case modeNoTakeover:
		comp = func() *ours.CompressionOptions {
			return &ours.CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
		}
	default:
		comp = func() *ours.CompressionOptions { return nil }
	}
	return impl{
		lib: "ours", mode: mode,
		accept: func(w http.ResponseWriter, r *http.Request) (wsConn, error) {
			c, err := ours.Accept(w, r, &ours.AcceptOptions{
				ConnOptions: ours.ConnOptions{ReadLimit: readLimit},
				Compression: comp(),
			})
			if err != nil {
				return nil, err
			}
			return oursConn{c}, nil
		},
		dial: func(ctx context.Context, url string, netDial dialFunc) (wsConn, error) {
			c, _, err := ours.Dial(ctx, url, &ours.DialOptions{
				ConnOptions:    ours.ConnOptions{ReadLimit: readLimit},
				Compression:    comp(),
				NetDialContext: netDial,
				Proxy:          noProxy,
			})
			if err != nil {
				return nil, err
			}
			return oursConn{c}, nil
		},
	}
}

// noProxy keeps HTTP_PROXY and the like out of loopback benchmarks.
func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// --- gorilla ---

type gorillaConn struct{ c *gorilla.Conn }

func (c gorillaConn) write(_ context.Context, p []byte) error {
	return c.c.WriteMessage(gorilla.BinaryMessage, p)
}

func (c gorillaConn) read(context.Context) ([]byte, error) {
	_, p, err := c.c.ReadMessage()
	return p, err
}

func (c gorillaConn) closeNow() { c.c.Close() }

// gorillaImpl: gorilla/websocket v1.5.3 implements permessage-deflate
// only with server_no_context_takeover and client_no_context_takeover
// (its client always offers both, its server only accepts offers that
// allow them), so it has no takeover mode.
func gorillaImpl(mode string) impl {
	im := impl{lib: "gorilla", mode: mode}
	if mode == modeTakeover {
		return im
	}
	compress := mode == modeNoTakeover
	im.accept = func(w http.ResponseWriter, r *http.Request) (wsConn, error) {
		u := gorilla.Upgrader{EnableCompression: compress, CheckOrigin: func(*http.Request) bool { return true }}
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return nil, err
		}
		c.SetReadLimit(readLimit)
		return gorillaConn{c}, nil
	}
	im.dial = func(ctx context.Context, url string, netDial dialFunc) (wsConn, error) {
		d := gorilla.Dialer{NetDialContext: netDial, EnableCompression: compress, Proxy: noProxy}
		c, _, err := d.DialContext(ctx, url, nil)
		if err != nil {
			return nil, err
		}
		c.SetReadLimit(readLimit)
		return gorillaConn{c}, nil
	}
	return im
}

// --- coder ---

type coderConn struct{ c *coder.Conn }

func (c coderConn) write(ctx context.Context, p []byte) error {
	return c.c.Write(ctx, coder.MessageBinary, p)
}

func (c coderConn) read(ctx context.Context) ([]byte, error) {
	_, p, err := c.c.Read(ctx)
	return p, err
}

func (c coderConn) closeNow() { c.c.CloseNow() }

func coderImpl(mode string) impl {
	cm := coder.CompressionDisabled
	switch mode {
	case modeTakeover:
		cm = coder.CompressionContextTakeover
	case modeNoTakeover:
		cm = coder.CompressionNoContextTakeover
	}
	return impl{
		lib: "coder", mode: mode,
		accept: func(w http.ResponseWriter, r *http.Request) (wsConn, error) {
			c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: cm, InsecureSkipVerify: true})
			if err != nil {
				return nil, err
			}
			c.SetReadLimit(readLimit)
			return coderConn{c}, nil
		},
		dial: func(ctx context.Context, url string, netDial dialFunc) (wsConn, error) {
			// coder dials through an http.Client; its transport's dialer
			// is where the counting connection goes in.
			hc := &http.Client{Transport: &http.Transport{DialContext: netDial, Proxy: nil}}
			c, _, err := coder.Dial(ctx, url, &coder.DialOptions{CompressionMode: cm, HTTPClient: hc})
			if err != nil {
				return nil, err
			}
			c.SetReadLimit(readLimit)
			return coderConn{c}, nil
		},
	}
}

// --- plumbing shared by all ---

// countingConn counts the bytes that cross a TCP connection: everything
// after the opening handshake is frames, so the difference of two
// snapshots is what the messages cost on the wire, headers and masking
// keys included.
type countingConn struct {
	net.Conn
	rx, tx *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.rx.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.tx.Add(int64(n))
	return n, err
}

// counter is the byte count of one or more client connections.
type counter struct{ rx, tx atomic.Int64 }

// dialer returns a dial function whose connections add to k.
func (k *counter) dialer() dialFunc {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, rx: &k.rx, tx: &k.tx}, nil
	}
}

// server is an HTTP server on 127.0.0.1 that accepts WebSocket connections
// with one impl and hands each to serve. It keeps every TCP connection it
// accepted, because http.Server.Close does not close hijacked ones.
type server struct {
	url   string
	srv   *http.Server
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup // handlers still running
}

func startServer(tb testing.TB, im impl, serve func(c wsConn)) *server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &server{url: "ws://" + ln.Addr().String() + "/", ln: ln}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.wg.Add(1)
			defer s.wg.Done()
			c, err := im.accept(w, r)
			if err != nil {
				return
			}
			serve(c)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(c net.Conn, state http.ConnState) {
			if state == http.StateNew {
				s.mu.Lock()
				s.conns = append(s.conns, c)
				s.mu.Unlock()
			}
		},
	}
	go s.srv.Serve(ln)
	return s
}

// close stops the server, drops every connection it accepted and waits,
// at most 10 seconds, for the handlers to return.
func (s *server) close(tb testing.TB) {
	s.srv.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		tb.Errorf("server handlers still running 10s after close")
	}
}

// echo is the server side of every benchmark: each message read is
// written back as it came.
func echo(c wsConn) {
	defer c.closeNow()
	ctx := context.Background()
	for {
		p, err := c.read(ctx)
		if err != nil {
			return
		}
		if err := c.write(ctx, p); err != nil {
			return
		}
	}
}

// watchdog bounds a benchmark or test that could otherwise block forever
// on a peer that stopped answering: after d it runs stop, which closes the
// connections so that blocked reads and writes fail.
func watchdog(tb testing.TB, d time.Duration, stop func()) func() {
	t := time.AfterFunc(d, func() {
		tb.Errorf("watchdog: still running after %v; closing connections", d)
		stop()
	})
	return func() { t.Stop() }
}

func dialCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}
