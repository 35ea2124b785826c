// A randomized stress test of the whole Conn under the concurrency
// contract stated on it: one reader, any number of writers, Close,
// CloseNow and the Set methods from anywhere.
//
// Each iteration connects a fresh pair of Conns over one of three
// transports (TCP with the HTTP/1.1 upgrade, an in-memory net.Pipe with
// the same upgrade, an HTTP/2 stream of RFC 8441) with or without
// permessage-deflate, and runs on each end one reader and 1–8 goroutines
// doing random operations: Write, WriteUncompressed, WriteFrom, Writer
// (sometimes used again after its Close), WritePrepared (sometimes one
// prepared message from several goroutines at once), Ping, Flush, deadline
// changes, context cancellation in the middle of a write, Close and
// CloseNow. The server end comes from Accept or from Handler. Every data
// message names its sender, writer and sequence number and carries its
// length and a CRC-32 of its body, so the receiving end checks that:
//
//   - every message received was sent, whole and unmixed with another;
//   - each writer's messages arrive in order, none twice, and none missing
//     before one that arrived (a message whose write returned nil was on
//     the wire before its writer's next one started);
//   - after a closing handshake the receiving end did not start, every
//     message whose write returned nil before the sender's close frame
//     went out has arrived;
//   - a message writer used after its Close returns ErrWriterClosed;
//   - nothing fails while no goroutine has closed the connection, set a
//     short deadline or cancelled a context (such failures are spurious);
//   - no reader sees the peer break the protocol;
//   - no goroutine panics, every call returns within a bound once the
//     connection is being closed, nothing stalls while it is open, and no
//     writer waits while many more messages than there are writers pass
//     it (a starved waiter);
//   - no goroutine outlives its iteration (internal/leakcheck);
//   - and, under -race, no data race.
//
// The random choices of iteration i come from the seed -stress.seed + i,
// so that a failing iteration's choices are replayed by passing its seed
// as -stress.seed (the goroutines' interleaving is the scheduler's, so a
// replay makes the failure likely, not certain). make stress runs it for
// STRESSTIME with the race detector.
//
// The HTTP/2 client end runs on the test's own HTTP/2 client
// (h2client_test.go), the only one that can open such a stream; its
// SetWriteDeadline does nothing, and its writes give up after 10 s
// without flow-control credit.

package websocket

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirecraft/websocket/internal/leakcheck"
)

var (
	stressSeed  = flag.Int64("stress.seed", 0, "TestStress: seed of the first iteration (iteration i uses seed+i); 0 takes one from the clock")
	stressTime  = flag.Duration("stress.time", 3*time.Second, "TestStress: how long to keep starting iterations")
	stressTrace = flag.Bool("stress.trace", false, "TestStress: print a line to stderr as each iteration starts, so that a race report or a crash can be matched to its seed")
)

// Bounds of the watchdog. They are liveness bounds, far above what any
// step takes on a loaded machine under the race detector: passing one
// means something is stuck, not slow.
const (
	// stressCloseBound: once a goroutine has called Close or CloseNow,
	// every goroutine of the iteration returns within this much, plus
	// twice the close timeout (the longest Close itself may wait: for the
	// wire, then for the peer's close frame).
	stressCloseBound = 10 * time.Second
	// stressStallBound: while the connection is open, some operation
	// completes or some bytes arrive at least this often.
	stressStallBound = 20 * time.Second
	// stressMaxFailures caps the failures reported per iteration: one
	// broken invariant often breaks many messages.
	stressMaxFailures = 20
)

// TestStress runs random iterations for -stress.time.
//
// HTTP/2 needs GODEBUG=http2xconnect=1 in the environment at start (see
// TestHTTP2). Without it the test runs itself again in a child process
// that has it, with the same seed; make stress sets it, so that the run's
// output streams as it goes.
func TestStress(t *testing.T) {
	seed := *stressSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	if !strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
		stressInChild(t, seed)
		return
	}
	t.Logf("stress: seed %d, starting iterations for %v (-stress.seed=%d replays them)", seed, *stressTime, seed)

	var tot stressTotals
	start := time.Now()
	for i := int64(0); i == 0 || time.Since(start) < *stressTime; i++ {
		it := newStressIteration(t, seed+i)
		if *stressTrace {
			fmt.Fprintf(os.Stderr, "stress iteration %d seed %d: %v\n", i, it.seed, it.cfg)
		}
		ok := it.run()
		tot.add(it)
		if !ok {
			tot.failedSeeds = append(tot.failedSeeds, it.seed)
		}
	}
	t.Logf("stress totals: seeds %d..%d, iterations %d (tcp %d, pipe %d, h2 %d; compressed %d), writes that returned nil %d, messages checked %d, failures %d (failed iterations %d), longest undisturbed call %v (%s), most messages passing a waiting writer %d (of %d writers), %v",
		seed, seed+tot.iterations-1, tot.iterations, tot.byTransport["tcp"], tot.byTransport["pipe"], tot.byTransport["h2"], tot.compressed,
		tot.sent, tot.checked, tot.failures, len(tot.failedSeeds), tot.longestCall.Round(time.Millisecond), tot.longestWhat, tot.mostOvertaken, tot.mostOvertakenWriters, time.Since(start).Round(time.Millisecond))
	if len(tot.failedSeeds) > 0 {
		t.Errorf("stress: failing seeds %v; run one alone with -stress.seed=SEED -stress.time=1ns", tot.failedSeeds)
	}
}

// stressInChild runs TestStress in a child process whose environment has
// GODEBUG=http2xconnect=1, and reports its outcome.
func stressInChild(t *testing.T, seed int64) {
	ctx := context.Background()
	timeout := "0"
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-5*time.Second))
		defer cancel()
		timeout = time.Until(d.Add(-10 * time.Second)).String()
	}
	args := []string{
		"-test.run=^TestStress$", "-test.v", "-test.count=1", "-test.timeout=" + timeout,
		"-stress.seed=" + strconv.FormatInt(seed, 10), "-stress.time=" + stressTime.String(),
	}
	if *stressTrace {
		args = append(args, "-stress.trace")
	}
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	godebug := "http2xconnect=1"
	if prev := os.Getenv("GODEBUG"); prev != "" {
		godebug = prev + "," + godebug
	}
	cmd.Env = append(os.Environ(), "GODEBUG="+godebug)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestStress")) {
		t.Fatalf("TestStress with GODEBUG=%s, seed %d: %v\n%s", godebug, seed, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if _, msg, ok := strings.Cut(line, ": "); ok && strings.HasPrefix(line, "stress_test.go:") {
			line = msg // the child's file:line, which t.Log adds again
		}
		if strings.HasPrefix(line, "stress: ") || strings.HasPrefix(line, "stress totals: ") {
			t.Log(line)
		}
	}
}

type stressTotals struct {
	iterations  int64
	byTransport map[string]int64
	compressed  int64
	sent        int64
	checked     int64
	failures    int64
	failedSeeds []int64
	longestCall time.Duration
	longestWhat string // the call, and its iteration's seed
	// The most messages that passed a waiting writer, and the writers
	// that could have.
	mostOvertaken, mostOvertakenWriters int64
}

