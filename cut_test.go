package websocket

// Cutting the TCP connection at every byte of an exchange.
//
// A client made with Dial talks to a server made with Accept through a
// proxy on loopback. The two run a fixed script: the opening handshake,
// small messages both ways, a message written in several frames both
// ways, a ping and its pong, a larger message, and the closing handshake.
// The script runs twice over: plain, and with permessage-deflate, where
// the multi-frame message and the larger one are compressed. It is first
// run whole, and the proxy records the bytes of each direction. Then it is
// run once per cut point: the proxy forwards bytes as usual until it has
// forwarded exactly k bytes in one direction, and at that moment it cuts
// the connection to both ends, with a FIN (shutdown) or with a RST (close
// with SO_LINGER 0), and forwards nothing more.
//
// Whatever the cut point, each end must finish within a bound: its script
// stops at the first operation that fails, and a Read then tells the close
// status the application sees (RFC 6455 §7.1.5): the peer's code where the
// peer's close frame arrived whole, 1006 (StatusAbnormalClosure) where it
// did not. Which of the two applies is known from the uncut run: it tells
// where in each direction's stream the close frame ends. A message must
// arrive whole and intact or not at all. Both ends must close their TCP
// connections (the proxy waits for both), and no goroutine may outlive
// the case.
//
// go test -run TestCut runs a sample of the cut points: every fourth byte
// for FIN, every twelfth for RST, and the bytes around each frame boundary
// for both; -short a smaller one. go test -run TestCut -cut.all
// runs every cut point, from 0 to the length of each direction, in both
// directions and with both FIN and RST, with or without -short.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wirecraft/websocket/internal/leakcheck"
)

var cutAll = flag.Bool("cut.all", false, "TestCut: cut after every byte in both directions, with both FIN and RST, whatever -short says")

const (
	// cutBound is how long a case may take, the ends finishing their
	// scripts and closing TCP. The close timeout below is the longest
	// legitimate wait, and each end waits at most a few of them (writing
	// its close frame, reading the peer's, waiting for the server's FIN);
	// a cut makes them shorter, not longer. Anything longer is a hang.
	cutBound        = 5 * time.Second
	cutCloseTimeout = time.Second
	// cutGrace is how long a hung case has to end once both of its
	// connections were closed with CloseNow.
	cutGrace = time.Second
	// cutBufferSize is the write buffer of both ends, the smallest there
	// is: the fragmented message goes out in several frames.
	cutBufferSize = 139
	// cutMaxHangs stops the test after this many hung cuts: each costs
	// the full bound, and the first few stack dumps tell the story.
	cutMaxHangs = 5
)

// The script's messages.
var (
	cutHelloClient = []byte("hello from the client")
	cutHelloServer = []byte("hello from the server")
	// cutFragmented is written in cutFragmentWrites writes, each larger
	// than the write buffer; its bytes are random so that compression
	// cannot fold it into one small frame.
	cutFragmented      = cutRandomBytes(3*200, 1)
	cutFragmentWrites  = 3
	cutLarge           = bytes.Repeat([]byte("a compressible line of text; "), 14)
	cutCloseReason     = "bye"
	cutDeflateSettings = &CompressionOptions{Threshold: 64} // the hellos go uncompressed
)

func cutRandomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Directions of the byte stream, as the proxy sees them.
const (
	cutC2S = 0 // client to server
	cutS2C = 1 // server to client
)

var cutDirNames = [2]string{"client→server", "server→client"}

// cutPoint says where the proxy cuts: after forwarding k bytes in
// direction dir, by FIN or RST. dir < 0 never cuts.
type cutPoint struct {
	dir int
	k   int64
	rst bool
}

func (p cutPoint) String() string {
	if p.dir < 0 {
		return "uncut"
	}
	how := "FIN"
	if p.rst {
		how = "RST"
	}
	return fmt.Sprintf("%s k=%d %s", cutDirNames[p.dir], p.k, how)
}

