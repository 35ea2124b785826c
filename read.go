// Reading: frames into messages.
//
// RFC 6455 §5.2 (frames), §5.4 (fragmentation: "control frames MAY be
// injected in the middle of a fragmented message"), §5.5 (control frames),
// §5.6 and §8.1 (text is UTF-8), §10.4 (limits on frame and message size).

package websocket

import (
	"context"
	"io"
)

// Read reads the next data message whole and returns its type and a new
// slice with its payload. For large messages, or to reuse memory, use
// Reader.
//
// Read returns a *CloseError once the peer has closed the connection, and
// an error wrapping ErrProtocol, ErrInvalidUTF8 or ErrMessageTooBig after
// the peer broke a rule (the connection has then been failed with the
// matching close code). If ctx ends while Read is blocked, the connection is
// closed.
func (c *Conn) Read(ctx context.Context) (MessageType, []byte, error) {
	// The whole message is read under one hold of readSem: the frame
	// state below is the reader's, and Close, which may read the peer's
	// close frame itself, must not see it half updated.
	if err := c.acquire(ctx, &c.readSem); err != nil {
		return 0, nil, err
	}
	defer c.readSem.release()
	stop := c.watch(ctx)
	defer stop()
	typ, err := c.nextMessage()
	if err != nil {
		return 0, nil, err
	}
	// An unfragmented, uncompressed frame tells its whole size up front:
	// one allocation of the right size. Otherwise the buffer grows as the
	// message comes, never past the read limit, so a message that inflates
	// beyond the limit is stopped before the memory is taken.
	var buf []byte
	limit := c.readLimit.Load()
	if c.frame.fin && !c.compressed && (limit > 0 || c.frameLeft <= maxUnlimitedPrealloc) {
		buf = make([]byte, 0, c.frameLeft)
	}
	for {
		if len(buf) == cap(buf) {
			// A full buffer may hold the whole message already: look before
			// growing it. (Only a compressed message needs one more read to
			// know that it ended.)
			if !c.compressed && c.frameLeft == 0 && !c.inMessage {
				c.msgOpen = false
				return typ, buf, nil
			}
			size := max(2*cap(buf), 512)
			if limit > 0 {
				size = int(min(int64(size), limit+1))
			}
			buf = append(make([]byte, 0, max(size, len(buf)+1)), buf...)
		}
		n, err := c.readMessage(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return typ, buf, nil
		}
		if err != nil {
			return 0, nil, err
		}
	}
}

// maxUnlimitedPrealloc is the most Read allocates up front for a frame
// when there is no read limit: the announced length is the peer's word
// (up to 2^63-1 bytes), and a larger message grows its buffer as the
// bytes really arrive.
const maxUnlimitedPrealloc = 1 << 20

// Reader waits for the next data message and returns its type and an
// io.Reader for its payload, which returns io.EOF at the end of the message.
// The payload is handed over as it arrives, without buffering the message:
// a text message is checked for valid UTF-8 on the way, failing as soon as a
// byte cannot be valid. Calling Reader again before the previous message was
// read to the end discards the rest of it.
//
// The returned reader is valid until the next call to Reader or Read, and
// honours ctx as Read does.
func (c *Conn) Reader(ctx context.Context) (MessageType, io.Reader, error) {
	if err := c.acquire(ctx, &c.readSem); err != nil {
		return 0, nil, err
	}
	defer c.readSem.release()
	stop := c.watch(ctx)
	defer stop()
	typ, err := c.nextMessage()
	if err != nil {
		return 0, nil, err
	}
	c.reader.ctx = ctx
	return typ, &c.reader, nil
}