func (tot *stressTotals) add(it *stressIteration) {
	if tot.byTransport == nil {
		tot.byTransport = map[string]int64{}
	}
	tot.iterations++
	tot.byTransport[it.cfg.transport]++
	if it.cfg.compress != nil {
		tot.compressed++
	}
	tot.sent += it.sent
	tot.checked += it.checked
	tot.failures += int64(it.failures)
	if it.mostOvertaken > tot.mostOvertaken {
		tot.mostOvertaken, tot.mostOvertakenWriters = it.mostOvertaken, it.mostOvertakenWriters
	}
	if it.longestCall > tot.longestCall {
		tot.longestCall = it.longestCall
		tot.longestWhat = fmt.Sprintf("%s, seed %d", it.longestWhat, it.seed)
	}
}

// stressConfig is what an iteration's seed chooses before it starts.
type stressConfig struct {
	transport    string // "tcp", "pipe" or "h2"
	viaHandler   bool   // the server end comes from Handler rather than Accept
	compress     *CompressionOptions
	opts         [2]ConnOptions // of the client and of the server
	workers      [2]int
	ops          [2]int // the most operations a worker of that end does
	disturb      int    // 0: nothing closes the connection before the end; 1: now and then; 2: often
	teardown     int    // how the harness closes the connection at the end: see stressTeardowns
	closeTimeout time.Duration
}

func (cfg stressConfig) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", cfg.transport)
	if cfg.viaHandler {
		b.WriteString(" Handler")
	}
	if c := cfg.compress; c != nil {
		fmt.Fprintf(&b, " deflate(level %d threshold %d no-takeover s%v c%v bits s%d c%d)", c.Level, c.Threshold,
			c.ServerNoContextTakeover, c.ClientNoContextTakeover, c.ServerMaxWindowBits, c.ClientMaxWindowBits)
	}
	for e, name := range [2]string{"client", "server"} {
		o := cfg.opts[e]
		fmt.Fprintf(&b, " %s(workers %d, ops ≤%d, buffers r%d w%d", name, cfg.workers[e], cfg.ops[e], o.ReadBufferSize, o.WriteBufferSize)
		if o.CoalesceWrites {
			b.WriteString(", coalesce")
		}
		if o.PingInterval > 0 {
			fmt.Fprintf(&b, ", keepalive %v", o.PingInterval)
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, " disturb %d, teardown %q, close timeout %v", cfg.disturb, stressTeardowns[cfg.teardown], cfg.closeTimeout)
	return b.String()
}

// stressTeardowns are the ways the harness ends an iteration once the
// workers are done.
var stressTeardowns = []string{
	"close client then server",
	"close both at once",
	"close client only",
	"close server only",
	"close-now both",
	"close-now client only",
	"close-now server only",
}

func chooseStressConfig(r *rand.Rand) stressConfig {
	var cfg stressConfig
	cfg.transport = []string{"tcp", "pipe", "h2"}[r.IntN(3)]
	cfg.viaHandler = r.IntN(2) == 0
	if r.IntN(2) == 0 {
		cfg.compress = &CompressionOptions{
			// The higher levels search harder; they cost time without
			// reaching code the lower ones do not.
			Level:                   1 + r.IntN(6),
			Threshold:               []int{0, 0, 64, 1024}[r.IntN(4)],
			ServerNoContextTakeover: r.IntN(3) == 0,
			ClientNoContextTakeover: r.IntN(3) == 0,
			ServerMaxWindowBits:     []int{0, 0, 8, 9, 12, 15}[r.IntN(6)],
			ClientMaxWindowBits:     []int{0, 0, 8, 9, 12, 15}[r.IntN(6)],
		}
	}
	cfg.closeTimeout = time.Duration(200+r.IntN(1800)) * time.Millisecond
	for e := range 2 {
		sizes := []int{0, 0, 139, 512, 4096, 16384}
		cfg.opts[e] = ConnOptions{
			CloseTimeout:    cfg.closeTimeout,
			ReadBufferSize:  sizes[r.IntN(len(sizes))],
			WriteBufferSize: sizes[r.IntN(len(sizes))],
			CoalesceWrites:  r.IntN(3) == 0,
		}
		if r.IntN(8) == 0 {
			// Keepalive pings between the workers' own; a pong later than
			// the timeout would close the connection, which nothing
			// excuses on a connection that is being read.
			cfg.opts[e].PingInterval = time.Duration(20+r.IntN(200)) * time.Millisecond
			cfg.opts[e].PongTimeout = stressStallBound / 2
		}
		cfg.workers[e] = 1 + r.IntN(8)
		cfg.ops[e] = 1 + r.IntN(40)
	}
	cfg.disturb = []int{0, 1, 1, 2}[r.IntN(4)]
	cfg.teardown = r.IntN(len(stressTeardowns))
	return cfg
}

// stressIteration is one connected pair and everything done with it.
type stressIteration struct {
	t    *testing.T
	seed int64
	cfg  stressConfig
	ends [2]*stressEnd // client, server

	wg sync.WaitGroup // every goroutine of the iteration but the harness's

	// disturbed is set before any operation that may legitimately break
	// the connection: Close, CloseNow, a short deadline, a context that
	// ends during a call. Until it is set, no operation may fail.
	disturbed atomic.Bool
	// closeAt is when the first Close or CloseNow was called, in
	// UnixNano; 0 until then. It starts the watchdog's close bound.
	closeAt atomic.Int64
	// progress counts completed operations and received bytes, for the
	// watchdog's stall bound.
	progress atomic.Int64
	// longestCall is the longest a worker's call took while nothing had
	// disturbed the connection, and longestWhat the call.
	longestMu   sync.Mutex
	longestCall time.Duration
	longestWhat string
	// mostOvertaken is the most messages that passed a waiting writer
	// (see checkOvertaken), and mostOvertakenWriters the writers then.
	mostOvertaken, mostOvertakenWriters int64

	bcastMu  sync.Mutex
	bcast    map[uint32]*stressBcast // prepared messages sent by several goroutines, by sequence number
	bcastSeq atomic.Uint32

	failMu   sync.Mutex
	failures int

	sent    int64 // messages whose write returned nil
	checked int64 // messages received and checked
}

// stressEnd is one of the two Conns and the record of what went through
// it.
type stressEnd struct {
	it      *stressIteration
	name    byte // 'c' or 's', as in message headers
	role    string
	conn    *Conn
	peer    *stressEnd
	writers []*stressWriter

	closeCalled   atomic.Bool  // Close was called on this end: it may then drop what it reads (see Close)
	emptyAttempts atomic.Int64 // messages without a header written, whatever the outcome
	messagesDone  atomic.Int64 // data message calls that returned, whatever the outcome (see checkOvertaken)

	// Set by the reader, read once the iteration's goroutines are done.
	received  []stressReceived
	empties   int
	readerErr error
	// gotClose: the reader ended with the peer's close frame, which it
	// reached by reading everything before it; readerOnly: and no Close
	// on this end could have read (and dropped) some of it instead.
	gotClose, readerOnly bool
}

