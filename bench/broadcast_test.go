package bench

// Broadcast: one message to many connections, encoded once and written to
// each, with each library's API for it: our PreparedMessage, gorilla's
// PreparedMessage, gws's Broadcaster. The servers run in this process; the
// clients run in a child process (this test binary again, as
// TestBroadcastClientHelper), which counts the messages it receives. So
// the CPU time this process uses is the servers' alone, and the figure
// reported, srv-ns/msg, is that CPU time per delivered message.
//
// An iteration broadcasts one 128-byte text message to every connection
// and waits until the child has received all of them: gws writes from
// goroutines of its own, so returning from Broadcast does not mean the
// message is out. The wait costs the server nothing but a line on a pipe.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"
	"github.com/lxzan/gws"
	ours "github.com/wirecraft/websocket"
)

const (
	broadcastSize = 128
	envBroadcastN = "BENCH_BROADCAST_N"
	envBroadcastU = "BENCH_BROADCAST_URL"
)

// broadcaster is one library's server side: it accepts connections and
// sends a message to all of them.
type broadcaster interface {
	accept(w http.ResponseWriter, r *http.Request) error
	broadcast(payload []byte) error
	count() int
	closeAll()
}

// connSet is the connections a broadcaster has accepted; accept runs on
// net/http's goroutines, so adding takes a lock.
type connSet[C any] struct {
	mu    sync.Mutex
	conns []C
}

func (s *connSet[C]) add(c C) {
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
}

func (s *connSet[C]) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

type oursBroadcaster struct{ connSet[*ours.Conn] }

func (b *oursBroadcaster) accept(w http.ResponseWriter, r *http.Request) error {
	c, err := ours.Accept(w, r, nil)
	if err == nil {
		b.add(c)
	}
	return err
}

func (b *oursBroadcaster) broadcast(p []byte) error {
	m, err := ours.NewPreparedMessage(ours.MessageText, p)
	if err != nil {
		return err
	}
	ctx := context.Background()
	for _, c := range b.conns {
		if err := c.WritePrepared(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (b *oursBroadcaster) closeAll() {
	for _, c := range b.conns {
		c.CloseNow()
	}
}

type gorillaBroadcaster struct{ connSet[*gorilla.Conn] }

var gorillaUpgrader = gorilla.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (b *gorillaBroadcaster) accept(w http.ResponseWriter, r *http.Request) error {
	c, err := gorillaUpgrader.Upgrade(w, r, nil)
	if err == nil {
		b.add(c)
	}
	return err
}

func (b *gorillaBroadcaster) broadcast(p []byte) error {
	m, err := gorilla.NewPreparedMessage(gorilla.TextMessage, p)
	if err != nil {
		return err
	}
	for _, c := range b.conns {
		if err := c.WritePreparedMessage(m); err != nil {
			return err
		}
	}
	return nil
}

func (b *gorillaBroadcaster) closeAll() {
	for _, c := range b.conns {
		c.Close()
	}
}

type gwsBroadcaster struct {
	gws.BuiltinEventHandler
	connSet[*gws.Conn]
	upgrader *gws.Upgrader
}

func newGwsBroadcaster() *gwsBroadcaster {
	b := &gwsBroadcaster{}
	b.upgrader = gws.NewUpgrader(b, &gws.ServerOption{})
	return b
}

func (b *gwsBroadcaster) accept(w http.ResponseWriter, r *http.Request) error {
	c, err := b.upgrader.Upgrade(w, r)
	if err != nil {
		return err
	}
	b.add(c)
	go c.ReadLoop() // gws answers control frames and notices closes here
	return nil
}

func (b *gwsBroadcaster) broadcast(p []byte) error {
	m := gws.NewBroadcaster(gws.OpcodeText, p)
	defer m.Close()
	for _, c := range b.conns {
		if err := m.Broadcast(c); err != nil {
			return err
		}
	}
	return nil
}

func (b *gwsBroadcaster) closeAll() {
	for _, c := range b.conns {
		c.NetConn().Close()
	}
}

func BenchmarkBroadcast(b *testing.B) {
	libs := []struct {
		name string
		make func() broadcaster
	}{
		{"ours", func() broadcaster { return &oursBroadcaster{} }},
		{"gorilla", func() broadcaster { return &gorillaBroadcaster{} }},
		{"gws", func() broadcaster { return newGwsBroadcaster() }},
	}
	for _, n := range []int{1000, 10000} {
		for _, lib := range libs {
			b.Run(fmt.Sprintf("conns=%d/%s", n, lib.name), func(b *testing.B) {
				benchmarkBroadcast(b, lib.make(), n)
			})
		}
	}
}

func benchmarkBroadcast(b *testing.B, srv broadcaster, n int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := srv.accept(w, r); err != nil {
			b.Error(err)
		}
	})}
	go hs.Serve(ln)
	defer hs.Close()
	defer srv.closeAll()

	child, err := startBroadcastClients(b, "ws://"+ln.Addr().String()+"/", n)
	if err != nil {
		b.Fatal(err)
	}
	defer child.stop()
	for srv.count() < n {
		time.Sleep(10 * time.Millisecond) // the child has said all are open; the handlers may lag
	}

	payload := []byte(strings.Repeat("x", broadcastSize))
	delivered := 0
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := srv.broadcast(payload); err != nil {
			b.Fatal(err)
		}
		// One message is broadcast at a time, as events come: the next
		// goes out once every client has this one. Without the wait,
		// messages would pile up per connection in gws's queues and be
		// written back to back, which is not what a broadcast of one
		// message costs.
		delivered += n
		if err := child.waitFor(delivered); err != nil {
			b.Fatal(err)
		}
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(delivered), "srv-ns/msg")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(delivered), "wall-ns/msg")
}

