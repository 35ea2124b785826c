package main

// The load generator's WebSocket client, by hand on raw TCP, so that it
// favours no library: the opening handshake written and checked by hand,
// masked frames built here, frames parsed from a small buffer. Only what
// the scenarios need: text and binary messages in single frames, pings
// answered, closes ending the connection.

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT (linux/in.h): binding a
// source address leaves the port to connect, which then only needs the
// four-tuple to be unique, not the port per source address.
const ipBindAddressNoPort = 24

// srcAddrs is how many source addresses connections spread over:
// connection i binds 127.0.0.(2 + i mod srcAddrs).
const srcAddrs = 64

// dial connects connection i to addr from its source address; rcvbuf > 0
// sets SO_RCVBUF before the connect (so the window scale matches it).
func dial(i int, addr string, timeout time.Duration, rcvbuf int) (net.Conn, error) {
	src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%srcAddrs))}
	nd := net.Dialer{
		LocalAddr: src,
		Timeout:   timeout,
		Control: func(network, address string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
				if serr == nil && rcvbuf > 0 {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
				}
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
	return nd.Dial("tcp", addr)
}

// wsConn is one client connection.
type wsConn struct {
	c   net.Conn
	buf []byte // read buffer; buf[r:w] is unread
	r   int
	w   int
	msg []byte // a fragmented message reassembled
	key [4]byte
	ext string // the Sec-WebSocket-Extensions of the response
}

var errNotTakeover = errors.New("permessage-deflate not granted with context takeover both ways")

// handshake sends the opening handshake and checks the response. With
// deflate it offers permessage-deflate without parameters (context
// takeover both ways, 32 KiB windows) and fails with errNotTakeover
// unless the server accepts exactly that.
func handshake(c net.Conn, host string, deflate bool, bufSize int, timeout time.Duration) (*wsConn, error) {
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET / HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n"
	if deflate {
		req += "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	}
	req += "\r\n"
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, req); err != nil {
		return nil, fmt.Errorf("handshake write: %w", err)
	}
	ws := &wsConn{c: c, buf: make([]byte, bufSize)}
	end := -1
	for end < 0 {
		if ws.w == len(ws.buf) {
			return nil, errors.New("handshake: response too long")
		}
		n, err := c.Read(ws.buf[ws.w:])
		ws.w += n
		if err != nil {
			return nil, fmt.Errorf("handshake read: %w", err)
		}
		end = bytes.Index(ws.buf[:ws.w], []byte("\r\n\r\n"))
	}
	head := string(ws.buf[:end])
	ws.r = end + 4
	lines := strings.Split(head, "\r\n")
	if !strings.HasPrefix(lines[0], "HTTP/1.1 101") {
		return nil, fmt.Errorf("handshake: status %q", lines[0])
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	wantAccept := base64.StdEncoding.EncodeToString(sum[:])
	var accept, upgrade, connection string
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "sec-websocket-accept":
			accept = value
		case "upgrade":
			upgrade = value
		case "connection":
			connection = value
		case "sec-websocket-extensions":
			ws.ext = value
		}
	}
	if accept != wantAccept || !strings.EqualFold(upgrade, "websocket") || !strings.Contains(strings.ToLower(connection), "upgrade") {
		return nil, errors.New("handshake: bad response headers")
	}
	if deflate {
		e := strings.ToLower(ws.ext)
		if !strings.HasPrefix(e, "permessage-deflate") || strings.Contains(e, "no_context_takeover") || strings.Contains(e, ",") {
			return nil, fmt.Errorf("%w (response: %q)", errNotTakeover, ws.ext)
		}
	} else if ws.ext != "" {
		return nil, fmt.Errorf("handshake: extension %q not offered", ws.ext)
	}
	rand.Read(ws.key[:])
	if ws.r == ws.w {
		ws.r, ws.w = 0, 0
	}
	return ws, nil
}