// stressWriter is one writing goroutine's record: sent[i] is its message
// with sequence number i+1.
type stressWriter struct {
	id   int
	sent []stressSent
	// done is closed when the worker has returned. Workers run in it.wg
	// with the readers, which only end once the connection closes: the
	// harness waits for the workers alone before it closes it.
	done chan struct{}
}

type stressSent struct {
	crc    uint32
	length int // of the body
	typ    MessageType
	done   bool  // the call returned
	ok     bool  // it returned nil
	err    error // what it returned
	// beforeClose: ok, and this end's close frame had not been sent when
	// the call returned, so the message is ahead of it on the wire.
	beforeClose bool
}

// stressBcast is a prepared message sent by several goroutines at once.
type stressBcast struct {
	crc    uint32
	length int
	typ    MessageType
	copies int
	got    [2]int // copies received by the client, the server
}

// stressReceived is a message as the reader saw it.
type stressReceived struct {
	h       stressHeader
	typ     MessageType
	partial bool // only the header was read: the reader moved on before the end
	// bad says what is wrong with a message whose header parsed but whose
	// body does not match it; excerpt is its start. verify reports it with
	// what its writer's call returned.
	bad     error
	size    int
	excerpt []byte
}

func newStressIteration(t *testing.T, seed int64) *stressIteration {
	r := rand.New(rand.NewPCG(uint64(seed), 0))
	it := &stressIteration{t: t, seed: seed, cfg: chooseStressConfig(r), bcast: map[uint32]*stressBcast{}}
	for e, name := range []byte{'c', 's'} {
		end := &stressEnd{it: it, name: name, role: [2]string{"client", "server"}[e]}
		for id := range it.cfg.workers[e] {
			end.writers = append(end.writers, &stressWriter{id: id, done: make(chan struct{})})
		}
		it.ends[e] = end
	}
	it.ends[0].peer, it.ends[1].peer = it.ends[1], it.ends[0]
	return it
}

// fail reports a broken invariant, with what it takes to replay it.
func (it *stressIteration) fail(format string, args ...any) {
	it.failMu.Lock()
	defer it.failMu.Unlock()
	it.failures++
	if it.failures > stressMaxFailures {
		return
	}
	it.t.Errorf("stress seed %d (%v): %s", it.seed, it.cfg, fmt.Sprintf(format, args...))
}

func (it *stressIteration) failed() bool {
	it.failMu.Lock()
	defer it.failMu.Unlock()
	return it.failures > 0
}

// goroutine runs f as one of the iteration's goroutines, turning a panic
// into a failure that names the seed.
func (it *stressIteration) goroutine(what string, f func()) {
	it.wg.Add(1)
	go func() {
		defer it.wg.Done()
		defer func() {
			if v := recover(); v != nil {
				it.fail("%s panicked: %v\n%s", what, v, debugStack())
			}
		}()
		f()
	}()
}

func debugStack() []byte {
	buf := make([]byte, 64<<10)
	return buf[:runtime.Stack(buf, false)]
}

// closing records that a Close or CloseNow is about to be called.
func (it *stressIteration) closing() {
	it.disturbed.Store(true)
	it.closeAt.CompareAndSwap(0, time.Now().UnixNano())
}

// stressOneMessage are the operations that send one data message, taking
// the message lock once.
var stressOneMessage = map[string]bool{
	"write": true, "write-uncompressed": true, "write-from": true,
	"writer": true, "empty": true, "prepared": true,
}

// checkOvertaken checks how many other messages of the same end were
// written while one operation waited for the message lock and wrote its
// own. The locks are fair: a goroutine that has written waits behind those
// already waiting, so each other writer can get ahead of a waiter once.
// A lock that lets newcomers overtake its waiters lets one writer starve
// while the others go on, which the stall bound does not see. The
// allowance is twice the writers that can be at the lock (a worker and
// the goroutines of a shared prepared message), plus a few: a goroutine
// can be descheduled on its way to the lock, and on a loaded machine
// others may pass it before it joins the queue. Time is no measure here:
// eight fair writers of large messages on a loaded machine legitimately
// wait for seconds.
func (e *stressEnd) checkOvertaken(op string, overtaken int64) {
	writers := int64(len(e.writers)) * stressMaxCopies
	if e.it.disturbed.Load() {
		return
	}
	e.it.longestMu.Lock()
	if overtaken > e.it.mostOvertaken {
		e.it.mostOvertaken, e.it.mostOvertakenWriters = overtaken, writers
	}
	e.it.longestMu.Unlock()
	if overtaken > 2*writers+8 {
		e.it.fail("%s on the %s waited while %d other messages of the %s were written (at most %d writers): a waiter starved", op, e.role, overtaken, e.role, writers)
	}
}

// tookUndisturbed records the longest call on a connection nothing had
// disturbed, for the totals.
func (it *stressIteration) tookUndisturbed(op string, e *stressEnd, d time.Duration) {
	if it.disturbed.Load() {
		return
	}
	it.longestMu.Lock()
	defer it.longestMu.Unlock()
	if d > it.longestCall {
		it.longestCall, it.longestWhat = d, op+" on the "+e.role
	}
}

