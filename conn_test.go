package websocket

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawPeer is the other end of a Conn, speaking frames by hand so tests can
// send what no well-behaved endpoint would.
type rawPeer struct {
	t      *testing.T
	conn   net.Conn
	br     *bufio.Reader
	client bool // a client masks what it sends and expects unmasked frames
}

// newPair returns a Conn in the given role over loopback TCP, and the raw
// peer on the other end.
func newPair(t *testing.T, server bool, opts *ConnOptions) (*Conn, *rawPeer) {
	t.Helper()
	return newPairDeflate(t, server, opts, nil)
}

// newPairDeflate is newPair for a Conn that agreed on permessage-deflate
// with the given settings.
func newPairDeflate(t *testing.T, server bool, opts *ConnOptions, deflate *deflateConfig) (*Conn, *rawPeer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialed := make(chan net.Conn, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Error(err)
		}
		dialed <- c
	}()
	accepted, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	other := <-dialed
	if opts == nil {
		opts = &ConnOptions{CloseTimeout: 2 * time.Second}
	}
	c := newConn(accepted, server, nil, "", opts, deflate)
	p := &rawPeer{t: t, conn: other, br: bufio.NewReader(other), client: server}
	// Nothing a test does should take long; a stuck test fails instead of
	// hanging.
	other.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.CloseNow(); other.Close() })
	return c, p
}

func (p *rawPeer) frame(fin bool, rsv byte, op opcode, payload []byte) []byte {
	h := frameHeader{fin: fin, rsv: rsv, opcode: op, masked: p.client, length: int64(len(payload)), maskKey: 0x9a8b7c6d}
	b := make([]byte, maxFrameHeaderSize+len(payload))
	n := putFrameHeader(b, h)
	copy(b[n:], payload)
	if h.masked {
		mask(h.maskKey, b[n:n+len(payload)])
	}
	return b[:n+len(payload)]
}

func (p *rawPeer) send(frames ...[]byte) {
	p.t.Helper()
	if _, err := p.conn.Write(bytes.Join(frames, nil)); err != nil {
		p.t.Fatalf("peer write: %v", err)
	}
}

// next reads one frame, checking the masking rule of RFC 6455 §5.1.
func (p *rawPeer) next() (frameHeader, []byte) {
	p.t.Helper()
	h, payload, err := readFrameFrom(p)
	if err != nil {
		p.t.Fatalf("peer read: %v", err)
	}
	if h.masked == p.client {
		p.t.Fatalf("masking rule broken: masked=%v", h.masked)
	}
	if h.masked {
		mask(h.maskKey, payload)
	}
	return h, payload
}

// expectClose reads frames until a close frame and checks its code.
func (p *rawPeer) expectClose(want StatusCode) {
	p.t.Helper()
	for {
		h, payload := p.next()
		if h.opcode != opClose {
			continue
		}
		got := StatusNoStatusReceived
		if len(payload) >= 2 {
			got = StatusCode(int(payload[0])<<8 | int(payload[1]))
		}
		if got != want {
			p.t.Fatalf("close code %v, want %v", got, want)
		}
		return
	}
}

// expectEOF checks that the Conn closed TCP.
func (p *rawPeer) expectEOF() {
	p.t.Helper()
	if _, err := io.Copy(io.Discard, p.br); err != nil {
		p.t.Fatalf("want a clean TCP close, got %v", err)
	}
}

// answerClose plays a well-behaved peer once the Conn has sent its close:
// reply with a close frame, then end TCP the way RFC 6455 §7.1.1 wants (a
// raw server closes first; a raw client waits for the server's FIN).
func (p *rawPeer) answerClose(code StatusCode) {
	p.t.Helper()
	p.send(p.frame(true, 0, opClose, closePayload(code, "")))
	if p.client {
		p.expectEOF()
	}
	p.conn.Close()
}

func closePayload(code StatusCode, reason string) []byte {
	return appendClosePayload(nil, code, reason)
}

var bg = context.Background()

// readAsync runs Read in a goroutine. After a failure, Read only returns
// once the closing handshake is over, which needs the peer's reply.
func readAsync(c *Conn) <-chan error {
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Read(bg)
		errc <- err
	}()
	return errc
}