// cpuTime is the CPU time, user and system, this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// broadcastClients is the child process and the pipe to it. It answers
// "WAIT k" with "OK" once k messages have arrived in all.
type broadcastClients struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startBroadcastClients(b *testing.B, url string, n int) (*broadcastClients, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBroadcastClientHelper$", "-test.v")
	cmd.Env = append(os.Environ(), envBroadcastN+"="+strconv.Itoa(n), envBroadcastU+"="+url)
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
	c := &broadcastClients{cmd: cmd, in: in, out: bufio.NewReader(out)}
	if err := c.expect("OPEN"); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// expect reads the child's lines until one starts with want.
func (c *broadcastClients) expect(want string) error {
	for {
		line, err := c.out.ReadString('\n')
		if err != nil {
			return fmt.Errorf("broadcast clients: %v before %s", err, want)
		}
		if strings.HasPrefix(line, want) {
			return nil
		}
		if strings.HasPrefix(line, "FAIL") {
			return fmt.Errorf("broadcast clients: %s", line)
		}
	}
}

func (c *broadcastClients) waitFor(total int) error {
	fmt.Fprintf(c.in, "WAIT %d\n", total)
	return c.expect("OK")
}

func (c *broadcastClients) stop() {
	c.in.Close()
	c.cmd.Process.Kill()
	c.cmd.Wait()
}

// TestBroadcastClientHelper is the child process of BenchmarkBroadcast:
// it opens the connections, counts every message on all of them, and
// answers the parent's WAIT lines.
func TestBroadcastClientHelper(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(envBroadcastN))
	url := os.Getenv(envBroadcastU)
	if n == 0 || url == "" {
		t.Skip("run by BenchmarkBroadcast")
	}
	var received atomic.Int64
	ctx := context.Background()
	for i := 0; i < n; i++ {
		c, _, err := ours.Dial(ctx, url, &ours.DialOptions{Proxy: noProxy})
		if err != nil {
			fmt.Printf("FAIL dial %d: %v\n", i, err)
			return
		}
		go func() {
			defer c.CloseNow()
			buf := make([]byte, broadcastSize)
			for {
				_, r, err := c.Reader(ctx)
				if err != nil {
					return
				}
				if _, err := io.ReadFull(r, buf); err != nil {
					return
				}
				received.Add(1)
			}
		}()
	}
	fmt.Println("OPEN")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var want int64
		if _, err := fmt.Sscanf(in.Text(), "WAIT %d", &want); err != nil {
			fmt.Printf("FAIL %q\n", in.Text())
			return
		}
		for received.Load() < want {
			time.Sleep(time.Millisecond)
		}
		fmt.Println("OK")
	}
}