// run runs the iteration and checks it; it returns false if it failed.
func (it *stressIteration) run() bool {
	before := leakcheck.Take()
	teardownTransport, err := it.connect()
	if err != nil {
		it.fail("connecting: %v", err)
		return false
	}

	r := rand.New(rand.NewPCG(uint64(it.seed), 1))
	for e, end := range it.ends {
		end.conn.SetReadLimit(-1)
		readerSeed := r.Uint64()
		it.goroutine(end.role+" reader", func() { end.read(rand.New(rand.NewPCG(readerSeed, 2))) })
		for _, w := range end.writers {
			ops := 1 + r.IntN(it.cfg.ops[e])
			workerSeed := r.Uint64()
			it.goroutine(fmt.Sprintf("%s worker %d", end.role, w.id), func() {
				end.work(w, rand.New(rand.NewPCG(workerSeed, 3)), ops)
			})
		}
	}

	workersDone := make(chan struct{})
	go func() {
		defer close(workersDone)
		for _, end := range it.ends {
			for _, w := range end.writers {
				<-w.done
			}
		}
	}()
	healthy := it.watch(workersDone, "the workers to finish")
	if !healthy {
		it.closeNowBoth()
	}

	// The teardown closes the connection as the config says; the readers,
	// the handlers and the transports must then all end. After a hang
	// CloseNow has closed it already, and what is left is to wait.
	finished := make(chan struct{})
	closeCleanly := healthy // healthy may change below, while this runs
	go func() {
		defer close(finished)
		if closeCleanly {
			it.teardown()
		}
		it.wg.Wait()
		teardownTransport()
	}()
	if healthy && !it.watch(finished, "the connection to close and every goroutine to return") {
		healthy = false
		it.closeNowBoth()
	}
	select {
	case <-finished:
	case <-time.After(stressCloseBound):
		it.t.Fatalf("stress seed %d: goroutines still blocked %v after CloseNow on both ends; stopping, since later iterations would run beside them:\n\n%s",
			it.seed, stressCloseBound, stressAllStacks())
	}

	if healthy {
		it.verify()
	}
	if leaked := before.Leaked(leakcheck.DefaultTimeout); len(leaked) > 0 {
		// Later iterations take their own snapshots, which include these:
		// they are reported once.
		it.fail("%d goroutine(s) outlived the iteration:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
	}
	return !it.failed()
}

// watch waits for done while enforcing the stall and close bounds. If a
// bound passes first, it reports the hang with every goroutine's stack and
// returns false.
func (it *stressIteration) watch(done <-chan struct{}, what string) bool {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	lastProgress, lastChange := it.progress.Load(), time.Now()
	closeBound := stressCloseBound + 2*it.cfg.closeTimeout
	for {
		select {
		case <-done:
			return true
		case now := <-tick.C:
			if p := it.progress.Load(); p != lastProgress {
				lastProgress, lastChange = p, now
			}
			var problem string
			if at := it.closeAt.Load(); at != 0 {
				if since := now.Sub(time.Unix(0, at)); since > closeBound {
					problem = fmt.Sprintf("still waiting for %s %v after the first Close or CloseNow (bound %v)", what, since.Round(time.Millisecond), closeBound)
				}
			} else if since := now.Sub(lastChange); since > stressStallBound {
				problem = fmt.Sprintf("no progress for %v while the connection is open, waiting for %s", since.Round(time.Millisecond), what)
			}
			if problem != "" {
				it.fail("%s; every goroutine:\n\n%s", problem, stressAllStacks())
				return false
			}
		}
	}
}

// closeNowBoth closes both ends after a hang was reported, to free the
// goroutines blocked on them.
func (it *stressIteration) closeNowBoth() {
	it.closing() // what fails from here on is this CloseNow's doing
	for _, end := range it.ends {
		end.conn.CloseNow()
	}
}

func stressAllStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// teardown ends the iteration's connection as the config says.
func (it *stressIteration) teardown() {
	client, server := it.ends[0], it.ends[1]
	closeEnd := func(e *stressEnd) {
		it.closing()
		e.closeCalled.Store(true)
		e.conn.Close(StatusNormalClosure, "teardown")
	}
	closeNow := func(e *stressEnd) {
		it.closing()
		e.conn.CloseNow()
	}
	switch stressTeardowns[it.cfg.teardown] {
	case "close client then server":
		closeEnd(client)
		closeEnd(server)
	case "close both at once":
		var wg sync.WaitGroup
		for _, e := range it.ends {
			wg.Add(1)
			go func() { defer wg.Done(); closeEnd(e) }()
		}
		wg.Wait()
	case "close client only":
		closeEnd(client)
	case "close server only":
		closeEnd(server)
	case "close-now both":
		closeNow(client)
		closeNow(server)
	case "close-now client only":
		closeNow(client)
	case "close-now server only":
		closeNow(server)
	}
	// Closing one end must end the other: through the closing handshake,
	// or because its transport ends. Done says so.
	for _, e := range it.ends {
		<-e.conn.Done()
	}
	for _, e := range it.ends {
		e.checkClosed()
	}
}

// checkClosed checks what the calls do on a connection that is closed:
// Close and CloseNow report net.ErrClosed, and nothing can be sent.
func (e *stressEnd) checkClosed() {
	it, c := e.it, e.conn
	if err := c.Close(StatusNormalClosure, ""); !errors.Is(err, net.ErrClosed) {
		it.fail("Close on the closed %s returned %v, want an error wrapping net.ErrClosed", e.role, err)
	}
	if err := c.CloseNow(); !errors.Is(err, net.ErrClosed) {
		it.fail("CloseNow on the closed %s returned %v, want an error wrapping net.ErrClosed", e.role, err)
	}
	if err := c.Write(context.Background(), MessageBinary, []byte("after the end")); err == nil {
		it.fail("Write on the closed %s returned nil", e.role)
	}
	if err := c.Ping(context.Background()); err == nil {
		it.fail("Ping on the closed %s returned nil", e.role)
	}
	if w, err := c.Writer(context.Background(), MessageBinary); err == nil {
		_, werr := w.Write([]byte("after the end"))
		if cerr := w.Close(); werr == nil && cerr == nil {
			it.fail("a Writer on the closed %s took a message", e.role)
		}
	}
}

// connect makes the pair over the configured transport, and returns the
// function that releases the transport once both Conns are closed.
func (it *stressIteration) connect() (teardown func(), err error) {
	type accepted struct {
		c          *Conn
		extensions string // the Sec-WebSocket-Extensions answered
	}
	acceptedc := make(chan accepted, 1)
	// serving counts the server's goroutine that holds the Conn: the
	// handler, or the goroutine Handler starts for it over HTTP/1.1.
	var serving sync.WaitGroup
	serving.Add(1) // one request per iteration
	aopts := &AcceptOptions{ConnOptions: it.cfg.opts[1], Compression: it.cfg.compress}
	var handler http.Handler
	if it.cfg.viaHandler {
		// Handler runs serve inside the request's handler over HTTP/2, so
		// the ResponseWriter, recorded on the way in, has the answered
		// header by the time serve runs; over HTTP/1.1 it is not needed.
		var w http.ResponseWriter
		inner := Handler(aopts, func(_ context.Context, c *Conn) {
			defer serving.Done()
			var extensions string
			if it.cfg.transport == "h2" {
				extensions = w.Header().Get("Sec-WebSocket-Extensions")
			}
			acceptedc <- accepted{c, extensions}
			<-c.Done()
		})
		handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			w = rw
			inner.ServeHTTP(rw, r)
		})
	} else {
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer serving.Done()
			c, err := Accept(w, r, aopts)
			if err != nil {
				it.fail("Accept: %v", err)
				return
			}
			acceptedc <- accepted{c, w.Header().Get("Sec-WebSocket-Extensions")}
			// Over HTTP/2 the connection is this handler's stream.
			<-c.Done()
		})
	}
	quiet := log.New(io.Discard, "", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	waitAccepted := func() (accepted, error) {
		select {
		case a := <-acceptedc:
			return a, nil
		case <-ctx.Done():
			return accepted{}, errors.New("the handler did not accept within 20 s")
		}
	}
	dopts := &DialOptions{
		ConnOptions: it.cfg.opts[0],
		Compression: it.cfg.compress,
		Proxy:       func(*http.Request) (*url.URL, error) { return nil, nil },
	}

	var client *Conn
	var server accepted
	switch it.cfg.transport {
	case "tcp":
		srv := httptest.NewUnstartedServer(handler)
		srv.Config.ErrorLog = quiet
		srv.Start()
		teardown = func() { srv.Close(); serving.Wait() }
		if client, _, err = Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", dopts); err == nil {
			server, err = waitAccepted()
		}
	case "pipe":
		ln := newStressPipeListener()
		srv := &http.Server{Handler: handler, ErrorLog: quiet}
		served := make(chan struct{})
		go func() { defer close(served); srv.Serve(ln) }()
		teardown = func() { srv.Close(); <-served; serving.Wait() }
		dopts.NetDialContext = ln.dial
		if client, _, err = Dial(ctx, "ws://stress.pipe/ws", dopts); err == nil {
			server, err = waitAccepted()
		}
	case "h2":
		srv := httptest.NewUnstartedServer(handler)
		srv.EnableHTTP2 = true
		srv.Config.ErrorLog = quiet
		srv.StartTLS()
		// The test's own HTTP/2 client (h2client_test.go) speaks the
		// frames; the Conn runs on its stream as Dial's would on TCP.
		hc := dialH2(it.t, srv)
		teardown = func() { hc.nc.Close(); srv.Close(); serving.Wait() }
		fields := []string{"sec-websocket-version", "13"}
		if it.cfg.compress != nil {
			fields = append(fields, "sec-websocket-extensions", deflateOffer(it.cfg.compress).String())
		}
		st := hc.connect(it.t, "/ws", fields...)
		if st.status != "200" {
			err = fmt.Errorf("extended CONNECT answered %q", st.status)
			break
		}
		if server, err = waitAccepted(); err != nil {
			break
		}
		var deflate *deflateConfig
		if server.extensions != "" {
			// What Dial does with the response's header over HTTP/1.1.
			var exts []extension
			if exts, err = parseExtensions(http.Header{"Sec-Websocket-Extensions": {server.extensions}}); err != nil {
				break
			}
			cfg, ok, derr := acceptDeflateResponse(exts, it.cfg.compress)
			if err = derr; err != nil {
				break
			}
			if ok {
				deflate = &cfg
			}
		}
		client = newConn(st, false, nil, "", &it.cfg.opts[0], deflate)
	}
	if err != nil {
		if client != nil {
			client.CloseNow()
		}
		if server.c != nil {
			server.c.CloseNow()
		}
		// The handler may never have run: teardown would wait for it.
		go teardown()
		return nil, err
	}
	it.ends[0].conn, it.ends[1].conn = client, server.c
	return teardown, nil
}

