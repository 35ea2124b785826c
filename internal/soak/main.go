// Command soak holds many WebSocket connections to a server built on this
// package for a while, under a mixed load, then closes them all, and
// checks that nothing was lost and that the server gave back what it took.
//
//	go run ./internal/soak                      10,000 connections for 60 s
//	go run ./internal/soak -conns 200 -duration 5s
//
// The server runs in a process of its own (server.go), so that its memory
// and goroutines are measured apart from the clients'. It echoes every
// message, and broadcasts a message to every connection each second,
// through a rooms.Hub (or, with -broadcast prepared, a PreparedMessage
// written to each connection). Half of the connections are idle: they only
// receive the broadcasts. The other half also send messages of 16 bytes to
// 64 KiB, at random intervals around -echo-every, and check each echo
// against what they sent. A quarter of the connections, idle and active
// alike, negotiate permessage-deflate. The connections come from many
// loopback addresses (127.0.x.y), so that no one address runs out of
// ephemeral ports. The hub closes a connection it cannot write to within
// -write-timeout (2 minutes here, 10 s in rooms by default, which a busy
// machine can exceed without any connection being at fault).
//
// After -duration the senders stop, the driver waits for the last echoes
// and broadcasts, and every client closes with 1000. The report gives the
// messages sent and received (echo and broadcast apart), the errors by
// kind, and the server's goroutines, RSS and Go heap and stack at the
// start, with every connection open, at the peak and after the close. The
// exit status is 1 if a message was lost, an error occurred, or the server
// did not come back to its baseline: goroutines within -goroutine-slack,
// heap and stack in use within -memory-slack.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/rooms"
)

func main() {
	if os.Getenv(roleEnv) == "server" {
		os.Exit(runServer())
	}
	cfg := defaultConfig()
	flag.IntVar(&cfg.Conns, "conns", cfg.Conns, "connections to open")
	flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the load runs, between the last connection opening and the close")
	flag.DurationVar(&cfg.EchoEvery, "echo-every", cfg.EchoEvery, "mean interval between the messages of one active connection")
	flag.DurationVar(&cfg.BroadcastEvery, "broadcast-every", cfg.BroadcastEvery, "interval between broadcasts")
	flag.StringVar(&cfg.Broadcast, "broadcast", cfg.Broadcast, "how the server broadcasts: rooms (a rooms.Hub) or prepared (a PreparedMessage per broadcast)")
	flag.IntVar(&cfg.MaxSize, "max-size", cfg.MaxSize, "largest echo message, in bytes")
	flag.DurationVar(&cfg.WriteTimeout, "write-timeout", cfg.WriteTimeout, "the rooms hub's write timeout, after which it closes a connection it cannot write to (0: rooms.DefaultWriteTimeout, 10s); the driver's writes wait this long too, or 30 s if that is longer")
	flag.IntVar(&cfg.GoroutineSlack, "goroutine-slack", cfg.GoroutineSlack, "goroutines the server may have above its baseline after the close")
	flag.Int64Var(&cfg.MemorySlack, "memory-slack", cfg.MemorySlack, "bytes of heap and stack in use the server may have above its baseline after the close")
	flag.DurationVar(&cfg.Progress, "progress", cfg.Progress, "interval between progress lines while the load runs (0: none)")
	flag.StringVar(&cfg.DumpDir, "dump", "", "directory to write the goroutine profiles of the server and the driver to, at the first progress line that counts an error")
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	rep, err := run(cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if len(rep.failures) > 0 {
		os.Exit(1)
	}
}

type config struct {
	Conns          int
	Duration       time.Duration
	EchoEvery      time.Duration
	BroadcastEvery time.Duration
	Broadcast      string
	// WriteTimeout is the rooms hub's: a write that takes longer closes
	// the connection; 0 leaves rooms' default, 10 s. The soak's default
	// is longer: it looks for what the package loses or leaks, not for
	// rooms' slow-client policy, and a machine shared with other work can
	// keep a process from running for tens of seconds (writes stalled past
	// 30 s with 10,000 connections at a load average of 25 on two cores),
	// which closes healthy connections as too slow.
	WriteTimeout   time.Duration
	MinSize        int
	MaxSize        int
	GoroutineSlack int
	MemorySlack    int64
	// DrainTimeout bounds the wait for the last echoes and broadcasts,
	// and each wait of the close.
	DrainTimeout time.Duration
	// Progress is how often a line of progress is printed while the load
	// runs; 0 prints none.
	Progress time.Duration
	// DumpDir, if set, receives server.goroutines and driver.goroutines,
	// the goroutine profiles of both processes, taken at the first
	// progress line that counts an error.
	DumpDir string
}

// defaultConfig is the soak of make soak. Its echo rate, a message every
// 10 s from each of 5,000 active connections, is 500 messages a second,
// about 4 MB/s each way: a load two shared cores keep up with. At one
// every 2 s (20 MB/s) the server's garbage collector fell behind on such a
// machine, busy with other work, and writes stalled past rooms' write
// timeout.
func defaultConfig() config {
	return config{
		Conns:          10000,
		Duration:       60 * time.Second,
		EchoEvery:      10 * time.Second,
		WriteTimeout:   2 * time.Minute,
		BroadcastEvery: time.Second,
		Broadcast:      "rooms",
		MinSize:        16,
		MaxSize:        64 << 10,
		GoroutineSlack: 10,
		MemorySlack:    16 << 20,
		DrainTimeout:   60 * time.Second,
		Progress:       30 * time.Second,
	}
}

// The first byte of every message says what it is.
const (
	tagEcho      = 'E'
	tagBroadcast = 'B'
)

// The bytes messages are cut from: random ones, which do not compress,
// and text, which does. Each echo message takes its bytes from one of the
// two, so that compressed connections see both.
var (
	randomBlock = func() []byte {
		r := rand.New(rand.NewPCG(1, 2))
		b := make([]byte, 64<<10)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}()
	textBlock = func() []byte {
		words := strings.Fields("the quick brown fox jumps over the lazy dog while a websocket soak keeps ten thousand connections open and counts every message")
		r := rand.New(rand.NewPCG(3, 4))
		var b []byte
		for len(b) < 64<<10 {
			b = append(b, words[r.IntN(len(words))]...)
			b = append(b, ' ')
		}
		return b[:64<<10]
	}()
)

// counter counts errors by kind.
type counter struct {
	mu sync.Mutex
	m  map[string]int64
}

func (c *counter) add(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]int64)
	}
	c.m[kind]++
}

