// Package wsjson sends and receives JSON values over a WebSocket
// connection, one value per text message.
//
// Neither direction builds a message twice. Read decodes straight from the
// connection's message reader, so the bytes are held once, in the
// json.Decoder's buffer, rather than first read whole into a slice of
// their own. Write encodes into the connection's message writer, so the
// message is framed from json.Encoder's own buffer rather than returned
// as a []byte to be framed from.
//
// Read and Write follow the connection's rules: one goroutine at a time may
// call Read, any number may call Write.
//
// A protocol of several kinds of message usually names the kind in a
// "type" field and keeps the rest raw until the type is known:
//
//	var msg struct {
//		Type string          `json:"type"`
//		Data json.RawMessage `json:"data"`
//	}
//	if err := wsjson.Read(ctx, c, &msg); err != nil {
//		return err
//	}
//	switch msg.Type {
//	case "chat":
//		var line chatLine
//		err = json.Unmarshal(msg.Data, &line)
//		...
//	}
//
// A connection handed to a rooms.Hub is written by the hub alone: encode
// with json.Marshal and give the bytes to Member.Send or Hub.Broadcast
// (with Options.MessageType set to text) instead of calling Write.
package wsjson

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/wirecraft/websocket"
)

// Read reads the next message and decodes it, as JSON, into v (see
// json.Unmarshal for how values map to Go).
//
// The message must be text and hold exactly one JSON value, with nothing
// after it but whitespace. Read reads it to its end, so that data after
// the value is an error rather than going unnoticed, and so that the
// connection has checked the whole message (valid UTF-8, the read limit)
// before Read reports success.
//
// When the message is refused (binary, not JSON, not one value, not
// decodable into v) the connection stays open, and the next Read skips
// what is left of the message. When the connection fails or the peer
// closes it, the error wraps the connection's, so websocket.CloseStatus
// and errors.Is work on it.
func Read(ctx context.Context, c *websocket.Conn, v any) error {
	typ, r, err := c.Reader(ctx)
	if err != nil {
		return fmt.Errorf("wsjson: reading: %w", err)
	}
	if typ != websocket.MessageText {
		// RFC 8259 §8.1: JSON exchanged between systems is UTF-8 text.
		return fmt.Errorf("wsjson: got a %v message, want text", typ)
	}
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		if err == io.EOF {
			// Decode's io.EOF means "no value before the end of the
			// input": here that is an empty message, not the end of a
			// stream the caller should stop at.
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("wsjson: decoding: %w", err)
	}
	// The decoder may have read past the value: what it holds is read
	// first, then the rest of the message.
	return readRest(io.MultiReader(dec.Buffered(), r))
}

// errTrailingData reports a message that goes on after its JSON value.
var errTrailingData = errors.New("wsjson: data after the JSON value")

// readRest reads r to its end and fails on the first byte that is not JSON
// whitespace (RFC 8259 §2). It stops there: the connection discards the
// rest of the message at the next read.
func readRest(r io.Reader) error {
	var buf [512]byte
	for {
		n, err := r.Read(buf[:])
		for _, b := range buf[:n] {
			if b != ' ' && b != '\t' && b != '\n' && b != '\r' {
				return errTrailingData
			}
		}
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return fmt.Errorf("wsjson: reading: %w", err)
		}
	}
}

// Write encodes v as JSON (see json.Marshal) and sends it as one text
// message. As json.Encoder writes it, the value is followed by a newline,
// which JSON parsers read as whitespace.
//
// A value that cannot be encoded sends nothing: json.Encoder encodes the
// whole value before writing any of it, and the message is only begun at
// its first write. Whatever happens, Write has finished with the
// connection's message writer when it returns, so other writers are not
// held up.
func Write(ctx context.Context, c *websocket.Conn, v any) error {
	w := &lazyWriter{ctx: ctx, c: c}
	encodeErr := json.NewEncoder(w).Encode(v)
	var closeErr error
	if w.wc != nil {
		// Closed even after a failed write: closing is what lets the
		// connection's next message be written.
		closeErr = w.wc.Close()
	}
	switch {
	case w.err != nil:
		return fmt.Errorf("wsjson: writing: %w", w.err)
	case encodeErr != nil:
		return fmt.Errorf("wsjson: encoding: %w", encodeErr)
	case closeErr != nil:
		return fmt.Errorf("wsjson: writing: %w", closeErr)
	}
	return nil
}

// lazyWriter opens the connection's message writer at the first write, so
// that an encoding error, which happens before any write, leaves no
// message begun.
type lazyWriter struct {
	ctx context.Context
	c   *websocket.Conn
	wc  io.WriteCloser // nil until the first write
	err error          // the first error of the connection, if any
}

func (w *lazyWriter) Write(p []byte) (int, error) {
	if w.wc == nil {
		wc, err := w.c.Writer(w.ctx, websocket.MessageText)
		if err != nil {
			w.err = err
			return 0, err
		}
		w.wc = wc
	}
	n, err := w.wc.Write(p)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}
