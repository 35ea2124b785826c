package websocket

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"testing"
	"testing/iotest"
	"time"
)

// connPair returns two Conns of this package talking over loopback TCP.
func connPair(t *testing.T) (server, client *Conn) {
	t.Helper()
	server, peer := newPair(t, true, nil)
	client = newConn(peer.conn, false, nil, "", &ConnOptions{CloseTimeout: 2 * time.Second}, nil)
	return server, client
}

// echoOnce reads one message from c and writes it back the way
// examples/echo does: WriteFrom the message reader.
func echoOnce(c *Conn) error {
	typ, r, err := c.Reader(bg)
	if err != nil {
		return err
	}
	_, err = c.WriteFrom(bg, typ, r)
	return err
}

func TestIdleConnectionHoldsNoBuffers(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("raw reads are Unix only")
	}
	c, peer := newPair(t, true, nil)
	if !c.raw.enabled() {
		t.Fatal("raw reads not enabled on a TCP connection")
	}
	peer.send(peer.frame(true, 0, opText, []byte("hello")))
	if err := echoOnce(c); err != nil {
		t.Fatal(err)
	}
	if h, p := peer.next(); h.opcode != opText || string(p) != "hello" {
		t.Fatalf("echo: %v %q", h.opcode, p)
	}
	if c.rpos != c.rend {
		t.Fatalf("%d bytes left unread", c.rend-c.rpos)
	}
	if c.wbuf.box != nil || c.writer.large.box != nil {
		t.Error("write buffer still held after the message was written")
	}

	// Drive the raw read by hand: the first call finds nothing and must
	// give the read buffer back before the goroutine would park; the next
	// one, after the peer has sent a frame, must read it.
	frame := peer.frame(true, 0, opBinary, []byte("again"))
	sendNow := make(chan struct{})
	go func() {
		<-sendNow
		peer.send(frame)
	}()
	var results []bool
	err := c.raw.conn.Read(func(fd uintptr) bool {
		ready := c.rawRead(fd)
		results = append(results, ready)
		if !ready {
			if c.rbuf.box != nil {
				t.Error("waiting for bytes while holding the read buffer")
			}
			if len(results) == 1 {
				close(sendNow)
			}
		}
		return ready
	})
	if err != nil {
		t.Fatal(err)
	}
	if results[0] || !results[len(results)-1] {
		t.Fatalf("ready per call: %v, want false first and true last", results)
	}
	if c.rbuf.box == nil || c.raw.n != len(frame) || !bytes.Equal(c.rbuf.bytes()[:c.raw.n], frame) {
		t.Fatalf("read %d bytes into the buffer, want the %d-byte frame", c.raw.n, len(frame))
	}
}

// TestReadFromSendsOneFrame checks what io.Copy into a message writer puts
// on the wire: the whole payload, in one frame while it fits the largest
// buffer, whatever kind of reader it comes from.
func TestReadFromSendsOneFrame(t *testing.T) {
	payload := make([]byte, maxLargeBuffer+1)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	sources := map[string]func(p []byte) io.Reader{
		"bytes.Reader": func(p []byte) io.Reader { return bytes.NewReader(p) },
		// OneByteReader hides Len: the buffer grows as bytes come.
		"unknown length": func(p []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(p)) },
	}
	for _, server := range []bool{true, false} {
		for _, size := range []int{0, 16, 4095, 4096, 4097, 64 << 10, maxLargeBuffer, maxLargeBuffer + 1} {
			for name, source := range sources {
				if name == "unknown length" && size > 64<<10 {
					continue // one byte per Read: slow, and the large sizes add nothing
				}
				t.Run(fmt.Sprintf("%s/%d/%s", roleName(server), size, name), func(t *testing.T) {
					c, peer := newPair(t, server, nil)
					done := make(chan error, 1)
					go func() {
						w, err := c.Writer(bg, MessageBinary)
						if err == nil {
							// Called directly: io.Copy would hand a
							// bytes.Reader's WriteTo the writer instead.
							_, err = w.(io.ReaderFrom).ReadFrom(source(payload[:size]))
						}
						if err == nil {
							err = w.Close()
						}
						done <- err
					}()
					wantFrames := 1
					if size > maxLargeBuffer {
						wantFrames = 2
					}
					var got []byte
					for i := 0; i < wantFrames; i++ {
						h, p := peer.next()
						if h.fin != (i == wantFrames-1) {
							t.Fatalf("frame %d: fin %v", i, h.fin)
						}
						got = append(got, p...)
					}
					if err := <-done; err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, payload[:size]) {
						t.Fatalf("payload of %d bytes differs from the %d sent", len(got), size)
					}
					if c.wbuf.box != nil || c.writer.large.box != nil {
						t.Error("a buffer is still held after Close")
					}
				})
			}
		}
	}
}

