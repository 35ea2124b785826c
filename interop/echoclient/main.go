// Command echoclient runs the interop kit's client scenario with this
// package's Dial against an echo server written with another library (the
// kit's Node ws and Python websockets servers, see
// ../shared/interop/README.md, "Server check").
//
//	go run ./interop/echoclient -url ws://127.0.0.1:PORT/
//
// It prints "PASS name" or "FAIL name: why" per check, lines starting with
// "#" for information, and "N passed, M failed" last; the exit status is 1
// if any check failed and 2 on bad usage. The checks are those of the kit's
// Node client (text, UTF-8, empty, binary, 1 MiB, burst, 64 KiB, length
// boundaries, ping, fragmented text, fragments split inside UTF-8
// characters, close 1000), adapted where this package's API differs; the
// comments of each check say how.
//
// Every check runs on one shared connection, one after the other. After a
// failed check the connection is dropped and the next check dials a new
// one, so that one bug does not hide the others.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/wirecraft/websocket"
)

// The kit's limits: 10 s per check, 55 s for the whole scenario, so the
// runner's 60 s hard stop never has to kill us.
const (
	totalBudget = 55 * time.Second
	stepTimeout = 10 * time.Second
)

// fragmentSize is the write buffer of the connection used for the
// fragmented-message checks, and the size of every non-final fragment they
// send. A message Writer sends a fragment each time its buffer fills and
// has no Flush, so the only way to put a boundary at a chosen byte is to
// make each non-final fragment exactly one buffer long. The package raises
// any buffer below 139 bytes (a header plus a full control frame) to that
// floor, so fragmentSize must stay at or above it to be exact.
const fragmentSize = 160

// message is one data message as received.
type message struct {
	typ  websocket.MessageType
	data []byte
}

// conn is a client connection with a goroutine that reads all the time:
// the package sees pongs and close frames only while something reads, and
// the checks want to notice unexpected messages.
type conn struct {
	ws    *websocket.Conn
	msgs  chan message
	pongs chan []byte
	done  chan struct{} // closed when the reading goroutine ends

	// Set by the reading goroutine before done is closed.
	readErr   error
	closeCode websocket.StatusCode // from the server's close frame; -1 if none
	closeText string
}

// dial opens a connection with the given write buffer size (0: default)
// and starts its reading goroutine. The handshake is bounded by deadline.
func dial(url string, writeBufferSize int, deadline time.Time) (*conn, string, error) {
	c := &conn{
		msgs:      make(chan message, 1024),
		pongs:     make(chan []byte, 16),
		done:      make(chan struct{}),
		closeCode: -1,
	}
	opts := &websocket.DialOptions{ConnOptions: websocket.ConnOptions{
		WriteBufferSize: writeBufferSize,
		OnPong: func(p []byte) {
			// p is only valid during the call: keep a copy.
			select {
			case c.pongs <- bytes.Clone(p):
			default:
			}
		},
	}}
	if *compress {
		opts.Compression = &websocket.CompressionOptions{}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		if resp != nil {
			return nil, "", fmt.Errorf("dial: %v (HTTP %s)", err, resp.Status)
		}
		return nil, "", fmt.Errorf("dial: %v", err)
	}
	c.ws = ws
	ext := resp.Header.Get("Sec-WebSocket-Extensions")
	go c.readLoop()
	return c, ext, nil
}

// readLoop reads messages until the connection ends and records why it
// ended.
func (c *conn) readLoop() {
	defer close(c.done)
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.readErr = err
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.closeCode, c.closeText = ce.Code, ce.Reason
			}
			return
		}
		c.msgs <- message{typ, data}
	}
}

