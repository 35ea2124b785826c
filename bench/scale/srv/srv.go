// Package srv is what the five scale servers share and what is not about
// a WebSocket library: flags, the file-descriptor limit, the readiness line,
// the broadcast timer driven from standard input, the broadcast payload, the
// set of open connections, and the CPU profile.
//
// A server is started by the scale driver with standard input and output
// on pipes. It prints one line, "READY 127.0.0.1:PORT", once it listens.
// With -broadcast-every set, a line "broadcast" on standard input starts
// the broadcast timer: every interval, for -broadcast-for, one 128-byte
// text message goes to every open connection. When the timer ends the
// server prints "DONE sent=K dropped=D": K messages, D connections dropped
// because a write to them did not complete within -write-timeout.
package srv

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Config is the flags every server takes.
type Config struct {
	Addr           string
	Compress       bool
	BroadcastEvery time.Duration
	BroadcastFor   time.Duration
	WriteTimeout   time.Duration
	CPUProfile     string
	MemProfile     string
}

// Broadcasting reports whether the server was started for the broadcast
// scenario: only then are connections kept in a Set.
func (c *Config) Broadcasting() bool { return c.BroadcastEvery > 0 }

// Init parses the server's flags from args, raises the open-file limit
// and starts the CPU profile if one was asked for. It returns the library
// named by -lib.
func Init(args []string) (lib string, c *Config) {
	c = &Config{}
	flag := flag.NewFlagSet("server", flag.ExitOnError)
	flag.StringVar(&lib, "lib", "", "ours, gorilla, coder, gobwas or gws")
	flag.StringVar(&c.Addr, "addr", "127.0.0.1:0", "listen address")
	flag.BoolVar(&c.Compress, "compress", false, "accept permessage-deflate, with context takeover both ways where the library can")
	flag.DurationVar(&c.BroadcastEvery, "broadcast-every", 0, "broadcast interval, started by a \"broadcast\" line on stdin (0: no broadcast)")
	flag.DurationVar(&c.BroadcastFor, "broadcast-for", 30*time.Second, "how long the broadcast timer runs")
	flag.DurationVar(&c.WriteTimeout, "write-timeout", 5*time.Second, "a broadcast write that takes longer drops the connection (libraries whose broadcast writes block)")
	flag.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile to this file, from start until SIGTERM")
	flag.StringVar(&c.MemProfile, "memprofile", "", "write a heap profile to this file at SIGTERM")
	flag.Parse(args)
	RaiseNofile()
	startProfile(c.CPUProfile, c.MemProfile)
	return lib, c
}

// RaiseNofile raises the soft RLIMIT_NOFILE to the hard limit. Raising
// the hard limit needs CAP_SYS_RESOURCE; it is tried first and its failure
// is not an error.
func RaiseNofile() (soft, hard uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0
	}
	want := syscall.Rlimit{Cur: 1 << 20, Max: 1 << 20}
	if want.Max > lim.Max && syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) == nil {
		return want.Cur, want.Max
	}
	lim.Cur = lim.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Cur, lim.Max
}

// startProfile starts the CPU profile, written when the server is stopped
// with SIGINT or SIGTERM. With memPath, SIGUSR1 writes a heap profile to
// memPath and the runtime's memory classes to memPath.txt (the load
// generator sends it at its measurement when asked to), and so does the
// stop if no SIGUSR1 came.
func startProfile(cpuPath, memPath string) {
	if cpuPath == "" && memPath == "" {
		return
	}
	var f *os.File
	if cpuPath != "" {
		var err error
		if f, err = os.Create(cpuPath); err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
	}
	var snapped sync.Once
	snapshot := func() {
		if m, err := os.Create(memPath); err == nil {
			// The heap as of the last GC: what the connections hold.
			pprof.Lookup("heap").WriteTo(m, 0)
			m.Close()
		}
		writeMemMetrics(memPath + ".txt")
	}
	if memPath != "" {
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		go func() {
			for range usr1 {
				snapped.Do(func() {})
				snapshot()
			}
		}()
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-stop
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
		}
		if memPath != "" {
			snapped.Do(snapshot)
		}
		os.Exit(0)
	}()
}

