package main

// The server under test, in a process of its own: what it reports of its
// memory and goroutines is then its own, not shared with the clients'. It
// is the soak binary run again with roleEnv set; it takes commands on
// stdin, one a line, and answers each with one line of JSON on stdout:
//
//	stats            the server's figures (serverStats)
//	stats gc         the same after a garbage collection that returns
//	                 freed memory to the system: a figure to compare with
//	                 a baseline, not one that depends on when the GC ran
//	broadcast start  send a broadcast to every connection each interval
//	broadcast stop   stop, and report how many were sent
//	stacks FILE      write the goroutine profile (stacks counted, not
//	                 listed one by one) to FILE, to see where a stall is
//
// The first line it writes gives its address. It exits when stdin ends,
// so it never outlives the driver.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/rooms"
)

// roleEnv, set to "server", makes the binary the server (see runServer).
const roleEnv = "WEBSOCKET_SOAK_ROLE"

// serverConfig is what the driver tells the server in roleEnv's
// neighbour, configEnv, as JSON.
type serverConfig struct {
	Broadcast      string        // "rooms" or "prepared"
	BroadcastEvery time.Duration // between broadcasts
	Conns          int           // connections to expect, for the file limit
	WriteTimeout   time.Duration // rooms.Options.WriteTimeout; 0: its default
}

const configEnv = "WEBSOCKET_SOAK_CONFIG"

// serverStats are the server's figures at one moment.
type serverStats struct {
	Goroutines int
	VmRSS      int64 // bytes, from /proc/self/status
	VmHWM      int64 // the largest VmRSS so far
	HeapInuse  uint64
	StackInuse uint64
	Conns      int64 // connections open now
	Accepted   int64
	Echoed     int64 // messages echoed
	Broadcasts int64 // broadcasts sent
	// Deliveries is the sum, over the broadcasts sent, of the connections
	// each was sent to: what the clients must have received in all.
	Deliveries int64
	// Errors counts how the server's connections ended, but for a close
	// with 1000 (the driver's), and any other failure, by kind.
	Errors           map[string]int64
	DroppedMessages  uint64 // rooms: queue full, message dropped
	DroppedMembers   uint64 // rooms: queue full, member closed
	NormalCloses     int64  // connections ended by the client's close with 1000
	FileLimit        uint64
	BroadcastRunning bool
}

type server struct {
	cfg  serverConfig
	hub  *rooms.Hub // with Broadcast "rooms"
	opts *websocket.AcceptOptions

	// With Broadcast "prepared": the open connections.
	mu    sync.Mutex
	conns map[*websocket.Conn]struct{}

	open, accepted, echoed, normal atomic.Int64
	broadcasts, deliveries         atomic.Int64
	errors                         counter

	bcastStop chan struct{}
	bcastDone chan struct{}
	fileLimit uint64
}

// runServer is the server process's main; it returns the exit code.
func runServer() int {
	log.SetPrefix("soak server: ")
	log.SetFlags(0)
	var cfg serverConfig
	if err := json.Unmarshal([]byte(os.Getenv(configEnv)), &cfg); err != nil {
		log.Printf("bad %s: %v", configEnv, err)
		return 2
	}
	limit, err := raiseFileLimit(uint64(cfg.Conns) + 256)
	if err != nil {
		log.Print(err)
		return 2
	}
	s := &server{
		cfg:       cfg,
		conns:     make(map[*websocket.Conn]struct{}),
		fileLimit: limit,
		opts: &websocket.AcceptOptions{
			// The clients that offer permessage-deflate get it. Without
			// context takeover on the server's side, an idle connection
			// keeps no compressor (300 KiB with a 32 KiB window): what a
			// server holding many connections does.
			Compression: &websocket.CompressionOptions{ServerNoContextTakeover: true, Threshold: 128},
		},
	}
	if cfg.Broadcast == "rooms" {
		// A client that cannot keep up would be dropped (DropMember):
		// the soak counts that as loss.
		s.hub = rooms.NewHub(&rooms.Options{MessageType: websocket.MessageBinary, WriteTimeout: cfg.WriteTimeout})
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Print(err)
		return 2
	}
	// Handler serves each connection on a goroutine of its own over
	// HTTP/1.1, and lets net/http release what it keeps for a running
	// handler (about 16 KiB per idle connection). A handshake it refuses
	// shows on the client's side, as a failed Dial.
	srv := &http.Server{Handler: websocket.Handler(s.opts, s.serve), ErrorLog: log.Default()}
	go srv.Serve(ln)

	out := bufio.NewWriter(os.Stdout)
	reply := func(v any) {
		b, _ := json.Marshal(v)
		out.Write(b)
		out.WriteByte('\n')
		out.Flush()
	}
	reply(map[string]string{"addr": ln.Addr().String()})
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch cmd := strings.TrimSpace(in.Text()); cmd {
		case "stats":
			reply(s.stats(false))
		case "stats gc":
			reply(s.stats(true))
		case "broadcast start":
			s.startBroadcast()
			reply(map[string]bool{"ok": true})
		case "broadcast stop":
			s.stopBroadcast()
			reply(s.stats(false))
		default:
			if file, ok := strings.CutPrefix(cmd, "stacks "); ok {
				reply(map[string]string{"error": errString(writeStacks(file))})
				continue
			}
			reply(map[string]string{"error": "unknown command " + cmd})
		}
	}
	// The driver has gone: so does the server.
	return 0
}

