package main

// The load generator: this program run again as "scale loadgen ...", one
// process per data point, separate from the server it loads. It opens the
// connections with the raw client of wsclient.go, reads the server's CPU
// time and memory from /proc/PID (-pid), and prints one JSON result line.
// For the broadcast scenario it also holds the server's control pipes
// (file descriptors 3 and 4: the server's standard input and output), so
// it starts the broadcast itself once its connections are open.

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wirecraft/websocket/bench/scale/srv"
)

// result is what a data point reports; each scenario fills its fields.
type result struct {
	Scenario  string
	N         int // connections asked for
	Open      int // connections that completed the handshake
	Errors    int
	ErrKinds  map[string]int `json:",omitempty"`
	ErrSample []string       `json:",omitempty"`
	NA        string         `json:",omitempty"` // the server cannot run this point, and why

	// idle
	RSSBeforeKiB, RSSAfterKiB int64   `json:",omitempty"`
	KiBPerConn                float64 `json:",omitempty"`

	// broadcast
	Sent, Dropped, Complete int     `json:",omitempty"`
	Delivered               int64   `json:",omitempty"`
	P50ms, P99ms, MaxMs     float64 `json:",omitempty"`
	SlowClients, SlowClosed int     `json:",omitempty"`

	// storm
	AllOpenSec float64 `json:",omitempty"`
	HWMKiB     int64   `json:",omitempty"`

	// active
	Msgs               int64   `json:",omitempty"`
	RTTp50ms, RTTp99ms float64 `json:",omitempty"`

	// broadcast and active: server CPU over the measured window
	CPUSec, WallSec float64 `json:",omitempty"`
	CPUusPerMsg     float64 `json:",omitempty"`
}

// errorLog counts errors by kind and keeps a few samples.
type errorLog struct {
	mu     sync.Mutex
	n      int
	kinds  map[string]int
	sample []string
}

func (e *errorLog) add(kind string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if e.kinds == nil {
		e.kinds = make(map[string]int)
	}
	e.kinds[kind]++
	if len(e.sample) < 5 {
		msg := kind
		if err != nil {
			msg += ": " + err.Error()
		}
		e.sample = append(e.sample, msg)
	}
}

func (e *errorLog) fill(r *result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.Errors, r.ErrKinds, r.ErrSample = e.n, e.kinds, e.sample
}

type loadgen struct {
	scenario string
	addr     string
	pid      int
	n        int
	deflate  bool
	duration time.Duration
	settle   time.Duration
	slowEach int
	slowBuf  int
	openers  int
	timeout  time.Duration
	snapshot bool

	errs errorLog
	na   atomic.Pointer[string]
}

func runLoadgen(args []string) {
	fs := flag.NewFlagSet("loadgen", flag.ExitOnError)
	g := &loadgen{}
	fs.StringVar(&g.scenario, "scenario", "idle", "idle, broadcast, storm or active")
	fs.StringVar(&g.addr, "addr", "", "server address")
	fs.IntVar(&g.pid, "pid", 0, "server process id, for /proc readings")
	fs.IntVar(&g.n, "n", 1000, "connections")
	fs.BoolVar(&g.deflate, "deflate", false, "idle: negotiate permessage-deflate with context takeover and echo one compressed message first")
	fs.DurationVar(&g.duration, "duration", 30*time.Second, "active: how long each connection sends")
	fs.DurationVar(&g.settle, "settle", 2*time.Second, "wait between the connections being open and the measurement")
	fs.IntVar(&g.slowEach, "slow-each", 0, "broadcast: one client in this many reads one message a second (0: none)")
	fs.IntVar(&g.slowBuf, "slow-rcvbuf", 0, "broadcast: SO_RCVBUF of the slow clients (0: the kernel's default)")
	fs.IntVar(&g.openers, "openers", 64, "connections opened in parallel (not storm)")
	fs.DurationVar(&g.timeout, "timeout", 30*time.Second, "dial and handshake timeout")
	fs.BoolVar(&g.snapshot, "snapshot", false, "send the server SIGUSR1 at the measurement (it then writes its heap profile)")
	fs.Parse(args)
	srv.RaiseNofile()

	r := result{Scenario: g.scenario, N: g.n}
	switch g.scenario {
	case "idle":
		g.idle(&r)
	case "broadcast":
		g.broadcast(&r)
	case "storm":
		g.storm(&r)
	case "active":
		g.active(&r)
	default:
		fmt.Fprintln(os.Stderr, "unknown scenario", g.scenario)
		os.Exit(2)
	}
	if p := g.na.Load(); p != nil {
		r.NA = *p
	}
	g.errs.fill(&r)
	json.NewEncoder(os.Stdout).Encode(r)
}