// writeMemMetrics writes the runtime's memory classes, where the process's
// memory is beyond the heap profile: goroutine stacks, heap not in use,
// runtime structures.
func writeMemMetrics(path string) {
	descs := metrics.All()
	var samples []metrics.Sample
	for _, d := range descs {
		if strings.HasPrefix(d.Name, "/memory/classes/") || d.Name == "/sched/goroutines:goroutines" ||
			d.Name == "/gc/stack/starting-size:bytes" || d.Name == "/gc/heap/live:bytes" {
			samples = append(samples, metrics.Sample{Name: d.Name})
		}
	}
	metrics.Read(samples)
	var b strings.Builder
	for _, s := range samples {
		if s.Value.Kind() == metrics.KindUint64 {
			fmt.Fprintf(&b, "%-55s %d\n", s.Name, s.Value.Uint64())
		}
	}
	os.WriteFile(path, []byte(b.String()), 0o644)
}

// Ready prints the readiness line with the address the server listens on.
func Ready(addr string) {
	fmt.Printf("READY %s\n", addr)
}

// BroadcastFunc sends payload to every open connection and returns how
// many connections it dropped.
type BroadcastFunc func(payload []byte) (dropped int)

// Serve runs the control loop on standard input in a goroutine: a
// "broadcast" line runs the broadcast timer with send. Without
// -broadcast-every it does nothing.
func (c *Config) Serve(send BroadcastFunc) {
	if !c.Broadcasting() {
		return
	}
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if sc.Text() == "broadcast" {
				sent, dropped := c.broadcastLoop(send)
				fmt.Printf("DONE sent=%d dropped=%d\n", sent, dropped)
			}
		}
	}()
}

// broadcastLoop sends a message at every tick of a time.Ticker for
// BroadcastFor. A broadcast that takes longer than the interval makes the
// ticker drop ticks, so a server that cannot keep up sends fewer
// messages, each stamped with the time its broadcast began.
func (c *Config) broadcastLoop(send BroadcastFunc) (sent, dropped int) {
	t := time.NewTicker(c.BroadcastEvery)
	defer t.Stop()
	end := time.Now().Add(c.BroadcastFor)
	p := make([]byte, PayloadSize)
	for now := range t.C {
		if now.After(end) {
			break
		}
		FillPayload(p, sent, time.Now())
		dropped += send(p)
		sent++
	}
	return sent, dropped
}

// PayloadSize is the size of a broadcast message.
const PayloadSize = 128

// FillPayload writes the broadcast message: "SEQ8HEX TS16HEX " (the
// sequence number and the send time in Unix nanoseconds, in hex), then
// filler, all ASCII, so it is sent as a text message.
func FillPayload(p []byte, seq int, t time.Time) {
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	putHex(p[0:8], uint64(seq))
	p[8] = ' '
	putHex(p[9:25], uint64(t.UnixNano()))
	p[25] = ' '
}

func putHex(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = "0123456789abcdef"[v&15]
		v >>= 4
	}
}

// ParsePayload returns the sequence number and send time of a broadcast
// message, and false if p is not one.
func ParsePayload(p []byte) (seq int, sentNanos int64, ok bool) {
	if len(p) < 26 || p[8] != ' ' || p[25] != ' ' {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(string(p[0:8]), 16, 32)
	t, err2 := strconv.ParseUint(string(p[9:25]), 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return int(s), int64(t), true
}

// Set is the open connections of a broadcasting server.
type Set[C comparable] struct {
	mu sync.Mutex
	m  map[C]struct{}
}

func (s *Set[C]) Add(c C) {
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[C]struct{})
	}
	s.m[c] = struct{}{}
	s.mu.Unlock()
}

func (s *Set[C]) Remove(c C) {
	s.mu.Lock()
	delete(s.m, c)
	s.mu.Unlock()
}

// Snapshot appends the open connections to buf and returns it, so that a
// broadcast can write without holding the lock.
func (s *Set[C]) Snapshot(buf []C) []C {
	s.mu.Lock()
	for c := range s.m {
		buf = append(buf, c)
	}
	s.mu.Unlock()
	return buf
}