func (c *counter) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int64, len(c.m))
	for k, v := range c.m {
		m[k] = v
	}
	return m
}

var digits = regexp.MustCompile(`[0-9]+`)

// errKind names the kind of an error, for counting: the same failure on
// two connections must give the same name, so addresses and ports are
// left out.
func errKind(err error) string {
	var ce *websocket.CloseError
	var herr *websocket.HandshakeError
	switch {
	case errors.As(err, &ce):
		return fmt.Sprintf("CloseError %d", int(ce.Code))
	case errors.As(err, &herr):
		return fmt.Sprintf("handshake %d", herr.Status)
	case errors.Is(err, websocket.ErrProtocol):
		return "protocol error"
	case errors.Is(err, websocket.ErrInvalidUTF8):
		return "invalid UTF-8"
	case errors.Is(err, websocket.ErrMessageTooBig):
		return "message too big"
	case errors.Is(err, syscall.ECONNRESET):
		return "ECONNRESET"
	case errors.Is(err, syscall.EPIPE):
		return "EPIPE"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "ECONNREFUSED"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "EADDRNOTAVAIL"
	case errors.Is(err, syscall.EMFILE):
		return "EMFILE"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, net.ErrClosed):
		return "closed"
	}
	return "other: " + digits.ReplaceAllString(err.Error(), "N")
}

// raiseFileLimit raises RLIMIT_NOFILE to at least need if it can, and
// returns the limit in force. Raising the hard limit takes privilege; the
// soft limit can always go up to the hard one.
func raiseFileLimit(need uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= need {
		return lim.Cur, nil
	}
	want := syscall.Rlimit{Cur: need, Max: max(lim.Max, need)}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil {
		want = syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return 0, fmt.Errorf("setrlimit: %w", err)
		}
	}
	if want.Cur < need {
		return want.Cur, fmt.Errorf("RLIMIT_NOFILE is %d and cannot be raised; %d are needed", want.Cur, need)
	}
	return want.Cur, nil
}