// recv returns the next message, failing at the deadline or when the
// connection ends first.
func (c *conn) recv(deadline time.Time) (message, error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case m := <-c.msgs:
		return m, nil
	case <-c.done:
		select { // messages queued before the end still count
		case m := <-c.msgs:
			return m, nil
		default:
		}
		return message{}, fmt.Errorf("connection ended before the echo arrived: %v", c.readErr)
	case <-timer.C:
		return message{}, errors.New("timeout waiting for the echo")
	}
}

// send writes one message in a single frame. If the deadline passes while
// the write is blocked, the package closes the connection, which is what a
// failed check does anyway.
func (c *conn) send(typ websocket.MessageType, data []byte, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	return c.ws.Write(ctx, typ, data)
}

// sendFragments writes one message whose fragments are exactly parts: each
// part but the last must be fragmentSize bytes long and the connection must
// have been dialed with that write buffer size (see fragmentSize).
func (c *conn) sendFragments(typ websocket.MessageType, parts [][]byte, deadline time.Time) error {
	for i, p := range parts[:len(parts)-1] {
		if len(p) != fragmentSize {
			return fmt.Errorf("internal: fragment %d is %d bytes, must be %d", i, len(p), fragmentSize)
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	w, err := c.ws.Writer(ctx, typ)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			w.Close()
			return err
		}
	}
	// The last part is smaller than the buffer: Close sends it as the
	// final fragment.
	return w.Close()
}

// describe names a message briefly for failure messages.
func describe(m message) string {
	head := m.data
	if len(head) > 16 {
		head = head[:16]
	}
	return fmt.Sprintf("%v(%d bytes: %q)", m.typ, len(m.data), head)
}

// expect receives one message and compares it with the one sent.
func expect(c *conn, typ websocket.MessageType, want []byte, deadline time.Time) error {
	m, err := c.recv(deadline)
	if err != nil {
		return err
	}
	if m.typ != typ {
		return fmt.Errorf("wrong message type: got %s, want %v", describe(m), typ)
	}
	if !bytes.Equal(m.data, want) {
		return fmt.Errorf("payload differs: got %d bytes sha256 %x, want %d bytes sha256 %x",
			len(m.data), sha256.Sum256(m.data), len(want), sha256.Sum256(want))
	}
	return nil
}

// echo sends one message and expects it back unchanged.
func echo(c *conn, typ websocket.MessageType, data []byte, deadline time.Time) error {
	if err := c.send(typ, data, deadline); err != nil {
		return err
	}
	return expect(c, typ, data, deadline)
}

// padTo returns s followed by dots up to n bytes, so that a fragment can be
// exactly fragmentSize long and still say what it is.
func padTo(s string, n int) string {
	return s + strings.Repeat(".", n-len(s))
}

// fragmentedEcho dials a connection of its own whose write buffer is
// fragmentSize, sends parts as the fragments of one text message, expects
// the whole text back and closes. Its own connection because the buffer
// size is fixed at dial time.
func fragmentedEcho(url string, parts [][]byte, deadline time.Time) error {
	fc, _, err := dial(url, fragmentSize, deadline)
	if err != nil {
		return err
	}
	defer fc.ws.CloseNow()
	if err := fc.sendFragments(websocket.MessageText, parts, deadline); err != nil {
		return err
	}
	if err := expect(fc, websocket.MessageText, bytes.Join(parts, nil), deadline); err != nil {
		return err
	}
	if n := len(fc.msgs); n > 0 {
		return fmt.Errorf("%d extra unexpected message(s) received", n)
	}
	fc.ws.Close(websocket.StatusNormalClosure, "")
	return nil
}

// check is one step of the scenario. url is for the checks that need a
// connection of their own.
type check struct {
	name string
	fn   func(url string, c *conn, deadline time.Time) error
}

// compress makes every connection offer permessage-deflate.
var compress = flag.Bool("compress", false, "offer permessage-deflate")

