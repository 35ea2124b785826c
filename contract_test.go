// Tests of the concurrency contract stated on Conn: one reader, any number
// of writers, Close from anywhere. Each test pins one way the contract can
// break; the randomized search for others is stress_test.go.

package websocket

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// A goroutine reading in a loop while another calls Close: the two touch
// the same read state, so only one of them may at a time. The race
// detector is what fails this test when they do not.
func TestReadLoopRacesClose(t *testing.T) {
	for i := range 50 {
		server, client := connPair(t)
		go func() { // the server keeps sending and answers the close
			for {
				if err := server.Write(bg, MessageText, []byte("tick")); err != nil {
					return
				}
			}
		}()
		go func() {
			for {
				if _, _, err := server.Read(bg); err != nil {
					return
				}
			}
		}()
		readerDone := make(chan struct{})
		go func() {
			defer close(readerDone)
			for {
				if _, _, err := client.Read(bg); err != nil {
					return
				}
			}
		}()
		time.Sleep(time.Duration(i%5) * time.Millisecond) // a spread of moments, not a timing assertion
		client.Close(StatusNormalClosure, "")
		select {
		case <-readerDone:
		case <-time.After(10 * time.Second):
			t.Fatal("the reader did not return after Close")
		}
	}
}

// A writer used after its Close fails, and leaves the message another
// goroutine is writing alone.
func TestStaleWriterFails(t *testing.T) {
	c, peer := newPair(t, true, nil)
	a, err := c.Writer(bg, MessageText)
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("A"))
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := c.Writer(bg, MessageText)
	if err != nil {
		t.Fatal(err)
	}
	b.Write([]byte("B1-"))
	if _, err := a.Write([]byte("A-stale-")); !errors.Is(err, ErrWriterClosed) {
		t.Errorf("write to a closed writer: err = %v, want ErrWriterClosed", err)
	}
	if err := a.Close(); !errors.Is(err, ErrWriterClosed) {
		t.Errorf("second Close: err = %v, want ErrWriterClosed", err)
	}
	b.Write([]byte("B2"))
	if err := b.Close(); err != nil {
		t.Fatalf("closing the live writer: %v", err)
	}
	for _, want := range []string{"A", "B1-B2"} {
		var got []byte
		for {
			h, p := peer.next()
			got = append(got, p...)
			if h.fin {
				break
			}
		}
		if string(got) != want {
			t.Errorf("peer received %q, want %q", got, want)
		}
	}
}

// The reader answers a ping without waiting for the write side: while a
// writer holds it, the pong is owed, the reader goes on reading, and the
// writer sends the pong when it lets go.
func TestReaderDoesNotWaitToAnswerPing(t *testing.T) {
	c, peer := newPair(t, true, nil)
	// Stand for a writer in the middle of a frame.
	if err := c.acquire(bg, &c.frameSem); err != nil {
		t.Fatal(err)
	}
	peer.send(peer.frame(true, 0, opPing, []byte("p1")), peer.frame(true, 0, opText, []byte("after the ping")))
	read := make(chan error, 1)
	go func() {
		_, msg, err := c.Read(bg)
		if err == nil && string(msg) != "after the ping" {
			err = errors.New("wrong message: " + string(msg))
		}
		read <- err
	}()
	select {
	case err := <-read:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reader waited for the write side to answer a ping")
	}
	c.releaseFrame()
	h, p := peer.next()
	if h.opcode != opPong || string(p) != "p1" {
		t.Fatalf("got opcode %v %q, want the owed pong", h.opcode, p)
	}
}

