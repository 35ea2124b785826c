// A minimal HTTP/2 client (RFC 9113) that opens WebSocket streams with
// extended CONNECT (RFC 8441), for testing Accept over HTTP/2 without a
// browser. net/http's client cannot do it (its Transport rejects the
// :protocol pseudo-header), so this speaks the frames itself: the client
// preface, SETTINGS, HEADERS with a literal HPACK block, DATA with flow
// control in both directions, WINDOW_UPDATE, PING, RST_STREAM, GOAWAY.
// It decodes the server's header block only as far as :status; Huffman
// coded values are not decoded.

package websocket

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"
)

const h2ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" // RFC 9113 §3.4

// Frame types and flags (RFC 9113 §6).
const (
	h2FrameData         = 0x0
	h2FrameHeaders      = 0x1
	h2FrameRSTStream    = 0x3
	h2FrameSettings     = 0x4
	h2FramePing         = 0x6
	h2FrameGoAway       = 0x7
	h2FrameWindowUpdate = 0x8

	h2FlagEndStream  = 0x1
	h2FlagAck        = 0x1
	h2FlagEndHeaders = 0x4
	h2FlagPadded     = 0x8
	h2FlagPriority   = 0x20
)

// Settings (RFC 9113 §6.5.2; RFC 8441 §3 for ENABLE_CONNECT_PROTOCOL).
const (
	h2SettingHeaderTableSize       = 0x1
	h2SettingInitialWindowSize     = 0x4
	h2SettingMaxFrameSize          = 0x5
	h2SettingEnableConnectProtocol = 0x8
)

// h2Client is one HTTP/2 connection to a test server.
type h2Client struct {
	nc  net.Conn
	wmu sync.Mutex // one frame at a time on the wire

	mu            sync.Mutex
	cond          sync.Cond
	settings      map[uint16]uint32 // the server's, once settingsSeen
	settingsSeen  bool
	connWindow    int64 // bytes we may send on the connection
	initialWindow int64 // send window of a new stream
	maxFrame      int
	streams       map[uint32]*h2Stream
	nextID        uint32
	err           error // the connection failed
}

// dialH2 connects to srv (started with EnableHTTP2 and StartTLS) and
// exchanges the connection prefaces.
func dialH2(t *testing.T, srv *httptest.Server) *h2Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	d := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 5 * time.Second},
		Config:    &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}},
	}
	nc, err := d.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if p := nc.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN chose %q, not h2", p)
	}
	c := &h2Client{
		nc:            nc,
		settings:      map[uint16]uint32{},
		connWindow:    65535,
		initialWindow: 65535,
		maxFrame:      16384,
		streams:       map[uint32]*h2Stream{},
		nextID:        1,
	}
	c.cond.L = &c.mu
	t.Cleanup(func() { nc.Close() })
	// A dynamic table size of 0 keeps the server from indexing fields:
	// this client does not keep an HPACK dynamic table.
	var s []byte
	s = binary.BigEndian.AppendUint16(s, h2SettingHeaderTableSize)
	s = binary.BigEndian.AppendUint32(s, 0)
	if _, err := io.WriteString(nc, h2ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := c.writeFrame(h2FrameSettings, 0, 0, s); err != nil {
		t.Fatal(err)
	}
	go c.readLoop()
	return c
}

func (c *h2Client) writeFrame(typ, flags byte, stream uint32, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var h [9]byte
	h[0], h[1], h[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	h[3], h[4] = typ, flags
	binary.BigEndian.PutUint32(h[5:], stream)
	_, err := (&net.Buffers{h[:], payload}).WriteTo(c.nc)
	return err
}

func (c *h2Client) windowUpdate(stream uint32, n int) {
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], uint32(n))
	c.writeFrame(h2FrameWindowUpdate, 0, stream, p[:])
}

// wait blocks, holding c.mu, until ready is true, the connection fails or
// the deadline (if any) passes.
func (c *h2Client) wait(deadline time.Time, ready func() bool) error {
	if !deadline.IsZero() {
		timer := time.AfterFunc(time.Until(deadline), func() {
			c.mu.Lock()
			c.cond.Broadcast()
			c.mu.Unlock()
		})
		defer timer.Stop()
	}
	for !ready() {
		if c.err != nil {
			return c.err
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return os.ErrDeadlineExceeded
		}
		c.cond.Wait()
	}
	return nil
}