func TestReadFragmentedWithControlFrames(t *testing.T) {
	c, p := newPair(t, true, nil)
	var pongs [][]byte
	c.onPong = func(b []byte) { pongs = append(pongs, bytes.Clone(b)) }
	p.send(
		p.frame(false, 0, opText, []byte("frag-one|")),
		p.frame(true, 0, opPing, []byte("between")),
		p.frame(false, 0, opContinuation, nil), // empty fragments are legal
		p.frame(true, 0, opPong, []byte("unsolicited")),
		p.frame(false, 0, opContinuation, []byte("frag-two|")),
		p.frame(true, 0, opContinuation, []byte("frag-three")),
	)
	typ, msg, err := c.Read(bg)
	if err != nil || typ != MessageText || string(msg) != "frag-one|frag-two|frag-three" {
		t.Fatalf("Read = %v %q %v", typ, msg, err)
	}
	h, payload := p.next()
	if h.opcode != opPong || string(payload) != "between" {
		t.Errorf("reply to ping = %v %q, want pong \"between\"", h.opcode, payload)
	}
	if len(pongs) != 1 || string(pongs[0]) != "unsolicited" {
		t.Errorf("OnPong saw %q", pongs)
	}
}

// "✓" is e2 9c 93 and "𝄞" f0 9d 84 9e: fragment boundaries inside them are
// legal, only the whole message must be valid.
func TestReadUTF8SplitAcrossFragments(t *testing.T) {
	c, p := newPair(t, true, nil)
	p.send(
		p.frame(false, 0, opText, []byte("a\xe2")),
		p.frame(false, 0, opContinuation, []byte("\x9c")),
		p.frame(false, 0, opContinuation, []byte("\x93b\xf0\x9d")),
		p.frame(true, 0, opContinuation, []byte("\x84\x9e")),
	)
	_, msg, err := c.Read(bg)
	if err != nil || string(msg) != "a✓b𝄞" {
		t.Fatalf("Read = %q, %v", msg, err)
	}
}

// Invalid UTF-8 fails the connection as soon as it arrives, before the
// rest of the message (Autobahn 6.4.x).
func TestReadInvalidUTF8FailsFast(t *testing.T) {
	c, p := newPair(t, true, nil)
	p.send(p.frame(false, 0, opText, []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80")))
	// No further fragment is sent: the failure cannot wait for the end.
	_, r, err := c.Reader(bg)
	if err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 1)
	go func() { _, err := io.ReadAll(r); readErr <- err }()
	p.expectClose(StatusInvalidFramePayloadData)
	p.answerClose(StatusInvalidFramePayloadData)
	if err := <-readErr; !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("err = %v, want ErrInvalidUTF8", err)
	}
}

func TestReadMessageEndingInsideCharacter(t *testing.T) {
	c, p := newPair(t, true, nil)
	p.send(p.frame(false, 0, opText, []byte("ok\xe2\x9c")), p.frame(true, 0, opContinuation, nil))
	readErr := readAsync(c)
	p.expectClose(StatusInvalidFramePayloadData)
	p.answerClose(StatusInvalidFramePayloadData)
	if err := <-readErr; !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("err = %v, want ErrInvalidUTF8", err)
	}
}

// The read limit is applied to the frame header: the payload of an
// oversized message is never read, only announced.
func TestReadLimit(t *testing.T) {
	c, p := newPair(t, true, &ConnOptions{ReadLimit: 1000})
	p.send(p.frame(false, 0, opBinary, make([]byte, 600)))
	// The second fragment announces 600 more bytes, over the limit; send
	// its header alone.
	hdr := p.frame(true, 0, opContinuation, make([]byte, 600))[:2+2+4]
	p.send(hdr)
	_, r, err := c.Reader(bg)
	if err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, r); readErr <- err }()
	p.expectClose(StatusMessageTooBig)
	p.answerClose(StatusMessageTooBig)
	if err := <-readErr; !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("err = %v, want ErrMessageTooBig", err)
	}

	c2, p2 := newPair(t, true, nil)
	c2.SetReadLimit(10)
	p2.send(p2.frame(true, 0, opText, []byte("eleven byte")))
	readErr2 := readAsync(c2)
	p2.expectClose(StatusMessageTooBig)
	p2.conn.Close()
	if err := <-readErr2; !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("SetReadLimit: err = %v", err)
	}
}