// A large message goes out in fragments, so a pong owed while it is being
// written leaves before it ends, not after (RFC 6455 §5.4: control frames
// may go between fragments).
func TestPongBetweenFragmentsOfLargeWrite(t *testing.T) {
	pinged := make(chan struct{}, 1)
	c, peer := newPair(t, true, &ConnOptions{CloseTimeout: 2 * time.Second, OnPing: func([]byte) { pinged <- struct{}{} }})
	go func() {
		for {
			if _, _, err := c.Read(bg); err != nil {
				return
			}
		}
	}()
	big := make([]byte, 64<<20) // far more than the socket buffers hold: the write blocks
	written := make(chan error, 1)
	go func() { written <- c.Write(bg, MessageBinary, big) }()
	peer.send(peer.frame(true, 0, opPing, []byte("p")))
	<-pinged
	var got int
	sawPong := false
	for {
		h, p := peer.next()
		if h.opcode == opPong {
			sawPong = true
			continue
		}
		got += len(p)
		if h.fin {
			break
		}
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	if got != len(big) {
		t.Fatalf("received %d bytes, want %d", got, len(big))
	}
	if !sawPong {
		t.Fatal("the pong did not go out between the fragments of the message")
	}
}

// A goroutine waiting for a lock is not overtaken without bound by
// another that releases and takes it again in a loop: once it is queued,
// the next release is its.
func TestSemaphoreWaiterNotStarved(t *testing.T) {
	c := semConn()
	s := &c.readSem
	var taken atomic.Int64 // how many times the hog took the lock
	stop := make(chan struct{})
	hogDone := make(chan struct{})
	go func() {
		defer close(hogDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := c.acquire(bg, s); err != nil {
				return
			}
			taken.Add(1)
			spin() // hold the lock a while, as a writer holds it for a message
			s.release()
		}
	}()
	// Stop the hog also when a check below fails.
	defer func() { close(stop); <-hogDone }()
	for taken.Load() < 100 { // let the hog get going
		runtime.Gosched()
	}
	const bound = 1
	worst := int64(0)
	for range 200 {
		var holds atomic.Bool
		got := make(chan int64, 1)
		released := make(chan struct{})
		go func() {
			defer close(released)
			if err := c.acquire(bg, s); err != nil {
				t.Error(err) // cannot happen: c is never closed
				got <- 0
				return
			}
			holds.Store(true)
			got <- taken.Load()
			s.release()
		}()
		// The waiter either finds the lock free as the hog lets go of it,
		// or queues. A waiter counted while the lock is held is the
		// waiter of this round: the hog waits only while this round's
		// waiter holds the lock, and then holds says so. (Counted while
		// the lock is free is a waiter about to take it itself, and may
		// be the hog, left over from the last round.)
		waitFor(t, "the waiter to queue or take the lock", func() bool {
			v := s.state.Load()
			return v >= semWaiter && v&semHeld != 0 || holds.Load()
		})
		queuedAt := taken.Load()
		worst = max(worst, <-got-queuedAt)
		<-released
	}
	if worst > bound {
		t.Fatalf("a queued waiter was overtaken %d times, want at most %d", worst, bound)
	}
	t.Logf("a queued waiter was overtaken at most %d times (the hog took the lock %d times)", worst, taken.Load())
}

// spin keeps the processor busy for about a microsecond.
func spin() {
	x := 0
	for i := range 1000 {
		x += i
	}
	spinSink.Store(int64(x))
}

var spinSink atomic.Int64

// The shutdown watch keeps nothing alive: an http.Server that accepted a
// connection can be collected once the program drops it.
func TestShutdownWatchDoesNotKeepServers(t *testing.T) {
	collected := make(chan struct{})
	handled := make(chan struct{})
	func() {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer close(handled)
			c, err := Accept(w, r, nil)
			if err != nil {
				return
			}
			c.Close(StatusNormalClosure, "")
		}))
		runtime.AddCleanup(srv.Config, func(ch chan struct{}) { close(ch) }, collected)
		srv.Start()
		c, _, err := Dial(bg, wsURL(srv), nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Read(bg)
		c.CloseNow()
		srv.Close()
		// httptest's Close does not wait for a handler that hijacked.
		<-handled
	}()
	if !collectedAfterGC(collected) {
		t.Fatal("the http.Server was not collected: something still refers to it")
	}
}