// cutProxy forwards one TCP connection between the client and the server
// and cuts it at its cut point.
type cutProxy struct {
	ln     net.Listener
	target string
	at     cutPoint

	mu         sync.Mutex
	conns      [2]*net.TCPConn // the client's connection, the server's
	fwd        [2]int64        // bytes forwarded in each direction
	rec        [2][]byte       // and the bytes themselves, a few KiB
	cut        bool
	writeErr   error  // a failed forward before the cut (not expected)
	serverSide string // local address of the connection to the server
	dialed     chan struct{}
	done       chan struct{} // both connections closed
}

func newCutProxy(target string, at cutPoint) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err) // loopback always has a port to spare
	}
	p := &cutProxy{ln: ln, target: target, at: at, dialed: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) run() {
	defer close(p.done)
	// One client per proxy. A client that never comes (a Dial that failed
	// before connecting) is ended by closing the listener.
	client, err := p.ln.Accept()
	p.ln.Close()
	if err != nil {
		close(p.dialed)
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		close(p.dialed)
		return
	}
	p.mu.Lock()
	p.conns = [2]*net.TCPConn{client.(*net.TCPConn), server.(*net.TCPConn)}
	p.serverSide = server.LocalAddr().String()
	if p.at.dir >= 0 && p.at.k == 0 {
		p.cutLocked()
	}
	p.mu.Unlock()
	close(p.dialed)

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(cutC2S) }()
	go func() { defer wg.Done(); p.pump(cutS2C) }()
	wg.Wait()
	client.Close()
	server.Close()
}

// pump forwards direction d until its source ends. After the cut it reads
// and drops what the source still sends, so that the ends' writes do not
// block and a FIN cut stays a FIN: closing a socket with unread bytes
// would send a RST instead.
func (p *cutProxy) pump(d int) {
	src, dst := p.conns[d], p.conns[1-d]
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.forward(d, dst, buf[:n])
		}
		if err != nil {
			p.mu.Lock()
			if !p.cut {
				// The end closed (or reset) its side: pass the end of the
				// stream on, as a TCP path would.
				dst.CloseWrite()
			}
			p.mu.Unlock()
			return
		}
	}
}

// forward writes b on, up to the cut point, and cuts once it is reached.
// The lock makes the count and the cut one step as the other direction
// sees them: nothing passes in either direction after the cut.
func (p *cutProxy) forward(d int, dst *net.TCPConn, b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return
	}
	if p.at.dir == d {
		b = b[:min(int64(len(b)), p.at.k-p.fwd[d])]
	}
	if _, err := dst.Write(b); err != nil {
		p.writeErr = fmt.Errorf("forwarding %s after %d bytes: %w", cutDirNames[d], p.fwd[d], err)
		p.cutLocked()
		return
	}
	p.fwd[d] += int64(len(b))
	p.rec[d] = append(p.rec[d], b...)
	if p.at.dir == d && p.fwd[d] >= p.at.k {
		p.cutLocked()
	}
}

func (p *cutProxy) cutLocked() {
	p.cut = true
	for _, c := range p.conns {
		if p.at.rst {
			c.SetLinger(0)
			c.Close() // the pumps' reads fail, and they end
		} else {
			c.CloseWrite()
		}
	}
}

// forwarded returns the bytes forwarded in each direction; final once
// the proxy is done.
func (p *cutProxy) forwarded() [2]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fwd
}

// abort ends the proxy at once, for a case that hung.
func (p *cutProxy) abort() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		if c != nil {
			c.SetLinger(0)
			c.Close()
		}
	}
}

// cutEndResult is how one end's script ended.
type cutEndResult struct {
	ran    bool   // the server's handler was called; the client always runs
	opened bool   // Dial or Accept succeeded
	step   string // the step that failed, "" if the script ran to its end
	err    error  // that step's error
	// status is the error Read returned once the connection was over: a
	// *CloseError with the close status, or another error.
	status error
	// badData names a message that arrived with wrong contents: never
	// acceptable, whatever the cut.
	badData string
}

// cutCase is one run of the script.
type cutCase struct {
	at       cutPoint
	compress bool
	proxy    *cutProxy

	client, server atomic.Pointer[Conn] // to unblock them if the case hangs
	serverRes      chan cutEndResult    // the handler's result, if it runs
	serverStarted  atomic.Bool
}

func (x *cutCase) connOptions() ConnOptions {
	return ConnOptions{CloseTimeout: cutCloseTimeout, WriteBufferSize: cutBufferSize}
}

