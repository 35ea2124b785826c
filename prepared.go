// Sending one message to many connections.
//
// A server broadcasting to many clients sends the same bytes to each:
// RFC 6455 §5.1 forbids a server to mask, so the frame (header and
// payload) is the same on every connection and can be built once. A client
// must mask every frame with a new key (§5.3), and a connection using
// permessage-deflate with context takeover compresses each message against
// its own history (RFC 7692 §7.2.1), so for those the frame is built per
// connection, as Write does.

package websocket

import (
	"context"
	"errors"
)

// PreparedMessage is a data message encoded once, to be sent to many
// connections with WritePrepared. It is safe for concurrent use and may be
// sent any number of times.
type PreparedMessage struct {
	typ     MessageType
	payload []byte
	// frame is the message as a server sends it: one final, unmasked,
	// uncompressed frame, header included.
	frame []byte
}

// NewPreparedMessage encodes a message of type typ with payload p. It
// keeps its own copy of p.
func NewPreparedMessage(typ MessageType, p []byte) (*PreparedMessage, error) {
	if typ != MessageText && typ != MessageBinary {
		return nil, errors.New("websocket: NewPreparedMessage needs MessageText or MessageBinary")
	}
	h := frameHeader{fin: true, opcode: opcode(typ), length: int64(len(p))}
	frame := make([]byte, frameHeaderSize(h.length, false)+len(p))
	n := putFrameHeader(frame, h)
	copy(frame[n:], p)
	return &PreparedMessage{typ: typ, payload: frame[n:], frame: frame}, nil
}

// WritePrepared sends m as Write would send its payload. On a server
// connection without permessage-deflate the frame built by
// NewPreparedMessage goes out as it is, in one write system call, with
// nothing copied or encoded. On other connections the message is encoded
// for the connection, as Write does: a client must mask every frame with a
// key of its own (RFC 6455 §5.3), and with compression each connection
// compresses against its own history (RFC 7692 §7.2.1).
func (c *Conn) WritePrepared(ctx context.Context, m *PreparedMessage) error {
	if !c.isServer || c.deflate != nil {
		return c.Write(ctx, m.typ, m.payload)
	}
	if err := c.acquire(ctx, &c.msgSem); err != nil {
		return err
	}
	defer c.msgSem.release()
	if err := c.acquire(ctx, &c.frameSem); err != nil {
		return err
	}
	defer c.releaseFrame()
	stop, err := c.startFrame(ctx)
	if err != nil {
		return err
	}
	defer stop()
	if err := c.output(m.frame, true); err != nil {
		return c.writeFailed(err)
	}
	return nil
}