// Each broken rule is answered with its close code, and the error names
// its kind.
func TestProtocolViolations(t *testing.T) {
	tests := []struct {
		name     string
		server   bool
		frames   func(p *rawPeer) [][]byte
		wantCode StatusCode
		wantErr  error
	}{
		{"unmasked frame to a server", true, func(p *rawPeer) [][]byte {
			p.client = false
			return [][]byte{p.frame(true, 0, opText, []byte("x"))}
		}, StatusProtocolError, ErrProtocol},
		{"masked frame to a client", false, func(p *rawPeer) [][]byte {
			p.client = true
			return [][]byte{p.frame(true, 0, opText, []byte("x"))}
		}, StatusProtocolError, ErrProtocol},
		{"RSV1 without extension", true, func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(true, rsv1Bit, opText, []byte("x"))}
		}, StatusProtocolError, ErrProtocol},
		{"reserved opcode", true, func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(true, 0, 0xB, nil)}
		}, StatusProtocolError, ErrProtocol},
		{"ping of 126 bytes", true, func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(true, 0, opPing, make([]byte, 126))}
		}, StatusProtocolError, ErrProtocol},
		{"fragmented ping", true, func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(false, 0, opPing, nil)}
		}, StatusProtocolError, ErrProtocol},
		{"continuation first", true, func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(true, 0, opContinuation, []byte("x"))}
		}, StatusProtocolError, ErrProtocol},
		{"text inside a message", true, func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(false, 0, opText, []byte("a")), p.frame(true, 0, opText, []byte("b"))}
		}, StatusProtocolError, ErrProtocol},
		{"non-minimal length", true, func(p *rawPeer) [][]byte {
			return [][]byte{{0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4, 1, 2, 3, 4, 5}}
		}, StatusProtocolError, ErrProtocol},
		{"invalid UTF-8 text", true, func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(true, 0, opText, []byte{0xff})}
		}, StatusInvalidFramePayloadData, ErrInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p := newPair(t, tt.server, nil)
			frames := tt.frames(p)
			p.send(frames...)
			readErr := readAsync(c)
			p.client = tt.server
			p.expectClose(tt.wantCode)
			p.answerClose(tt.wantCode)
			if err := <-readErr; !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			// The error sticks.
			if _, _, err2 := c.Read(bg); !errors.Is(err2, tt.wantErr) {
				t.Errorf("second Read = %v", err2)
			}
		})
	}
}

// A close from the peer is answered with the same code when valid, 1002
// when not (RFC 6455 §7.4), and reported as a *CloseError.
func TestPeerCloseCodes(t *testing.T) {
	tests := []struct {
		payload   []byte
		wantReply StatusCode
		wantErr   error
	}{
		{nil, StatusNoStatusReceived, nil},
		{closePayload(1000, "bye"), 1000, nil},
		{closePayload(1001, ""), 1001, nil},
		{closePayload(1011, ""), 1011, nil},
		{closePayload(3000, ""), 3000, nil},
		{closePayload(4999, "app"), 4999, nil},
		{[]byte{0x03}, StatusProtocolError, ErrProtocol},
		{closePayload(999, ""), StatusProtocolError, ErrProtocol},
		{[]byte{0x03, 0xed}, StatusProtocolError, ErrProtocol}, // 1005 may not be sent
		{closePayload(1006, ""), StatusProtocolError, ErrProtocol},
		{closePayload(1015, ""), StatusProtocolError, ErrProtocol},
		{closePayload(2000, ""), StatusProtocolError, ErrProtocol},
		{closePayload(5000, ""), StatusProtocolError, ErrProtocol},
		{append(closePayload(1000, ""), 0xff), StatusInvalidFramePayloadData, ErrInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%x", tt.payload), func(t *testing.T) {
			c, p := newPair(t, true, nil)
			p.send(p.frame(true, 0, opClose, tt.payload))
			readErr := readAsync(c)
			p.expectClose(tt.wantReply)
			if tt.wantErr != nil {
				p.answerClose(tt.wantReply)
			} else {
				p.expectEOF() // a server closes TCP first (RFC 6455 §7.1.1)
			}
			err := <-readErr
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			} else {
				var ce *CloseError
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v, want a *CloseError", err)
				}
				pc, _ := parseClosePayload(tt.payload)
				if *ce != *pc {
					t.Errorf("CloseError = %+v, want %+v", ce, pc)
				}
			}
		})
	}
}