// serve echoes each message until the connection ends.
func (s *server) serve(ctx context.Context, c *websocket.Conn) {
	s.accepted.Add(1)
	s.open.Add(1)
	defer s.open.Add(-1)
	var echo func(p []byte) error
	if s.hub != nil {
		m, err := s.hub.Add(c, "soak")
		if err != nil {
			s.errors.add("hub add: " + err.Error())
			return
		}
		// The answer goes through the member's queue, so that it keeps its
		// place among the broadcasts.
		echo = m.Send
	} else {
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
		echo = func(p []byte) error { return c.Write(ctx, websocket.MessageBinary, p) }
	}
	for {
		_, p, err := c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
				s.normal.Add(1)
			} else {
				s.errors.add("read: " + errKind(err))
			}
			return
		}
		if err := echo(p); err != nil {
			s.errors.add("echo: " + errKind(err))
			return
		}
		s.echoed.Add(1)
	}
}

func (s *server) startBroadcast() {
	if s.bcastStop != nil {
		return
	}
	s.bcastStop = make(chan struct{})
	s.bcastDone = make(chan struct{})
	go s.broadcastLoop(s.bcastStop, s.bcastDone)
}

func (s *server) stopBroadcast() {
	if s.bcastStop == nil {
		return
	}
	close(s.bcastStop)
	<-s.bcastDone
	s.bcastStop, s.bcastDone = nil, nil
}

// broadcastLoop sends a broadcast to every connection each interval. A
// broadcast carries its sequence number, from 1, so that each client can
// tell a missing one from a late one.
func (s *server) broadcastLoop(stop, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(s.cfg.BroadcastEvery)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		seq := s.broadcasts.Load() + 1
		p := broadcastPayload(seq)
		var sent int
		if s.hub != nil {
			sent = s.hub.Stats().Members
			if err := s.hub.SendToAll(context.Background(), p); err != nil {
				s.errors.add("broadcast: " + errKind(err))
				continue
			}
		} else {
			sent = s.sendPrepared(p)
		}
		s.broadcasts.Store(seq)
		s.deliveries.Add(int64(sent))
	}
}

// sendPrepared writes p, built once, to every open connection, from a few
// goroutines so that one slow connection does not hold up the rest. It
// returns how many connections it was sent to.
func (s *server) sendPrepared(p []byte) int {
	pm, err := websocket.NewPreparedMessage(websocket.MessageBinary, p)
	if err != nil {
		s.errors.add("broadcast: " + errKind(err))
		return 0
	}
	s.mu.Lock()
	conns := make([]*websocket.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	const workers = 16
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(conns); i += workers {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if err := conns[i].WritePrepared(ctx, pm); err != nil {
					s.errors.add("broadcast write: " + errKind(err))
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	return len(conns)
}

// broadcastPayload is broadcast seq: 'B', the sequence number, the time
// it was made, and text to a length of 128 bytes.
func broadcastPayload(seq int64) []byte {
	p := make([]byte, 128)
	p[0] = tagBroadcast
	binary.BigEndian.PutUint64(p[1:], uint64(seq))
	binary.BigEndian.PutUint64(p[9:], uint64(time.Now().UnixNano()))
	copy(p[17:], textBlock)
	return p
}

func (s *server) stats(gc bool) serverStats {
	if gc {
		// Twice: sync.Pool keeps what it holds for one more cycle.
		runtime.GC()
		runtime.GC()
		debug.FreeOSMemory()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := serverStats{
		Goroutines:       runtime.NumGoroutine(),
		HeapInuse:        ms.HeapInuse,
		StackInuse:       ms.StackInuse,
		Conns:            s.open.Load(),
		Accepted:         s.accepted.Load(),
		Echoed:           s.echoed.Load(),
		Broadcasts:       s.broadcasts.Load(),
		Deliveries:       s.deliveries.Load(),
		Errors:           s.errors.snapshot(),
		NormalCloses:     s.normal.Load(),
		FileLimit:        s.fileLimit,
		BroadcastRunning: s.bcastStop != nil,
	}
	st.VmRSS, st.VmHWM = procStatus()
	if s.hub != nil {
		hs := s.hub.Stats()
		st.DroppedMessages, st.DroppedMembers = hs.DroppedMessages, hs.DroppedMembers
	}
	return st
}

// writeStacks writes the goroutine profile, with identical stacks
// counted together, to file.
func writeStacks(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("goroutine").WriteTo(f, 1); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// procStatus returns VmRSS and VmHWM from /proc/self/status, in bytes; 0
// where there is no such file.
func procStatus() (rss, hwm int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kib int64
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kib); err == nil {
			rss = kib << 10
		}
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kib); err == nil {
			hwm = kib << 10
		}
	}
	return rss, hwm
}
