// TEST FIXTURE — NEVER COPY THIS CODE.
//
// This file is a deliberately sloppy WebSocket echo server with optional
// planted bugs. It exists only so that faulty_test.go can prove that the
// conformance runner (autobahn/fuzzer) catches exactly the planted bugs and
// nothing else. It does not use this repository's package, because the
// package's public API cannot switch its own checks off (by design). It has
// no limits, no timeouts, no extensions and no concurrency care; it is correct
// only for what the suite's sections 1–7, 9 and 10 send.
//
// Without faults (-fault none) it handles those sections like a strict
// server: it validates RSV, masking, opcodes, control-frame rules,
// fragmentation, close payloads and UTF-8 (incrementally, so that 6.4.x
// "fail fast" passes), echoes each complete message as one frame, answers
// pings with the same payload and answers a valid close with the same code
// (an empty close with an empty close). To fail it sends a close frame with
// 1002 (1007 for bad UTF-8) and closes TCP at once, like gorilla/websocket.
//
// The faults (-fault NAME, repeatable or comma-separated):
//
//	utf8        UTF-8 is never checked, neither in text messages nor in close
//	            reasons: invalid text is echoed, a close with an invalid
//	            reason is answered like a valid one.
//	rsv         RSV bits are ignored: such frames are processed as if the
//	            bits were clear (data echoed, a close answered).
//	ping        every pong carries the payload "wrong-payload".
//	close-code  a valid close from the peer is answered with 1011 instead of
//	            its own code. (Closes the fixture sends to fail the connection
//	            keep 1002/1007.)
//	drop        a valid close from the peer is not answered: the fixture
//	            closes TCP without sending a close frame. (Failing the
//	            connection still sends 1002/1007, because dropping TCP there is
//	            allowed by the suite and would not be a fault.)
package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"
)

// faults is the set of planted bugs. The zero value is the fixture without
// bugs.
type faults struct {
	utf8, rsv, ping, closeCode, drop bool
}

// faultNames lists the accepted -fault names ("none" selects the fixture
// without bugs).
var faultNames = []string{"none", "utf8", "rsv", "ping", "close-code", "drop"}

// faultFlag is the -fault flag: repeatable, each value a comma-separated
// list of names.
type faultFlag struct {
	set     bool // -fault was given at least once
	enabled faults
}

func (f *faultFlag) String() string { return "" }

func (f *faultFlag) Set(v string) error {
	f.set = true
	for _, name := range strings.Split(v, ",") {
		switch strings.TrimSpace(name) {
		case "none":
		case "utf8":
			f.enabled.utf8 = true
		case "rsv":
			f.enabled.rsv = true
		case "ping":
			f.enabled.ping = true
		case "close-code":
			f.enabled.closeCode = true
		case "drop":
			f.enabled.drop = true
		default:
			return fmt.Errorf("unknown fault %q (known: %s)", name, strings.Join(faultNames, ", "))
		}
	}
	return nil
}

// Opcodes and close codes used by the fixture (RFC 6455 §5.2, §7.4.1).
const (
	opCont, opText, opBinary   = 0x0, 0x1, 0x2
	opClose, opPing, opPong    = 0x8, 0x9, 0xa
	closeProtocolError         = 1002
	closeInvalidPayload        = 1007
	closeInternalError         = 1011
	websocketGUID              = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	faultyPongPayload          = "wrong-payload"
	faultyReadChunk            = 32 << 10
	maxControlPayload          = 125
	firstByteFin, firstByteRSV = 0x80, 0x70
)

// faultyHandler upgrades every request with a minimal handshake and runs the
// sloppy echo loop on the hijacked connection.
func faultyHandler(f faults) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Sec-WebSocket-Key")
		if key == "" || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "not a WebSocket handshake", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		sum := sha1.Sum([]byte(key + websocketGUID))
		fmt.Fprintf(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			base64.StdEncoding.EncodeToString(sum[:]))
		// brw.Reader may already hold the first frames.
		(&faultyConn{f: f, conn: conn, r: brw.Reader}).run()
	})
}

// faultyConn is one connection of the fixture.
type faultyConn struct {
	f    faults
	conn net.Conn
	r    *bufio.Reader
}

// header is a parsed frame header.
type header struct {
	fin     bool
	rsv     byte
	op      byte
	masked  bool
	length  uint64
	maskKey [4]byte
}