// serverProc is the server process and the pipe to give it commands.
type serverProc struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	addr string
	mu   sync.Mutex
}

func startServer(cfg config) (*serverProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	scfg, _ := json.Marshal(serverConfig{Broadcast: cfg.Broadcast, BroadcastEvery: cfg.BroadcastEvery, Conns: cfg.Conns, WriteTimeout: cfg.WriteTimeout})
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), roleEnv+"=server", configEnv+"="+string(scfg))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &serverProc{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 64<<10)}
	var hello struct{ Addr string }
	if err := s.read(&hello); err != nil {
		s.stop()
		return nil, fmt.Errorf("server did not start: %w", err)
	}
	s.addr = hello.Addr
	return s, nil
}

func (s *serverProc) read(v any) error {
	line, err := s.out.ReadBytes('\n')
	if err != nil {
		return err
	}
	return json.Unmarshal(line, v)
}

// do sends a command and decodes its answer.
func (s *serverProc) do(cmd string, v any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := io.WriteString(s.in, cmd+"\n"); err != nil {
		return fmt.Errorf("server command %q: %w", cmd, err)
	}
	if err := s.read(v); err != nil {
		return fmt.Errorf("server command %q: %w", cmd, err)
	}
	return nil
}

func (s *serverProc) stats(gc bool) (serverStats, error) {
	var st serverStats
	cmd := "stats"
	if gc {
		cmd = "stats gc"
	}
	err := s.do(cmd, &st)
	return st, err
}

// stop ends the server: it exits when its stdin ends.
func (s *serverProc) stop() error {
	s.in.Close()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		return <-done
	}
}

// client is one connection of the driver's.
type client struct {
	id       int
	c        *websocket.Conn
	active   bool // sends messages to be echoed
	compress bool

	mu       sync.Mutex
	pending  [][]byte // sent, echo not yet received, oldest first
	echoSent int64
	echoRecv int64
	lastSeq  int64 // the last broadcast received
	closing  bool  // the driver has started to close the connection

	readDone chan struct{}
	final    error // why the reader stopped; set before readDone is closed
}

// tally is what the clients saw, in all.
type tally struct {
	echoSent, echoRecv, echoBytes atomic.Int64
	bcastRecv                     atomic.Int64
	errors                        counter
}

// localAddr returns the loopback address connection i dials from: 250
// connections per address, from 127.0.1.2 on, so that the connections to
// the one server address spread over many ephemeral port ranges.
func localAddr(i int) *net.TCPAddr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+i/250), byte(2+i%250))}
}

func (cl *client) dial(ctx context.Context, addr string) error {
	d := &net.Dialer{LocalAddr: localAddr(cl.id)}
	opts := &websocket.DialOptions{
		NetDialContext: d.DialContext,
		Proxy:          func(*http.Request) (*url.URL, error) { return nil, nil },
	}
	if cl.compress {
		opts.Compression = &websocket.CompressionOptions{ClientNoContextTakeover: true, Threshold: 128}
	}
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/", opts)
	if err != nil {
		return err
	}
	cl.c = c
	return nil
}

// read receives until the connection ends: echoes, checked against what
// was sent, and broadcasts, checked to come in order.
func (cl *client) read(t *tally) {
	defer close(cl.readDone)
	for {
		_, p, err := cl.c.Read(context.Background())
		if err != nil {
			cl.final = err
			cl.mu.Lock()
			closing := cl.closing
			cl.mu.Unlock()
			if !closing || websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.errors.add("read: " + errKind(err))
			}
			return
		}
		if len(p) < 9 {
			t.errors.add("short message")
			continue
		}
		switch p[0] {
		case tagEcho:
			cl.mu.Lock()
			var want []byte
			if len(cl.pending) > 0 {
				want = cl.pending[0]
				cl.pending = cl.pending[1:]
			}
			cl.echoRecv++
			cl.mu.Unlock()
			t.echoRecv.Add(1)
			if !equal(want, p) {
				t.errors.add(echoMismatch(cl.compress, want, p))
			}
		case tagBroadcast:
			seq := int64(binary.BigEndian.Uint64(p[1:]))
			cl.mu.Lock()
			last := cl.lastSeq
			cl.lastSeq = seq
			cl.mu.Unlock()
			t.bcastRecv.Add(1)
			if seq != last+1 {
				t.errors.add("broadcast out of sequence")
			}
		default:
			t.errors.add("message with an unknown tag")
		}
	}
}