// A client that receives a close replies and then waits for the server to
// close TCP, rather than closing first.
func TestClientWaitsForServerToCloseTCP(t *testing.T) {
	c, p := newPair(t, false, nil)
	p.send(p.frame(true, 0, opClose, closePayload(1000, "")))
	readDone := make(chan error, 1)
	go func() {
		_, _, err := c.Read(bg)
		readDone <- err
	}()
	p.expectClose(1000)
	select {
	case err := <-readDone:
		t.Fatalf("Read returned (%v) before the server closed TCP", err)
	default:
	}
	p.conn.Close()
	if err := <-readDone; CloseStatus(err) != 1000 {
		t.Fatalf("err = %v, want close 1000", err)
	}
}

func TestCloseHandshakeFromUs(t *testing.T) {
	for _, server := range []bool{true, false} {
		c, p := newPair(t, server, nil)
		closed := make(chan error, 1)
		go func() { closed <- c.Close(StatusGoingAway, "restart") }()
		h, payload := p.next()
		if h.opcode != opClose || !bytes.Equal(payload, closePayload(StatusGoingAway, "restart")) {
			t.Fatalf("server=%v: got %v %q", server, h.opcode, payload)
		}
		p.send(p.frame(true, 0, opText, []byte("late data is dropped")), p.frame(true, 0, opClose, closePayload(1001, "")))
		if !server {
			p.conn.Close()
		}
		if err := <-closed; err != nil {
			t.Errorf("server=%v: Close = %v", server, err)
		}
		if err := c.Write(bg, MessageText, []byte("x")); !errors.Is(err, net.ErrClosed) && !errors.Is(err, errCloseSent) {
			t.Errorf("Write after Close = %v", err)
		}
		if err := c.Close(StatusNormalClosure, ""); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close = %v, want net.ErrClosed", err)
		}
	}
}

// Close from another goroutine ends a blocked Read: the reader receives
// the peer's reply as a *CloseError.
func TestCloseDuringBlockedRead(t *testing.T) {
	c, p := newPair(t, true, nil)
	readErr := make(chan error, 1)
	go func() {
		_, _, err := c.Read(bg)
		readErr <- err
	}()
	closeErr := make(chan error, 1)
	go func() { closeErr <- c.Close(StatusNormalClosure, "") }()
	p.expectClose(StatusNormalClosure)
	p.send(p.frame(true, 0, opClose, closePayload(1000, "")))
	if err := <-readErr; CloseStatus(err) != StatusNormalClosure {
		t.Errorf("Read = %v, want the peer's close", err)
	}
	if err := <-closeErr; err != nil {
		t.Errorf("Close = %v", err)
	}
	p.expectEOF()
}

// CloseNow ends a blocked Read at once, and it reports net.ErrClosed.
func TestCloseNowDuringBlockedRead(t *testing.T) {
	c, _ := newPair(t, true, nil)
	readErr := make(chan error, 1)
	go func() {
		_, _, err := c.Read(bg)
		readErr <- err
	}()
	c.CloseNow()
	if err := <-readErr; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read = %v, want net.ErrClosed", err)
	}
}

func TestCancelledContextClosesBlockedRead(t *testing.T) {
	c, _ := newPair(t, true, nil)
	ctx, cancel := context.WithCancel(bg)
	readErr := make(chan error, 1)
	go func() {
		_, _, err := c.Read(ctx)
		readErr <- err
	}()
	cancel()
	if err := <-readErr; !errors.Is(err, context.Canceled) {
		t.Errorf("Read = %v, want context.Canceled", err)
	}
	if err := c.Write(bg, MessageText, nil); err == nil {
		t.Error("the connection must be closed after a cancelled read")
	}
}