// readLoop reads the server's frames until the connection fails. It never
// blocks on a stream: received data is buffered, and the window is given
// back at once.
func (c *h2Client) readLoop() {
	err := c.readFrames()
	c.mu.Lock()
	c.err = fmt.Errorf("h2 connection: %w", err)
	c.cond.Broadcast()
	c.mu.Unlock()
}

func (c *h2Client) readFrames() error {
	var h [9]byte
	for {
		if _, err := io.ReadFull(c.nc, h[:]); err != nil {
			return err
		}
		n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		typ, flags := h[3], h[4]
		id := binary.BigEndian.Uint32(h[5:]) & 0x7fffffff
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.nc, payload); err != nil {
			return err
		}
		if err := c.handleFrame(typ, flags, id, payload); err != nil {
			return err
		}
	}
}

func (c *h2Client) handleFrame(typ, flags byte, id uint32, p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.cond.Broadcast()
	st := c.streams[id]
	switch typ {
	case h2FrameSettings:
		if flags&h2FlagAck != 0 {
			return nil
		}
		for ; len(p) >= 6; p = p[6:] {
			key, val := binary.BigEndian.Uint16(p), binary.BigEndian.Uint32(p[2:])
			c.settings[key] = val
			switch key {
			case h2SettingInitialWindowSize:
				// RFC 9113 §6.9.2: the change applies to open streams too.
				delta := int64(val) - c.initialWindow
				c.initialWindow = int64(val)
				for _, s := range c.streams {
					s.window += delta
				}
			case h2SettingMaxFrameSize:
				c.maxFrame = int(val)
			}
		}
		c.settingsSeen = true
		go c.writeFrame(h2FrameSettings, h2FlagAck, 0, nil)
	case h2FramePing:
		if flags&h2FlagAck == 0 {
			go c.writeFrame(h2FramePing, h2FlagAck, 0, p)
		}
	case h2FrameWindowUpdate:
		inc := int64(binary.BigEndian.Uint32(p) & 0x7fffffff)
		if id == 0 {
			c.connWindow += inc
		} else if st != nil {
			st.window += inc
		}
	case h2FrameHeaders:
		body, err := h2Unpad(flags, p)
		if err != nil {
			return err
		}
		if flags&h2FlagPriority != 0 {
			body = body[5:]
		}
		if flags&h2FlagEndHeaders == 0 {
			return errors.New("CONTINUATION frames are not supported by this test client")
		}
		if st == nil {
			return nil
		}
		status, err := hpackStatus(body)
		if err != nil {
			return err
		}
		if st.status == "" {
			st.status = status // not trailers
		}
		st.endStream = st.endStream || flags&h2FlagEndStream != 0
	case h2FrameData:
		data, err := h2Unpad(flags, p)
		if err != nil {
			return err
		}
		if len(p) > 0 {
			go c.windowUpdate(0, len(p))
			if flags&h2FlagEndStream == 0 {
				go c.windowUpdate(id, len(p))
			}
		}
		if st != nil {
			st.in.Write(data)
			st.endStream = st.endStream || flags&h2FlagEndStream != 0
		}
	case h2FrameRSTStream:
		if st != nil {
			st.reset = fmt.Errorf("stream reset by the server, error code %#x", binary.BigEndian.Uint32(p))
		}
	case h2FrameGoAway:
		// Streams up to the last one the server names go on; this client
		// opens no more after a test is done with it.
	}
	return nil
}

// h2Unpad removes the padding of a DATA or HEADERS frame (RFC 9113 §6.1).
func h2Unpad(flags byte, p []byte) ([]byte, error) {
	if flags&h2FlagPadded == 0 {
		return p, nil
	}
	if len(p) == 0 || int(p[0]) >= len(p) {
		return nil, errors.New("bad padding")
	}
	return p[1 : len(p)-int(p[0])], nil
}

