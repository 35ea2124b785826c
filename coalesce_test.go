package websocket

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// writeCounter counts the writes made on a connection.
type writeCounter struct {
	net.Conn
	writes atomic.Int32
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes.Add(1)
	return w.Conn.Write(p)
}

// coalescingPair is newPair for a server Conn with the given CoalesceWrites
// whose transport counts writes.
func coalescingPair(t *testing.T, coalesce bool) (*Conn, *rawPeer, *writeCounter) {
	t.Helper()
	c, peer := newPair(t, true, nil)
	counter := &writeCounter{Conn: c.t.(net.Conn)}
	opts := &ConnOptions{CloseTimeout: 2 * time.Second, CoalesceWrites: coalesce}
	c = newConn(counter, true, nil, "", opts, nil)
	t.Cleanup(func() { c.CloseNow() })
	return c, peer, counter
}

// expectText reads one frame from the peer side and checks it is the text
// message want.
func (p *rawPeer) expectText(want string) {
	p.t.Helper()
	h, payload := p.next()
	if h.opcode != opText || !h.fin || string(payload) != want {
		p.t.Fatalf("got %v fin=%v %q, want text %q", h.opcode, h.fin, payload, want)
	}
}

// Sixteen pipelined messages read in one read are answered in one write
// with CoalesceWrites, and in sixteen without.
func TestCoalescedEchoWrites(t *testing.T) {
	for _, tc := range []struct {
		coalesce bool
		writes   int32
	}{{false, 16}, {true, 1}} {
		t.Run(fmt.Sprintf("coalesce=%v", tc.coalesce), func(t *testing.T) {
			c, peer, counter := coalescingPair(t, tc.coalesce)
			var frames [][]byte
			for i := range 16 {
				frames = append(frames, peer.frame(true, 0, opText, fmt.Appendf(nil, "message %d", i)))
			}
			peer.send(frames...) // all in the socket before the Conn reads
			for range 16 {
				if err := echoOnce(c); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 16 {
				peer.expectText(fmt.Sprintf("message %d", i))
			}
			if got := counter.writes.Load(); got != tc.writes {
				t.Errorf("%d writes for 16 echoes, want %d", got, tc.writes)
			}
		})
	}
}

// Held answers leave as soon as the Conn has to wait for the network, even
// when part of the next frame has arrived: the peer may be waiting for them
// before it sends the rest.
func TestCoalescedFramesLeaveBeforeWaiting(t *testing.T) {
	c, peer, counter := coalescingPair(t, true)
	third := peer.frame(true, 0, opText, []byte("three"))
	peer.send(peer.frame(true, 0, opText, []byte("one")), peer.frame(true, 0, opText, []byte("two")), third[:3])
	echoed := make(chan error, 1)
	go func() {
		for range 3 {
			if err := echoOnce(c); err != nil {
				echoed <- err
				return
			}
		}
		echoed <- nil
	}()
	// The rest of the third frame is sent only after the first two
	// answers arrived: if they were still held, this would time out.
	peer.expectText("one")
	peer.expectText("two")
	peer.send(third[3:])
	peer.expectText("three")
	if err := <-echoed; err != nil {
		t.Fatal(err)
	}
	if got := counter.writes.Load(); got != 2 {
		t.Errorf("%d writes, want 2 (one and two together, then three)", got)
	}
}

// A control frame is never held, and held data frames go out before it, in
// the same write: the pong follows the answers written before it.
func TestCoalescedFramesKeepOrderWithControlFrames(t *testing.T) {
	c, peer, counter := coalescingPair(t, true)
	peer.send(peer.frame(true, 0, opText, []byte("a")), peer.frame(true, 0, opText, []byte("b")), peer.frame(true, 0, opPing, []byte("p")))
	errs := make(chan error, 1)
	go func() {
		for range 2 {
			if err := echoOnce(c); err != nil {
				errs <- err
				return
			}
		}
		_, _, err := c.Reader(bg) // answers the ping, then waits
		errs <- err
	}()
	peer.expectText("a")
	peer.expectText("b")
	if h, p := peer.next(); h.opcode != opPong || string(p) != "p" {
		t.Fatalf("got %v %q, want the pong", h.opcode, p)
	}
	if got := counter.writes.Load(); got != 1 {
		t.Errorf("%d writes, want 1", got)
	}
	peer.send(peer.frame(true, 0, opClose, closePayload(StatusNormalClosure, "")))
	if err := <-errs; CloseStatus(err) != StatusNormalClosure {
		t.Fatalf("Reader: %v, want the peer's close", err)
	}
}

// Flush sends what is held when the reader does not come back, and Close
// sends held messages before its close frame.
func TestFlushAndCloseSendHeldFrames(t *testing.T) {
	for _, end := range []string{"Flush", "Close"} {
		t.Run(end, func(t *testing.T) {
			c, peer, _ := coalescingPair(t, true)
			peer.send(peer.frame(true, 0, opText, []byte("first")), peer.frame(true, 0, opText, []byte("second")))
			if err := echoOnce(c); err != nil {
				t.Fatal(err)
			}
			if !c.hasHeld.Load() {
				t.Fatal("the answer was not held although the next message had arrived")
			}
			if end == "Flush" {
				if err := c.Flush(bg); err != nil {
					t.Fatal(err)
				}
				peer.expectText("first")
				return
			}
			closed := make(chan error, 1)
			go func() { closed <- c.Close(StatusNormalClosure, "") }()
			peer.expectText("first")
			peer.expectClose(StatusNormalClosure)
			peer.answerClose(StatusNormalClosure)
			if err := <-closed; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// With a reader echoing and other goroutines writing at the same time,
// every message arrives, whole and in each writer's order, whoever ends up
// writing the held frames.
func TestCoalescingWithConcurrentWriters(t *testing.T) {
	server, peer := newPair(t, true, &ConnOptions{CloseTimeout: 2 * time.Second, CoalesceWrites: true})
	client := newConn(peer.conn, false, nil, "", &ConnOptions{CloseTimeout: 2 * time.Second}, nil)
	const echoes, writers, perWriter = 500, 3, 200

	go func() {
		for {
			if err := echoOnce(server); err != nil {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				if err := server.Write(bg, MessageBinary, fmt.Appendf(nil, "w%d-%d", w, i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	go func() {
		for i := range echoes {
			if err := client.Write(bg, MessageText, fmt.Appendf(nil, "e-%d", i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()

	nextEcho := 0
	nextFrom := make([]int, writers)
	for range echoes + writers*perWriter {
		typ, p, err := client.Read(bg)
		if err != nil {
			t.Fatalf("after %d echoes: %v", nextEcho, err)
		}
		if typ == MessageText {
			if want := fmt.Sprintf("e-%d", nextEcho); string(p) != want {
				t.Fatalf("echo %q, want %q", p, want)
			}
			nextEcho++
			continue
		}
		var w, i int
		if _, err := fmt.Sscanf(string(p), "w%d-%d", &w, &i); err != nil || w >= writers || i != nextFrom[w] {
			t.Fatalf("message %q out of order (next from each writer: %v)", p, nextFrom)
		}
		nextFrom[w]++
	}
	wg.Wait()
}

// Coalesced echoes allocate nothing either: neither when the held answers
// leave with the last one, nor when the reader hands them to a goroutine
// before it waits for the network (the answer to the first of two
// messages is held, the second is read without an answer, and the third
// arrives later).
func TestCoalescedEchoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector (make test runs this test without it)")
	}
	server, peer := newPair(t, true, &ConnOptions{CloseTimeout: 2 * time.Second, CoalesceWrites: true})
	client := newConn(peer.conn, false, nil, "", &ConnOptions{CloseTimeout: 2 * time.Second}, nil)
	msg := bytes.Repeat([]byte("x"), 100)
	buf := make([]byte, len(msg))
	send := func(n int) {
		for range n {
			if err := client.Write(bg, MessageText, msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	echo := func(n int) {
		for range n {
			if err := echoOnce(server); err != nil {
				t.Fatal(err)
			}
		}
	}
	receive := func(c *Conn, n int) {
		for range n {
			_, r, err := c.Reader(bg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(r, buf); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name      string
		roundTrip func()
	}{
		{"with the last answer", func() {
			send(4)
			echo(4)
			receive(client, 4)
		}},
		{"at the next read", func() {
			send(2)
			echo(1)
			receive(server, 1) // unanswered: the first answer stays held
			if !server.hasHeld.Load() {
				t.Fatal("the first answer was not held")
			}
			send(1)
			echo(1) // the read hands the held answer to a goroutine
			receive(client, 2)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.roundTrip() // the pools start empty
			if allocs := testing.AllocsPerRun(100, tc.roundTrip); allocs != 0 {
				t.Errorf("%v allocations per round, want 0", allocs)
			}
		})
	}
}

// The reader never waits for the write of held frames: a peer may itself
// be writing, not reading, until its message is read, and over a
// transport with no room (net.Pipe holds no bytes at all; a full socket
// is the same) an end whose reader waited to write would wait for ever.
// Here the answer to "one" is held while "two" is read; the next Read
// must flush it, while the peer sends "three" before reading anything.
func TestReaderDoesNotWaitForHeldFrames(t *testing.T) {
	ours, theirs := net.Pipe()
	// A liveness bound: a reader stuck in the write makes the peer's send
	// fail here instead of hanging the test.
	theirs.SetDeadline(time.Now().Add(10 * time.Second))
	c := newConn(ours, true, nil, "", &ConnOptions{CloseTimeout: time.Second, CoalesceWrites: true}, nil)
	peer := &rawPeer{t: t, conn: theirs, br: bufio.NewReader(theirs), client: true}
	t.Cleanup(func() { c.CloseNow(); theirs.Close() })

	app := make(chan error, 1)
	go func() {
		app <- func() error {
			for i, answer := range []bool{true, false, true} {
				_, p, err := c.Read(bg)
				if err != nil {
					return fmt.Errorf("read %d: %w", i, err)
				}
				if !answer {
					continue
				}
				if err := c.Write(bg, MessageText, p); err != nil {
					return fmt.Errorf("write %d: %w", i, err)
				}
				if i == 0 && !c.hasHeld.Load() {
					return errors.New("the answer to the first message was not held")
				}
			}
			return nil
		}()
	}()
	peer.send(peer.frame(true, 0, opText, []byte("one")), peer.frame(true, 0, opText, []byte("two")))
	peer.send(peer.frame(true, 0, opText, []byte("three")))
	peer.expectText("one")
	peer.expectText("three")
	if err := <-app; err != nil {
		t.Fatal(err)
	}
}