// collectedAfterGC runs the collector, up to 50 times 20 ms apart, until
// collected is closed (by a cleanup, runtime.AddCleanup), and reports
// whether it was.
func collectedAfterGC(collected <-chan struct{}) bool {
	for range 50 {
		runtime.GC()
		select {
		case <-collected:
			return true
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

// With KeepOnShutdown, an HTTP/1.1 connection outlives its server's
// Shutdown; without it, it is closed with 1001.
func TestShutdownPolicy(t *testing.T) {
	for _, keep := range []bool{false, true} {
		accepted := make(chan *Conn, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := Accept(w, r, &AcceptOptions{KeepOnShutdown: keep})
			if err != nil {
				return
			}
			accepted <- c
		}))
		c, _, err := Dial(bg, wsURL(srv), nil)
		if err != nil {
			t.Fatal(err)
		}
		server := <-accepted
		go func() { // the server side reads, so it answers close frames
			for {
				if _, _, err := server.Read(bg); err != nil {
					return
				}
			}
		}()
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		if err := srv.Config.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if keep {
			if err := server.Write(bg, MessageText, []byte("still here")); err != nil {
				t.Fatalf("KeepOnShutdown: write after Shutdown: %v", err)
			}
			if _, msg, err := c.Read(bg); err != nil || string(msg) != "still here" {
				t.Fatalf("KeepOnShutdown: read = %q, %v", msg, err)
			}
			c.Close(StatusNormalClosure, "")
		} else {
			_, _, err := c.Read(bg)
			if CloseStatus(err) != StatusGoingAway {
				t.Fatalf("after Shutdown: read err = %v, want a close with 1001", err)
			}
		}
		srv.Close()
	}
}

// Concurrent Close calls and a reader: every call returns, exactly one
// close frame goes out.
func TestConcurrentCloses(t *testing.T) {
	server, client := connPair(t)
	go func() {
		for {
			if _, _, err := server.Read(bg); err != nil {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client.Close(StatusNormalClosure, "")
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("concurrent Close calls did not all return")
	}
	if _, _, err := client.Read(bg); err == nil {
		t.Fatal("read after Close succeeded")
	}
}

// A message that stops after part of it went out cannot be followed by
// another (RFC 6455 §5.4): the connection is closed instead.
func TestAbandonedMessageClosesConnection(t *testing.T) {
	c, peer := newPair(t, true, nil)
	source := io.MultiReader(bytes.NewReader(make([]byte, 2<<20)), iotest.ErrReader(errors.New("source failed")))
	if _, err := c.WriteFrom(bg, MessageBinary, source); err == nil {
		t.Fatal("WriteFrom with a failing source succeeded")
	}
	if err := c.Write(bg, MessageText, []byte("next")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after an abandoned message: %v, want the connection closed", err)
	}
	// The peer sees fragments of the binary message, never a new message
	// among them.
	peer.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		h, _, err := readFrameFrom(peer)
		if err != nil {
			break // the connection ended
		}
		if h.opcode == opText {
			t.Fatal("a new message started inside the abandoned one")
		}
	}
}

// A pong owed while a writer holds the write side is sent even when that
// writer hands the lock to a Flush rather than freeing it.
func TestOwedPongAfterHandOffToFlush(t *testing.T) {
	c, peer := newPair(t, true, nil)
	if err := c.acquire(bg, &c.frameSem); err != nil {
		t.Fatal(err)
	}
	peer.send(peer.frame(true, 0, opPing, []byte("p")))
	go c.Read(bg)
	waitFor(t, "the reader to owe the pong", func() bool { return c.pongOwed.Load() })
	go c.Flush(bg)
	waitFor(t, "Flush to wait for the lock", func() bool { return c.frameSem.state.Load() >= semWaiter })
	c.releaseFrame() // hands the lock to Flush
	h, p := peer.next()
	if h.opcode != opPong || string(p) != "p" {
		t.Fatalf("got opcode %v %q, want the owed pong", h.opcode, p)
	}
}

// waitFor polls cond until it holds, failing after a generous bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); runtime.Gosched() {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}

// readFrameFrom reads the next frame as it is on the wire (the payload
// still masked, if it is), returning an error rather than failing the
// test: rawPeer.next is built on it, and tests that read until the
// connection ends call it directly.
func readFrameFrom(p *rawPeer) (frameHeader, []byte, error) {
	var hdr []byte
	for {
		b, err := p.br.Peek(len(hdr) + 1)
		if err != nil {
			return frameHeader{}, nil, err
		}
		hdr = b
		h, n, err := parseFrameHeader(hdr)
		if err != nil {
			return h, nil, err
		}
		if n > 0 {
			p.br.Discard(n)
			payload := make([]byte, h.length)
			if _, err := io.ReadFull(p.br, payload); err != nil {
				return h, nil, err
			}
			return h, payload, nil
		}
	}
}

// With no read limit, a frame header that announces an enormous length
// is not allocated up front: the peer's word is not memory.
func TestUnlimitedReadDoesNotTrustLength(t *testing.T) {
	c, peer := newPair(t, true, &ConnOptions{ReadLimit: -1, CloseTimeout: time.Second})
	h := frameHeader{fin: true, opcode: opBinary, masked: true, length: 1 << 62}
	var hdr [maxFrameHeaderSize]byte
	n := putFrameHeader(hdr[:], h)
	peer.conn.Write(hdr[:n])
	peer.conn.Write([]byte("a few bytes"))
	peer.conn.Close()
	if _, _, err := c.Read(bg); CloseStatus(err) != StatusAbnormalClosure {
		t.Fatalf("err = %v, want 1006 once the peer leaves", err)
	}
}

// A Writer whose write failed between fragments never finishes its
// message with a hole in it: Close fails too, and the connection is
// closed, since part of the message is out.
func TestWriterFailedFragmentIsNotFinished(t *testing.T) {
	c, peer := newPair(t, true, &ConnOptions{WriteBufferSize: 600, CloseTimeout: time.Second})
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	w, err := c.Writer(ctx, MessageBinary)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 900)); err != nil { // the first 600 go out
		t.Fatal(err)
	}
	// The next fragment waits for the write side, and its context ends.
	if err := c.acquire(bg, &c.frameSem); err != nil {
		t.Fatal(err)
	}
	go func() {
		waitFor(t, "the write to wait for the write side", func() bool { return c.frameSem.state.Load() >= semWaiter })
		cancel()
	}()
	_, err = w.Write(make([]byte, 600))
	c.releaseFrame()
	if err == nil {
		t.Fatal("the write that could not get the write side succeeded")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close finished a message that lost a fragment")
	}
	peer.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		h, _, err := readFrameFrom(peer)
		if err != nil {
			return // the connection ended without the message's final frame
		}
		if h.fin && h.opcode == opContinuation {
			t.Fatal("the message was finished with a hole in it")
		}
	}
}