// connect opens a stream with an extended CONNECT for path (RFC 8441 §4)
// and waits for the response headers. fields are regular header fields,
// lower case. It fails the test if the server did not send
// SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3).
func (c *h2Client) connect(t *testing.T, path string, fields ...string) *h2Stream {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	c.mu.Lock()
	err := c.wait(deadline, func() bool { return c.settingsSeen })
	enabled := c.settings[h2SettingEnableConnectProtocol] == 1
	st := &h2Stream{c: c, id: c.nextID, window: c.initialWindow}
	c.nextID += 2
	c.streams[st.id] = st
	c.mu.Unlock()
	if err != nil {
		t.Fatalf("waiting for the server's SETTINGS: %v", err)
	}
	if !enabled {
		t.Fatal("the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL=1 (is GODEBUG=http2xconnect=1 set?)")
	}

	block := hpackLiterals(nil,
		":method", "CONNECT", ":protocol", "websocket", ":scheme", "https",
		":path", path, ":authority", c.nc.RemoteAddr().String())
	block = hpackLiterals(block, fields...)
	if err := c.writeFrame(h2FrameHeaders, h2FlagEndHeaders, st.id, block); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	err = c.wait(deadline, func() bool { return st.status != "" || st.reset != nil })
	c.mu.Unlock()
	if err != nil {
		t.Fatalf("waiting for the response: %v", err)
	}
	return st
}

// hpackLiterals appends name/value pairs as "Literal Header Field without
// Indexing — New Name" representations without Huffman coding (RFC 7541
// §6.2.2).
func hpackLiterals(b []byte, kv ...string) []byte {
	for i := 0; i+1 < len(kv); i += 2 {
		b = append(b, 0x00)
		b = hpackAppendString(b, kv[i])
		b = hpackAppendString(b, kv[i+1])
	}
	return b
}

func hpackAppendString(b []byte, s string) []byte {
	return append(hpackAppendInt(b, 0x00, 7, uint64(len(s))), s...)
}

// hpackAppendInt encodes v with an n-bit prefix after the bits in first
// (RFC 7541 §5.1).
func hpackAppendInt(b []byte, first byte, n uint, v uint64) []byte {
	max := uint64(1)<<n - 1
	if v < max {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(max))
	for v -= max; v >= 128; v >>= 7 {
		b = append(b, byte(v)|0x80)
	}
	return append(b, byte(v))
}

func hpackInt(b []byte, n uint) (uint64, []byte, error) {
	if len(b) == 0 {
		return 0, nil, errors.New("hpack: truncated integer")
	}
	max := uint64(1)<<n - 1
	v := uint64(b[0]) & max
	b = b[1:]
	if v < max {
		return v, b, nil
	}
	for m := uint(0); m < 63; m += 7 {
		if len(b) == 0 {
			return 0, nil, errors.New("hpack: truncated integer")
		}
		x := b[0]
		b = b[1:]
		v += uint64(x&0x7f) << m
		if x&0x80 == 0 {
			return v, b, nil
		}
	}
	return 0, nil, errors.New("hpack: integer too large")
}

// hpackStaticStatus is the :status part of the HPACK static table
// (RFC 7541 Appendix A).
var hpackStaticStatus = map[uint64]string{8: "200", 9: "204", 10: "206", 11: "304", 12: "400", 13: "404", 14: "500"}