// cutStepper runs an end's script one step at a time, and stops at the
// first step that fails.
type cutStepper struct {
	c   *Conn
	res *cutEndResult
}

func (s cutStepper) do(step string, f func() error) {
	if s.res.step != "" || s.res.badData != "" {
		return
	}
	if err := f(); err != nil {
		s.res.step, s.res.err = step, err
	}
}

// read reads a message and checks it: an error fails the step, a wrong
// message is bad data.
func (s cutStepper) read(step string, typ MessageType, want []byte) {
	s.do(step, func() error {
		gotTyp, got, err := s.c.Read(context.Background())
		if err != nil {
			return err
		}
		if gotTyp != typ || !bytes.Equal(got, want) {
			s.res.badData = fmt.Sprintf("%s: %s", step, cutDiff(gotTyp, got, typ, want))
		}
		return nil
	})
}

// cutDiff describes how a message differs from the one expected.
func cutDiff(typ MessageType, got []byte, wantTyp MessageType, want []byte) string {
	d := fmt.Sprintf("got %v of %d bytes, want %v of %d", typ, len(got), wantTyp, len(want))
	if len(got) < len(want) && bytes.Equal(got, want[:len(got)]) {
		return d + ": the start of the message, returned as the whole of it"
	}
	return d
}

// cutWriteFragmented writes p in several writes to one Writer, each larger
// than the write buffer, so that the message leaves in several frames.
func cutWriteFragmented(c *Conn, p []byte) error {
	w, err := c.Writer(context.Background(), MessageBinary)
	if err != nil {
		return err
	}
	size := len(p) / cutFragmentWrites
	for len(p) > 0 {
		n := min(size, len(p))
		if _, err := w.Write(p[:n]); err != nil {
			w.Close()
			return err
		}
		p = p[n:]
	}
	return w.Close()
}

type cutReadResult struct {
	typ MessageType
	p   []byte
	err error
}

func (x *cutCase) runClient(u string) cutEndResult {
	res := cutEndResult{ran: true}
	ctx, cancel := context.WithTimeout(context.Background(), cutBound)
	opts := &DialOptions{
		ConnOptions: x.connOptions(),
		Proxy:       func(*http.Request) (*url.URL, error) { return nil, nil },
	}
	if x.compress {
		opts.Compression = cutDeflateSettings
	}
	c, _, err := Dial(ctx, u, opts)
	cancel()
	if err != nil {
		res.step, res.err = "dial", err
		return res
	}
	res.opened = true
	x.client.Store(c)
	defer c.CloseNow()
	bg := context.Background()
	s := cutStepper{c, &res}

	s.do("write hello", func() error { return c.Write(bg, MessageText, cutHelloClient) })
	s.read("read hello", MessageText, cutHelloServer)
	s.do("write fragmented", func() error { return cutWriteFragmented(c, cutFragmented) })
	s.read("read fragmented", MessageBinary, cutFragmented)
	// Ping needs a reader to see the pong: the read of the next message,
	// the echo of the large one, waits in the meantime.
	var pending chan cutReadResult
	if res.step == "" && res.badData == "" {
		pending = make(chan cutReadResult, 1)
		go func() {
			typ, p, err := c.Read(bg)
			pending <- cutReadResult{typ, p, err}
		}()
	}
	s.do("ping", func() error { return c.Ping(bg) })
	s.do("write large", func() error { return c.Write(bg, MessageText, cutLarge) })
	s.do("read large", func() error {
		r := <-pending
		pending = nil
		if r.err != nil {
			return r.err
		}
		if r.typ != MessageText || !bytes.Equal(r.p, cutLarge) {
			res.badData = "read large: " + cutDiff(r.typ, r.p, MessageText, cutLarge)
		}
		return nil
	})
	s.do("close", func() error { return c.Close(StatusNormalClosure, cutCloseReason) })

	// The status: what a read sees now that the connection is over. The
	// read started for the large message is the one reader there may be.
	// After wrong data the connection may still be open, and a read would
	// wait: wrong data is the outcome then.
	switch {
	case res.badData != "":
		c.CloseNow()
		if pending != nil {
			<-pending
		}
	case pending != nil:
		res.status = (<-pending).err
	default:
		_, _, res.status = c.Read(bg)
	}
	return res
}