func TestPeerDropsTCP(t *testing.T) {
	c, p := newPair(t, true, nil)
	p.send(p.frame(false, 0, opText, []byte("half")))
	p.conn.Close()
	_, _, err := c.Read(bg)
	if CloseStatus(err) != StatusAbnormalClosure {
		t.Errorf("err = %v, want close status 1006", err)
	}
}

// Many goroutines write at once, some with fragmented messages and pings
// among them: every message must arrive whole and in one piece, with only
// control frames between its fragments.
func TestConcurrentWriters(t *testing.T) {
	for _, server := range []bool{true, false} {
		c, p := newPair(t, server, &ConnOptions{WriteBufferSize: 256})
		const writers, perWriter = 8, 50
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perWriter; i++ {
					msg := bytes.Repeat([]byte{byte('a' + w)}, 100+w*150+i)
					var err error
					if i%2 == 0 {
						err = c.Write(bg, MessageBinary, msg)
					} else {
						var wr io.WriteCloser
						wr, err = c.Writer(bg, MessageBinary)
						if err == nil {
							for len(msg) > 0 && err == nil {
								n := min(len(msg), 97)
								_, err = wr.Write(msg[:n])
								msg = msg[n:]
							}
							err = errors.Join(err, wr.Close())
						}
					}
					if err != nil {
						t.Error(err)
						return
					}
					if i%10 == 0 {
						c.writeControl(bg, opPing, []byte{byte(w)})
					}
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()

		for got := 0; got < writers*perWriter; {
			var msg []byte
			h, payload := p.next()
			if h.opcode == opPing {
				continue
			}
			if h.opcode != opBinary {
				t.Fatalf("message starts with %v", h.opcode)
			}
			msg = append(msg, payload...)
			for fin := h.fin; !fin; {
				h, payload = p.next()
				switch h.opcode {
				case opPing: // control frames may come between fragments
				case opContinuation:
					msg = append(msg, payload...)
					fin = h.fin
				default:
					t.Fatalf("%v frame inside a message", h.opcode)
				}
			}
			if len(msg) == 0 || !bytes.Equal(msg, bytes.Repeat(msg[:1], len(msg))) {
				t.Fatalf("message mixes writers: %q...", msg[:min(len(msg), 40)])
			}
			got++
		}
		<-done
	}
}

func TestPingWaitsForPong(t *testing.T) {
	c, p := newPair(t, false, nil)
	go c.Read(bg) // pongs are seen by the reader
	pingDone := make(chan error, 1)
	go func() { pingDone <- c.Ping(bg) }()
	h, payload := p.next()
	if h.opcode != opPing || len(payload) != 8 {
		t.Fatalf("got %v %x", h.opcode, payload)
	}
	p.send(p.frame(true, 0, opPong, []byte("not the one")))
	select {
	case err := <-pingDone:
		t.Fatalf("Ping returned %v on an unrelated pong", err)
	default:
	}
	p.send(p.frame(true, 0, opPong, payload))
	if err := <-pingDone; err != nil {
		t.Fatal(err)
	}
}

// What OnPong did is visible to the caller of the Ping the pong answers,
// with no lock of its own: under the race detector, a Ping woken before
// OnPong ran is a reported race, and without it a missing payload.
func TestOnPongRunsBeforePingReturns(t *testing.T) {
	c, p := newPair(t, false, nil)
	var seen []byte // written by OnPong, read after Ping, no lock
	c.onPong = func(b []byte) { seen = bytes.Clone(b) }
	go c.Read(bg)
	pingDone := make(chan error, 1)
	go func() { pingDone <- c.Ping(bg) }()
	_, payload := p.next()
	p.send(p.frame(true, 0, opPong, payload))
	if err := <-pingDone; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(seen, payload) {
		t.Fatalf("after Ping returned, OnPong had seen %x, want %x", seen, payload)
	}
}

func TestKeepaliveClosesSilentPeer(t *testing.T) {
	c, p := newPair(t, true, &ConnOptions{PingInterval: 20 * time.Millisecond, PongTimeout: 20 * time.Millisecond})
	h, _ := p.next() // a ping comes, and goes unanswered
	if h.opcode != opPing {
		t.Fatalf("got %v, want a keepalive ping", h.opcode)
	}
	_, _, err := c.Read(bg)
	if !errors.Is(err, ErrPongTimeout) {
		t.Fatalf("Read = %v, want ErrPongTimeout", err)
	}
}

func TestKeepaliveAnswered(t *testing.T) {
	c, p := newPair(t, true, &ConnOptions{PingInterval: 5 * time.Millisecond, PongTimeout: 10 * time.Second})
	go c.Read(bg)
	for i := 0; i < 3; i++ {
		h, payload := p.next()
		if h.opcode != opPing {
			t.Fatalf("got %v, want a keepalive ping", h.opcode)
		}
		p.send(p.frame(true, 0, opPong, payload))
	}
	if err := c.closedErr(); err != nil {
		t.Fatalf("connection closed: %v", err)
	}
}

// Reader hands the message over as it arrives; calling Reader again skips
// what was not read.
func TestReaderDiscardsUnreadRest(t *testing.T) {
	c, p := newPair(t, true, nil)
	p.send(
		p.frame(false, 0, opBinary, []byte("first part")),
		p.frame(true, 0, opContinuation, []byte(" and the rest")),
		p.frame(true, 0, opText, []byte("second")),
	)
	_, r, err := c.Reader(bg)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "first" {
		t.Fatalf("got %q, %v", buf, err)
	}
	typ, msg, err := c.Read(bg)
	if err != nil || typ != MessageText || string(msg) != "second" {
		t.Fatalf("Read = %v %q %v", typ, msg, err)
	}
	if n, err := r.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("old reader: %d, %v; want 0, EOF", n, err)
	}
}