// openOne dials connection i and does the handshake; with -deflate it also
// echoes one compressed message.
func (g *loadgen) openOne(i int, rcvbuf int) (*wsConn, error) {
	c, err := dial(i, g.addr, g.timeout, rcvbuf)
	if err != nil {
		g.errs.add("dial", err)
		return nil, err
	}
	ws, err := handshake(c, g.addr, g.deflate, 512, g.timeout)
	if err != nil {
		c.Close()
		if errors.Is(err, errNotTakeover) {
			msg := err.Error()
			g.na.CompareAndSwap(nil, &msg)
			return nil, err
		}
		g.errs.add("handshake", err)
		return nil, err
	}
	if g.deflate {
		if err := echoDeflate(ws, g.timeout); err != nil {
			c.Close()
			g.errs.add("deflate echo", err)
			return nil, err
		}
	}
	return ws, nil
}

// openAll opens n connections with g.openers in parallel and returns
// them, nil where one failed; start, if set, runs on each new connection.
func (g *loadgen) openAll(n int, rcvbuf func(i int) int, start func(i int, ws *wsConn)) []*wsConn {
	conns := make([]*wsConn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range g.openers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || g.na.Load() != nil {
					return
				}
				rb := 0
				if rcvbuf != nil {
					rb = rcvbuf(i)
				}
				ws, err := g.openOne(i, rb)
				if err != nil {
					continue
				}
				conns[i] = ws
				if start != nil {
					start(i, ws)
				}
			}
		}()
	}
	wg.Wait()
	return conns
}

func countOpen(conns []*wsConn) int {
	n := 0
	for _, c := range conns {
		if c != nil {
			n++
		}
	}
	return n
}

var deflateText = func() []byte {
	var b strings.Builder
	for i := 0; b.Len() < 1024; i++ {
		fmt.Fprintf(&b, `{"id":%d,"user":"user-%d","room":"lobby","text":"the quick brown fox jumps over the lazy dog"},`, i, i%7)
	}
	return []byte(b.String()[:1024])
}()

var deflatePayload = deflateMessage(deflateText)

// echoDeflate sends deflateText compressed and checks the echo.
func echoDeflate(ws *wsConn, timeout time.Duration) error {
	ws.c.SetDeadline(time.Now().Add(timeout))
	defer ws.c.SetDeadline(time.Time{})
	if err := ws.write(ws.frame(nil, 0x1, true, deflatePayload)); err != nil {
		return err
	}
	op, rsv1, p, err := ws.readMessage()
	if err != nil {
		return err
	}
	if op != 0x1 {
		return fmt.Errorf("echo opcode %d", op)
	}
	if rsv1 {
		if p, err = inflateFirst(p); err != nil {
			return err
		}
	}
	if string(p) != string(deflateText) {
		return errors.New("echo differs")
	}
	return nil
}

// probe echoes a 16-byte message on up to 100 connections spread over
// all, to check that they are still served. On compressed connections
// the echo may be compressed against earlier messages, so only that one
// arrives is checked.
func (g *loadgen) probe(conns []*wsConn) {
	step := max(1, len(conns)/100)
	msg := []byte("probe-0123456789")
	for i := 0; i < len(conns); i += step {
		ws := conns[i]
		if ws == nil {
			continue
		}
		ws.c.SetDeadline(time.Now().Add(g.timeout))
		if err := ws.write(ws.frame(nil, 0x1, false, msg)); err != nil {
			g.errs.add("probe write", err)
			continue
		}
		op, rsv1, p, err := ws.readMessage()
		switch {
		case err != nil:
			g.errs.add("probe read", err)
		case op != 0x1 || (!rsv1 && string(p) != string(msg)):
			g.errs.add("probe echo differs", nil)
		}
		ws.c.SetDeadline(time.Time{})
	}
}

// warmup opens one connection, echoes a message on it and closes it, so
// that what the server sets up once (pools, first goroutines) is in the
// "before" reading.
func (g *loadgen) warmup() {
	ws, err := g.openOne(srcAddrs-1, 0)
	if err != nil {
		return
	}
	g.probe([]*wsConn{ws})
	ws.c.Close()
	time.Sleep(100 * time.Millisecond)
}

// snap asks the server for its heap profile, if -snapshot, and gives it
// time to write it.
func (g *loadgen) snap() {
	if g.snapshot {
		syscall.Kill(g.pid, syscall.SIGUSR1)
		time.Sleep(500 * time.Millisecond)
	}
}

// idle: server RSS before and after opening N idle connections.
func (g *loadgen) idle(r *result) {
	g.warmup()
	if g.na.Load() != nil {
		return
	}
	before, err := statusKiB(g.pid, "VmRSS")
	if err != nil {
		g.errs.add("proc", err)
		return
	}
	conns := g.openAll(g.n, nil, nil)
	r.Open = countOpen(conns)
	if g.na.Load() != nil {
		return
	}
	time.Sleep(g.settle)
	after, err := statusKiB(g.pid, "VmRSS")
	if err != nil {
		g.errs.add("proc", err)
		return
	}
	r.RSSBeforeKiB, r.RSSAfterKiB = before, after
	if r.Open > 0 {
		r.KiBPerConn = float64(after-before) / float64(r.Open)
	}
	g.snap()
	g.probe(conns)
}