// stressPipeListener hands the server ends of in-memory pipes to an
// http.Server; its dial gives the client ends to Dial (through
// DialOptions.NetDialContext). A net.Pipe has no buffer: a write waits
// until the peer has read all of it, which makes every large write block
// and keeps both ends in lock-step.
type stressPipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newStressPipeListener() *stressPipeListener {
	return &stressPipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *stressPipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *stressPipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *stressPipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *stressPipeListener) Addr() net.Addr { return stressPipeAddr{} }

type stressPipeAddr struct{}

func (stressPipeAddr) Network() string { return "pipe" }
func (stressPipeAddr) String() string  { return "stress.pipe" }

// Messages. A data message is a header of stressHeaderLen ASCII bytes,
// then its body, ASCII too so that any message may be sent as text:
//
//	"WS" end type writer(2 hex) seq(8 hex) length(8 hex) crc(8 hex) kind '|'
//
// end is 'c' or 's' (the sender), type 't' or 'b', writer ff for a
// prepared message sent by several goroutines, length and crc those of the
// body, kind the operation that sent it. A message without a header is an
// empty message: it says nothing of its sender, so empty messages are only
// counted.
const stressHeaderLen = 32

type stressHeader struct {
	end    byte
	typ    MessageType
	writer int
	seq    uint32
	length int
	crc    uint32
	kind   byte
}

const stressBcastWriter = 0xff

// stressMaxCopies is the most goroutines that send one shared prepared
// message.
const stressMaxCopies = 4

func (h stressHeader) String() string {
	return fmt.Sprintf("%c/%d#%d(%c, %d bytes)", h.end, h.writer, h.seq, h.kind, h.length)
}

func appendStressHeader(b []byte, h stressHeader) []byte {
	typ := byte('b')
	if h.typ == MessageText {
		typ = 't'
	}
	b = append(b, 'W', 'S', h.end, typ)
	b = fmt.Appendf(b, "%02x%08x%08x%08x", h.writer, h.seq, h.length, h.crc)
	return append(b, h.kind, '|')
}

// parseStressHeader reads the header of msg and checks the body against
// it.
func parseStressHeader(msg []byte) (stressHeader, error) {
	var h stressHeader // its zero value, end 0, for a header that does not parse
	if len(msg) < stressHeaderLen {
		return h, fmt.Errorf("%d bytes, shorter than a header", len(msg))
	}
	hdr := msg[:stressHeaderLen]
	if hdr[0] != 'W' || hdr[1] != 'S' || hdr[31] != '|' {
		return h, errors.New("no header")
	}
	kind := hdr[30]
	switch hdr[3] {
	case 't':
		h.typ = MessageText
	case 'b':
		h.typ = MessageBinary
	default:
		return stressHeader{}, errors.New("bad type in header")
	}
	fields := [4]uint64{}
	for i, span := range [4][2]int{{4, 6}, {6, 14}, {14, 22}, {22, 30}} {
		v, err := strconv.ParseUint(string(hdr[span[0]:span[1]]), 16, 32)
		if err != nil {
			return stressHeader{}, fmt.Errorf("bad header field: %v", err)
		}
		fields[i] = v
	}
	h.end, h.kind = hdr[2], kind
	h.writer, h.seq, h.length, h.crc = int(fields[0]), uint32(fields[1]), int(fields[2]), uint32(fields[3])
	if h.end != 'c' && h.end != 's' {
		return stressHeader{}, errors.New("bad sender in header")
	}
	return h, nil
}

// checkStressBody checks a whole message's body against its header.
func checkStressBody(h stressHeader, msg []byte) error {
	body := msg[stressHeaderLen:]
	if len(body) != h.length {
		return fmt.Errorf("body of %d bytes, header says %d", len(body), h.length)
	}
	if crc := crc32.ChecksumIEEE(body); crc != h.crc {
		return fmt.Errorf("body CRC %08x, header says %08x", crc, h.crc)
	}
	return nil
}

// stressBodies is the text bodies are cut from: random letters, made once
// from a fixed seed. Slices of one buffer cost nothing to make, and a
// body misplaced by a few bytes still fails its CRC.
var stressBodies = func() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n"
	b := make([]byte, 2<<20)
	for i := range b {
		// A skewed choice, so that compression has something to find.
		b[i] = letters[min(r.IntN(len(letters)), r.IntN(len(letters)))]
	}
	return b
}()