// What a client writes is masked, with a fresh key for every frame.
func TestClientMasksWithFreshKeys(t *testing.T) {
	c, p := newPair(t, false, nil)
	keys := make([]byte, 512)
	for i := range keys {
		keys[i] = byte(i / 4) // key n is n,n,n,n
	}
	c.maskKeys = &maskKeySource{rand: bytes.NewReader(keys), pos: 512}
	go func() {
		c.Write(bg, MessageText, []byte("one"))
		c.Write(bg, MessageText, []byte("two"))
	}()
	p.client = false
	h1, m1 := p.next()
	h2, m2 := p.next()
	if !h1.masked || !h2.masked || h1.maskKey != 0 || h2.maskKey != 0x01010101 {
		t.Errorf("keys %#x %#x: want two different masks", h1.maskKey, h2.maskKey)
	}
	if string(m1) != "one" || string(m2) != "two" {
		t.Errorf("payloads %q %q", m1, m2)
	}
}

// A goroutine blocked in Read when Close is called keeps the messages that
// were in flight: Close must not take the read side away between them.
func TestCloseLeavesInFlightMessagesToTheReader(t *testing.T) {
	c, p := newPair(t, false, nil)
	got := make(chan string, 10)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, msg, err := c.Read(bg)
			if err != nil {
				readErr <- err
				return
			}
			got <- string(msg)
		}
	}()
	// Wait until the reader holds the read side, as a read loop would.
	for c.readSem.state.Load()&semHeld == 0 {
		time.Sleep(time.Millisecond)
	}
	closeErr := make(chan error, 1)
	go func() { closeErr <- c.Close(StatusNormalClosure, "") }()
	p.expectClose(StatusNormalClosure)
	// The peer's messages sent before it saw our close, then its reply.
	p.send(
		p.frame(true, 0, opText, []byte("a")),
		p.frame(true, 0, opText, []byte("b")),
		p.frame(true, 0, opText, []byte("c")),
		p.frame(true, 0, opClose, closePayload(StatusNormalClosure, "")),
	)
	p.conn.Close()
	if err := <-readErr; CloseStatus(err) != StatusNormalClosure {
		t.Fatalf("reader ended with %v", err)
	}
	if err := <-closeErr; err != nil {
		t.Fatalf("Close = %v", err)
	}
	close(got)
	var all []string
	for m := range got {
		all = append(all, m)
	}
	if strings.Join(all, "") != "abc" {
		t.Errorf("reader got %q, want a, b, c", all)
	}
}