func (x *cutCase) serve(w http.ResponseWriter, r *http.Request) {
	x.serverStarted.Store(true)
	res := cutEndResult{ran: true}
	defer func() { x.serverRes <- res }()
	opts := &AcceptOptions{ConnOptions: x.connOptions()}
	if x.compress {
		opts.Compression = cutDeflateSettings
	}
	c, err := Accept(w, r, opts)
	if err != nil {
		res.step, res.err = "accept", err
		return
	}
	res.opened = true
	x.server.Store(c)
	defer c.CloseNow()
	bg := context.Background()
	s := cutStepper{c, &res}

	s.read("read hello", MessageText, cutHelloClient)
	s.do("write hello", func() error { return c.Write(bg, MessageText, cutHelloServer) })
	s.read("read fragmented", MessageBinary, cutFragmented)
	s.do("write fragmented", func() error { return cutWriteFragmented(c, cutFragmented) })
	s.read("read large", MessageText, cutLarge) // the ping is answered on the way
	s.do("write large", func() error { return c.Write(bg, MessageText, cutLarge) })
	if res.step == "" && res.badData == "" {
		// The client closes next: the read that sees its close frame is
		// the status.
		typ, p, err := c.Read(bg)
		if err == nil {
			res.badData = fmt.Sprintf("read close: got a %v message of %d bytes instead", typ, len(p))
		}
		res.status = err
		return
	}
	if res.badData == "" {
		_, _, res.status = c.Read(bg)
	}
}

// cutServer is the httptest server all cases share; each case has a path
// of its own, and the server tells when the connection the proxy opened
// is done with HTTP (hijacked, or closed without reaching a handler).
type cutServer struct {
	srv   *httptest.Server
	seq   atomic.Int64
	mu    sync.Mutex
	cases map[string]*cutCase
	conns map[string]chan struct{} // by the proxy's address; closed when done with HTTP
}

func newCutServer() *cutServer {
	s := &cutServer{cases: make(map[string]*cutCase), conns: make(map[string]chan struct{})}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		x := s.cases[r.URL.Path]
		s.mu.Unlock()
		if x == nil {
			http.NotFound(w, r)
			return
		}
		x.serve(w, r)
	}))
	s.srv.Config.ConnState = func(c net.Conn, state http.ConnState) {
		if state == http.StateHijacked || state == http.StateClosed {
			ch := s.httpDone(c.RemoteAddr().String())
			select {
			case <-ch: // both states reported: the first one counts
			default:
				close(ch)
			}
		}
	}
	// A cut request is net/http's to answer or drop; its complaints about
	// them are not the test's.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.Start()
	return s
}

// httpDone returns the channel closed when the server is done with HTTP
// on the connection from addr, made by whichever asks first.
func (s *cutServer) httpDone(addr string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.conns[addr]
	if !ok {
		ch = make(chan struct{})
		s.conns[addr] = ch
	}
	return ch
}

// cutRun is the outcome of one case.
type cutRun struct {
	fwd            [2]int64
	client, server cutEndResult
	proxyErr       error
	hang           string // the stack dump, if the case hung
	// stuck: what hung was still running after its connections were
	// closed, and may run for ever; the test cannot wait for it.
	stuck bool
	leak  string // the stacks of goroutines the case left running
	rec   [2][]byte
}