// TestEchoFragmentedMessage echoes a message that arrives in fragments:
// the reader only knows a lower bound of what is left.
func TestEchoFragmentedMessage(t *testing.T) {
	c, peer := newPair(t, true, nil)
	parts := [][]byte{bytes.Repeat([]byte("a"), 5000), {}, bytes.Repeat([]byte("b"), 70000), []byte("c")}
	peer.send(
		peer.frame(false, 0, opBinary, parts[0]),
		peer.frame(false, 0, opContinuation, parts[1]),
		peer.frame(true, 0, opPing, []byte("between")),
		peer.frame(false, 0, opContinuation, parts[2]),
		peer.frame(true, 0, opContinuation, parts[3]),
	)
	done := make(chan error, 1)
	go func() { done <- echoOnce(c) }()
	want := bytes.Join(parts, nil)
	var got []byte
	for {
		h, p := peer.next()
		if h.opcode == opPong {
			continue
		}
		got = append(got, p...)
		if h.fin {
			break
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("echoed %d bytes, want %d", len(got), len(want))
	}
}

// TestEchoAllocations pins "no allocation per message" on the path a
// server really takes: real TCP sockets (so the raw reads of
// rawread_unix.go), buffers lent from the pools, io.Copy into a writer.
func TestEchoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector (make test runs this test without it)")
	}
	server, client := connPair(t)
	for _, size := range []int{16, 1 << 10, 64 << 10} {
		msg := bytes.Repeat([]byte("x"), size)
		buf := make([]byte, size)
		roundTrip := func() {
			if err := client.Write(bg, MessageText, msg); err != nil {
				t.Fatal(err)
			}
			if err := echoOnce(server); err != nil {
				t.Fatal(err)
			}
			_, r, err := client.Reader(bg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(r, buf); err != nil {
				t.Fatal(err)
			}
		}
		roundTrip() // the pools start empty
		if allocs := testing.AllocsPerRun(100, roundTrip); allocs != 0 {
			t.Errorf("%d B: %v allocations per echoed message, want 0", size, allocs)
		}
	}
}

// A read deadline still ends a read that waits without a buffer (raw reads
// go through the socket's poller, deadlines included).
func TestReadDeadlineOnRawRead(t *testing.T) {
	c, _ := newPair(t, true, nil)
	c.SetReadDeadline(time.Now().Add(-time.Second))
	_, _, err := c.Read(bg)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %v, want an error matching os.ErrDeadlineExceeded", err)
	}
	if c.rbuf.box != nil {
		t.Error("read buffer still held by a failed connection")
	}
}

// What an idle connection costs a server, as a user sees it: 1,000
// connections over loopback TCP, each with a goroutine in an echo loop
// waiting for the next message, measured as the growth of the Go heap and
// of goroutine stacks, per connection. It counts the client sockets too
// (they live in the same process), so it is an upper bound for a server.
// The budget is what the package promises for idle connections, not a
// runtime detail: buffers are lent only while a message is in flight, and
// the Done channel, Ping bookkeeping and wake-up channels are made on first
// use. It runs in a child process of its own, so that the stack size the
// runtime starts goroutines with (the average it has seen) reflects this
// measurement and not the other tests.
func TestIdleConnectionMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector enlarges every allocation and frame")
	}
	if runtime.GOOS == "windows" {
		t.Skip("raw reads are Unix only")
	}
	const budget = 6 << 10
	if os.Getenv("WEBSOCKET_IDLE_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestIdleConnectionMemory$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "WEBSOCKET_IDLE_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestIdleConnectionMemory")) {
			t.Fatalf("child run: %v\n%s", err, out)
		}
		t.Logf("%s", out)
		return
	}

	const conns = 1000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range conns {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		accepted, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c := newConn(accepted, true, nil, "", nil, nil)
		defer c.CloseNow()
		go serveLikeAnApplication(c)
	}
	// Wait until every goroutine is parked waiting for its first byte.
	stacks := make([]byte, 16<<20)
	for start := time.Now(); ; {
		n := runtime.Stack(stacks, true)
		if bytes.Count(stacks[:n], []byte("websocket.(*rawReader).readEmpty")) == conns {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the goroutines did not all reach Reader's wait")
		}
		runtime.Gosched()
	}
	stacks = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapInuse) - float64(before.HeapInuse)
	stack := float64(after.StackInuse) - float64(before.StackInuse)
	perConn := (heap + stack) / conns
	t.Logf("per idle connection: %.0f bytes (heap %.0f, stack %.0f); budget %d", perConn, heap/conns, stack/conns, budget)
	if perConn > budget {
		t.Errorf("an idle connection takes %.0f bytes, want at most %d", perConn, budget)
	}
	// The runtime starts new goroutines with a stack the size of the
	// average one the collector scanned (plus a guard, rounded up to a
	// power of two). If idle readers parked more than about 1 KiB deep,
	// every goroutine a server starts after them would take 4 KiB.
	start := []metrics.Sample{{Name: "/gc/stack/starting-size:bytes"}}
	metrics.Read(start)
	t.Logf("starting stack size of new goroutines: %d bytes", start[0].Value.Uint64())
	if got := start[0].Value.Uint64(); got > 2048 {
		t.Errorf("with %d idle readers parked, new goroutines start with a %d-byte stack, want 2048", conns, got)
	}
}

// serveLikeAnApplication echoes messages from a few frames down, as a
// server's goroutine does: examples/echo's chain of calls above Reader
// (Handler's goroutine, serve, echo) takes about 250 bytes of stack.
//
//go:noinline
func serveLikeAnApplication(c *Conn) {
	var appState [200]byte
	for echoOnce(c) == nil {
		appState[len(appState)-1]++
	}
	runtime.KeepAlive(&appState)
}

// Done is made lazily: it must be closed whether it was asked for before
// the connection closed or only after.
func TestDoneBeforeAndAfterClose(t *testing.T) {
	for _, askFirst := range []bool{true, false} {
		c, _ := newPair(t, true, nil)
		var done <-chan struct{}
		if askFirst {
			done = c.Done()
			select {
			case <-done:
				t.Fatal("Done closed while the connection is open")
			default:
			}
		}
		c.CloseNow()
		if !askFirst {
			done = c.Done()
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("asked first %v: Done not closed after CloseNow", askFirst)
		}
	}
}