// stressBodySize picks a body size: empty, small, around the write buffer
// (where a message starts to need two frames or two writes), large, and
// now and then up to 1 MiB, which keeps writes blocked on the transport.
func (e *stressEnd) stressBodySize(r *rand.Rand) int {
	wbuf := bufferSize(e.it.cfg.opts[e.index()].WriteBufferSize)
	// The package's compressor is slow under the race detector: a
	// compressed connection gets its large messages an eighth of the
	// size, large enough still to span many buffers and windows.
	large := 1
	if e.it.cfg.compress != nil {
		large = 8
	}
	switch n := r.IntN(1000); {
	case n < 80:
		return 0
	case n < 400:
		return 1 + r.IntN(64)
	case n < 600:
		return 65 + r.IntN(1000)
	case n < 750:
		return max(0, wbuf-stressHeaderLen+r.IntN(65)-32)
	case n < 800:
		return max(0, DefaultBufferSize-stressHeaderLen+r.IntN(65)-32)
	case n < 950:
		return 4<<10 + r.IntN(60<<10)
	case n < 990:
		return (64<<10 + r.IntN(192<<10)) / large
	}
	return (256<<10 + r.IntN(768<<10)) / large
}

func (e *stressEnd) index() int {
	if e.name == 'c' {
		return 0
	}
	return 1
}

// newMessage builds the writer's next message and records it as sent
// before any of it goes out.
func (w *stressWriter) newMessage(e *stressEnd, r *rand.Rand, typ MessageType, kind byte) ([]byte, int) {
	n := e.stressBodySize(r)
	off := r.IntN(len(stressBodies) - n + 1)
	body := stressBodies[off : off+n]
	h := stressHeader{end: e.name, typ: typ, writer: w.id, seq: uint32(len(w.sent) + 1), length: n, crc: crc32.ChecksumIEEE(body), kind: kind}
	msg := appendStressHeader(make([]byte, 0, stressHeaderLen+n), h)
	msg = append(msg, body...)
	w.sent = append(w.sent, stressSent{crc: h.crc, length: n, typ: typ})
	return msg, len(w.sent) - 1
}

// finished records how the write of message i ended.
func (w *stressWriter) finished(e *stressEnd, i int, err error) {
	s := &w.sent[i]
	s.done = true
	s.ok = err == nil
	s.err = err
	s.beforeClose = s.ok && !e.conn.closeSent.Load()
}

// check reports an error that nothing excuses: no goroutine had done
// anything that may break the connection.
func (e *stressEnd) check(op string, err error) {
	if err != nil && !e.it.disturbed.Load() {
		e.it.fail("%s on the %s failed though nothing had closed or disturbed the connection: %v", op, e.role, err)
	}
}

// context returns a context for one call. Most cannot end during it;
// with disturbances on, some end soon, which may close the connection
// (that is what a context ending during a blocked call does).
func (e *stressEnd) context(r *rand.Rand) (context.Context, context.CancelFunc) {
	if pct := [3]int{0, 2, 15}[e.it.cfg.disturb]; r.IntN(100) < pct {
		e.it.disturbed.Store(true)
		if r.IntN(2) == 0 {
			return context.WithTimeout(context.Background(), time.Duration(r.IntN(20000))*time.Microsecond)
		}
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(time.Duration(r.IntN(5000))*time.Microsecond, cancel)
		return ctx, func() { timer.Stop(); cancel() }
	}
	switch r.IntN(3) {
	case 0:
		return context.Background(), func() {}
	case 1:
		// Long enough never to end: it makes the Conn watch the context.
		return context.WithTimeout(context.Background(), time.Hour)
	}
	return context.WithCancel(context.Background())
}

func randomStressType(r *rand.Rand) MessageType {
	if r.IntN(3) == 0 {
		return MessageText
	}
	return MessageBinary
}

// Operations, by weight in thousandths. Close and CloseNow only come
// with disturbances on; see work.
var stressOps = []struct {
	name   string
	weight int
}{
	{"write", 230},
	{"write-uncompressed", 50},
	{"write-from", 60},
	{"writer", 170},
	{"empty", 30},
	{"prepared", 80},
	{"prepared-shared", 30},
	{"ping", 80},
	{"flush", 50},
	{"set", 60},
	{"close", 0},
	{"close-now", 0},
}

// work does up to ops random operations on the end's Conn.
func (e *stressEnd) work(w *stressWriter, r *rand.Rand, ops int) {
	defer close(w.done)
	closeWeight := [3]int{0, 2, 10}[e.it.cfg.disturb]
	total := closeWeight * 2
	for _, op := range stressOps {
		total += op.weight
	}
	for range ops {
		pick := r.IntN(total)
		name := "close"
		for _, op := range stressOps {
			if pick < op.weight {
				name = op.name
				break
			}
			pick -= op.weight
		}
		if name == "close" && pick >= closeWeight {
			name = "close-now"
		}
		start, written := time.Now(), e.messagesDone.Load()
		e.do(name, w, r)
		e.it.progress.Add(1)
		e.it.tookUndisturbed(name, e, time.Since(start))
		if stressOneMessage[name] {
			e.checkOvertaken(name, e.messagesDone.Load()-written)
			e.messagesDone.Add(1)
		}
	}
}

func (e *stressEnd) do(op string, w *stressWriter, r *rand.Rand) {
	it := e.it
	c := e.conn
	switch op {
	case "write", "write-uncompressed":
		typ := randomStressType(r)
		kind := byte('w')
		if op == "write-uncompressed" {
			kind = 'u'
		}
		msg, i := w.newMessage(e, r, typ, kind)
		ctx, cancel := e.context(r)
		var err error
		if kind == 'u' {
			err = c.WriteUncompressed(ctx, typ, msg)
		} else {
			err = c.Write(ctx, typ, msg)
		}
		cancel()
		w.finished(e, i, err)
		e.check("Write", err)

	case "write-from":
		typ := randomStressType(r)
		msg, i := w.newMessage(e, r, typ, 'f')
		var src io.Reader = bytes.NewReader(msg)
		if r.IntN(2) == 0 {
			src = struct{ io.Reader }{src} // its length unknown
		}
		ctx, cancel := e.context(r)
		n, err := c.WriteFrom(ctx, typ, src)
		cancel()
		if err == nil && n != int64(len(msg)) {
			it.fail("WriteFrom on the %s returned nil after %d of %d bytes", e.role, n, len(msg))
		}
		w.finished(e, i, err)
		e.check("WriteFrom", err)

	case "writer":
		e.writeStreamed(w, r)

	case "empty":
		// A message of no bytes, written whole or through a Writer that
		// is closed without a write.
		e.emptyAttempts.Add(1)
		ctx, cancel := e.context(r)
		defer cancel()
		if r.IntN(2) == 0 {
			e.check("Write of an empty message", c.Write(ctx, randomStressType(r), nil))
			return
		}
		wc, err := c.Writer(ctx, randomStressType(r))
		e.check("Writer for an empty message", err)
		if err == nil {
			e.check("Close of an empty message's Writer", wc.Close())
		}

	case "prepared":
		typ := randomStressType(r)
		msg, i := w.newMessage(e, r, typ, 'p')
		pm, err := NewPreparedMessage(typ, msg)
		if err != nil {
			it.fail("NewPreparedMessage: %v", err)
			return
		}
		ctx, cancel := e.context(r)
		err = c.WritePrepared(ctx, pm)
		cancel()
		w.finished(e, i, err)
		e.check("WritePrepared", err)

	case "prepared-shared":
		e.writeShared(r)

	case "ping":
		var ctx context.Context
		var cancel context.CancelFunc
		if pct := [3]int{0, 5, 30}[it.cfg.disturb]; r.IntN(100) < pct {
			// A short ping may end while its frame is being written, which
			// closes the connection.
			it.disturbed.Store(true)
			ctx, cancel = context.WithTimeout(context.Background(), time.Duration(1+r.IntN(20))*time.Millisecond)
		} else {
			// The peer reads all the time: a pong later than this means a
			// reader or a writer stuck.
			ctx, cancel = context.WithTimeout(context.Background(), stressStallBound/2)
		}
		err := c.Ping(ctx)
		cancel()
		e.check("Ping", err)

	case "flush":
		ctx, cancel := e.context(r)
		err := c.Flush(ctx)
		cancel()
		e.check("Flush", err)

	case "set":
		e.set(r)

	case "close":
		it.closing()
		e.closeCalled.Store(true)
		codes := []StatusCode{StatusNormalClosure, StatusGoingAway, StatusCode(3000 + r.IntN(1000)), StatusCode(4000 + r.IntN(1000))}
		reason := []string{"", "bye", "fin ✓", strings.Repeat("r", maxCloseReason)}[r.IntN(4)]
		c.Close(codes[r.IntN(len(codes))], reason)

	case "close-now":
		it.closing()
		c.CloseNow()
	}
}