// run runs one case and waits for both ends and the proxy, within
// cutBound in all.
func (s *cutServer) run(at cutPoint, compress bool) cutRun {
	before := leakcheck.Take()
	x := &cutCase{at: at, compress: compress, serverRes: make(chan cutEndResult, 1)}
	// The path is the same length for every case, so that the handshake
	// is too: the cut points are byte offsets into it.
	path := fmt.Sprintf("/cut/%08d", s.seq.Add(1))
	s.mu.Lock()
	s.cases[path] = x
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.cases, path)
		s.mu.Unlock()
	}()
	x.proxy = newCutProxy(s.srv.Listener.Addr().String(), at)

	var out cutRun
	var client cutEndResult
	clientDone := make(chan struct{})
	go func() {
		defer close(clientDone)
		client = x.runClient("ws://" + x.proxy.addr() + path)
	}()

	// A wait that runs out of time dumps every stack, then closes both
	// connections and the proxy's, which must end any wait of the
	// package's; if even that does not end it, the case is stuck and the
	// waits that remain are given up.
	deadline := time.NewTimer(cutBound)
	defer deadline.Stop()
	wait := func(what string, ch <-chan struct{}) bool {
		if out.stuck {
			return false
		}
		select {
		case <-ch:
			return true
		case <-deadline.C:
		}
		out.hang = fmt.Sprintf("%s not done within %v of the cut; all goroutines:\n%s", what, cutBound, cutStacks())
		if c := x.client.Load(); c != nil {
			c.CloseNow()
		}
		if c := x.server.Load(); c != nil {
			c.CloseNow()
		}
		x.proxy.abort()
		select {
		case <-ch:
			return true
		case <-time.After(cutGrace):
		}
		out.stuck = true
		out.hang = fmt.Sprintf("%s still not done %v after CloseNow on both ends; %s", what, cutGrace, out.hang)
		return false
	}

	if wait("client", clientDone) {
		out.client = client
	}
	// The proxy is done once both ends have closed TCP.
	wait("proxy (an end has not closed its connection)", x.proxy.done)
	// The server's handler ran if the request arrived whole: net/http has
	// then hijacked the connection, or else closed it.
	if wait("the proxy's dial", x.proxy.dialed) && x.proxy.serverSide != "" {
		wait("server's HTTP connection", s.httpDone(x.proxy.serverSide))
		s.mu.Lock()
		delete(s.conns, x.proxy.serverSide)
		s.mu.Unlock()
	}
	if x.serverStarted.Load() {
		var server cutEndResult
		serverDone := make(chan struct{})
		go func() {
			defer close(serverDone)
			server = <-x.serverRes
		}()
		if wait("server", serverDone) {
			out.server = server
		}
	}
	if out.stuck {
		return out
	}
	out.fwd = x.proxy.forwarded()
	out.proxyErr = x.proxy.writeErr
	out.rec = x.proxy.rec
	if leaked := before.Leaked(cutBound); len(leaked) > 0 {
		out.leak = strings.Join(leaked, "\n\n")
	}
	return out
}

func cutStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// cutLayout is where things are in one direction's bytes, from the
// uncut run.
type cutLayout struct {
	total     int64
	handshake int64 // the HTTP request or response
	closeEnd  int64 // the end of the close frame
	frames    []cutFrame
}

type cutFrame struct {
	start, end int64
	op         opcode
	fin        bool
	rsv        byte
}

func cutLayoutOf(b []byte) (cutLayout, error) {
	l := cutLayout{total: int64(len(b))}
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		return l, errors.New("no end of the HTTP header")
	}
	off := int64(i + 4)
	l.handshake = off
	for off < l.total {
		h, n, err := parseFrameHeader(b[off:])
		if err != nil || n == 0 {
			return l, fmt.Errorf("bad frame at %d: %v", off, err)
		}
		f := cutFrame{start: off, end: off + int64(n) + h.length, op: h.opcode, fin: h.fin, rsv: h.rsv}
		l.frames = append(l.frames, f)
		if h.opcode == opClose {
			l.closeEnd = f.end
		}
		off = f.end
	}
	if off != l.total || l.closeEnd == 0 {
		return l, fmt.Errorf("stream of %d bytes ends at %d, close frame ends at %d", l.total, off, l.closeEnd)
	}
	return l, nil
}

// where names the part of the stream byte k ends: "in the handshake",
// "in frame 3 (binary)", and so on.
func (l cutLayout) where(k int64) string {
	if k < l.handshake {
		return "handshake"
	}
	if k == l.handshake {
		return "after the handshake"
	}
	for i, f := range l.frames {
		if k <= f.end {
			at := "inside"
			if k == f.end {
				at = "after"
			}
			return fmt.Sprintf("%s frame %d (%v)", at, i, f.op)
		}
	}
	return "past the end"
}

