// Command scale is the scale benchmark: idle connections, broadcast,
// reconnect storm and active connections, against five servers (ours,
// gorilla, coder, gobwas, gws) and ours again through net/http
// ("ours-http"), each a separate process started fresh for every run,
// with the order of the servers rotating from run to run. It
// prints one table: each server's figure, and ours ÷ the best peer with
// the target met or missed. Every point runs -repeats times (3 in the full
// run) and the table gives the median of each figure: a single broadcast
// run's latency moves by up to 40% from one run to the next on a 2-core
// machine, enough to turn a ratio either way. See bench/README.md, "Scale".
//
//	cd bench && go run ./scale            # the full run
//	cd bench && go run ./scale -quick     # a smoke run, under two minutes
//
// Every process is this program run again: each server as
// "scale server -lib NAME" (the code in ./scale/servers/NAME, one package
// per library), the load generator as "scale loadgen". So one binary is
// built, by go run, and each data point still has a server process and a
// load generator process of its own.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/wirecraft/websocket/bench/scale/servers/coder"
	"github.com/wirecraft/websocket/bench/scale/servers/gobwas"
	"github.com/wirecraft/websocket/bench/scale/servers/gorilla"
	"github.com/wirecraft/websocket/bench/scale/servers/gws"
	"github.com/wirecraft/websocket/bench/scale/servers/ours"
	"github.com/wirecraft/websocket/bench/scale/srv"
)

var serverMains = map[string]func(*srv.Config){
	"ours":      ours.Run,
	"ours-http": ours.RunNetHTTP,
	"gorilla":   gorilla.Run,
	"coder":     coder.Run,
	"gobwas":    gobwas.Run,
	"gws":       gws.Run,
}

// allServers: "ours" (AcceptConn) is the one judged against the peers;
// "ours-http" (Accept, through net/http) is shown beside them, not judged
// and not a peer.
var allServers = []string{"ours", "ours-http", "gorilla", "coder", "gobwas", "gws"}

// point is one data point: a scenario at a size, run once per server.
type point struct {
	key      string
	scenario string
	n        int // connections run
	asked    int // connections asked for, when the machine allowed fewer
	deflate  bool
	slowEach int
	duration time.Duration
	settle   time.Duration
}

func (p point) sizeLabel() string {
	if p.asked > p.n {
		return fmt.Sprintf("%s (ran %s)", kilo(p.asked), kilo(p.n))
	}
	return kilo(p.n)
}

func kilo(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	if n >= 1000 {
		return fmt.Sprintf("%.1fk", float64(n)/1000)
	}
	return fmt.Sprint(n)
}

// run is one server's run of one point.
type run struct {
	Res     result
	Failure string  `json:",omitempty"` // the harness could not run it (server did not start, load generator died)
	Secs    float64 // wall time of the run, start to stop
}

func (r *run) errors() int {
	if r == nil {
		return 0
	}
	n := r.Res.Errors
	if r.Failure != "" {
		n++
	}
	return n
}

