// Close status codes and the closing handshake.
//
// RFC 6455 §5.5.1 (the close frame), §7.1 (closing the connection, who
// closes TCP), §7.4 (status codes).

package websocket

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// StatusCode is a close status code (RFC 6455 §7.4).
type StatusCode int

// Status codes of RFC 6455 §7.4.1 and the IANA "WebSocket Close Code
// Number Registry" (RFC 6455 §11.7).
const (
	StatusNormalClosure           StatusCode = 1000
	StatusGoingAway               StatusCode = 1001
	StatusProtocolError           StatusCode = 1002
	StatusUnsupportedData         StatusCode = 1003
	StatusNoStatusReceived        StatusCode = 1005 // reported locally, never sent
	StatusAbnormalClosure         StatusCode = 1006 // reported locally, never sent
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusMandatoryExtension      StatusCode = 1010
	StatusInternalError           StatusCode = 1011
	StatusServiceRestart          StatusCode = 1012
	StatusTryAgainLater           StatusCode = 1013
	StatusBadGateway              StatusCode = 1014
	StatusTLSHandshake            StatusCode = 1015 // reported locally, never sent
)

var statusNames = map[StatusCode]string{
	StatusNormalClosure:           "normal closure",
	StatusGoingAway:               "going away",
	StatusProtocolError:           "protocol error",
	StatusUnsupportedData:         "unsupported data",
	StatusNoStatusReceived:        "no status received",
	StatusAbnormalClosure:         "abnormal closure",
	StatusInvalidFramePayloadData: "invalid frame payload data",
	StatusPolicyViolation:         "policy violation",
	StatusMessageTooBig:           "message too big",
	StatusMandatoryExtension:      "mandatory extension",
	StatusInternalError:           "internal error",
	StatusServiceRestart:          "service restart",
	StatusTryAgainLater:           "try again later",
	StatusBadGateway:              "bad gateway",
	StatusTLSHandshake:            "TLS handshake",
}

func (c StatusCode) String() string {
	if name, ok := statusNames[c]; ok {
		return strconv.Itoa(int(c)) + " (" + name + ")"
	}
	return strconv.Itoa(int(c))
}