func (l cutLayout) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d bytes: handshake 0-%d", l.total, l.handshake)
	for _, f := range l.frames {
		rsv := ""
		if f.rsv&rsv1Bit != 0 {
			rsv = " compressed"
		}
		fin := ""
		if !f.fin {
			fin = " more"
		}
		fmt.Fprintf(&b, ", %v%s%s %d-%d", f.op, rsv, fin, f.start, f.end)
	}
	return b.String()
}

// cutErrKind is a short name for an error, for the tally.
func cutErrKind(err error) string {
	var ce *CloseError
	var herr *HandshakeError
	switch {
	case err == nil:
		return "nil"
	case errors.As(err, &ce):
		return fmt.Sprintf("CloseError %d", int(ce.Code))
	case errors.As(err, &herr):
		return "HandshakeError"
	case errors.Is(err, syscall.ECONNRESET):
		return "ECONNRESET"
	case errors.Is(err, syscall.EPIPE):
		return "EPIPE"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF"
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, net.ErrClosed):
		return "net.ErrClosed"
	case strings.Contains(err.Error(), "malformed"):
		// net/http's word for a response cut in the middle of a line.
		return "malformed HTTP response"
	}
	return "other: " + err.Error()
}

// judgeCutEnd checks one end against what the cut allows, and returns its
// outcome for the tally and what is wrong with it, if anything.
// reqArrived and respArrived say whether the opening handshake's request
// and response were forwarded whole, closeArrived whether the peer's close
// frame reached this end whole.
func judgeCutEnd(r cutEndResult, server, reqArrived, respArrived, closeArrived bool) (outcome, wrong string) {
	switch {
	case r.badData != "":
		return "bad data", "wrong data: " + r.badData
	case !r.ran:
		// Only the server's handler can not run.
		if reqArrived {
			return "handler not called", "the request arrived whole but the handler was not called"
		}
		return "request cut: no handler", ""
	case !r.opened:
		// The response leaves the server inside Accept: once the client
		// has it whole, neither Dial nor Accept may have failed.
		outcome = r.step + " error: " + cutErrKind(r.err)
		if respArrived {
			return outcome, fmt.Sprintf("%s failed although the handshake response arrived whole: %v", r.step, r.err)
		}
		return outcome, ""
	case !server && !respArrived:
		return "dialed", "Dial succeeded without the whole handshake response"
	}
	status := CloseStatus(r.status)
	clean := r.step == "" && status == StatusNormalClosure
	switch {
	case closeArrived && clean && !server:
		return "clean finish, CloseError 1000", ""
	case closeArrived && clean:
		return "CloseError 1000", ""
	case !closeArrived && status == StatusAbnormalClosure:
		outcome = "CloseError 1006"
	default:
		outcome = "status " + cutErrKind(r.status)
	}
	if r.step != "" && cutErrKind(r.err) != cutErrKind(r.status) {
		// The failed step's own error, where it differs from the status
		// (a write that failed, then a read).
		outcome += fmt.Sprintf(" (%s: %s)", r.step, cutErrKind(r.err))
	}
	if closeArrived {
		return outcome, fmt.Sprintf("the close frame arrived, but the script stopped at %q with %v and the status is %v", r.step, r.err, r.status)
	}
	if status != StatusAbnormalClosure {
		return outcome, fmt.Sprintf("no close frame arrived, the status is %v (CloseStatus %d), want 1006; the script stopped at %q with %v", r.status, int(status), r.step, r.err)
	}
	return outcome, ""
}

// cutReport gathers the outcomes of a set of cuts.
type cutReport struct {
	name   string
	points int
	notRun int                 // cut points left out after a case that stayed stuck
	tally  [2]map[string]int   // per end
	wrong  map[string][]string // problem → the cut points that showed it
	first  map[string]string   // problem → one detailed message
	order  []string
}

func newCutReport(name string) *cutReport {
	return &cutReport{name: name, tally: [2]map[string]int{{}, {}}, wrong: map[string][]string{}, first: map[string]string{}}
}

func (r *cutReport) problem(key, point, detail string) {
	if _, ok := r.wrong[key]; !ok {
		r.order = append(r.order, key)
		r.first[key] = detail
	}
	r.wrong[key] = append(r.wrong[key], point)
}