// nextMessage skips what is left of the current message and reads up to
// the first frame of the next one. The caller holds readSem.
func (c *Conn) nextMessage() (MessageType, error) {
	if c.readErr != nil {
		return 0, c.readErr
	}
	if !c.msgOpen && c.rpos == c.rend {
		// Nothing buffered: wait for the next message's first bytes here,
		// which is what readFrameHeader would do, but two calls shallower.
		// An idle connection's goroutine spends its life parked at this
		// point, and the runtime starts new goroutines with a stack the
		// size of the average one it scans, rounded up to a power of two:
		// from Reader down, this wait is about 1 KiB deep, and the 200
		// bytes saved keep a server's parked readers under the 2 KiB that
		// makes every new goroutine start with 4 KiB
		// (TestIdleConnectionMemory). wsbench's 10,000 idle connections to
		// examples/echo: 8.68 KiB each with the wait in readFrameHeader,
		// 6.37 here (gobwas/ws: 6.09).
		if err := c.fill(); err != nil {
			return 0, c.readFailed(err)
		}
	}
	if c.msgOpen {
		if err := c.discardMessage(); err != nil {
			return 0, c.readFailed(err)
		}
	}
	if err := c.nextDataFrame(); err != nil {
		return 0, c.readFailed(err)
	}
	c.msgOpen = true
	if c.compressed {
		c.deflate.in.start()
	}
	c.noteInputAhead()
	return MessageType(c.msgOpcode), nil
}

// messageReader is the io.Reader Reader returns. There is one per Conn,
// reused for every message, so handing it out does not allocate.
type messageReader struct {
	c   *Conn
	ctx context.Context
}

func (r *messageReader) Read(p []byte) (int, error) {
	c := r.c
	if err := c.acquire(r.ctx, &c.readSem); err != nil {
		return 0, err
	}
	defer c.readSem.release()
	stop := c.watch(r.ctx)
	defer stop()
	return c.readMessage(p)
}

// readMessage reads the current message's payload into p, io.EOF at its
// end. The caller holds readSem.
func (c *Conn) readMessage(p []byte) (int, error) {
	if c.readErr != nil {
		return 0, c.readErr
	}
	if !c.msgOpen {
		return 0, io.EOF
	}
	if c.compressed {
		n, err := c.readInflated(p)
		c.noteInputAhead()
		return n, err
	}

	// Frames with an empty payload, even non-final ones, are legal
	// (RFC 6455 §5.4 example: "a fragmented message with zero-length
	// frames"): move on until there are bytes or the message ends.
	for c.frameLeft == 0 {
		if !c.inMessage {
			c.msgOpen = false
			c.noteInputAhead()
			return 0, io.EOF
		}
		if err := c.nextDataFrame(); err != nil {
			return 0, c.readFailed(err)
		}
	}
	if int64(len(p)) > c.frameLeft {
		p = p[:c.frameLeft]
	}
	n, err := c.readPayload(p)
	if err != nil {
		return n, c.readFailed(err)
	}
	if err := c.checkText(p[:n]); err != nil {
		return 0, c.readFailed(err)
	}
	c.noteInputAhead()
	return n, nil
}

// remaining returns how many payload bytes the message has left, and
// whether that is the exact count: it is a lower bound while later
// fragments are unread, and unknown (0) for a compressed message, whose
// size shows only once it is inflated. It does not wait for readSem: if
// another goroutine holds it, it knows nothing.
func (r *messageReader) remaining() (int64, bool) {
	c := r.c
	if !c.readSem.tryAcquire() {
		return 0, false
	}
	defer c.readSem.release()
	switch {
	case c.readErr != nil || c.compressed && c.msgOpen:
		return 0, false
	case !c.msgOpen:
		return 0, true
	}
	return c.frameLeft, !c.inMessage
}

// readInflated is messageReader.Read for a compressed message: the bytes
// come out of the inflater, and the read limit applies to them, checked as
// they come (RFC 7692 §8.1: a small message can inflate to a huge one).
func (c *Conn) readInflated(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := c.deflate.in.read(p)
	c.deflate.in.inflated += int64(n)
	if limit := c.readLimit.Load(); limit > 0 && c.deflate.in.inflated > limit {
		return 0, c.readFailed(messageTooBigError(limit))
	}
	if c.msgOpcode == opText && !c.utf8.write(p[:n]) {
		return 0, c.readFailed(invalidUTF8Error("text message"))
	}
	switch {
	case err == io.EOF:
		c.msgOpen = false
		if c.frameLeft > 0 || c.inMessage {
			// The DEFLATE data ended (a final block) before the
			// message's payload did. The rest must not be read as the
			// next frames: a frame hidden inside a compressed one
			// would get past anything that inspects frames on the way.
			return 0, c.readFailed(protocolErrorf("compressed data ends before the message does"))
		}
		if c.msgOpcode == opText && !c.utf8.complete() {
			return 0, c.readFailed(invalidUTF8Error("text message ends inside a character"))
		}
		return n, io.EOF
	case err != nil:
		return 0, c.readFailed(err)
	}
	return n, nil
}