// run echoes messages until the connection ends. Every return closes TCP
// (deferred in faultyHandler).
func (c *faultyConn) run() {
	var (
		msgOp byte // opcode of the open message; 0 when none is open
		msg   []byte
		check utf8Stream
		buf   = make([]byte, faultyReadChunk)
	)
	for {
		h, err := c.readHeader()
		if err != nil {
			if err == errBadLength {
				c.fail(closeProtocolError)
			}
			return
		}
		control := h.op >= 8
		switch {
		case h.rsv != 0 && !c.f.rsv,
			!h.masked,
			h.op > opBinary && h.op < opClose, h.op > opPong,
			control && (!h.fin || h.length > maxControlPayload),
			h.op == opCont && msgOp == 0,
			(h.op == opText || h.op == opBinary) && msgOp != 0:
			c.fail(closeProtocolError)
			return
		}
		if control {
			payload := make([]byte, h.length)
			if _, err := io.ReadFull(c.r, payload); err != nil {
				return
			}
			unmask(h.maskKey, 0, payload)
			switch h.op {
			case opPing:
				if c.f.ping {
					payload = []byte(faultyPongPayload)
				}
				c.writeFrame(opPong, payload)
			case opClose:
				c.answerClose(payload)
				return
			}
			continue
		}
		if h.op != opCont {
			msgOp, msg = h.op, msg[:0]
			check = utf8Stream{}
		}
		validate := msgOp == opText && !c.f.utf8
		// Read the payload as it arrives, checking UTF-8 piece by piece so
		// that text invalid in its middle fails before the frame ends.
		for pos := uint64(0); pos < h.length; {
			n, err := c.r.Read(buf[:min(uint64(len(buf)), h.length-pos)])
			if err != nil {
				return
			}
			unmask(h.maskKey, pos, buf[:n])
			pos += uint64(n)
			if validate && !check.write(buf[:n]) {
				c.fail(closeInvalidPayload)
				return
			}
			msg = append(msg, buf[:n]...)
		}
		if !h.fin {
			continue
		}
		if validate && !check.complete() {
			c.fail(closeInvalidPayload)
			return
		}
		c.writeFrame(msgOp, msg)
		msgOp = 0
	}
}

// answerClose replies to the peer's close frame (RFC 6455 §5.5.1), or fails
// the connection when the close payload is invalid.
func (c *faultyConn) answerClose(payload []byte) {
	if len(payload) == 1 {
		c.fail(closeProtocolError)
		return
	}
	if len(payload) >= 2 {
		code := int(binary.BigEndian.Uint16(payload))
		if !validCloseCode(code) {
			c.fail(closeProtocolError)
			return
		}
		if !c.f.utf8 && !utf8.Valid(payload[2:]) {
			c.fail(closeInvalidPayload)
			return
		}
	}
	switch {
	case c.f.drop:
		// Planted bug: no close frame, TCP is simply closed by the caller.
	case c.f.closeCode:
		c.writeClose(closeInternalError)
	case len(payload) == 0:
		c.writeFrame(opClose, nil)
	default:
		c.writeFrame(opClose, payload[:2]) // the peer's code, no reason
	}
}

// fail sends a close frame with code; the caller then closes TCP.
func (c *faultyConn) fail(code int) { c.writeClose(code) }

func (c *faultyConn) writeClose(code int) {
	c.writeFrame(opClose, binary.BigEndian.AppendUint16(nil, uint16(code)))
}

// validCloseCode reports whether a received close code is allowed
// (RFC 6455 §7.4): 1000–1003, 1007–1011 and the 3000–4999 range.
func validCloseCode(code int) bool {
	return code >= 1000 && code <= 1003 || code >= 1007 && code <= 1011 || code >= 3000 && code <= 4999
}

// errBadLength reports a 64-bit payload length with the top bit set.
var errBadLength = fmt.Errorf("64-bit payload length with the most significant bit set")

// readHeader reads one frame header (RFC 6455 §5.2).
func (c *faultyConn) readHeader() (header, error) {
	var h header
	var b [8]byte
	if _, err := io.ReadFull(c.r, b[:2]); err != nil {
		return h, err
	}
	h.fin = b[0]&firstByteFin != 0
	h.rsv = (b[0] & firstByteRSV) >> 4
	h.op = b[0] & 0x0f
	h.masked = b[1]&0x80 != 0
	h.length = uint64(b[1] & 0x7f)
	switch h.length {
	case 126:
		if _, err := io.ReadFull(c.r, b[:2]); err != nil {
			return h, err
		}
		h.length = uint64(binary.BigEndian.Uint16(b[:2]))
	case 127:
		if _, err := io.ReadFull(c.r, b[:8]); err != nil {
			return h, err
		}
		h.length = binary.BigEndian.Uint64(b[:8])
		if h.length>>63 != 0 {
			return h, errBadLength
		}
	}
	if h.masked {
		if _, err := io.ReadFull(c.r, h.maskKey[:]); err != nil {
			return h, err
		}
	}
	return h, nil
}

// writeFrame writes one unmasked final frame (servers do not mask).
func (c *faultyConn) writeFrame(op byte, payload []byte) {
	hdr := []byte{firstByteFin | op, 0}
	switch n := len(payload); {
	case n <= 125:
		hdr[1] = byte(n)
	case n <= 0xffff:
		hdr[1] = 126
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr[1] = 127
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	// Errors show up as a failed read on the next loop iteration.
	c.conn.Write(append(hdr, payload...))
}

// unmask XORs b with the mask key, b starting at offset pos of the payload.
func unmask(key [4]byte, pos uint64, b []byte) {
	for i := range b {
		b[i] ^= key[(pos+uint64(i))%4]
	}
}

// utf8Stream checks text that arrives in pieces: everything up to the last
// character boundary must be valid, and the unfinished last character must
// still be completable (utf8.FullRune reports an impossible prefix such as
// F4 90 or ED A0 as "full", so it is then checked, and rejected, by
// utf8.Valid).
type utf8Stream struct{ tail []byte }

// write adds the next piece and reports whether the text so far can still
// be valid.
func (u *utf8Stream) write(p []byte) bool {
	b := append(u.tail, p...)
	cut := len(b)
	for i := len(b) - 1; i >= 0 && i >= len(b)-3; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(b[:cut]) {
		return false
	}
	u.tail = append([]byte(nil), b[cut:]...)
	return true
}

// complete reports whether the text ended on a character boundary.
func (u *utf8Stream) complete() bool { return len(u.tail) == 0 }