// writeStreamed writes a message through Writer in several writes, and
// then, now and then, uses the writer again after its Close: that must
// fail, and must not touch a message another goroutine is writing.
func (e *stressEnd) writeStreamed(w *stressWriter, r *rand.Rand) {
	c := e.conn
	typ := randomStressType(r)
	msg, i := w.newMessage(e, r, typ, 'r')
	ctx, cancel := e.context(r)
	defer cancel()
	wc, err := c.Writer(ctx, typ)
	if err != nil {
		w.finished(e, i, err)
		e.check("Writer", err)
		return
	}
	var werr error
	for rest := msg; len(rest) > 0 && werr == nil; {
		n := min(len(rest), 1+r.IntN(max(1, len(msg)/2)))
		part := rest[:n]
		rest = rest[n:]
		switch r.IntN(5) {
		case 0: // ReadFrom with the size known (bytes.Reader has Len)
			_, werr = io.Copy(wc, bytes.NewReader(part))
		case 1: // ReadFrom with the size unknown
			_, werr = io.Copy(wc, struct{ io.Reader }{bytes.NewReader(part)})
		default:
			_, werr = wc.Write(part)
		}
	}
	cerr := wc.Close()
	if werr == nil {
		werr = cerr
	}
	w.finished(e, i, werr)
	e.check("Writer's Write or Close", werr)

	if r.IntN(100) < 30 {
		junk := []byte(fmt.Sprintf("<STALE WRITE FROM %c/%d>", e.name, w.id))
		var err error
		var what string
		switch r.IntN(3) {
		case 0:
			what = "Write"
			_, err = wc.Write(junk)
		case 1:
			what = "ReadFrom"
			_, err = io.Copy(wc, bytes.NewReader(junk))
		default:
			what = "Close"
			err = wc.Close()
		}
		if !errors.Is(err, ErrWriterClosed) {
			e.it.fail("%s on the %s's writer %d after its Close returned %v, want ErrWriterClosed: a stale writer must fail, not join the message in progress", what, e.role, w.id, err)
		}
	}
}

// writeShared sends one prepared message from several goroutines at once:
// a PreparedMessage is safe for concurrent use, and each copy goes out
// whole.
func (e *stressEnd) writeShared(r *rand.Rand) {
	it := e.it
	typ := randomStressType(r)
	seq := it.bcastSeq.Add(1)
	n := e.stressBodySize(r)
	off := r.IntN(len(stressBodies) - n + 1)
	body := stressBodies[off : off+n]
	h := stressHeader{end: e.name, typ: typ, writer: stressBcastWriter, seq: seq, length: n, crc: crc32.ChecksumIEEE(body), kind: 's'}
	msg := append(appendStressHeader(nil, h), body...)
	copies := 2 + r.IntN(stressMaxCopies-1)
	it.bcastMu.Lock()
	it.bcast[seq] = &stressBcast{crc: h.crc, length: n, typ: typ, copies: copies}
	it.bcastMu.Unlock()
	pm, err := NewPreparedMessage(typ, msg)
	if err != nil {
		it.fail("NewPreparedMessage: %v", err)
		return
	}
	var wg sync.WaitGroup
	for k := range copies {
		ctx, cancel := e.context(r)
		wg.Add(1)
		it.goroutine(fmt.Sprintf("%s shared prepared #%d copy %d", e.role, seq, k), func() {
			defer wg.Done()
			defer cancel()
			written := e.messagesDone.Load()
			e.check("WritePrepared of a shared message", e.conn.WritePrepared(ctx, pm))
			e.checkOvertaken("WritePrepared of a shared message", e.messagesDone.Load()-written)
			e.messagesDone.Add(1)
		})
	}
	wg.Wait()
}

// set calls one of the Set methods. Deadlines far off change nothing;
// a short one, with disturbances on, fails what it catches blocked and
// closes the connection.
func (e *stressEnd) set(r *rand.Rand) {
	c := e.conn
	if pct := [3]int{0, 5, 30}[e.it.cfg.disturb]; r.IntN(100) < pct {
		e.it.disturbed.Store(true)
		d := time.Now().Add(time.Duration(r.IntN(3000)-500) * time.Microsecond)
		if r.IntN(2) == 0 {
			c.SetReadDeadline(d)
		} else {
			c.SetWriteDeadline(d)
		}
		return
	}
	if e.closeCalled.Load() {
		// Close bounds its waits with the transport's deadlines: one set
		// far off now would be the application's wish, and would let
		// Close wait for it. Not the concurrency this test is about.
		return
	}
	switch r.IntN(5) {
	case 0:
		c.SetReadDeadline(time.Now().Add(time.Hour))
	case 1:
		c.SetReadDeadline(time.Time{})
	case 2:
		c.SetWriteDeadline(time.Now().Add(time.Hour))
	case 3:
		c.SetWriteDeadline(time.Time{})
	case 4:
		c.SetReadLimit([]int64{-1, 0, 4 << 20}[r.IntN(3)])
	}
}

