package bench

// What an idle connection costs in memory once it has exchanged a few
// compressed messages: the compression state a library keeps between
// messages (context takeover history, compressors not given back to a
// pool) is the part that differs.
//
// The servers run in this process and the clients in a child process (this
// test binary, re-run as TestIdleClientHelper), so that each side's heap is
// measured on its own.

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var idlePairs = flag.Int("pairs", 1000, "connections per library and mode in TestIdleMemory")

// idleExchange is how many messages each client sends and gets echoed
// before the connection goes idle.
const idleExchange = 3

// Environment of the child process.
const (
	envHelperImpl = "BENCH_IDLE_IMPL"
	envHelperURL  = "BENCH_IDLE_URL"
	envHelperN    = "BENCH_IDLE_N"
)

// memSnapshot is the part of runtime.MemStats that idle connections
// grow, after the garbage is gone.
type memSnapshot struct {
	heapInuse, heapAlloc, stackInuse uint64
	goroutines                       int
}

// settle collects garbage twice, since sync.Pool keeps objects through
// one collection (as victims) and loses them in the second: what is left
// is what the connections themselves hold.
func settle() memSnapshot {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSnapshot{ms.HeapInuse, ms.HeapAlloc, ms.StackInuse, runtime.NumGoroutine()}
}

// perConn is the growth from a to b per connection, in bytes.
type perConn struct {
	heapInuse, heapAlloc, stack float64
	goroutines                  float64
}

func (a memSnapshot) per(b memSnapshot, n int) perConn {
	d := func(x, y uint64) float64 { return (float64(y) - float64(x)) / float64(n) }
	return perConn{d(a.heapInuse, b.heapInuse), d(a.heapAlloc, b.heapAlloc), d(a.stackInuse, b.stackInuse),
		float64(b.goroutines-a.goroutines) / float64(n)}
}

func (p perConn) String() string {
	return fmt.Sprintf("%6.1f KiB %6.1f KiB %6.1f KiB %5.1f", p.heapInuse/1024, p.heapAlloc/1024, p.stack/1024, p.goroutines)
}

// TestIdleMemory opens -pairs connections per library and mode, has each
// client send idleExchange 1 KiB JSON messages and read their echoes, and
// then measures each side with the connections idle: the server's
// goroutines blocked in a read, the clients' connections merely held.
func TestIdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	n := *idlePairs
	payloads()
	var table strings.Builder
	fmt.Fprintf(&table, "\nidle connections after %d echoed 1 KiB messages; per connection, %d connections; two GCs before each reading\n", idleExchange, n)
	fmt.Fprintf(&table, "%-20s | %-35s | %-35s\n", "", "server side (this process)", "client side (child process)")
	fmt.Fprintf(&table, "%-20s | %10s %10s %10s %4s | %10s %10s %10s %4s\n", "library/mode",
		"HeapInuse", "HeapAlloc", "Stack", "gor.", "HeapInuse", "HeapAlloc", "Stack", "gor.")
	for _, im := range impls() {
		if im.dial == nil {
			fmt.Fprintf(&table, "%-20s | %-35s | %-35s\n", im.name(), "n/a", "n/a")
			continue
		}
		server, client := idleRun(t, im, n)
		fmt.Fprintf(&table, "%-20s | %s | %s\n", im.name(), server, client)
	}
	t.Log(table.String())
}

func idleRun(t *testing.T, im impl, n int) (server perConn, client string) {
	// The server counts the connections that finished their exchange and
	// then reads on, which is where an idle server's goroutine waits.
	var exchanged atomic.Int64
	before := settle()
	srv := startServer(t, im, func(c wsConn) {
		defer c.closeNow()
		ctx := context.Background()
		for i := 0; ; i++ {
			if i == idleExchange {
				exchanged.Add(1)
			}
			p, err := c.read(ctx)
			if err != nil {
				return
			}
			if err := c.write(ctx, p); err != nil {
				return
			}
		}
	})
	defer srv.close(t)

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientHelper$")
	cmd.Env = append(os.Environ(), envHelperImpl+"="+im.name(), envHelperURL+"="+srv.url, envHelperN+"="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Closing stdin tells the child to close its connections and exit;
	// Kill is the fallback.
	defer func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()

	// The child writes one result line once all its clients are idle.
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "IDLE-CLIENT "); ok {
				lines <- s
			}
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("%s: the client process ended without a result", im.name())
		}
		client = line
	case <-time.After(3 * time.Minute):
		t.Fatalf("%s: no result from the client process after 3 minutes", im.name())
	}
	deadline := time.Now().Add(time.Minute)
	for exchanged.Load() < int64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d server connections done after a minute", im.name(), exchanged.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Let the last echoes' goroutines get back into their reads.
	time.Sleep(100 * time.Millisecond)
	return before.per(settle(), n), client
}

// TestIdleClientHelper is the child process of TestIdleMemory; it does
// nothing unless run by it.
func TestIdleClientHelper(t *testing.T) {
	name := os.Getenv(envHelperImpl)
	if name == "" {
		t.Skip("run by TestIdleMemory")
	}
	var im impl
	for _, i := range impls() {
		if i.name() == name {
			im = i
		}
	}
	n, _ := strconv.Atoi(os.Getenv(envHelperN))
	if im.dial == nil || n <= 0 {
		t.Fatalf("bad helper environment %q n=%d", name, n)
	}
	url := os.Getenv(envHelperURL)
	payloads()
	var k counter
	bg := context.Background()
	conns := make([]wsConn, 0, n)
	defer func() {
		for _, c := range conns {
			c.closeNow()
		}
	}()
	// Nothing here may block for long: the parent gives up after 3
	// minutes, and the watchdog closes everything after 2.
	defer watchdog(t, 2*time.Minute, func() {
		for _, c := range conns {
			c.closeNow()
		}
	})()

	before := settle()
	for i := 0; i < n; i++ {
		ctx, cancel := dialCtx()
		c, err := im.dial(ctx, url, k.dialer())
		cancel()
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		for j := 0; j < idleExchange; j++ {
			m := json1K[(i+j)%len(json1K)]
			if err := c.write(bg, m); err != nil {
				t.Fatal(err)
			}
			if _, err := c.read(bg); err != nil {
				t.Fatal(err)
			}
		}
	}
	after := settle()
	fmt.Printf("IDLE-CLIENT %s\n", before.per(after, n))
	// Hold the connections until the parent has measured its side.
	select {
	case <-stdinClosed():
	case <-time.After(2 * time.Minute):
	}
	runtime.KeepAlive(conns)
}

func stdinClosed() <-chan struct{} {
	ch := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(ch) }()
	return ch
}