func equal(a, b []byte) bool { return a != nil && string(a) == string(b) }

// echoMismatch names how an echo differs from the message sent: cut short
// (the start of the message, returned as the whole of it) or otherwise.
func echoMismatch(compressed bool, want, got []byte) string {
	kind := "echo differs from the message sent"
	switch {
	case want == nil:
		kind = "echo of a message not sent"
	case len(got) < len(want) && string(got) == string(want[:len(got)]):
		kind = "echo is the start of the message sent, cut short"
	}
	if compressed {
		return kind + " (permessage-deflate)"
	}
	return kind
}

// send writes messages of random sizes at random intervals until ctx ends.
func (cl *client) send(ctx context.Context, cfg config, t *tally, seed uint64) {
	r := rand.New(rand.NewPCG(seed, uint64(cl.id)))
	timer := time.NewTimer(jitter(r, cfg.EchoEvery))
	defer timer.Stop()
	var seq uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		seq++
		p := echoPayload(r, cfg, seq)
		// Pending before the write: the echo may come back before Write
		// returns.
		cl.mu.Lock()
		cl.pending = append(cl.pending, p)
		cl.echoSent++
		cl.mu.Unlock()
		// A bound, so that a server that stopped reading shows as an
		// error rather than a driver that never ends.
		wctx, cancel := context.WithTimeout(context.Background(), max(30*time.Second, cfg.WriteTimeout))
		err := cl.c.Write(wctx, websocket.MessageBinary, p)
		cancel()
		if err != nil {
			t.errors.add("write: " + errKind(err))
			return
		}
		t.echoSent.Add(1)
		t.echoBytes.Add(int64(len(p)))
		timer.Reset(jitter(r, cfg.EchoEvery))
	}
}

// jitter returns a random interval between half and one and a half mean.
func jitter(r *rand.Rand, mean time.Duration) time.Duration {
	return mean/2 + time.Duration(r.Int64N(int64(mean)+1))
}

// echoPayload builds a message of a size between MinSize and MaxSize,
// spread evenly on a log scale (as many messages of 16 to 256 bytes as of
// 4 to 64 KiB), cut from the random or the text block.
func echoPayload(r *rand.Rand, cfg config, seq uint64) []byte {
	lo, hi := math.Log(float64(cfg.MinSize)), math.Log(float64(cfg.MaxSize))
	size := int(math.Exp(lo + r.Float64()*(hi-lo)))
	size = min(max(size, 9), cfg.MaxSize)
	p := make([]byte, size)
	p[0] = tagEcho
	binary.BigEndian.PutUint64(p[1:], seq)
	src := randomBlock
	if r.IntN(2) == 0 {
		src = textBlock
	}
	off := r.IntN(len(src) - size + 10)
	copy(p[9:], src[off:])
	return p
}

// memFigures is one row of the server's memory and goroutines.
type memFigures struct {
	Goroutines int
	VmRSS      int64
	HeapInuse  uint64
	StackInuse uint64
}

func figuresOf(st serverStats) memFigures {
	return memFigures{st.Goroutines, st.VmRSS, st.HeapInuse, st.StackInuse}
}

// report is the outcome of a run.
type report struct {
	cfg                               config
	dialed, active, compressed        int
	echoSent, echoRecv, echoBytes     int64
	broadcasts, bcastWant, bcastRecv  int64
	serverDeliveries                  int64
	errors                            map[string]int64 // client side
	serverErrors                      map[string]int64
	normalCloses, serverNormal        int64
	baseline, connected, after        memFigures
	peakMu                            sync.Mutex // the sampler's and run's
	peak                              memFigures
	peakHWM                           int64
	clientBaseline, clientAfter       int
	connectTime, drainTime, closeTime time.Duration
	loadTime                          time.Duration
	failures                          []string
}

