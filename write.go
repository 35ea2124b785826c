// Writing: messages into frames.
//
// RFC 6455 §5.2 (frames), §5.3 (clients mask every frame with a new key),
// §5.4 (fragmentation; control frames between fragments), §5.5.1 (nothing
// after a close frame).

package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
)

// errCloseSent is returned by writes after the close frame went out:
// RFC 6455 §5.5.1 "After sending a Close frame, the endpoint MUST NOT send
// any more data frames."
var errCloseSent = errors.New("websocket: close frame already sent")

// Write sends p as one data message of type typ: in a single frame, or in
// fragments when p is larger than 1 MiB (or, compressed, than the write
// buffer), so that control frames (a pong the reader owes, a ping, a
// close) never wait behind more than one fragment. It waits while another
// goroutine is writing a message. Text must be valid UTF-8: the peer will
// fail the connection otherwise.
//
// If ctx ends while Write is blocked on the network, the connection is
// closed; while it waits for another writer, Write just returns, unless
// part of the message is out already: a message cannot be left
// unfinished, so then the connection is closed too.
func (c *Conn) Write(ctx context.Context, typ MessageType, p []byte) error {
	return c.writeMessage(ctx, typ, p, true)
}

// WriteUncompressed is Write for a message that must not be compressed even
// when permessage-deflate is in use: data that is compressed already, such
// as images, would only cost CPU.
func (c *Conn) WriteUncompressed(ctx context.Context, typ MessageType, p []byte) error {
	return c.writeMessage(ctx, typ, p, false)
}

func (c *Conn) writeMessage(ctx context.Context, typ MessageType, p []byte, compress bool) error {
	if typ != MessageText && typ != MessageBinary {
		return errors.New("websocket: Write needs MessageText or MessageBinary")
	}
	if err := c.acquire(ctx, &c.msgSem); err != nil {
		return err
	}
	if c.deflate != nil && compress && len(p) >= c.deflate.cfg.threshold {
		// A compressed message goes through the message writer: it is
		// compressed a buffer at a time, so no buffer the size of the
		// whole message is needed. Close releases msgSem.
		w := c.startMessage(ctx, typ, true)
		if _, err := w.Write(p); err != nil {
			w.end()
			return err
		}
		return w.Close()
	}
	defer c.msgSem.release()
	op := opcode(typ)
	for len(p) > maxFragmentSize {
		if err := c.writeFrame(ctx, false, 0, op, p[:maxFragmentSize]); err != nil {
			c.wbuf.release()
			if op == opContinuation {
				c.closeTransport(errMessageAbandoned) // see messageWriter.end
			}
			return err
		}
		p = p[maxFragmentSize:]
		op = opContinuation
	}
	err := c.writeFrame(ctx, true, 0, op, p)
	c.wbuf.release() // if writeFrame took it: the next message may be far off
	if err != nil && op == opContinuation {
		c.closeTransport(errMessageAbandoned)
	}
	return err
}

// errMessageAbandoned is why a connection is closed when a message stops
// after part of it was sent: a write failed or its context ended between
// fragments, or a WriteFrom source failed.
var errMessageAbandoned = fmt.Errorf("websocket: connection closed: a message stopped after part of it was sent, and no other message may follow it (RFC 6455 §5.4): %w", net.ErrClosed)

// maxFragmentSize is the largest frame payload the package writes: 1 MiB.
// A longer message goes out in fragments (RFC 6455 §5.4), and between two
// fragments a control frame can go out: a large message delays a pong or a
// close by one fragment at most, not by the whole message. At 1 MiB the
// extra frame headers cost nothing measurable, and messages up to that
// size, which is most of them, still go out as one frame.
const maxFragmentSize = 1 << 20