// hpackStatus returns the :status of a response header block. A value
// that is Huffman coded is returned as "huffman" (never "200": Go's
// encoder sends 200 as static index 8).
func hpackStatus(b []byte) (string, error) {
	for len(b) > 0 {
		var idx uint64
		var err error
		switch {
		case b[0]&0x80 != 0: // indexed field
			idx, b, err = hpackInt(b, 7)
			if err != nil {
				return "", err
			}
			if s, ok := hpackStaticStatus[idx]; ok {
				return s, nil
			}
			continue
		case b[0]&0xe0 == 0x20: // dynamic table size update
			_, b, err = hpackInt(b, 5)
			if err != nil {
				return "", err
			}
			continue
		case b[0]&0xc0 == 0x40: // literal with incremental indexing
			idx, b, err = hpackInt(b, 6)
		default: // literal without indexing, or never indexed
			idx, b, err = hpackInt(b, 4)
		}
		if err != nil {
			return "", err
		}
		if idx == 0 {
			if _, b, err = hpackSkipString(b); err != nil {
				return "", err
			}
		}
		if len(b) == 0 {
			return "", errors.New("hpack: truncated field")
		}
		huffman := b[0]&0x80 != 0
		var v []byte
		if v, b, err = hpackSkipString(b); err != nil {
			return "", err
		}
		if _, ok := hpackStaticStatus[idx]; ok {
			if huffman {
				return "huffman", nil
			}
			return string(v), nil
		}
	}
	return "", errors.New("hpack: no :status")
}

func hpackSkipString(b []byte) ([]byte, []byte, error) {
	n, b, err := hpackInt(b, 7)
	if err != nil || uint64(len(b)) < n {
		return nil, nil, errors.New("hpack: truncated string")
	}
	return b[:n], b[n:], nil
}

// h2Stream is one extended CONNECT stream; it is a transport, so a client
// Conn can run over it.
type h2Stream struct {
	c  *h2Client
	id uint32
	// Guarded by c.mu.
	window       int64
	status       string // the response's :status
	in           bytes.Buffer
	endStream    bool  // the server ended its side
	reset        error // the server reset the stream
	sentEnd      bool
	readDeadline time.Time
}

func (s *h2Stream) Read(p []byte) (int, error) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.wait(s.readDeadline, func() bool { return s.in.Len() > 0 || s.endStream || s.reset != nil || s.sentEnd })
	switch {
	case s.in.Len() > 0:
		return s.in.Read(p)
	case s.endStream:
		// Before a reset: a server that has ended its response may reset
		// the rest of the request with NO_ERROR (RFC 9113 §8.1).
		return 0, io.EOF
	case s.reset != nil:
		return 0, s.reset
	case s.sentEnd:
		return 0, net.ErrClosed
	}
	return 0, err
}

// Write sends p in DATA frames as the flow-control windows allow
// (RFC 9113 §5.2).
func (s *h2Stream) Write(p []byte) (int, error) {
	c := s.c
	written := 0
	for len(p) > 0 {
		c.mu.Lock()
		err := c.wait(time.Now().Add(10*time.Second), func() bool {
			return s.reset != nil || s.sentEnd || s.window > 0 && c.connWindow > 0
		})
		if err == nil && s.reset != nil {
			err = s.reset
		}
		if err == nil && s.sentEnd {
			err = net.ErrClosed
		}
		if err != nil {
			c.mu.Unlock()
			return written, err
		}
		n := int(min(int64(len(p)), s.window, c.connWindow, int64(c.maxFrame)))
		s.window -= int64(n)
		c.connWindow -= int64(n)
		c.mu.Unlock()
		if err := c.writeFrame(h2FrameData, 0, s.id, p[:n]); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// Close ends our side of the stream with an empty DATA frame carrying
// END_STREAM, as closing TCP ends a connection.
func (s *h2Stream) Close() error {
	c := s.c
	c.mu.Lock()
	already := s.sentEnd || s.reset != nil
	s.sentEnd = true
	c.cond.Broadcast()
	c.mu.Unlock()
	if already {
		return net.ErrClosed
	}
	return c.writeFrame(h2FrameData, h2FlagEndStream, s.id, nil)
}

func (s *h2Stream) SetReadDeadline(t time.Time) error {
	s.c.mu.Lock()
	s.readDeadline = t
	s.c.cond.Broadcast()
	s.c.mu.Unlock()
	return nil
}

// SetWriteDeadline is not needed by the tests: writes wait for the
// window at most 10 s.
func (s *h2Stream) SetWriteDeadline(time.Time) error { return nil }

// sendRaw writes bytes on the stream as they are: frames the client Conn
// would refuse to write.
func (s *h2Stream) sendRaw(b []byte) error {
	_, err := s.Write(b)
	return err
}