func (r *cutReport) log(t *testing.T) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d cut points", r.name, r.points)
	if r.notRun > 0 {
		fmt.Fprintf(&b, " (%d more not run: a hung case stayed stuck)", r.notRun)
	}
	for end, name := range []string{"client", "server"} {
		keys := make([]string, 0, len(r.tally[end]))
		for k := range r.tally[end] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "\n    %s:", name)
		for _, k := range keys {
			fmt.Fprintf(&b, " %s ×%d;", k, r.tally[end][k])
		}
	}
	t.Log(b.String())
	for _, key := range r.order {
		points := r.wrong[key]
		shown := strings.Join(points, "; ")
		if len(points) > 20 {
			shown = strings.Join(points[:20], "; ") + "; ..."
		}
		t.Errorf("%s: %s, at %d cut points: %s\n    first: %s", r.name, key, len(points), shown, r.first[key])
	}
}

// cutSample returns the cut points to run in one direction of a stream:
// all of them, or every stride-th plus the bytes around each frame
// boundary, where behaviour changes.
func cutSample(l cutLayout, stride int64) []int64 {
	if stride <= 1 {
		ks := make([]int64, 0, l.total+1)
		for k := int64(0); k <= l.total; k++ {
			ks = append(ks, k)
		}
		return ks
	}
	seen := map[int64]bool{}
	add := func(k int64) {
		if k >= 0 && k <= l.total {
			seen[k] = true
		}
	}
	for k := int64(0); k <= l.total; k += stride {
		add(k)
	}
	bounds := []int64{0, l.handshake, l.total}
	for _, f := range l.frames {
		bounds = append(bounds, f.start, f.start+1, f.end)
	}
	for _, k := range bounds {
		add(k - 1)
		add(k)
		add(k + 1)
	}
	ks := make([]int64, 0, len(seen))
	for k := range seen {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// runCutChild runs TestCut again in a child process, and reports its
// output. A case can hang so that even closing its connections does not
// end it (a loop that never reads again, say), and such a goroutine cannot
// be stopped: it must not go on running, maybe spinning, beside the
// package's other tests. The child's exit ends it.
func runCutChild(t *testing.T) {
	args := []string{"-test.run=^TestCut$", "-test.v=true", "-test.count=1"}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	if *cutAll {
		args = append(args, "-cut.all")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), cutChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	// The child's own test framing would read as this test's.
	var kept []string
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "=== RUN"), strings.HasPrefix(line, "--- "),
			line == "PASS", line == "FAIL", line == "":
			continue
		}
		kept = append(kept, line)
	}
	t.Logf("the cut cases, run in a child process:\n%s", strings.Join(kept, "\n"))
	if err != nil {
		t.Errorf("the cut cases failed (%v): see above", err)
	}
}

// cutChildEnv marks the process that runs the cut cases (see TestCut).
const cutChildEnv = "WEBSOCKET_CUT_CHILD"