// WriteFrom sends what it reads from r, up to io.EOF, as one data message
// of type typ, and returns the number of payload bytes. It is io.Copy into
// a Writer in one call, without the Writer: nothing is allocated, and the
// bytes go from r's buffer to the wire without another copy when r is a
// message Reader of this package, so an echo server costs one write
// system call per message (up to 1 MiB). If r fails after part of the
// message is out, the connection is closed, as for Writer.
func (c *Conn) WriteFrom(ctx context.Context, typ MessageType, r io.Reader) (int64, error) {
	if typ != MessageText && typ != MessageBinary {
		return 0, errors.New("websocket: WriteFrom needs MessageText or MessageBinary")
	}
	if err := c.acquire(ctx, &c.msgSem); err != nil {
		return 0, err
	}
	w := c.startMessage(ctx, typ, c.deflate != nil)
	n, err := w.ReadFrom(r)
	if err != nil {
		w.end()
		return n, err
	}
	return n, w.Close()
}

// Writer returns a writer for one data message of type typ. What is written
// to it is buffered and sent in fragments as the buffer fills; Close sends
// the final fragment and must be called before another message can be
// written. Other writers wait until then; control frames do not.
//
// If ctx ends, or a write fails, after part of the message is out, the
// connection is closed: another message may not start before this one
// ends (RFC 6455 §5.4).
//
// The writer belongs to one message: once closed, its Write and Close
// return ErrWriterClosed and change nothing, even while another goroutine
// writes the next message. Like any io.Writer it is for one goroutine at a
// time. It costs one small allocation per message (a 16-byte handle: that
// is what tells a stale writer from the current one); Write and WriteFrom
// allocate nothing.
func (c *Conn) Writer(ctx context.Context, typ MessageType) (io.WriteCloser, error) {
	if typ != MessageText && typ != MessageBinary {
		return nil, errors.New("websocket: Writer needs MessageText or MessageBinary")
	}
	if err := c.acquire(ctx, &c.msgSem); err != nil {
		return nil, err
	}
	w := c.startMessage(ctx, typ, c.deflate != nil)
	return &writerHandle{w: w, message: w.message.Load()}, nil
}

// writerHandle is the io.WriteCloser Writer returns: the Conn's message
// writer, and the number of the message it was handed out for. A handle
// whose number is not the writer's current one is stale.
type writerHandle struct {
	w       *messageWriter
	message uint64
}

func (h *writerHandle) live() bool { return h.w.message.Load() == h.message }

func (h *writerHandle) Write(p []byte) (int, error) {
	if !h.live() {
		return 0, ErrWriterClosed
	}
	return h.w.Write(p)
}

// ReadFrom lets io.Copy into the writer read straight into the buffer the
// message is sent from (see messageWriter.ReadFrom).
func (h *writerHandle) ReadFrom(r io.Reader) (int64, error) {
	if !h.live() {
		return 0, ErrWriterClosed
	}
	return h.w.ReadFrom(r)
}

func (h *writerHandle) Close() error {
	if !h.live() {
		return ErrWriterClosed
	}
	return h.w.Close()
}

// startMessage readies the message writer; the caller holds msgSem.
func (c *Conn) startMessage(ctx context.Context, typ MessageType, compress bool) *messageWriter {
	w := &c.writer
	w.ctx = ctx
	w.op = opcode(typ)
	w.n = 0
	w.count++
	w.message.Store(w.count)
	w.started, w.finished, w.failed = false, false, nil
	w.compress = compress
	return w
}

// messageWriter writes the message in progress: one per Conn, reused for
// every message, and used only by the holder of msgSem (through a
// writerHandle, WriteFrom, or Write for a compressed message). Its bytes
// sit in a lent buffer (buffer.go) after the room kept for the frame
// header: c.wbuf, taken at the first write that needs it, or a larger one
// ReadFrom takes for a large message. Both are given back when the message
// ends.
type messageWriter struct {
	c   *Conn
	ctx context.Context
	n   int    // payload bytes in the buffer, after its header room
	op  opcode // of the next frame: the message type, then continuation
	// count numbers the messages started; message is the number of the
	// open one, 0 when none is. A stale writerHandle reads message while
	// another goroutine's message starts or ends: hence the atomic.
	count   uint64
	message atomic.Uint64
	// started: a fragment went out (or into the compressor); finished:
	// the final one did. See end. failed is the error of a fragment that
	// could not be sent, which every later call returns.
	started, finished bool
	failed            error
	// compress is whether the message is compressed: asked for when the
	// message starts, settled by its first frame (a message that ends
	// below the threshold before that goes out uncompressed).
	compress bool
	large    lentBuffer // see ReadFrom
}