// broadcast: N connections read; the server broadcasts on its timer; the
// latency of a message is the arrival at the last (not slow) client minus
// the send time it carries.
func (g *loadgen) broadcast(r *result) {
	ctlIn := os.NewFile(3, "server-stdin")
	ctlOut := os.NewFile(4, "server-stdout")
	if ctlIn == nil || ctlOut == nil {
		fmt.Fprintln(os.Stderr, "broadcast needs the server's stdin and stdout as fds 3 and 4")
		os.Exit(2)
	}
	const maxSeq = 4096
	var (
		count    [maxSeq]atomic.Int32
		last     [maxSeq]atomic.Int64
		sentAt   [maxSeq]atomic.Int64
		slowRecv atomic.Int64
		fastGone atomic.Int32
		slowGone atomic.Int32
		measure  atomic.Bool // errors count only while the server is running the broadcast
	)
	isSlow := func(i int) bool { return g.slowEach > 0 && i%g.slowEach == g.slowEach-1 }
	rcvbuf := func(i int) int {
		if isSlow(i) {
			return g.slowBuf
		}
		return 0
	}
	start := func(i int, ws *wsConn) {
		if isSlow(i) {
			go func() {
				for {
					if err := ws.readExact(); err != nil {
						slowGone.Add(1)
						return
					}
					slowRecv.Add(1)
					time.Sleep(time.Second)
				}
			}()
			return
		}
		go func() {
			for {
				_, _, p, err := ws.readMessage()
				if err != nil {
					fastGone.Add(1)
					if measure.Load() {
						g.errs.add("broadcast conn lost", err)
					}
					return
				}
				now := time.Now().UnixNano()
				seq, ts, ok := srv.ParsePayload(p)
				if !ok || seq >= maxSeq {
					g.errs.add("broadcast payload", nil)
					continue
				}
				sentAt[seq].Store(ts)
				count[seq].Add(1)
				for {
					old := last[seq].Load()
					if now <= old || last[seq].CompareAndSwap(old, now) {
						break
					}
				}
			}
		}()
	}
	conns := g.openAll(g.n, rcvbuf, start)
	r.Open = countOpen(conns)
	fast := 0
	for i, c := range conns {
		if c == nil {
			continue
		}
		if isSlow(i) {
			r.SlowClients++
		} else {
			fast++
		}
	}
	time.Sleep(g.settle)

	cpu0, err := cpuSeconds(g.pid)
	if err != nil {
		g.errs.add("proc", err)
		return
	}
	t0 := time.Now()
	measure.Store(true)
	if _, err := fmt.Fprintln(ctlIn, "broadcast"); err != nil {
		g.errs.add("control", err)
		return
	}
	done := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(ctlOut)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "DONE ") {
				done <- sc.Text()
				return
			}
		}
		done <- ""
	}()
	var line string
	select {
	case line = <-done:
	case <-time.After(g.duration + 5*time.Minute):
	}
	if _, err := fmt.Sscanf(line, "DONE sent=%d dropped=%d", &r.Sent, &r.Dropped); err != nil {
		g.errs.add("control", fmt.Errorf("no DONE line from the server (%q)", line))
		return
	}
	// Wait for the last deliveries: every message at every fast client
	// still connected, or a minute.
	waitEnd := time.Now().Add(time.Minute)
	for time.Now().Before(waitEnd) {
		want := int32(fast) - fastGone.Load()
		all := true
		for s := 0; s < r.Sent && s < maxSeq; s++ {
			if count[s].Load() < want {
				all = false
				break
			}
		}
		if all {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cpu1, _ := cpuSeconds(g.pid)
	measure.Store(false)
	g.snap()
	r.WallSec = time.Since(t0).Seconds()
	r.CPUSec = cpu1 - cpu0
	r.SlowClosed = int(slowGone.Load())

	var lat []float64
	missing := 0
	for s := 0; s < r.Sent && s < maxSeq; s++ {
		c := int(count[s].Load())
		r.Delivered += int64(c)
		if c < fast {
			missing += fast - c
		}
		if c > 0 {
			lat = append(lat, float64(last[s].Load()-sentAt[s].Load())/1e6)
		}
		if c >= fast {
			r.Complete++
		}
	}
	r.Delivered += slowRecv.Load()
	if missing > 0 {
		g.errs.mu.Lock()
		if g.errs.kinds == nil {
			g.errs.kinds = make(map[string]int)
		}
		g.errs.kinds["undelivered"] += missing
		g.errs.n += missing
		g.errs.mu.Unlock()
	}
	r.P50ms, r.P99ms, r.MaxMs = percentile(lat, 0.50), percentile(lat, 0.99), percentile(lat, 1)
	if r.Delivered > 0 {
		r.CPUusPerMsg = r.CPUSec / float64(r.Delivered) * 1e6
	}
}

// storm: N clients dial at once; each does the handshake and echoes one
// message; the time until the last is done, and the server's peak RSS.
func (g *loadgen) storm(r *result) {
	conns := make([]*wsConn, g.n)
	var wg sync.WaitGroup
	var lastDone atomic.Int64
	gate := make(chan struct{})
	msg := []byte("storm-0123456789")
	for i := range g.n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			ws, err := g.openOne(i, 0)
			if err != nil {
				return
			}
			ws.c.SetDeadline(time.Now().Add(g.timeout))
			if err := ws.write(ws.frame(nil, 0x1, false, msg)); err != nil {
				g.errs.add("storm write", err)
				return
			}
			op, _, p, err := ws.readMessage()
			if err != nil {
				g.errs.add("storm read", err)
				return
			}
			if op != 0x1 || string(p) != string(msg) {
				g.errs.add("storm echo differs", nil)
				return
			}
			ws.c.SetDeadline(time.Time{})
			now := time.Now().UnixNano()
			for {
				old := lastDone.Load()
				if now <= old || lastDone.CompareAndSwap(old, now) {
					break
				}
			}
			conns[i] = ws
		}()
	}
	time.Sleep(100 * time.Millisecond) // let the goroutines reach the gate
	t0 := time.Now()
	close(gate)
	wg.Wait()
	r.Open = countOpen(conns)
	if l := lastDone.Load(); l > 0 {
		r.AllOpenSec = float64(l-t0.UnixNano()) / 1e9
	}
	hwm, err := statusKiB(g.pid, "VmHWM")
	if err != nil {
		g.errs.add("proc", err)
	}
	r.HWMKiB = hwm
	g.snap()
}

