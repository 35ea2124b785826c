// Writing: messages into frames.
//
// RFC 6455 §5.2 (frames), §5.3 (clients mask every frame with a new key),
// §5.4 (fragmentation; control frames between fragments), §5.5.1 (nothing
// after a close frame).

package websocket

import (
	"context"
	"errors"
	"io"
)

// errCloseSent is returned by writes after the close frame went out:
// RFC 6455 §5.5.1 "After sending a Close frame, the endpoint MUST NOT send
// any more data frames."
var errCloseSent = errors.New("websocket: close frame already sent")

// Write sends p as one data message of type typ, in a single frame. It
// waits while another goroutine is writing a message. Text must be valid
// UTF-8: the peer will fail the connection otherwise.
//
// If ctx ends while Write is blocked on the network, the connection is
// closed; while it waits for another writer, Write just returns.
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
	if err := c.acquire(ctx, c.msgSem); err != nil {
		return err
	}
	if c.deflate != nil && compress && len(p) >= c.deflate.cfg.threshold {
		// A compressed message goes through the message writer: it is
		// compressed a buffer at a time, so no buffer the size of the
		// whole message is needed. Close releases msgSem.
		w := c.startMessage(ctx, typ, true)
		if _, err := w.Write(p); err != nil {
			w.open = false
			release(c.msgSem)
			return err
		}
		return w.Close()
	}
	defer release(c.msgSem)
	return c.writeFrame(ctx, true, 0, opcode(typ), p)
}

// Writer returns a writer for one data message of type typ. What is written
// to it is buffered and sent in fragments as the buffer fills; Close sends
// the final fragment and must be called before another message can be
// written. Other writers wait until then; control frames do not.
func (c *Conn) Writer(ctx context.Context, typ MessageType) (io.WriteCloser, error) {
	if typ != MessageText && typ != MessageBinary {
		return nil, errors.New("websocket: Writer needs MessageText or MessageBinary")
	}
	if err := c.acquire(ctx, c.msgSem); err != nil {
		return nil, err
	}
	return c.startMessage(ctx, typ, c.deflate != nil), nil
}

// startMessage readies the message writer; the caller holds msgSem.
func (c *Conn) startMessage(ctx context.Context, typ MessageType, compress bool) *messageWriter {
	w := &c.writer
	w.ctx = ctx
	w.op = opcode(typ)
	w.n = 0
	w.open = true
	w.compress = compress
	return w
}

// messageWriter is the io.WriteCloser Writer returns: one per Conn, reused,
// so handing it out does not allocate. Its bytes sit in c.wbuf after the
// room kept for the frame header.
type messageWriter struct {
	c    *Conn
	ctx  context.Context
	op   opcode // of the next frame: the message type, then continuation
	n    int    // payload bytes in the buffer
	open bool
	// compress is whether the message is compressed: asked for when the
	// message starts, settled by its first frame (a message that ends
	// below the threshold before that goes out uncompressed).
	compress bool
}

var errWriterClosed = errors.New("websocket: write to a closed message writer")