// frame builds a masked frame with the connection's key; rsv1 marks a
// compressed message.
func (ws *wsConn) frame(dst []byte, op byte, rsv1 bool, payload []byte) []byte {
	b0 := 0x80 | op
	if rsv1 {
		b0 |= 0x40
	}
	dst = append(dst[:0], b0)
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n < 1<<16:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	dst = append(dst, ws.key[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	for i := range payload {
		dst[start+i] ^= ws.key[i&3]
	}
	return dst
}

func (ws *wsConn) write(frame []byte) error {
	_, err := ws.c.Write(frame)
	return err
}

// fill reads more bytes, keeping buf[r:w]; it grows buf when a frame
// does not fit.
func (ws *wsConn) fill() error {
	if ws.r > 0 {
		ws.w = copy(ws.buf, ws.buf[ws.r:ws.w])
		ws.r = 0
	}
	if ws.w == len(ws.buf) {
		nb := make([]byte, 2*len(ws.buf))
		copy(nb, ws.buf[:ws.w])
		ws.buf = nb
	}
	n, err := ws.c.Read(ws.buf[ws.w:])
	ws.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// need makes n unread bytes available.
func (ws *wsConn) need(n int) error {
	for ws.w-ws.r < n {
		if err := ws.fill(); err != nil {
			return err
		}
	}
	return nil
}

var errClosed = errors.New("close frame received")

// readMessage returns the next message's opcode, RSV1 bit (compressed)
// and payload, valid until the next call. It reassembles fragmented
// messages (coder's streaming writer ends each message with an empty
// final frame), answers pings and skips pongs; a close frame returns
// errClosed. It checks what a server must do: no mask, no RSV2/RSV3,
// RSV1 only on a message's first frame, continuations only inside a
// message.
func (ws *wsConn) readMessage() (op byte, rsv1 bool, payload []byte, err error) {
	ws.msg = ws.msg[:0]
	inMsg := false
	for {
		b0, p, err := ws.readFrame()
		if err != nil {
			return 0, false, nil, err
		}
		fop := b0 & 0x0f
		fin := b0&0x80 != 0
		switch fop {
		case 0x9: // ping
			if !fin || len(p) > 125 {
				return 0, false, nil, errors.New("protocol: bad ping")
			}
			if err := ws.write(ws.frame(nil, 0xA, false, p)); err != nil {
				return 0, false, nil, err
			}
			continue
		case 0xA:
			continue
		case 0x8:
			return 0, false, nil, errClosed
		case 0x1, 0x2:
			if inMsg {
				return 0, false, nil, errors.New("protocol: new message inside a fragmented one")
			}
			op, rsv1 = fop, b0&0x40 != 0
			if fin {
				ws.compact()
				return op, rsv1, p, nil
			}
			inMsg = true
			ws.msg = append(ws.msg, p...)
		case 0x0:
			if !inMsg {
				return 0, false, nil, errors.New("protocol: continuation outside a message")
			}
			if b0&0x40 != 0 {
				return 0, false, nil, errors.New("protocol: RSV1 on a continuation frame")
			}
			ws.msg = append(ws.msg, p...)
			if fin {
				ws.compact()
				return op, rsv1, ws.msg, nil
			}
		default:
			return 0, false, nil, fmt.Errorf("protocol: opcode %d", fop)
		}
	}
}

// compact rewinds the read buffer when it holds no unread bytes.
func (ws *wsConn) compact() {
	if ws.r == ws.w {
		ws.r, ws.w = 0, 0
	}
}

// readFrame returns the next frame's first byte and its payload (valid
// until the buffer is next filled).
func (ws *wsConn) readFrame() (b0 byte, payload []byte, err error) {
	if err := ws.need(2); err != nil {
		return 0, nil, err
	}
	b0, b1 := ws.buf[ws.r], ws.buf[ws.r+1]
	if b1&0x80 != 0 {
		return 0, nil, errors.New("protocol: masked frame from server")
	}
	if b0&0x30 != 0 {
		return 0, nil, errors.New("protocol: RSV2/RSV3 set")
	}
	hl := 2
	n := int(b1 & 0x7f)
	switch n {
	case 126:
		hl = 4
	case 127:
		hl = 10
	}
	if err := ws.need(hl); err != nil {
		return 0, nil, err
	}
	h := ws.buf[ws.r:]
	switch n {
	case 126:
		n = int(h[2])<<8 | int(h[3])
	case 127:
		n = 0
		for _, b := range h[2:10] {
			n = n<<8 | int(b)
		}
		if n > 64<<20 {
			return 0, nil, errors.New("protocol: frame too large")
		}
	}
	if err := ws.need(hl + n); err != nil {
		return 0, nil, err
	}
	p := ws.buf[ws.r+hl : ws.r+hl+n]
	ws.r += hl + n
	return b0, p, nil
}

// readExact reads exactly one frame straight from the socket, header
// then payload, with nothing read ahead: how a slow reader takes one
// message off the socket at a time.
func (ws *wsConn) readExact() error {
	if ws.w > ws.r { // bytes read with the handshake
		_, _, _, err := ws.readMessage()
		return err
	}
	var h [10]byte
	if _, err := io.ReadFull(ws.c, h[:2]); err != nil {
		return err
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(ws.c, h[2:4]); err != nil {
			return err
		}
		n = int(h[2])<<8 | int(h[3])
	case 127:
		return errors.New("protocol: unexpected large frame")
	}
	if h[0]&0x0f == 0x8 {
		return errClosed
	}
	if _, err := io.CopyN(io.Discard, ws.c, int64(n)); err != nil {
		return err
	}
	if h[0]&0x80 == 0 || h[0]&0x0f >= 0x8 {
		// A fragment or a control frame: the message is not over.
		return ws.readExact()
	}
	return nil
}

// deflateMessage compresses p as the first message of a permessage-deflate
// stream (RFC 7692 §7.2.1: the trailing 00 00 ff ff removed).
func deflateMessage(p []byte) []byte {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, 1)
	fw.Write(p)
	fw.Flush()
	out := b.Bytes()
	return out[:len(out)-4]
}

// inflateFirst decompresses the first compressed message of a stream.
func inflateFirst(p []byte) ([]byte, error) {
	in := append(append([]byte{}, p...), 0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff)
	return io.ReadAll(flate.NewReader(bytes.NewReader(in)))
}