// active: N connections each send a 64-byte message every second, the
// connections' sending times spread evenly over the second; the round
// trip of each, and the server's CPU per message.
func (g *loadgen) active(r *result) {
	conns := g.openAll(g.n, nil, nil)
	r.Open = countOpen(conns)
	time.Sleep(g.settle)
	cpu0, err := cpuSeconds(g.pid)
	if err != nil {
		g.errs.add("proc", err)
		return
	}
	t0 := time.Now().Add(50 * time.Millisecond)
	end := t0.Add(g.duration)
	const period = time.Second
	rtts := make([][]float64, len(conns))
	var wg sync.WaitGroup
	for i, ws := range conns {
		if ws == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := make([]byte, 64)
			for j := range payload {
				payload[j] = 'A' + byte((i+j)%26)
			}
			payload[16] = ' '
			var frame []byte
			next := t0.Add(time.Duration(i) * period / time.Duration(len(conns)))
			for next.Before(end) {
				time.Sleep(time.Until(next))
				next = next.Add(period)
				sent := time.Now()
				for k, v := 15, uint64(sent.UnixNano()); k >= 0; k, v = k-1, v>>4 {
					payload[k] = "0123456789abcdef"[v&15]
				}
				frame = ws.frame(frame, 0x1, false, payload)
				ws.c.SetDeadline(sent.Add(g.timeout))
				if err := ws.write(frame); err != nil {
					g.errs.add("active write", err)
					return
				}
				op, _, p, err := ws.readMessage()
				if err != nil {
					g.errs.add("active read", err)
					return
				}
				rtt := time.Since(sent)
				if op != 0x1 || string(p) != string(payload) {
					g.errs.add("active echo differs", nil)
					continue
				}
				rtts[i] = append(rtts[i], float64(rtt)/1e6)
			}
		}()
	}
	wg.Wait()
	cpu1, _ := cpuSeconds(g.pid)
	g.snap()
	r.WallSec = time.Since(t0).Seconds()
	r.CPUSec = cpu1 - cpu0
	var all []float64
	for _, s := range rtts {
		all = append(all, s...)
	}
	r.Msgs = int64(len(all))
	r.RTTp50ms, r.RTTp99ms = percentile(all, 0.50), percentile(all, 0.99)
	if r.Msgs > 0 {
		r.CPUusPerMsg = r.CPUSec / float64(r.Msgs) * 1e6
	}
}

// percentile is the nearest-rank q-quantile of v (sorted in place);
// -1 for none (JSON has no NaN).
func percentile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return -1
	}
	slices.Sort(v)
	i := int(math.Ceil(q*float64(len(v)))) - 1
	return v[min(max(i, 0), len(v)-1)]
}
