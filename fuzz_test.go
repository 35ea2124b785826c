package websocket

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
	"unicode/utf8"
)

// scriptedTransport plays back fixed bytes as the peer's side of the
// connection and keeps what the Conn writes.
type scriptedTransport struct {
	in  io.Reader
	out bytes.Buffer
}

func (s *scriptedTransport) Read(p []byte) (int, error)       { return s.in.Read(p) }
func (s *scriptedTransport) Write(p []byte) (int, error)      { return s.out.Write(p) }
func (s *scriptedTransport) Close() error                     { return nil }
func (s *scriptedTransport) SetReadDeadline(time.Time) error  { return nil }
func (s *scriptedTransport) SetWriteDeadline(time.Time) error { return nil }

// clientFrames encodes frames as a client would send them, masked, with
// payloads of "é" (two bytes of UTF-8) and a close code where it fits.
func clientFrames(frames ...frameHeader) []byte {
	var b []byte
	for _, h := range frames {
		h.masked, h.maskKey = true, 0x11223344
		hdr := make([]byte, maxFrameHeaderSize)
		b = append(b, hdr[:putFrameHeader(hdr, h)]...)
		payload := bytes.Repeat([]byte("é"), int(h.length)/2)
		if h.length%2 == 1 {
			payload = append(payload, 'x')
		}
		if h.opcode == opClose && h.length >= 2 {
			payload[0], payload[1] = 0x03, 0xe8
		}
		mask(h.maskKey, payload)
		b = append(b, payload...)
	}
	return b
}

// FuzzReadFrames feeds arbitrary bytes to a server Conn as what the
// client sent. Whatever they are, reading must end with a documented error,
// never a panic or a hang, and every text message handed out must be valid
// UTF-8.
func FuzzReadFrames(f *testing.F) {
	f.Add(clientFrames(frameHeader{fin: true, opcode: opText, length: 5}))
	f.Add(clientFrames(
		frameHeader{opcode: opText, length: 3},
		frameHeader{fin: true, opcode: opPing, length: 4},
		frameHeader{fin: true, opcode: opContinuation, length: 2},
		frameHeader{fin: true, opcode: opClose, length: 2},
	))
	f.Add(clientFrames(frameHeader{fin: true, opcode: opBinary, length: 300}, frameHeader{fin: true, opcode: opPong, length: 0}))
	// A 64-bit length, cut short: large seeds make the fuzzer slow, and the
	// header is what matters here.
	f.Add(clientFrames(frameHeader{fin: true, opcode: opBinary, length: 70000})[:200])
	f.Add(clientFrames(frameHeader{fin: true, rsv: rsv1Bit, opcode: opText, length: 1}))
	f.Add([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x88, 0x81, 0, 0, 0, 0, 0x03})

	f.Fuzz(func(t *testing.T, stream []byte) {
		readToTheEnd(t, stream, 1<<17, nil)
	})
}

// readToTheEnd reads messages from a server Conn fed with stream until
// reading fails, and checks the rules every input must keep: the error is
// a documented one, no message exceeds the limit, every text is valid
// UTF-8, and reading ends.
func readToTheEnd(t *testing.T, stream []byte, limit int64, deflate *deflateConfig) {
	tr := &scriptedTransport{in: bytes.NewReader(stream)}
	c := newConn(tr, true, nil, "", &ConnOptions{ReadLimit: limit}, deflate)
	for i := 0; ; i++ {
		typ, msg, err := c.Read(bg)
		if err != nil {
			var ce *CloseError
			if !errors.As(err, &ce) && !errors.Is(err, ErrProtocol) &&
				!errors.Is(err, ErrInvalidUTF8) && !errors.Is(err, ErrMessageTooBig) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if int64(len(msg)) > limit {
			t.Fatalf("a %d-byte message got past the %d-byte limit", len(msg), limit)
		}
		if typ == MessageText && !utf8.Valid(msg) {
			t.Fatalf("invalid UTF-8 handed out: %x", msg)
		}
		if i > len(stream) {
			t.Fatal("more messages than input bytes")
		}
	}
}

// FuzzReadCompressed is FuzzReadFrames on a connection that agreed on
// permessage-deflate with context takeover: arbitrary frames, RSV1 or not,
// and arbitrary bytes where DEFLATE data is expected, inflated against the
// history of the messages before. The read limit must hold for inflated
// sizes too.
func FuzzReadCompressed(f *testing.F) {
	hello := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00} // RFC 7692 §7.2.3.1
	frame := func(fin bool, rsv byte, op opcode, payload []byte) []byte {
		h := frameHeader{fin: fin, rsv: rsv, opcode: op, masked: true, maskKey: 0x01020304, length: int64(len(payload))}
		b := make([]byte, maxFrameHeaderSize+len(payload))
		n := putFrameHeader(b, h)
		copy(b[n:], payload)
		mask(h.maskKey, b[n:n+len(payload)])
		return b[:n+len(payload)]
	}
	f.Add(frame(true, rsv1Bit, opText, hello))
	f.Add(bytes.Join([][]byte{
		frame(false, rsv1Bit, opText, hello[:2]),
		frame(true, 0, opPing, nil),
		frame(true, 0, opContinuation, hello[2:]),
		frame(true, rsv1Bit, opText, []byte{0xf2, 0x00, 0x11, 0x00, 0x00}), // refers back into the first
	}, nil))
	f.Add(frame(true, rsv1Bit, opBinary, deflateRaw(f, make([]byte, 1<<16)))) // inflates past the limit
	f.Add(frame(true, rsv1Bit, opBinary, []byte{0xff, 0x00}))

	f.Fuzz(func(t *testing.T, stream []byte) {
		readToTheEnd(t, stream, 1<<14, &fullDeflate)
	})
}