func (w *messageWriter) Write(p []byte) (int, error) {
	if !w.open {
		return 0, errWriterClosed
	}
	c := w.c
	written := 0
	for len(p) > 0 {
		room := c.wbuf[maxFrameHeaderSize+w.n:]
		// A write larger than the whole buffer goes out as a fragment of
		// its own, without being copied first. When compressing, it goes a
		// buffer's worth at a time, so the compressed copy stays small too.
		if w.n == 0 && len(p) >= len(room) {
			chunk := p
			if w.compress {
				chunk = p[:len(room)]
			}
			if err := w.flush(false, chunk); err != nil {
				return written, err
			}
			written += len(chunk)
			p = p[len(chunk):]
			continue
		}
		k := copy(room, p)
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

// Close sends the final fragment and lets the next message be written.
func (w *messageWriter) Close() error {
	if !w.open {
		return errWriterClosed
	}
	err := w.flush(true, nil)
	w.open = false
	release(w.c.msgSem)
	return err
}

// flush sends the buffered bytes, or p if it is given, as the next
// fragment.
func (w *messageWriter) flush(fin bool, p []byte) error {
	c := w.c
	if p == nil {
		p = c.wbuf[maxFrameHeaderSize : maxFrameHeaderSize+w.n]
	}
	var rsv byte
	if w.op != opContinuation && w.compress && fin && len(p) < c.deflate.cfg.threshold {
		w.compress = false
	}
	if w.compress {
		// RFC 7692 §6: RSV1 on the first frame only.
		if w.op != opContinuation {
			rsv = rsv1Bit
		}
		p = c.deflate.compressChunk(p, fin)
	}
	err := c.writeFrame(w.ctx, fin, rsv, w.op, p)
	w.op = opContinuation
	w.n = 0
	return err
}

// writeFrame sends one frame, masked on a client, in one system call when
// it fits the buffer. The header is written into the room just in front of
// the payload, so header and payload leave together.
func (c *Conn) writeFrame(ctx context.Context, fin bool, rsv byte, op opcode, payload []byte) error {
	if err := c.acquire(ctx, c.frameSem); err != nil {
		return err
	}
	defer release(c.frameSem)
	if c.writeErr != nil {
		return c.writeErr
	}
	if c.closeSent.Load() {
		return errCloseSent
	}
	stop := c.watch(ctx)
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
	room := len(c.wbuf) - maxFrameHeaderSize

	var err error
	switch {
	case len(payload) <= room:
		// payload may already be the buffer's own payload area (from
		// messageWriter); copy is then a no-op.
		start := maxFrameHeaderSize - hn
		putFrameHeader(c.wbuf[start:], h)
		n := copy(c.wbuf[maxFrameHeaderSize:], payload)
		if h.masked {
			mask(h.maskKey, c.wbuf[maxFrameHeaderSize:maxFrameHeaderSize+n])
		}
		_, err = c.t.Write(c.wbuf[start : maxFrameHeaderSize+n])
	case !h.masked:
		// A large unmasked payload is sent as it is, the header in front
		// of it in one vectored write (writev on TCP). WriteTo consumes the
		// slice it is called on, so c.vec is made anew from the c.bufs
		// array each time; both live in the Conn, so this does not
		// allocate.
		putFrameHeader(c.wbuf, h)
		c.bufs = [2][]byte{c.wbuf[:hn], payload}
		c.vec = c.bufs[:]
		_, err = c.vec.WriteTo(c.t)
		c.bufs = [2][]byte{} // do not keep the caller's payload alive
	default:
		// A client must mask, and must not touch the caller's bytes: the
		// payload goes through the buffer, masked a buffer at a time, the
		// key stream carried across chunks.
		off := putFrameHeader(c.wbuf, h) // the first chunk follows the header
		key := h.maskKey
		for len(payload) > 0 {
			n := copy(c.wbuf[off:], payload)
			key = mask(key, c.wbuf[off:off+n])
			if _, err = c.t.Write(c.wbuf[:off+n]); err != nil {
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
	if err := c.acquire(ctx, c.frameSem); err != nil {
		return err
	}
	defer release(c.frameSem)
	return c.writeControlLocked(ctx, op, payload)
}

// writeControlLocked is writeControl for a caller that holds frameSem.
func (c *Conn) writeControlLocked(ctx context.Context, op opcode, payload []byte) error {
	if c.writeErr != nil {
		return c.writeErr
	}
	if c.closeSent.Load() {
		return errCloseSent
	}
	stop := c.watch(ctx)
	defer stop()
	h := frameHeader{fin: true, opcode: op, masked: !c.isServer, length: int64(len(payload))}
	if h.masked {
		key, err := c.maskKeys.next()
		if err != nil {
			return c.writeFailed(err)
		}
		h.maskKey = key
	}
	n := putFrameHeader(c.ctlWbuf[:], h)
	copy(c.ctlWbuf[n:], payload)
	frame := c.ctlWbuf[:n+len(payload)]
	if h.masked {
		mask(h.maskKey, frame[n:])
	}
	if op == opClose {
		// Set before the write: a reader that sees the peer's reply must
		// already know it is a reply.
		c.closeSent.Store(true)
	}
	if _, err := c.t.Write(frame); err != nil {
		return c.writeFailed(err)
	}
	return nil
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