// validOnWire reports whether code may appear in a close frame.
//
// RFC 6455 §7.4.1 marks 1005, 1006 and 1015 "MUST NOT be set as a status
// code in a Close control frame", §7.4.2 reserves 0–999 (unused) and
// 1000–2999 for the protocol, and leaves 3000–4999 to libraries and
// applications. Of the protocol range, the codes defined so far are
// 1000–1003, 1007–1011 (RFC 6455) and 1012–1014 (registered with IANA
// later); any other code is one the peer cannot have meant, and receiving
// it is a protocol error.
func (c StatusCode) validOnWire() bool {
	switch {
	case c >= 1000 && c <= 1003:
		return true
	case c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// maxCloseReason is what fits in a control frame after the 2-byte code
// (RFC 6455 §5.5: payload of 125 bytes or less).
const maxCloseReason = maxControlPayload - 2

// CloseError is the error a read returns once the peer has ended the
// connection: RFC 6455 §7.1.5 "The WebSocket Connection Close Code" and
// §7.1.6 "Close Reason". Code is the code of the peer's close frame,
// StatusNoStatusReceived if that frame carried none, and
// StatusAbnormalClosure if the peer closed TCP without a close frame.
type CloseError struct {
	Code   StatusCode
	Reason string

	// lost is what the transport reported when a connection was lost
	// without a close frame by a reset, for Unwrap.
	lost error
}

func (e *CloseError) Error() string {
	switch {
	case e.Code == StatusAbnormalClosure && e.lost != nil:
		return fmt.Sprintf("websocket: connection lost without a close frame: %v: %v", e.Code, e.lost)
	case e.Code == StatusAbnormalClosure:
		return fmt.Sprintf("websocket: connection lost without a close frame: %v", e.Code)
	case e.Reason == "":
		return fmt.Sprintf("websocket: closed by peer: %v", e.Code)
	}
	return fmt.Sprintf("websocket: closed by peer: %v %q", e.Code, e.Reason)
}

// Unwrap returns the transport's error for a connection lost without a
// close frame (such as syscall.ECONNRESET), and nil otherwise.
func (e *CloseError) Unwrap() error { return e.lost }

// CloseStatus returns the Code of the *CloseError in err's chain, or -1 if
// there is none: the connection is still open, or it was closed on this
// side, or it failed for another reason (see the Err variables).
func CloseStatus(err error) StatusCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

// parseClosePayload decodes the body of a received close frame (RFC 6455
// §5.5.1): empty, or a 2-byte code followed by a UTF-8 reason.
func parseClosePayload(p []byte) (*CloseError, error) {
	switch len(p) {
	case 0:
		return &CloseError{Code: StatusNoStatusReceived}, nil
	case 1:
		return nil, protocolErrorf("close frame with a 1-byte payload")
	}
	code := StatusCode(binary.BigEndian.Uint16(p))
	if !code.validOnWire() {
		return nil, protocolErrorf("close frame with status code %d", int(code))
	}
	// RFC 6455 §5.5.1: the reason "is not guaranteed to be human readable",
	// but it is UTF-8; §8.1 makes invalid UTF-8 a failure.
	reason := p[2:]
	if !utf8.Valid(reason) {
		return nil, invalidUTF8Error("close reason")
	}
	return &CloseError{Code: code, Reason: string(reason)}, nil
}

// appendClosePayload appends the body of a close frame for code and reason.
// StatusNoStatusReceived gives an empty body: a close without a code.
func appendClosePayload(b []byte, code StatusCode, reason string) []byte {
	if code == StatusNoStatusReceived {
		return b
	}
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	return append(b, reason...)
}

// checkLocalClose checks a code and reason passed to Close.
func checkLocalClose(code StatusCode, reason string) error {
	if !code.validOnWire() {
		return fmt.Errorf("websocket: status code %d cannot be sent in a close frame", int(code))
	}
	if len(reason) > maxCloseReason {
		return fmt.Errorf("websocket: close reason is %d bytes, at most %d fit in a close frame", len(reason), maxCloseReason)
	}
	if !utf8.ValidString(reason) {
		return errors.New("websocket: close reason is not valid UTF-8")
	}
	return nil
}

// Close starts the closing handshake (RFC 6455 §7.1.2): it sends a close
// frame with code and reason, waits up to the close timeout for the peer's
// close frame, and closes the connection. The reason must be valid UTF-8 of
// at most 123 bytes.
//
// If another goroutine is blocked reading when Close is called, it goes on
// receiving the messages the peer sent before its close frame, then returns
// that frame as a *CloseError. Otherwise Close reads, and drops, what
// arrives until the peer's close frame. Close may be called from any goroutine, at any time;
// once the connection is closed it returns an error wrapping net.ErrClosed.
func (c *Conn) Close(code StatusCode, reason string) error {
	if err := checkLocalClose(code, reason); err != nil {
		return err
	}
	if err := c.writeClose(code, reason); err != nil {
		if errors.Is(err, errCloseSent) {
			// A close handshake is already under way (a failure, the
			// peer's close or another Close): it ends within its own
			// timeouts.
			<-c.Done()
			return errClosed
		}
		if c.closedErr() != nil {
			// Closed before this call could send anything: what closed
			// it was reported to whoever was using it then.
			return errClosed
		}
		c.closeTransport(errClosed)
		return err
	}

	// Who reads the reply is decided once, now. If a goroutine is blocked
	// in a read, it will receive the messages still in flight and then the
	// peer's close frame: Close only waits for that. Taking the read side
	// away from it later (it lets go between messages) would drop messages
	// it is entitled to.
	if c.readSem.tryAcquire() {
		// Nobody is reading: read until the reply ourselves.
		c.t.SetReadDeadline(time.Now().Add(c.closeTimeout))
		c.drainUntilClose()
		c.readSem.release()
	} else {
		timer := time.NewTimer(c.closeTimeout)
		defer timer.Stop()
		select {
		case <-c.Done(): // the reader received the reply and closed, or a failure did
		case <-timer.C:
		}
	}
	c.closeTransport(errClosed)
	return nil
}

// CloseNow closes the connection without a closing handshake. Blocked
// reads and writes return at once. Prefer Close, which tells the peer why.
func (c *Conn) CloseNow() error {
	if c.closedErr() != nil {
		return errClosed
	}
	c.closeTransport(errClosed)
	return nil
}

// writeClose sends a close frame, waiting at most the close timeout for the
// wire. It fails with errCloseSent if one was sent already: RFC 6455 §5.5.1
// allows one close frame per endpoint.
func (c *Conn) writeClose(code StatusCode, reason string) error {
	// The bound is a write deadline rather than a context with a timeout:
	// it reuses the socket's own timer instead of making a context, a
	// timer and a watch for each close. Nothing but a close frame is
	// written from here on, so the deadline replaced is not missed.
	c.t.SetWriteDeadline(time.Now().Add(c.closeTimeout))
	var buf [maxControlPayload]byte
	return c.writeControl(context.Background(), opClose, appendClosePayload(buf[:0], code, reason))
}

// handlePeerClose acts on a close frame from the peer (RFC 6455 §5.5.1,
// §7.1): reply if we have not sent a close yet, let the server close TCP
// first, and report the peer's code and reason.
func (c *Conn) handlePeerClose(payload []byte) error {
	ce, err := parseClosePayload(payload)
	if err != nil {
		return err
	}
	if !c.closeSent.Load() {
		// RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did
		// not previously send a Close frame, the endpoint MUST send a Close
		// frame in response. ... it typically echos the status code it
		// received." A close without a code gets one without a code.
		// Failing to send it leaves nothing to do but close, below.
		_ = c.writeClose(ce.Code, "")
	}
	if !c.isServer {
		// RFC 6455 §7.1.1: "when a server is instructed to _Close the
		// WebSocket Connection_ it SHOULD initiate a TCP Close immediately,
		// and when a client is instructed to do the same, it SHOULD wait
		// for a TCP Close from the server."
		c.lingerClose()
	}
	c.closeTransport(ce)
	return ce
}

// failConnection is RFC 6455 §7.1.7 "Fail the WebSocket Connection": send
// a close frame with the code that names the failure, then close without
// looking at anything more from the peer: "An endpoint MUST NOT continue to
// attempt to process data (including a responding Close frame) from the
// remote endpoint after being instructed to _Fail the WebSocket
// Connection_." The caller holds readSem.
func (c *Conn) failConnection(f *connFailure) {
	code, reason := closeCodeFor(f)
	if c.writeClose(code, reason) == nil {
		c.lingerClose()
	}
	c.closeTransport(f)
}

// drainUntilClose reads and drops data after our close frame went out,
// until the peer's close frame has been handled, reading fails or the read
// deadline passes (RFC 6455 §1.4: after sending a close, an endpoint keeps
// reading until the peer's close arrives). The caller holds readSem.
func (c *Conn) drainUntilClose() {
	// nextMessage discards the message in progress and starts the next
	// one (inflating it where the compression context carries over), and
	// ends reading, through readFailed, when the peer's close arrives or
	// anything fails.
	for c.readErr == nil {
		c.nextMessage()
	}
}

// lingerClose waits for the peer to close TCP, dropping whatever it still
// sends, for at most the close timeout. RFC 6455 §7.1.1 asks for a clean TCP
// close that discards trailing bytes, with the server closing first: a
// server therefore shuts down its sending side at once, so the peer sees
// our close frame followed by the end of the stream. Closing the socket
// while the peer's bytes sit unread would instead make TCP send a reset,
// which can destroy our close frame before the peer reads it. The caller
// holds readSem.
func (c *Conn) lingerClose() {
	if c.isServer {
		if cw, ok := c.t.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}
	c.t.SetReadDeadline(time.Now().Add(c.closeTimeout))
	var discard [512]byte
	for {
		if _, err := c.t.Read(discard[:]); err != nil {
			return
		}
	}
}