// run runs the soak and writes the report to w. The error is for a soak
// that could not run; what it found is in the report.
func run(cfg config, w io.Writer) (*report, error) {
	if _, err := raiseFileLimit(uint64(cfg.Conns) + 256); err != nil {
		return nil, err
	}
	clientBaseline := runtime.NumGoroutine()
	srv, err := startServer(cfg)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	rep := &report{cfg: cfg, clientBaseline: clientBaseline}
	base, err := srv.stats(true)
	if err != nil {
		return nil, err
	}
	rep.baseline = figuresOf(base)
	fmt.Fprintf(w, "soak: server at %s (pid %d), %d connections, broadcast by %s every %v, echo every %v on average, for %v\n",
		srv.addr, srv.cmd.Process.Pid, cfg.Conns, cfg.Broadcast, cfg.BroadcastEvery, cfg.EchoEvery, cfg.Duration)

	// The peak: sampled until the close is over.
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-sampling:
				return
			case <-tick.C:
			}
			if st, err := srv.stats(false); err == nil {
				rep.notePeak(st)
			}
		}
	}()
	stopSampling := func() {
		if sampling != nil {
			close(sampling)
			<-sampled
			sampling = nil
		}
	}
	defer stopSampling()

	// Connect.
	t := &tally{}
	clients := make([]*client, cfg.Conns)
	for i := range clients {
		clients[i] = &client{
			id:       i,
			active:   i%2 == 0,
			compress: i%8 < 2, // a quarter: half of them active, half idle
			readDone: make(chan struct{}),
		}
	}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(cfg.Conns, 200) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(clients) {
					return
				}
				cl := clients[i]
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := cl.dial(ctx, srv.addr)
				cancel()
				if err != nil {
					t.errors.add("dial: " + errKind(err))
					continue
				}
				go cl.read(t)
			}
		}()
	}
	wg.Wait()
	var open []*client
	for _, cl := range clients {
		if cl.c != nil {
			open = append(open, cl)
			rep.dialed++
			if cl.active {
				rep.active++
			}
			if cl.compress {
				rep.compressed++
			}
		}
	}
	rep.connectTime = time.Since(start)
	// Every connection the server accepted is being served before the
	// broadcasts start: a broadcast must reach all of them.
	if err := waitFor(cfg.DrainTimeout, func() (bool, error) {
		st, err := srv.stats(false)
		return st.Conns >= int64(len(open)), err
	}); err != nil {
		rep.fail("the server does not count all %d connections open: %v", len(open), err)
	}
	connected, err := srv.stats(true)
	if err != nil {
		return nil, err
	}
	rep.connected = figuresOf(connected)
	rep.notePeak(connected)
	fmt.Fprintf(w, "soak: %d connections open in %v (%d failed); server: %s\n",
		len(open), rep.connectTime.Round(time.Millisecond), cfg.Conns-len(open), rep.connected)

	// The load.
	loadCtx, stopLoad := context.WithCancel(context.Background())
	var senders sync.WaitGroup
	seed := uint64(time.Now().UnixNano())
	for _, cl := range open {
		if cl.active {
			senders.Add(1)
			go func() {
				defer senders.Done()
				cl.send(loadCtx, cfg, t, seed)
			}()
		}
	}
	var started struct{ OK bool }
	if err := srv.do("broadcast start", &started); err != nil {
		stopLoad()
		return nil, err
	}
	loadStart := time.Now()
	progress := time.NewTicker(max(cfg.Progress, time.Second))
	deadline := time.NewTimer(cfg.Duration)
	for running := true; running; {
		select {
		case <-deadline.C:
			running = false
		case <-progress.C:
			if cfg.Progress > 0 {
				st, _ := srv.stats(false)
				errs := total(t.errors.snapshot()) + total(st.Errors)
				fmt.Fprintf(w, "soak: %v: echo %d sent, %d received; broadcasts %d, %d received; errors %d; server: %s, %d open\n",
					time.Since(loadStart).Round(time.Second), t.echoSent.Load(), t.echoRecv.Load(),
					st.Broadcasts, t.bcastRecv.Load(), errs, figuresOf(st), st.Conns)
				if errs > 0 && cfg.DumpDir != "" {
					dumpStacks(w, srv, cfg.DumpDir)
					cfg.DumpDir = ""
				}
				// The server can be slow to answer under load: do not let
				// that stretch the run.
				if time.Since(loadStart) >= cfg.Duration {
					running = false
				}
			}
		}
	}
	progress.Stop()
	stopLoad()
	senders.Wait()
	rep.loadTime = time.Since(loadStart)
	var stopped serverStats
	if err := srv.do("broadcast stop", &stopped); err != nil {
		return nil, err
	}
	rep.broadcasts = stopped.Broadcasts
	rep.serverDeliveries = stopped.Deliveries

	// The last echoes and broadcasts.
	start = time.Now()
	if err := waitFor(cfg.DrainTimeout, func() (bool, error) {
		for _, cl := range open {
			cl.mu.Lock()
			done := len(cl.pending) == 0 && cl.lastSeq >= rep.broadcasts
			cl.mu.Unlock()
			select {
			case <-cl.readDone:
				done = true // it will get nothing more
			default:
			}
			if !done {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		rep.fail("echoes or broadcasts still missing %v after the load stopped", cfg.DrainTimeout)
	}
	rep.drainTime = time.Since(start)

	// The close: every client closes with 1000, and its reader returns
	// the server's reply.
	start = time.Now()
	for _, cl := range open {
		cl.mu.Lock()
		cl.closing = true
		cl.mu.Unlock()
	}
	var closers sync.WaitGroup
	next.Store(0)
	for range min(len(open), 200) {
		closers.Add(1)
		go func() {
			defer closers.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(open) {
					return
				}
				if err := open[i].c.Close(websocket.StatusNormalClosure, "soak over"); err != nil {
					select {
					case <-open[i].readDone: // it had ended already, and was counted
					default:
						t.errors.add("close: " + errKind(err))
					}
				}
			}
		}()
	}
	closers.Wait()
	readersDeadline := time.After(cfg.DrainTimeout)
	stuck := 0
	for _, cl := range open {
		select {
		case <-cl.readDone:
		case <-readersDeadline:
		}
		select {
		case <-cl.readDone:
			if websocket.CloseStatus(cl.final) == websocket.StatusNormalClosure {
				rep.normalCloses++
			}
		default:
			stuck++
		}
	}
	if stuck > 0 {
		rep.fail("%d readers have not returned %v after Close", stuck, cfg.DrainTimeout)
	}
	if err := waitFor(cfg.DrainTimeout, func() (bool, error) {
		st, err := srv.stats(false)
		return st.Conns == 0, err
	}); err != nil {
		rep.fail("the server still has connections open %v after the close: %v", cfg.DrainTimeout, err)
	}
	rep.closeTime = time.Since(start)
	stopSampling()

	// After: the server's goroutines end a moment after its connections
	// do, so wait (within the bound) for them to come back to the
	// baseline before taking the figures.
	var after serverStats
	waitFor(cfg.DrainTimeout, func() (bool, error) {
		var err error
		after, err = srv.stats(true)
		return after.Goroutines <= rep.baseline.Goroutines+cfg.GoroutineSlack, err
	})
	rep.after = figuresOf(after)
	rep.peakHWM = after.VmHWM
	rep.serverErrors = after.Errors
	rep.serverNormal = after.NormalCloses
	if rep.serverErrors == nil {
		rep.serverErrors = make(map[string]int64)
	}
	if after.DroppedMessages > 0 || after.DroppedMembers > 0 {
		rep.serverErrors["rooms: messages dropped"] += int64(after.DroppedMessages)
		rep.serverErrors["rooms: members dropped"] += int64(after.DroppedMembers)
	}
	waitFor(10*time.Second, func() (bool, error) {
		return runtime.NumGoroutine() <= clientBaseline+cfg.GoroutineSlack, nil
	})
	rep.clientAfter = runtime.NumGoroutine()

	rep.echoSent, rep.echoRecv, rep.echoBytes = t.echoSent.Load(), t.echoRecv.Load(), t.echoBytes.Load()
	rep.bcastWant = rep.broadcasts * int64(len(open))
	rep.bcastRecv = t.bcastRecv.Load()
	rep.errors = t.errors.snapshot()
	rep.judge()
	rep.print(w)
	return rep, nil
}

// dumpStacks writes the goroutine profiles of the server and the driver
// to dir.
func dumpStacks(w io.Writer, srv *serverProc, dir string) {
	serverFile, driverFile := filepath.Join(dir, "server.goroutines"), filepath.Join(dir, "driver.goroutines")
	var res struct{ Error string }
	if err := srv.do("stacks "+serverFile, &res); err != nil || res.Error != "" {
		fmt.Fprintf(w, "soak: server stacks: %v %s\n", err, res.Error)
	}
	if err := writeStacks(driverFile); err != nil {
		fmt.Fprintf(w, "soak: driver stacks: %v\n", err)
	}
	fmt.Fprintf(w, "soak: goroutine profiles in %s and %s\n", serverFile, driverFile)
}

func (r *report) notePeak(st serverStats) {
	r.peakMu.Lock()
	defer r.peakMu.Unlock()
	f := figuresOf(st)
	r.peak.Goroutines = max(r.peak.Goroutines, f.Goroutines)
	r.peak.VmRSS = max(r.peak.VmRSS, f.VmRSS)
	r.peak.HeapInuse = max(r.peak.HeapInuse, f.HeapInuse)
	r.peak.StackInuse = max(r.peak.StackInuse, f.StackInuse)
}

func (r *report) fail(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// judge adds the failures the figures show.
func (r *report) judge() {
	cfg := r.cfg
	if r.dialed < cfg.Conns {
		r.fail("%d of %d connections could not be opened", cfg.Conns-r.dialed, cfg.Conns)
	}
	if r.echoRecv != r.echoSent {
		r.fail("echo: %d sent, %d received", r.echoSent, r.echoRecv)
	}
	if r.bcastRecv != r.bcastWant {
		r.fail("broadcast: %d expected (%d × %d connections), %d received", r.bcastWant, r.broadcasts, r.dialed, r.bcastRecv)
	}
	if r.serverDeliveries != r.bcastWant {
		r.fail("broadcast: the server sent %d, %d expected", r.serverDeliveries, r.bcastWant)
	}
	if n := total(r.errors) + total(r.serverErrors); n > 0 {
		r.fail("%d errors", n)
	}
	if r.normalCloses != int64(r.dialed) || r.serverNormal != int64(r.dialed) {
		r.fail("closes with 1000: %d seen by the clients, %d by the server, of %d connections", r.normalCloses, r.serverNormal, r.dialed)
	}
	if r.after.Goroutines > r.baseline.Goroutines+cfg.GoroutineSlack {
		r.fail("server goroutines: %d after the close, %d at the baseline (slack %d)", r.after.Goroutines, r.baseline.Goroutines, cfg.GoroutineSlack)
	}
	if r.clientAfter > r.clientBaseline+cfg.GoroutineSlack {
		r.fail("driver goroutines: %d after the close, %d before (slack %d)", r.clientAfter, r.clientBaseline, cfg.GoroutineSlack)
	}
	inUse := func(f memFigures) int64 { return int64(f.HeapInuse + f.StackInuse) }
	if inUse(r.after) > inUse(r.baseline)+cfg.MemorySlack {
		r.fail("server heap and stack in use: %s after the close, %s at the baseline (slack %s)",
			mib(inUse(r.after)), mib(inUse(r.baseline)), mib(cfg.MemorySlack))
	}
}

func (r *report) print(w io.Writer) {
	cfg := r.cfg
	fmt.Fprintf(w, "\nsoak report: %d connections (%d echoing, %d idle; %d with permessage-deflate), broadcast by %s every %v, echo every %v on average\n",
		r.dialed, r.active, r.dialed-r.active, r.compressed, cfg.Broadcast, cfg.BroadcastEvery, cfg.EchoEvery)
	if cfg.Broadcast == "rooms" {
		wt := cfg.WriteTimeout
		if wt <= 0 {
			wt = rooms.DefaultWriteTimeout
		}
		fmt.Fprintf(w, "  rooms write timeout %v\n", wt)
	}
	fmt.Fprintf(w, "  connect %v, load %v, drain %v, close %v\n", r.connectTime.Round(time.Millisecond), r.loadTime.Round(time.Millisecond), r.drainTime.Round(time.Millisecond), r.closeTime.Round(time.Millisecond))
	fmt.Fprintf(w, "  echo:       sent %d, received %d, lost %d (%s sent, %d–%d bytes each)\n",
		r.echoSent, r.echoRecv, r.echoSent-r.echoRecv, mib(r.echoBytes), cfg.MinSize, cfg.MaxSize)
	fmt.Fprintf(w, "  broadcast:  %d sent × %d connections = %d expected, received %d, lost %d (the server queued %d, to the connections it had at each broadcast)\n",
		r.broadcasts, r.dialed, r.bcastWant, r.bcastRecv, r.bcastWant-r.bcastRecv, r.serverDeliveries)
	fmt.Fprintf(w, "  closes with 1000: %d seen by the clients, %d by the server\n", r.normalCloses, r.serverNormal)
	printErrors := func(name string, m map[string]int64) {
		if total(m) == 0 {
			fmt.Fprintf(w, "  errors (%s): none\n", name)
			return
		}
		fmt.Fprintf(w, "  errors (%s):\n", name)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if m[k] > 0 {
				fmt.Fprintf(w, "    %8d  %s\n", m[k], k)
			}
		}
	}
	printErrors("clients", r.errors)
	printErrors("server", r.serverErrors)
	fmt.Fprintf(w, "  server          goroutines     VmRSS  HeapInuse  StackInuse  heap+stack\n")
	row := func(name string, f memFigures) {
		fmt.Fprintf(w, "    %-12s %10d %9s %10s %11s %11s\n", name, f.Goroutines, mib(f.VmRSS), mib(int64(f.HeapInuse)), mib(int64(f.StackInuse)), mib(int64(f.HeapInuse+f.StackInuse)))
	}
	row("baseline", r.baseline)
	row("all open", r.connected)
	row("peak", r.peak)
	row("after close", r.after)
	fmt.Fprintf(w, "    (baseline, all open and after close after a GC; peak sampled every 0.5 s; VmHWM, the kernel's RSS peak: %s)\n", mib(r.peakHWM))
	if r.dialed > 0 {
		fmt.Fprintf(w, "    per connection, all open: %s heap+stack, %s RSS over the baseline\n",
			kib(int64(r.connected.HeapInuse+r.connected.StackInuse-r.baseline.HeapInuse-r.baseline.StackInuse)/int64(r.dialed)),
			kib((r.connected.VmRSS-r.baseline.VmRSS)/int64(r.dialed)))
	}
	fmt.Fprintf(w, "  driver goroutines: %d before, %d after\n", r.clientBaseline, r.clientAfter)
	if len(r.failures) == 0 {
		fmt.Fprintf(w, "PASS: nothing lost, no errors, server back to its baseline (goroutines within +%d, heap+stack within +%s)\n", cfg.GoroutineSlack, mib(cfg.MemorySlack))
		return
	}
	for _, f := range r.failures {
		fmt.Fprintf(w, "FAIL: %s\n", f)
	}
}

func (f memFigures) String() string {
	return fmt.Sprintf("%d goroutines, VmRSS %s, heap %s, stack %s", f.Goroutines, mib(f.VmRSS), mib(int64(f.HeapInuse)), mib(int64(f.StackInuse)))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
func kib(n int64) string { return fmt.Sprintf("%.2f KiB", float64(n)/(1<<10)) }

func total(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// waitFor polls cond until it holds, fails, or timeout passes.
func waitFor(timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		done, err := cond()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done within %v", timeout)
		}
		time.Sleep(wait)
	}
}