type options struct {
	quick      bool
	servers    []string
	scenarios  map[string]bool
	interval   time.Duration
	duration   time.Duration
	writeTO    time.Duration
	slowBuf    int
	profileDir string
	jsonOut    string
	pause      time.Duration
	repeats    int
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "loadgen" {
		runLoadgen(os.Args[2:])
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "server" {
		lib, cfg := srv.Init(os.Args[2:])
		run, ok := serverMains[lib]
		if !ok {
			fmt.Fprintf(os.Stderr, "scale server: unknown -lib %q\n", lib)
			os.Exit(2)
		}
		run(cfg)
		return
	}
	var o options
	var servers, scenarios string
	flag.BoolVar(&o.quick, "quick", false, "smoke run: 1k connections, 3 s windows (under two minutes)")
	flag.StringVar(&servers, "servers", strings.Join(allServers, ","), "servers to run")
	flag.StringVar(&scenarios, "scenarios", "idle,broadcast,storm,active", "scenarios to run")
	flag.DurationVar(&o.interval, "interval", 100*time.Millisecond, "broadcast interval")
	flag.DurationVar(&o.duration, "duration", 0, "broadcast and active window (default 30s, -quick 3s)")
	flag.DurationVar(&o.writeTO, "write-timeout", 5*time.Second, "broadcast write timeout of the servers whose broadcast writes block")
	flag.IntVar(&o.slowBuf, "slow-rcvbuf", 0, "SO_RCVBUF of the slow broadcast clients (0: the kernel's default)")
	flag.StringVar(&o.profileDir, "profile-dir", "", "write a CPU profile, a heap profile and the runtime's memory classes of every server run into this directory (NAME-POINT.*)")
	flag.StringVar(&o.jsonOut, "json", "", "also write every run's raw result to this file")
	flag.IntVar(&o.repeats, "repeats", 0, "runs of each (point, server); the table gives medians (default 3, -quick 1)")
	flag.Parse()
	o.servers = strings.Split(servers, ",")
	o.scenarios = map[string]bool{}
	for _, s := range strings.Split(scenarios, ",") {
		o.scenarios[s] = true
	}
	if o.duration == 0 {
		o.duration = 30 * time.Second
		if o.quick {
			o.duration = 3 * time.Second
		}
	}
	if o.repeats <= 0 {
		o.repeats = 3
		if o.quick {
			o.repeats = 1
		}
	}
	o.pause = time.Second
	if o.quick {
		o.pause = 100 * time.Millisecond
	}
	if err := benchmark(o); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func benchmark(o options) error {
	startAll := time.Now()
	soft, hard := srv.RaiseNofile()
	// Each side of a point holds N sockets plus a few files of its own.
	maxConns := int(min(soft, hard)) - 256
	points := plan(o, maxConns)
	if len(points) == 0 {
		return fmt.Errorf("no points to run")
	}

	for _, s := range o.servers {
		if serverMains[s] == nil {
			return fmt.Errorf("unknown server %q", s)
		}
	}
	tmp, err := os.MkdirTemp("", "scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}

	load0 := loadavg()
	// runs[point][server] holds that server's runs of the point. The
	// repeats of a point follow one another, each in a server order
	// rotated by one from the last, so that no server always runs first
	// after the previous point's load.
	runs := map[string]map[string][]*run{}
	total := len(points) * len(o.servers) * o.repeats
	k := 0
	for pi, p := range points {
		runs[p.key] = map[string][]*run{}
		for rep := range o.repeats {
			for j := range o.servers {
				s := o.servers[(pi+rep+j)%len(o.servers)]
				k++
				t := time.Now()
				r := runPoint(o, p, s, self, tmp)
				r.Secs = time.Since(t).Seconds()
				runs[p.key][s] = append(runs[p.key][s], r)
				fmt.Fprintf(os.Stderr, "[%d/%d] %-18s %-9s %s (%.1f s)\n", k, total, p.key, s, summary(p, r), r.Secs)
				time.Sleep(o.pause)
			}
		}
	}
	load1 := loadavg()

	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(runs, "", "  ")
		os.WriteFile(o.jsonOut, b, 0o644)
	}
	mode := "full"
	if o.quick {
		mode = "quick"
	}
	fmt.Printf("scale benchmark (%s), %s, %s; %d CPUs, %s, %s\n", mode,
		startAll.Format("2006-01-02 15:04 MST"), roundDur(time.Since(startAll)),
		runtime.NumCPU(), runtime.Version(), kernel())
	fmt.Printf("load average before %s, after %s; RLIMIT_NOFILE %d (hard), so at most %d connections per process\n",
		load0, load1, hard, maxConns)
	fmt.Printf("server order rotates by one each point and each repeat; a fresh server process per run;\n")
	fmt.Printf("%d run(s) of each (point, server): each figure is the median of its runs, \"ours range\" the lowest and highest of ours\n\n", o.repeats)
	printTable(os.Stdout, o, points, runs)
	// A run with errors measured something else than it says: the table
	// shows them, and the exit status fails the run (make bench-scale
	// QUICK=1 is CI's smoke test of the benchmark).
	bad := 0
	for _, byServer := range runs {
		for _, rs := range byServer {
			for _, r := range rs {
				if r.errors() > 0 {
					bad++
				}
			}
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d server runs had errors (the last column)", bad, total)
	}
	return nil
}

// plan lists the points: the full run, or the quick one.
func plan(o options, maxConns int) []point {
	var ps []point
	add := func(p point) {
		if !o.scenarios[p.scenario] {
			return
		}
		if p.n > maxConns {
			p.asked, p.n = p.n, maxConns
		}
		ps = append(ps, p)
	}
	settle := 2 * time.Second
	if o.quick {
		settle = 500 * time.Millisecond
		add(point{key: "idle-1k", scenario: "idle", n: 1000, settle: settle})
		add(point{key: "idle-deflate-1k", scenario: "idle", n: 1000, deflate: true, settle: settle})
		add(point{key: "broadcast-1k", scenario: "broadcast", n: 1000, duration: o.duration, settle: 300 * time.Millisecond})
		add(point{key: "broadcast-1k-slow", scenario: "broadcast", n: 1000, slowEach: 1000, duration: o.duration, settle: 300 * time.Millisecond})
		add(point{key: "storm-1k", scenario: "storm", n: 1000})
		add(point{key: "active-1k", scenario: "active", n: 1000, duration: o.duration, settle: 300 * time.Millisecond})
		return ps
	}
	add(point{key: "idle-1k", scenario: "idle", n: 1000, settle: settle})
	add(point{key: "idle-10k", scenario: "idle", n: 10000, settle: settle})
	add(point{key: "idle-100k", scenario: "idle", n: 100000, settle: settle})
	add(point{key: "idle-deflate-10k", scenario: "idle", n: 10000, deflate: true, settle: settle})
	add(point{key: "broadcast-10k", scenario: "broadcast", n: 10000, duration: o.duration, settle: time.Second})
	add(point{key: "broadcast-10k-slow", scenario: "broadcast", n: 10000, slowEach: 1000, duration: o.duration, settle: time.Second})
	add(point{key: "broadcast-100k", scenario: "broadcast", n: 100000, duration: o.duration, settle: time.Second})
	add(point{key: "broadcast-100k-slow", scenario: "broadcast", n: 100000, slowEach: 1000, duration: o.duration, settle: time.Second})
	add(point{key: "storm-10k", scenario: "storm", n: 10000})
	add(point{key: "active-10k", scenario: "active", n: 10000, duration: o.duration, settle: time.Second})
	return ps
}

// runPoint starts a fresh server, runs the load generator against it and
// stops the server.
func runPoint(o options, p point, name, self, tmp string) *run {
	r := &run{}
	args := []string{"server", "-lib", name, "-addr", "127.0.0.1:0"}
	if p.deflate {
		args = append(args, "-compress")
	}
	if p.scenario == "broadcast" {
		args = append(args, "-broadcast-every", o.interval.String(), "-broadcast-for", p.duration.String(),
			"-write-timeout", o.writeTO.String())
	}
	if o.profileDir != "" {
		args = append(args, "-cpuprofile", filepath.Join(o.profileDir, name+"-"+p.key+".cpu.pprof"),
			"-memprofile", filepath.Join(o.profileDir, name+"-"+p.key+".heap.pprof"))
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		r.Failure = err.Error()
		return r
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		r.Failure = err.Error()
		return r
	}
	defer inW.Close()
	defer outR.Close()
	logPath := filepath.Join(tmp, name+"-"+p.key+".log")
	logf, _ := os.Create(logPath)
	defer logf.Close()

	srvCmd := exec.Command(self, args...)
	srvCmd.Stdin, srvCmd.Stdout, srvCmd.Stderr = inR, outW, logf
	srvCmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srvCmd.Start(); err != nil {
		r.Failure = "server start: " + err.Error()
		return r
	}
	inR.Close()
	outW.Close()
	exited := make(chan error, 1)
	go func() { exited <- srvCmd.Wait() }()
	defer stopServer(srvCmd, exited)

	addr, err := readReady(outR, 20*time.Second)
	if err != nil {
		r.Failure = "server not ready: " + err.Error() + tail(logPath)
		return r
	}

	lgArgs := []string{"loadgen", "-scenario", p.scenario, "-addr", addr,
		"-pid", fmt.Sprint(srvCmd.Process.Pid), "-n", fmt.Sprint(p.n), "-settle", p.settle.String(),
		"-slow-rcvbuf", fmt.Sprint(o.slowBuf)}
	if p.deflate {
		lgArgs = append(lgArgs, "-deflate")
	}
	if p.duration > 0 {
		lgArgs = append(lgArgs, "-duration", p.duration.String())
	}
	if p.slowEach > 0 {
		lgArgs = append(lgArgs, "-slow-each", fmt.Sprint(p.slowEach))
	}
	if o.profileDir != "" {
		lgArgs = append(lgArgs, "-snapshot")
	}
	lg := exec.Command(self, lgArgs...)
	var out strings.Builder
	lg.Stdout = &out
	lg.Stderr = logf
	lg.ExtraFiles = []*os.File{inW, outR}
	if err := lg.Start(); err != nil {
		r.Failure = "load generator start: " + err.Error()
		return r
	}
	lgDone := make(chan error, 1)
	go func() { lgDone <- lg.Wait() }()
	limit := 5*time.Minute + 2*p.duration
	if p.scenario == "broadcast" {
		limit += 6 * time.Minute
	}
	select {
	case err = <-lgDone:
	case <-time.After(limit):
		lg.Process.Kill()
		<-lgDone
		r.Failure = fmt.Sprintf("load generator still running after %v, killed", limit)
		return r
	}
	if err != nil {
		r.Failure = "load generator: " + err.Error() + tail(logPath)
		return r
	}
	if err := json.Unmarshal([]byte(out.String()), &r.Res); err != nil {
		r.Failure = "load generator output: " + err.Error()
		return r
	}
	select {
	case err := <-exited:
		r.Failure = fmt.Sprintf("server exited during the run: %v%s", err, tail(logPath))
		exited <- err
	default:
	}
	return r
}

// readReady reads the server's "READY ADDR" line.
func readReady(r io.Reader, timeout time.Duration) (string, error) {
	type res struct {
		line string
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		// One byte at a time: the rest of the pipe belongs to the load
		// generator.
		var b [1]byte
		var line []byte
		for {
			if _, err := r.Read(b[:]); err != nil {
				ch <- res{err: err}
				return
			}
			if b[0] == '\n' {
				ch <- res{line: string(line)}
				return
			}
			line = append(line, b[0])
		}
	}()
	select {
	case x := <-ch:
		if x.err != nil {
			return "", x.err
		}
		addr, ok := strings.CutPrefix(x.line, "READY ")
		if !ok {
			return "", fmt.Errorf("unexpected line %q", x.line)
		}
		return addr, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("no READY line within %v", timeout)
	}
}

// stopServer sends SIGTERM (our server then writes its CPU profile), and
// SIGKILL after 5 s.
func stopServer(cmd *exec.Cmd, exited chan error) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[len(s)-300:]
	}
	if s == "" {
		return ""
	}
	return " [log: " + s + "]"
}

func summary(p point, r *run) string {
	if r.Failure != "" {
		return "FAILED: " + r.Failure
	}
	x := r.Res
	var s string
	switch {
	case x.NA != "":
		return "n/a: " + x.NA
	case p.scenario == "idle":
		s = fmt.Sprintf("%d open, %.2f KiB/conn", x.Open, x.KiBPerConn)
	case p.scenario == "broadcast":
		s = fmt.Sprintf("%d open, sent %d, p50 %.1f p99 %.1f max %.1f ms, %.2f µs/delivery, dropped %d, slow closed %d/%d",
			x.Open, x.Sent, x.P50ms, x.P99ms, x.MaxMs, x.CPUusPerMsg, x.Dropped, x.SlowClosed, x.SlowClients)
	case p.scenario == "storm":
		s = fmt.Sprintf("%d open, %.2f s, VmHWM %.1f MiB", x.Open, x.AllOpenSec, float64(x.HWMKiB)/1024)
	case p.scenario == "active":
		s = fmt.Sprintf("%d open, %d msgs, %.2f µs/msg, p99 %.2f ms", x.Open, x.Msgs, x.CPUusPerMsg, x.RTTp99ms)
	}
	if x.Errors > 0 {
		s += fmt.Sprintf(", ERRORS %d %v %q", x.Errors, x.ErrKinds, x.ErrSample)
	}
	return s
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return "Linux " + strings.TrimSpace(string(b))
}

func roundDur(d time.Duration) string {
	return d.Round(time.Second).String()
}