// checkText validates the next payload bytes of a text message, and at its
// very end that it did not stop inside a character (RFC 6455 §8.1).
func (c *Conn) checkText(p []byte) error {
	if c.msgOpcode != opText {
		return nil
	}
	if !c.utf8.write(p) {
		return invalidUTF8Error("text message")
	}
	if c.frameLeft == 0 && !c.inMessage && !c.utf8.complete() {
		return invalidUTF8Error("text message ends inside a character")
	}
	return nil
}

// discardMessage skips what is left of the current message. A compressed
// message is still inflated when the window carries over to the next one:
// skipping it would leave a hole in the history later messages refer to.
func (c *Conn) discardMessage() error {
	if c.compressed {
		if c.deflate.in.takeover {
			var scratch [512]byte
			for c.msgOpen {
				if _, err := c.readInflated(scratch[:]); err != nil && err != io.EOF {
					return err
				}
			}
			return nil
		}
		c.deflate.in.finish()
	}
	for {
		for c.frameLeft > 0 {
			if c.rpos == c.rend {
				if err := c.fill(); err != nil {
					return err
				}
			}
			n := int(min(int64(c.rend-c.rpos), c.frameLeft))
			c.rpos += n
			c.frameLeft -= int64(n)
		}
		if !c.inMessage {
			c.msgOpen = false
			return nil
		}
		if err := c.nextDataFrame(); err != nil {
			return err
		}
	}
}

// nextDataFrame reads frame headers until a data frame, handling the
// control frames before it, and makes it the current frame.
func (c *Conn) nextDataFrame() error {
	for {
		h, err := c.readFrameHeader()
		if err != nil {
			return err
		}
		rules := frameRules{wantMasked: c.isServer, inMessage: c.inMessage}
		if c.deflate != nil {
			rules.dataRSV = rsv1Bit // RFC 7692 §6: RSV1 marks a compressed message
		}
		if err := checkFrameHeader(h, rules); err != nil {
			return err
		}
		if h.opcode.isControl() {
			if err := c.handleControl(h); err != nil {
				return err
			}
			continue
		}

		if h.opcode != opContinuation {
			c.msgOpcode = h.opcode
			c.compressed = h.rsv&rsv1Bit != 0
			c.msgSize = 0
			c.utf8.reset()
		}
		// RFC 6455 §10.4: "implementations SHOULD impose a limit on frame
		// sizes and the total message size after reassembly". Checked on
		// the header, so an oversized payload is never read.
		if limit := c.readLimit.Load(); limit > 0 && h.length > limit-c.msgSize {
			return messageTooBigError(limit)
		}
		c.msgSize += h.length
		c.frame = h
		c.frameLeft = h.length
		c.frameKey = h.maskKey
		c.inMessage = !h.fin
		if h.length == 0 && !c.compressed {
			// An empty final frame can still end a text message inside a
			// character.
			if err := c.checkText(nil); err != nil {
				return err
			}
		}
		return nil
	}
}