func main() {
	url := flag.String("url", "", "ws:// or wss:// URL of an echo server")
	flag.Parse()
	if *url == "" && flag.NArg() > 0 {
		*url = flag.Arg(0)
	}
	if !strings.HasPrefix(*url, "ws://") && !strings.HasPrefix(*url, "wss://") {
		fmt.Fprintln(os.Stderr, "usage: echoclient -url ws://HOST:PORT/PATH")
		os.Exit(2)
	}

	utf8Text := []byte("héllo ✓ 𝄞")
	bin256 := make([]byte, 256)
	for i := range bin256 {
		bin256[i] = byte(i)
	}
	bin1MiB := make([]byte, 1<<20)
	rand.Read(bin1MiB)
	pattern := "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
	text64k := []byte(strings.Repeat(pattern, 65536/len(pattern)))

	checks := []check{
		{"text-hello", func(_ string, c *conn, dl time.Time) error {
			return echo(c, websocket.MessageText, []byte("hello"), dl)
		}},
		{"text-utf8", func(_ string, c *conn, dl time.Time) error {
			return echo(c, websocket.MessageText, utf8Text, dl)
		}},
		{"text-empty", func(_ string, c *conn, dl time.Time) error {
			return echo(c, websocket.MessageText, []byte{}, dl)
		}},
		{"binary-0-255", func(_ string, c *conn, dl time.Time) error {
			return echo(c, websocket.MessageBinary, bin256, dl)
		}},
		{"binary-1MiB-sha256", func(_ string, c *conn, dl time.Time) error {
			return echo(c, websocket.MessageBinary, bin1MiB, dl)
		}},
		{"burst-100-ordered", func(_ string, c *conn, dl time.Time) error {
			// All 100 go out before any echo is read: the reading
			// goroutine queues the echoes meanwhile.
			for i := 0; i < 100; i++ {
				if err := c.send(websocket.MessageText, []byte(fmt.Sprintf("burst-%03d", i)), dl); err != nil {
					return err
				}
			}
			for i := 0; i < 100; i++ {
				if err := expect(c, websocket.MessageText, []byte(fmt.Sprintf("burst-%03d", i)), dl); err != nil {
					return fmt.Errorf("message #%d: %v", i, err)
				}
			}
			return nil
		}},
		{"text-64KiB", func(_ string, c *conn, dl time.Time) error {
			return echo(c, websocket.MessageText, text64k, dl)
		}},
		{"binary-length-boundaries", func(_ string, c *conn, dl time.Time) error {
			// The edges of the 7-, 16- and 64-bit length encodings.
			sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 65537}
			bufs := make([][]byte, len(sizes))
			for k, n := range sizes {
				bufs[k] = make([]byte, n)
				for i := range bufs[k] {
					bufs[k][i] = byte(i*7 + n)
				}
				if err := c.send(websocket.MessageBinary, bufs[k], dl); err != nil {
					return err
				}
			}
			for k := range sizes {
				if err := expect(c, websocket.MessageBinary, bufs[k], dl); err != nil {
					return fmt.Errorf("size %d: %v", sizes[k], err)
				}
			}
			return nil
		}},
		{"ping-payload", func(_ string, c *conn, dl time.Time) error {
			// Conn.Ping chooses its own payload (8 bytes) and returns only
			// once a pong with that same payload came back, so a nil
			// error is the payload check. The kit's payload
			// "interop-ping ✓ 42" cannot be sent: the API takes none.
			ctx, cancel := context.WithDeadline(context.Background(), dl)
			defer cancel()
			if err := c.ws.Ping(ctx); err != nil {
				return fmt.Errorf("no matching pong: %v", err)
			}
			select {
			case p := <-c.pongs:
				fmt.Printf("# ping-payload: pong payload %x (chosen by Conn.Ping)\n", p)
			default:
				return errors.New("Ping returned but OnPong saw no pong")
			}
			return nil
		}},
		{"fragmented-text-3", func(url string, _ *conn, dl time.Time) error {
			// TEXT(fin=0) CONT(fin=0) CONT(fin=1). The Node client's
			// fragments are 9, 9 and 10 bytes; here the first two are
			// padded to one write buffer (see fragmentSize).
			return fragmentedEcho(url, [][]byte{
				[]byte(padTo("frag-one|", fragmentSize)),
				[]byte(padTo("frag-two|", fragmentSize)),
				[]byte("frag-three"),
			}, dl)
		}},
		{"fragmented-text-utf8-split", func(url string, _ *conn, dl time.Time) error {
			// Fragment boundaries inside the 3-byte ✓ (after its first
			// byte) and the 4-byte 𝄞 (after its second): legal, since
			// only the whole message must be valid UTF-8 (RFC 6455 §5.6,
			// §8.1). The padding puts each character across a boundary.
			full := []byte(padTo("split", fragmentSize-1) + "✓" +
				padTo(" inside", fragmentSize-4) + "𝄞" + " code points")
			a := bytes.Index(full, []byte("✓")) + 1
			b := bytes.Index(full, []byte("𝄞")) + 2
			if a != fragmentSize || b != 2*fragmentSize {
				return fmt.Errorf("internal: boundaries at %d and %d, want %d and %d", a, b, fragmentSize, 2*fragmentSize)
			}
			return fragmentedEcho(url, [][]byte{full[:a], full[a:b], full[b:]}, dl)
		}},
		{"close-1000", func(_ string, c *conn, dl time.Time) error {
			// Close sends 1000 "bye" and returns once the reading
			// goroutine has received the server's close frame, or after
			// the package's close timeout (5 s, shorter than a step).
			if err := c.ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
				return err
			}
			timer := time.NewTimer(time.Until(dl))
			defer timer.Stop()
			select {
			case <-c.done:
			case <-timer.C:
				return errors.New("the reading goroutine did not end after Close")
			}
			if c.closeCode != websocket.StatusNormalClosure {
				return fmt.Errorf("server close code %d, want 1000 (read error: %v)", c.closeCode, c.readErr)
			}
			fmt.Printf("# close-1000: server close frame code=%d reason=%q\n", c.closeCode, c.closeText)
			return nil
		}},
	}

	fmt.Println("# peer: github.com/wirecraft/websocket as client")
	fmt.Printf("# url: %s\n# permessage-deflate offered: %v\n", *url, *compress)

	start := time.Now()
	passed, failed := 0, 0
	var c *conn
	printedExt := false
	for _, ch := range checks {
		left := totalBudget - time.Since(start)
		if left < 500*time.Millisecond {
			fmt.Printf("FAIL %s: total time budget exhausted before this check\n", ch.name)
			failed++
			continue
		}
		dl := time.Now().Add(min(stepTimeout, left))
		err := func() error {
			if c != nil {
				select {
				case <-c.done: // the previous connection ended: start a fresh one
					c.ws.CloseNow()
					c = nil
				default:
				}
			}
			if c == nil {
				nc, ext, err := dial(*url, 0, dl)
				if err != nil {
					return err
				}
				c = nc
				if !printedExt {
					if ext == "" {
						ext = "(none)"
					}
					fmt.Printf("# negotiated extensions: %s\n", ext)
					printedExt = true
				}
			}
			if n := len(c.msgs); n > 0 {
				return fmt.Errorf("%d unexpected message(s) arrived after the previous check", n)
			}
			if err := ch.fn(*url, c, dl); err != nil {
				return err
			}
			if n := len(c.msgs); n > 0 {
				return fmt.Errorf("%d extra unexpected message(s) received", n)
			}
			return nil
		}()
		if err != nil {
			fmt.Printf("FAIL %s: %v\n", ch.name, err)
			failed++
			if c != nil {
				c.ws.CloseNow()
				c = nil
			}
		} else {
			fmt.Printf("PASS %s\n", ch.name)
			passed++
		}
	}
	if c != nil {
		c.ws.CloseNow()
	}
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