func TestCut(t *testing.T) {
	if os.Getenv(cutChildEnv) == "" {
		runCutChild(t)
		return
	}
	// Each case checks for goroutines it left behind; this checks the
	// test as a whole, the shared server included, unless a case stayed
	// stuck, which is reported already and would only be reported again.
	stuck := false
	before := leakcheck.Take()
	defer func() {
		if !stuck {
			leakcheck.Verify(t, before)
		}
	}()
	srv := newCutServer()
	defer srv.srv.Close()
	start := time.Now()

	// How much to run: a sample, every stride-th byte and those around
	// each frame boundary, unless -cut.all. The sample keeps the test
	// under a minute with the race detector on two busy cores.
	finStride, rstStride := int64(4), int64(12)
	if testing.Short() {
		finStride, rstStride = 8, 24
	}
	if *cutAll {
		finStride, rstStride = 1, 1
	}

	hangs := 0
	for _, compress := range []bool{false, true} {
		scenario := "plain"
		if compress {
			scenario = "permessage-deflate"
		}
		// The uncut run, twice: the cut points are only meaningful if the
		// exchange is the same bytes (in length) every time.
		var layouts [2]cutLayout
		for i := range 2 {
			run := srv.run(cutPoint{dir: -1}, compress)
			if run.hang != "" || run.leak != "" || run.proxyErr != nil {
				t.Fatalf("%s uncut: hang %q leak %q proxy %v", scenario, run.hang, run.leak, run.proxyErr)
			}
			if o, wrong := judgeCutEnd(run.client, false, true, true, true); wrong != "" {
				t.Fatalf("%s uncut: client %s: %s", scenario, o, wrong)
			}
			if o, wrong := judgeCutEnd(run.server, true, true, true, true); wrong != "" {
				t.Fatalf("%s uncut: server %s: %s", scenario, o, wrong)
			}
			for d := range 2 {
				l, err := cutLayoutOf(run.rec[d])
				if err != nil {
					t.Fatalf("%s uncut %s: %v", scenario, cutDirNames[d], err)
				}
				if i == 1 && l.String() != layouts[d].String() {
					t.Fatalf("%s: the uncut exchange differs between runs:\n%v\n%v", scenario, layouts[d], l)
				}
				layouts[d] = l
			}
		}
		for d := range 2 {
			t.Logf("%s uncut %s: %v", scenario, cutDirNames[d], layouts[d])
		}
		if compress && !slices.ContainsFunc(layouts[cutC2S].frames, func(f cutFrame) bool { return f.rsv&rsv1Bit != 0 }) {
			t.Fatalf("%s: no compressed frame in the exchange: permessage-deflate was not negotiated", scenario)
		}

		for _, rst := range []bool{false, true} {
			stride := finStride
			variant := "FIN"
			if rst {
				stride, variant = rstStride, "RST"
			}
			for d := range 2 {
				rep := newCutReport(fmt.Sprintf("%s, %s cut %s", scenario, variant, cutDirNames[d]))
				ks := cutSample(layouts[d], stride)
				for i, k := range ks {
					at := cutPoint{dir: d, k: k, rst: rst}
					run := srv.run(at, compress)
					rep.points++
					point := fmt.Sprintf("k=%d (%s)", k, layouts[d].where(k))
					if run.hang != "" {
						// What the ends returned after CloseNow says nothing
						// about the cut: only the hang is reported.
						hangs++
						rep.tally[0]["hung"]++
						rep.tally[1]["hung"]++
						rep.problem("hang", point, run.hang)
						if run.stuck {
							stuck = true
							// Something still runs, maybe for ever; the cut
							// points after this one would run beside it.
							rep.notRun = len(ks) - i - 1
							break
						}
						if hangs >= cutMaxHangs {
							break
						}
						continue
					}
					if run.leak != "" {
						rep.problem("goroutines left over", point, run.leak)
					}
					if run.proxyErr != nil {
						rep.problem("proxy", point, run.proxyErr.Error())
					}
					// What reached each end follows from the bytes the proxy
					// forwarded before it cut, provided the handshake took as
					// many bytes as in the uncut run.
					for e := range 2 {
						if i := bytes.Index(run.rec[e], []byte("\r\n\r\n")); i >= 0 && int64(i+4) != layouts[e].handshake {
							t.Fatalf("%v: the %s handshake took %d bytes, %d in the uncut run", at, cutDirNames[e], i+4, layouts[e].handshake)
						}
					}
					reqArrived := run.fwd[cutC2S] >= layouts[cutC2S].handshake
					respArrived := run.fwd[cutS2C] >= layouts[cutS2C].handshake
					outcome, wrong := judgeCutEnd(run.client, false, reqArrived, respArrived, run.fwd[cutS2C] >= layouts[cutS2C].closeEnd)
					rep.tally[0][outcome]++
					if wrong != "" {
						rep.problem("client: "+outcome, point, wrong)
					}
					outcome, wrong = judgeCutEnd(run.server, true, reqArrived, respArrived, run.fwd[cutC2S] >= layouts[cutC2S].closeEnd)
					rep.tally[1][outcome]++
					if wrong != "" {
						rep.problem("server: "+outcome, point, wrong)
					}
				}
				rep.log(t)
				if hangs >= cutMaxHangs {
					t.Fatalf("stopped after %d hung cuts", hangs)
				}
			}
		}
	}
	t.Logf("all cuts in %v", time.Since(start).Round(time.Millisecond))
}