// handleControl reads the payload of a control frame and acts on it
// (RFC 6455 §5.5).
func (c *Conn) handleControl(h frameHeader) error {
	// The payload (at most 125 bytes, §5.5) is handled where it lies in
	// the read buffer, which always has room for a whole control frame
	// (see bufferSize).
	for c.rend-c.rpos < int(h.length) {
		if err := c.fill(); err != nil {
			return err
		}
	}
	payload := c.rbuf.bytes()[c.rpos : c.rpos+int(h.length)]
	c.rpos += int(h.length)
	if h.masked {
		mask(h.maskKey, payload)
	}
	switch h.opcode {
	case opPing:
		if c.onPing != nil {
			c.onPing(payload)
		}
		// RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST
		// send a Pong frame in response, unless it already received a Close
		// frame." §5.5.3: it carries the "exact same Application data".
		// Once our own close is out there is no point: the peer is closing.
		// The pong is owed, not written here: the reader never waits for
		// the write side (see ping.go).
		if !c.closeSent.Load() {
			c.owePong(payload)
		}
	case opPong:
		// RFC 6455 §5.5.3: an unsolicited pong is allowed and needs no
		// response. OnPong runs before the Ping call the pong answers is
		// woken, so a caller of Ping sees what its OnPong did.
		if c.onPong != nil {
			c.onPong(payload)
		}
		c.handlePong(payload)
	case opClose:
		return c.handlePeerClose(payload)
	}
	return nil
}

// readFrameHeader returns the next frame header, reading as much as it
// takes.
func (c *Conn) readFrameHeader() (frameHeader, error) {
	for {
		h, n, err := parseFrameHeader(c.rbuf.bytes()[c.rpos:c.rend])
		if err != nil {
			return h, err
		}
		if n > 0 {
			c.rpos += n
			return h, nil
		}
		if err := c.fill(); err != nil {
			return h, err
		}
	}
}

// readPayload reads up to len(p) bytes of the current frame's payload and
// unmasks them. Buffered bytes come first; a large p with nothing buffered
// is read straight from the transport, skipping one copy.
func (c *Conn) readPayload(p []byte) (int, error) {
	var n int
	if c.rpos < c.rend {
		n = copy(p, c.rbuf.bytes()[c.rpos:c.rend])
		c.rpos += n
	} else if len(p) >= c.rbuf.pool.size {
		var err error
		c.beforeNetworkRead()
		n, err = c.t.Read(p)
		if n == 0 && err != nil {
			return 0, err
		}
	} else {
		if err := c.fill(); err != nil {
			return 0, err
		}
		n = copy(p, c.rbuf.bytes()[c.rpos:c.rend])
		c.rpos += n
	}
	if c.frame.masked {
		c.frameKey = mask(c.frameKey, p[:n])
	}
	c.frameLeft -= int64(n)
	return n, nil
}

// fill reads more bytes from the transport into the buffer, first moving
// unread bytes to its front. With nothing unread, the buffer is not held
// while fill waits for bytes, where the transport allows it: see
// rawread_unix.go.
func (c *Conn) fill() error {
	if c.rpos > 0 {
		buf := c.rbuf.bytes()
		c.rend = copy(buf, buf[c.rpos:c.rend])
		c.rpos = 0
	}
	c.beforeNetworkRead()
	var n int
	var err error
	if c.rend == 0 && c.raw.enabled() {
		n, err = c.raw.readEmpty()
	} else {
		c.rbuf.take()
		n, err = c.t.Read(c.rbuf.bytes()[c.rend:])
	}
	c.rend += n
	if n == 0 && err != nil {
		if err == io.EOF && c.rend > 0 {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// readFailed is where every read error ends up. A failure the peer caused
// fails the connection with the matching close code; a close frame from
// the peer was already handled; an I/O error closes the connection. In
// every case the error sticks: later reads return it.
func (c *Conn) readFailed(err error) error {
	switch e := err.(type) {
	case *connFailure:
		c.failConnection(e)
	case *CloseError:
		// handlePeerClose has finished the closing handshake.
	default:
		err = c.ioError(err)
		c.closeTransport(err)
	}
	c.stopReading(err)
	return err
}

// stopReading makes err what every later read returns. Nothing will be
// read any more, so the read buffer goes back to serve other connections.
func (c *Conn) stopReading(err error) {
	c.readErr = err
	c.msgOpen = false
	c.rpos, c.rend = 0, 0
	c.rbuf.release()
}