// read is the end's one reader: it reads messages, whole or streamed in
// pieces of random sizes, until the connection ends, and checks each one.
func (e *stressEnd) read(r *rand.Rand) {
	it := e.it
	c := e.conn
	for {
		var ctx context.Context = context.Background()
		cancel := func() {}
		if r.IntN(2) == 0 {
			ctx, cancel = context.WithTimeout(ctx, time.Hour)
		}
		var typ MessageType
		var msg []byte
		var err error
		partial := false
		if r.IntN(2) == 0 {
			typ, msg, err = c.Read(ctx)
		} else {
			var mr io.Reader
			typ, mr, err = c.Reader(ctx)
			if err == nil {
				msg, partial, err = e.readStreamed(r, mr)
			}
		}
		cancel()
		if err != nil {
			e.readerEnded(err)
			return
		}
		it.progress.Add(1 + int64(len(msg)))
		if len(msg) == 0 {
			e.empties++
			continue
		}
		h, perr := parseStressHeader(msg)
		if perr == nil && !partial {
			perr = checkStressBody(h, msg)
		}
		if perr == nil && h.typ != typ {
			perr = fmt.Errorf("received as %v, sent as %v", typ, h.typ)
		}
		if perr != nil && h.end == 0 {
			it.fail("the %s received a %v message of %d bytes without a valid header: %v; it starts %q", e.role, typ, len(msg), perr, stressExcerpt(msg))
			continue
		}
		e.received = append(e.received, stressReceived{h: h, typ: typ, partial: partial, bad: perr, size: len(msg), excerpt: stressExcerpt(msg)})
	}
}

// readStreamed reads a message from the Reader in pieces of random
// sizes; now and then it reads only the header and leaves the rest for
// the next Reader call to discard.
func (e *stressEnd) readStreamed(r *rand.Rand, mr io.Reader) (msg []byte, partial bool, err error) {
	var hdr [stressHeaderLen]byte
	n, err := io.ReadFull(mr, hdr[:])
	msg = append(msg, hdr[:n]...)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return msg, false, nil // shorter than a header: checked as it is
	case err != nil:
		return nil, false, err
	}
	if r.IntN(20) == 0 {
		return msg, true, nil
	}
	// Sometimes all at once with io.Copy, sometimes in pieces: from 1
	// byte to 64 KiB, but no more than about 1000 reads for a message.
	if r.IntN(4) == 0 {
		var buf bytes.Buffer
		buf.Write(msg)
		_, err := io.Copy(&buf, mr)
		return buf.Bytes(), false, err
	}
	h, _ := parseStressHeader(msg)
	piece := max(1+r.IntN(64<<10), h.length/1000)
	buf := make([]byte, piece)
	for {
		n, err := mr.Read(buf[:1+r.IntN(piece)])
		msg = append(msg, buf[:n]...)
		e.it.progress.Add(int64(n))
		if err == io.EOF {
			return msg, false, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
}

// readerEnded checks the error the reader ended with.
func (e *stressEnd) readerEnded(err error) {
	it := e.it
	e.readerErr = err
	e.readerOnly = !e.closeCalled.Load()
	var ce *CloseError
	if errors.As(err, &ce) {
		switch code := ce.Code; {
		case code == StatusAbnormalClosure:
		case code == StatusNormalClosure, code == StatusGoingAway, code >= 3000 && code <= 4999:
			e.gotClose = true
		default:
			it.fail("the %s's reader got close code %v from the peer: the peer found something wrong (%v)", e.role, code, err)
		}
	}
	for _, bad := range []error{ErrProtocol, ErrInvalidUTF8, ErrMessageTooBig} {
		if errors.Is(err, bad) {
			it.fail("the %s's reader failed the connection: %v", e.role, err)
		}
	}
	e.check("the reader", err)
}

// stressExcerpt is the start of a message, for a failure report.
func stressExcerpt(msg []byte) []byte {
	return msg[:min(len(msg), 96)]
}

// verify checks what each reader received against what the other end
// sent. Every goroutine of the iteration has returned.
func (it *stressIteration) verify() {
	for _, e := range it.ends {
		for _, w := range e.writers {
			for _, s := range w.sent {
				if s.ok {
					it.sent++
				}
			}
		}
	}
	for _, recv := range it.ends {
		sender := recv.peer
		it.checked += int64(len(recv.received))
		last := make([]uint32, len(sender.writers))
		for _, m := range recv.received {
			h := m.h
			if h.end != sender.name {
				it.fail("the %s received a message that names itself as the sender: %v", recv.role, h)
				continue
			}
			if h.writer == stressBcastWriter {
				if m.bad != nil {
					it.fail("the %s received shared prepared message %v corrupt: %d bytes as %v, %v; it starts %q", recv.role, h, m.size, m.typ, m.bad, m.excerpt)
					continue
				}
				b := it.bcast[h.seq]
				switch {
				case b == nil:
					it.fail("the %s received shared prepared message %v, never sent", recv.role, h)
				case b.crc != h.crc || b.length != h.length || b.typ != h.typ:
					it.fail("the %s received shared prepared message %v, which is not the one sent", recv.role, h)
				default:
					b.got[recv.index()]++
					if b.got[recv.index()] > b.copies {
						it.fail("the %s received shared prepared message %v %d times, sent %d times", recv.role, h, b.got[recv.index()], b.copies)
					}
				}
				continue
			}
			if h.writer >= len(sender.writers) || h.seq == 0 || int(h.seq) > len(sender.writers[h.writer].sent) {
				it.fail("the %s received %v, which was never sent", recv.role, h)
				continue
			}
			w := sender.writers[h.writer]
			s := w.sent[h.seq-1]
			if m.bad != nil {
				outcome := "returned nil"
				if !s.ok {
					outcome = fmt.Sprintf("returned %q", s.err)
				}
				it.fail("the %s received %v corrupt: %d bytes as %v, %v; its writer's call %s; it starts %q", recv.role, h, m.size, m.typ, m.bad, outcome, m.excerpt)
				continue
			}
			if s.crc != h.crc || s.length != h.length || s.typ != h.typ {
				it.fail("the %s received %v, which differs from the message sent under that number", recv.role, h)
				continue
			}
			if h.seq <= last[h.writer] {
				it.fail("the %s received %v after #%d of the same writer: out of order or twice", recv.role, h, last[h.writer])
				continue
			}
			// Every message before it whose write returned nil was on
			// the wire before this one was started.
			for seq := last[h.writer] + 1; seq < h.seq; seq++ {
				if w.sent[seq-1].ok {
					it.fail("the %s received %v but not #%d of the same writer, whose write had returned nil", recv.role, h, seq)
				}
			}
			last[h.writer] = h.seq
		}
		// The reader read up to the peer's close frame, and nothing else
		// read for it: everything ahead of that frame arrived.
		if recv.gotClose && recv.readerOnly {
			for _, w := range sender.writers {
				for seq := last[w.id] + 1; int(seq) <= len(w.sent); seq++ {
					if w.sent[seq-1].beforeClose {
						it.fail("the %s read up to the peer's close frame (%v) but not %c/%d#%d, written before that frame", recv.role, recv.readerErr, sender.name, w.id, seq)
					}
				}
			}
		}
		if recv.empties > int(sender.emptyAttempts.Load()) {
			it.fail("the %s received %d empty messages, the %s wrote %d", recv.role, recv.empties, sender.role, sender.emptyAttempts.Load())
		}
	}
}