// buffer is the buffer the message's bytes sit in: the large one once
// ReadFrom took it, else c.wbuf, taken if it is not held yet.
func (w *messageWriter) buffer() []byte {
	if w.large.box != nil {
		return w.large.bytes()
	}
	w.c.wbuf.take()
	return w.c.wbuf.bytes()
}

// room is the free payload space in the writer's buffer.
func (w *messageWriter) room() []byte { return w.buffer()[maxFrameHeaderSize+w.n:] }

// Write adds p to the message, sending fragments as the buffer fills.
func (w *messageWriter) Write(p []byte) (int, error) {
	if w.failed != nil {
		return 0, w.failed
	}
	c := w.c
	written := 0
	for len(p) > 0 {
		// A write larger than the whole buffer goes out as a fragment of
		// its own, without being copied first. When compressing, it goes a
		// buffer's worth at a time, so the compressed copy stays small too.
		if room := c.writeRoom(); w.n == 0 && len(p) >= room {
			chunk := p
			if w.compress {
				chunk = p[:room]
			} else if len(chunk) > maxFragmentSize {
				chunk = p[:maxFragmentSize]
			}
			if err := w.flush(false, chunk); err != nil {
				return written, err
			}
			written += len(chunk)
			p = p[len(chunk):]
			continue
		}
		k := copy(w.room(), p)
		w.n += k
		written += k
		p = p[k:]
		if len(p) > 0 {
			if err := w.flush(false, nil); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// Sizes of the buffer ReadFrom reads into: powers of two of payload, so
// that few pools serve every message size. A message larger than the
// largest goes out in fragments of that size.
const (
	minLargeBuffer = 8 << 10
	maxLargeBuffer = maxFragmentSize
)

// ReadFrom writes what it reads from r, up to io.EOF, into the message.
// io.Copy uses it. The bytes are read straight into the buffer they are
// sent from, without a copy in between, and that buffer is sized to the
// message when r tells how much is left (a Reader from this package, or a
// bytes.Reader): echoing a 64 KiB message costs one write system call. The
// bytes read last stay buffered until Close sends the final fragment.
func (w *messageWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.failed != nil {
		return 0, w.failed
	}
	var total int64
	for {
		room := w.room()
		if len(room) == 0 {
			left, known := readerRemaining(r)
			if known && left == 0 {
				// Everything is in the buffer; only the io.EOF is missing.
				// Keep it for Close, which sends it as the final frame.
				return total, nil
			}
			if !w.grow(left) {
				if err := w.flush(false, nil); err != nil {
					return total, err
				}
			}
			room = w.room()
		} else if left, _ := readerRemaining(r); int64(len(room)) < left {
			w.grow(left)
			room = w.room()
		}
		n, err := r.Read(room)
		w.n += n
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// grow moves the buffered bytes to a larger buffer with room for at least
// more bytes (at least double the current size when more is 0: unknown),
// and reports false when the buffer cannot grow. A compressed message does
// not grow its buffer: it is compressed a buffer at a time.
func (w *messageWriter) grow(more int64) bool {
	buf := w.buffer()
	size := len(buf) - maxFrameHeaderSize
	if w.compress || size >= maxLargeBuffer {
		return false
	}
	want := int64(w.n) + more
	if more == 0 {
		want = 2 * int64(size)
	}
	newSize := minLargeBuffer
	for int64(newSize) < want && newSize < maxLargeBuffer {
		newSize *= 2
	}
	if newSize <= size {
		return false
	}
	large := lentBuffer{pool: bufferPoolFor(maxFrameHeaderSize + newSize)}
	large.take()
	copy(large.bytes()[maxFrameHeaderSize:], buf[maxFrameHeaderSize:maxFrameHeaderSize+w.n])
	w.large.release()
	w.c.wbuf.release()
	w.large = large
	return true
}

// readerRemaining returns how many bytes r has left before io.EOF, and
// whether that is the exact count rather than a lower bound.
func readerRemaining(r io.Reader) (int64, bool) {
	switch r := r.(type) {
	case *messageReader:
		return r.remaining()
	case interface{ Len() int }: // bytes.Reader, strings.Reader, bytes.Buffer
		return int64(r.Len()), true
	}
	return 0, false
}

// Close sends the final fragment and lets the next message be written.
func (w *messageWriter) Close() error {
	if err := w.failed; err != nil {
		w.end() // from here the writer may be another message's
		return err
	}
	err := w.flush(true, nil)
	w.end()
	return err
}

// end closes the writer, gives its buffers back and lets the next message
// be written.
//
// A message that ends here after part of it went out cannot be finished
// by the next one: RFC 6455 §5.4 does not let the fragments of two
// messages interleave, so the connection is closed instead.
func (w *messageWriter) end() {
	if w.started && !w.finished {
		w.c.closeTransport(errMessageAbandoned)
	}
	w.message.Store(0)
	w.large.release()
	w.c.wbuf.release()
	w.c.msgSem.release()
}

// flush sends the buffered bytes, or p if it is given, as the next
// fragment.
func (w *messageWriter) flush(fin bool, p []byte) error {
	c := w.c
	var buf []byte
	own := p == nil
	if own {
		buf = w.buffer()[:maxFrameHeaderSize+w.n]
		p = buf[maxFrameHeaderSize:]
	}
	var rsv byte
	if w.op != opContinuation && w.compress && fin && len(p) < c.deflate.cfg.threshold {
		w.compress = false
	}
	var err error
	switch {
	case w.compress:
		// RFC 7692 §6: RSV1 on the first frame only.
		if w.op != opContinuation {
			rsv = rsv1Bit
		}
		// The compressor has taken p in whether or not the frame goes
		// out: from here the message can only be finished, not dropped.
		w.started = true
		err = c.writeFrame(w.ctx, fin, rsv, w.op, c.deflate.compressChunk(p, fin))
	case own:
		err = c.writeFrameInPlace(w.ctx, fin, rsv, w.op, buf)
	default:
		err = c.writeFrame(w.ctx, fin, rsv, w.op, p)
	}
	if err == nil {
		w.started = true
		w.finished = fin
	} else {
		// The buffered bytes are gone with the frame: the message can
		// never be whole, so it fails from now on, and if part of it is
		// out, so does the connection (see end).
		w.failed = err
		if w.started {
			c.closeTransport(errMessageAbandoned)
		}
	}
	if w.started {
		w.op = opContinuation
	}
	w.n = 0
	return err
}

// writeRoom is how much payload fits in c.wbuf after the room kept for a
// frame header.
func (c *Conn) writeRoom() int { return c.wbuf.pool.size - maxFrameHeaderSize }

// writeFrame sends payload, the caller's bytes, which it leaves untouched,
// as one frame. The caller holds msgSem, and with it c.wbuf if it has
// taken it; writeFrame takes it when it needs it, and leaves releasing it
// to the caller.
func (c *Conn) writeFrame(ctx context.Context, fin bool, rsv byte, op opcode, payload []byte) error {
	return c.sendFrame(ctx, fin, rsv, op, payload, nil)
}

// writeFrameInPlace sends buf[maxFrameHeaderSize:] as one frame; buf is a
// buffer of the Conn's own, so the header goes into the room in front of
// the payload and a client masks the payload where it is: one write system
// call, whatever the size.
func (c *Conn) writeFrameInPlace(ctx context.Context, fin bool, rsv byte, op opcode, buf []byte) error {
	return c.sendFrame(ctx, fin, rsv, op, buf[maxFrameHeaderSize:], buf)
}

// sendFrame is writeFrame, or writeFrameInPlace when own is not nil.
// A small payload of the caller's is copied into c.wbuf and sent in place
// too, so header and payload always leave in one system call.
func (c *Conn) sendFrame(ctx context.Context, fin bool, rsv byte, op opcode, payload, own []byte) error {
	if err := c.acquire(ctx, &c.frameSem); err != nil {
		return err
	}
	defer c.releaseFrame()
	stop, err := c.startFrame(ctx)
	if err != nil {
		return err
	}
	defer stop()

	h := frameHeader{fin: fin, rsv: rsv, opcode: op, masked: !c.isServer, length: int64(len(payload))}
	if h.masked {
		key, err := c.maskKeys.next()
		if err != nil {
			return c.writeFailed(err)
		}
		h.maskKey = key
	}
	hn := frameHeaderSize(h.length, h.masked)

	if own == nil && len(payload) <= c.writeRoom() {
		c.wbuf.take()
		buf := c.wbuf.bytes()
		own = buf[:maxFrameHeaderSize+copy(buf[maxFrameHeaderSize:], payload)]
	}
	switch {
	case own != nil:
		start := maxFrameHeaderSize - hn
		putFrameHeader(own[start:], h)
		if h.masked {
			mask(h.maskKey, own[maxFrameHeaderSize:])
		}
		err = c.output(own[start:], true)
	case !h.masked:
		// A large unmasked payload is sent as it is, the header (and any
		// held frames, coalesce.go) in front of it in one vectored write.
		err = c.writeVectored(&h, payload)
	default:
		// A client must mask, and must not touch the caller's bytes: the
		// payload goes through the buffer, masked a buffer at a time, the
		// key stream carried across chunks.
		if err := c.flushHeldLocked(); err != nil {
			return err
		}
		c.wbuf.take()
		buf := c.wbuf.bytes()
		off := putFrameHeader(buf, h) // the first chunk follows the header
		key := h.maskKey
		for len(payload) > 0 {
			n := copy(buf[off:], payload)
			key = mask(key, buf[off:off+n])
			if _, err = c.t.Write(buf[:off+n]); err != nil {
				break
			}
			payload = payload[n:]
			off = 0
		}
	}
	if err != nil {
		return c.writeFailed(err)
	}
	return nil
}

// writeControl sends a control frame (RFC 6455 §5.5). It takes only
// frameSem, so it can go out between the fragments of a message. It has a
// buffer of its own: the data buffer may hold a message in progress.
func (c *Conn) writeControl(ctx context.Context, op opcode, payload []byte) error {
	if err := c.acquire(ctx, &c.frameSem); err != nil {
		return err
	}
	defer c.releaseFrame()
	return c.writeControlLocked(ctx, op, payload)
}

// controlBuffers lends the buffers control frames are written from.
var controlBuffers = bufferPoolFor(maxFrameHeaderSize + maxControlPayload)

// writeControlLocked is writeControl for a caller that holds frameSem.
func (c *Conn) writeControlLocked(ctx context.Context, op opcode, payload []byte) error {
	stop, err := c.startFrame(ctx)
	if err != nil {
		return err
	}
	defer stop()
	h := frameHeader{fin: true, opcode: op, masked: !c.isServer, length: int64(len(payload))}
	if h.masked {
		key, err := c.maskKeys.next()
		if err != nil {
			return c.writeFailed(err)
		}
		h.maskKey = key
	}
	// A buffer of its own, not c.wbuf: a control frame can go out in the
	// middle of a message that holds c.wbuf.
	buf := controlBuffers.get()
	defer controlBuffers.put(buf)
	n := putFrameHeader(*buf, h)
	copy((*buf)[n:], payload)
	frame := (*buf)[:n+len(payload)]
	if h.masked {
		mask(h.maskKey, frame[n:])
	}
	if op == opClose {
		// Set before the write: a reader that sees the peer's reply must
		// already know it is a reply.
		c.closeSent.Store(true)
	}
	// Never held: held data frames go out first, in the same write.
	if err := c.output(frame, false); err != nil {
		return c.writeFailed(err)
	}
	return nil
}

// startFrame checks that a frame may be written (no earlier write failed,
// our close frame is not out) and starts watching ctx; the caller holds
// frameSem and calls stop once the frame is written.
func (c *Conn) startFrame(ctx context.Context) (stop func() bool, err error) {
	if c.writeErr != nil {
		return nil, c.writeErr
	}
	if c.closeSent.Load() {
		return nil, errCloseSent
	}
	return c.watch(ctx), nil
}

// writeFailed records a write error, which leaves the connection unusable
// (part of a frame may be on the wire), and closes it. The caller holds
// frameSem.
func (c *Conn) writeFailed(err error) error {
	err = c.ioError(err)
	c.writeErr = err
	c.closeTransport(err)
	return err
}
