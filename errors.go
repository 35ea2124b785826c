// Errors: what went wrong, matchable with errors.Is and errors.As, and the
// one place that decides which close code a failure is answered with
// (RFC 6455 §7.1.7 "Fail the WebSocket Connection", §7.4.1 status codes).

package websocket

import (
	"errors"
	"fmt"
)

// Errors a failed connection reports. The error returned by a read or write
// wraps one of them (use errors.Is) and names the detail.
var (
	// ErrProtocol: the peer broke a rule of RFC 6455 (close code 1002).
	ErrProtocol = errors.New("websocket: protocol error")
	// ErrInvalidUTF8: a text message or close reason was not valid UTF-8
	// (close code 1007, RFC 6455 §8.1).
	ErrInvalidUTF8 = errors.New("websocket: invalid UTF-8")
	// ErrMessageTooBig: a message exceeded the read limit (close code 1009).
	ErrMessageTooBig = errors.New("websocket: message too big")
	// ErrPongTimeout: the keepalive ping got no pong in time; the
	// connection was closed.
	ErrPongTimeout = errors.New("websocket: no pong within the keepalive timeout")
	// ErrBadHandshake: the opening handshake failed. The error is a
	// *HandshakeError with the details.
	ErrBadHandshake = errors.New("websocket: bad handshake")
	// ErrUnsupportedData: a message of a type the reader cannot take (close
	// code 1003), such as text on a NetConn of binary messages.
	ErrUnsupportedData = errors.New("websocket: unsupported data")
	// ErrWriterClosed: a message writer returned by Conn.Writer was used
	// after its Close. The call changed nothing: the message of another
	// writer is never touched by a stale one.
	ErrWriterClosed = errors.New("websocket: write to a closed message writer")
)

// connFailure is a failure caused by the peer: the connection is failed
// with code, and the error reads "<kind>: <detail>".
type connFailure struct {
	kind   error
	code   StatusCode
	detail string
}

func (e *connFailure) Error() string { return e.kind.Error() + ": " + e.detail }
func (e *connFailure) Unwrap() error { return e.kind }

func protocolErrorf(format string, args ...any) error {
	return &connFailure{kind: ErrProtocol, code: StatusProtocolError, detail: fmt.Sprintf(format, args...)}
}

func invalidUTF8Error(where string) error {
	return &connFailure{kind: ErrInvalidUTF8, code: StatusInvalidFramePayloadData, detail: where}
}

func messageTooBigError(limit int64) error {
	return &connFailure{kind: ErrMessageTooBig, code: StatusMessageTooBig, detail: fmt.Sprintf("read limit is %d bytes", limit)}
}

// closeCodeFor returns the status code a connection is failed with after
// err, and the short reason sent with it. Only the kind of failure goes on
// the wire, never internal details (RFC 6455 §10.7 lets an endpoint keep
// them to itself).
func closeCodeFor(err error) (StatusCode, string) {
	var f *connFailure
	if errors.As(err, &f) {
		switch f.code {
		case StatusProtocolError:
			return f.code, "protocol error"
		case StatusInvalidFramePayloadData:
			return f.code, "invalid UTF-8"
		case StatusMessageTooBig:
			return f.code, "message too big"
		}
		return f.code, ""
	}
	return StatusInternalError, ""
}

// HandshakeError describes a failed opening handshake. On the server side
// Status is the HTTP status the client was answered with; on the client side
// it is the status the server answered (0 if no response was read).
type HandshakeError struct {
	Status int
	Reason string
}

func (e *HandshakeError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("websocket: bad handshake (%d): %s", e.Status, e.Reason)
	}
	return "websocket: bad handshake: " + e.Reason
}

// Unwrap makes errors.Is(err, ErrBadHandshake) true for every handshake
// failure.
func (e *HandshakeError) Unwrap() error { return ErrBadHandshake }
