// WebSockets over HTTP/2: the extended CONNECT handshake and the transport
// that runs a connection on one HTTP/2 stream.
//
// RFC 8441 §3 (SETTINGS_ENABLE_CONNECT_PROTOCOL, which Go's server sends
// when started with GODEBUG=http2xconnect=1), §4 (the extended CONNECT
// method: :protocol), §5 (the WebSocket handshake over it: no
// Sec-WebSocket-Key or Sec-WebSocket-Accept, a 200 response, and then the
// stream's DATA frames carry RFC 6455 frames).

package websocket

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// checkExtendedConnect applies RFC 8441 §4 and §5 to an HTTP/2 (or later)
// request, and returns the HTTP status and reason to answer with if it is
// not a WebSocket handshake.
func checkExtendedConnect(r *http.Request) *HandshakeError {
	// §4: "A new pseudo-header field :protocol MAY be included on request
	// HEADERS indicating the desired protocol to be spoken on the tunnel
	// created by CONNECT." §5: its value is "websocket".
	if r.Method != http.MethodConnect {
		return &HandshakeError{Status: http.StatusMethodNotAllowed, Reason: "over HTTP/2 the handshake is an extended CONNECT request (RFC 8441)"}
	}
	if protocol := r.Header.Get(":protocol"); protocol != "websocket" {
		return &HandshakeError{Status: http.StatusBadRequest, Reason: "CONNECT without \":protocol: websocket\""}
	}
	// §5: "The Sec-WebSocket-Version ... header fields are used as in
	// [RFC6455]"; see refuse for the status of a mismatch.
	if !versionSupported(r.Header) {
		return &HandshakeError{Status: http.StatusBadRequest, Reason: "unsupported Sec-WebSocket-Version (13 is supported)"}
	}
	// §5: "Implementations using this extended CONNECT to bootstrap
	// WebSockets do not do the processing of the Sec-WebSocket-Key and
	// Sec-WebSocket-Accept header fields ... as that functionality has
	// been superseded by the :protocol pseudo-header field." A client that
	// sends them has mixed up the two forms.
	if r.Header.Get("Sec-WebSocket-Key") != "" || r.Header.Get("Sec-WebSocket-Accept") != "" {
		return &HandshakeError{Status: http.StatusBadRequest, Reason: "Sec-WebSocket-Key has no place in an HTTP/2 handshake (RFC 8441 §5)"}
	}
	return nil
}

// acceptH2 completes the RFC 8441 handshake: a 200 response, flushed at
// once since the client waits for it before it sends a frame, and a Conn
// over the stream.
func acceptH2(w http.ResponseWriter, r *http.Request, n negotiation, opts *ConnOptions) (*Conn, *HandshakeError) {
	rc := http.NewResponseController(w)
	h := w.Header()
	for name := range handshakeHeaders {
		h.Del(name) // Upgrade and Connection are invalid in HTTP/2; the rest are ours to set
	}
	if n.subprotocol != "" {
		h.Set("Sec-WebSocket-Protocol", n.subprotocol)
	}
	if n.extensions != "" {
		h.Set("Sec-WebSocket-Extensions", n.extensions)
	}
	// The server's ReadTimeout and WriteTimeout apply to each stream, for
	// an HTTP exchange; a WebSocket connection lives by its own. A
	// ResponseWriter that cannot clear them leaves the connection subject
	// to them, which is no reason to refuse it.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})

	// §5: "a 2xx series status code" answers a successful extended CONNECT.
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil, &HandshakeError{Reason: "sending the 200 response: " + err.Error()}
	}
	c := newConn(newH2Transport(w, r, rc), true, nil, n.subprotocol, opts, n.deflate)
	// The stream, and so the connection, ends when the handler returns or
	// the client resets the stream; both cancel the request's context.
	// Closing here ends blocked reads and keepalive at once, and makes
	// later operations fail with errStreamEnded.
	context.AfterFunc(r.Context(), func() { c.closeTransport(errStreamEnded) })
	return c, nil
}

// errStreamEnded is the error of operations on a connection whose HTTP/2
// stream is gone: its handler returned, or the client reset the stream.
var errStreamEnded = fmt.Errorf("websocket: the HTTP/2 stream has ended (the handler returned, or the client reset the stream): %w", net.ErrClosed)

// h2Transport is the transport of a connection accepted over HTTP/2: reads
// come from the request body, writes go to the ResponseWriter and are
// flushed at once, since a WebSocket frame may be all the peer waits for.
//
// A ResponseWriter must not be used once its handler has returned (and Go's
// HTTP/2 server panics if it is). The handler's return cancels the
// request's context first, so every use of w goes through enter, which
// refuses once the context is done or the transport closed, and Close
// waits until no use is in progress: after Close returns nothing touches w
// any more, which is what makes returning after <-Conn.Done() safe.
type h2Transport struct {
	body io.ReadCloser
	w    http.ResponseWriter
	rc   *http.ResponseController
	ctx  context.Context // the request's: done once the stream has ended
	// remote is the client's address as the request has it (RemoteAddr).
	remote string

	mu      sync.Mutex
	idle    sync.Cond // signalled when users drops to 0
	users   int       // calls using w right now
	writing bool      // one of them is a Write (the Conn writes one at a time)
	closed  bool
}

func newH2Transport(w http.ResponseWriter, r *http.Request, rc *http.ResponseController) *h2Transport {
	t := &h2Transport{body: r.Body, w: w, rc: rc, ctx: r.Context(), remote: r.RemoteAddr}
	t.idle.L = &t.mu
	return t
}

// enter registers a use of w, or says why there may be none.
func (t *h2Transport) enter(write bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return net.ErrClosed
	case t.ctx.Err() != nil:
		return errStreamEnded
	}
	t.users++
	t.writing = t.writing || write
	return nil
}

// leave ends a use of w registered by enter.
func (t *h2Transport) leave(write bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.users--
	if write {
		t.writing = false
	}
	if t.users == 0 {
		t.idle.Broadcast()
	}
}

// Read reads the client's bytes: the DATA frames of the stream.
func (t *h2Transport) Read(p []byte) (int, error) {
	n, err := t.body.Read(p)
	if err != nil && t.ctx.Err() != nil {
		// The body ended because the stream did: say so, rather than
		// report the end of the body as a peer that left (1006).
		err = errStreamEnded
	}
	return n, err
}

// Write sends p in DATA frames and flushes them.
func (t *h2Transport) Write(p []byte) (int, error) {
	if err := t.enter(true); err != nil {
		return 0, err
	}
	defer t.leave(true)
	n, err := t.w.Write(p)
	if err == nil {
		err = t.rc.Flush()
	}
	return n, err
}

// SetReadDeadline sets the stream's read deadline. Go's HTTP/2 server ends
// the request body when it passes, so the connection cannot be read after
// that, as after a read timeout over TCP.
func (t *h2Transport) SetReadDeadline(d time.Time) error {
	if err := t.enter(false); err != nil {
		return err
	}
	defer t.leave(false)
	return t.rc.SetReadDeadline(d)
}

// SetWriteDeadline sets the stream's write deadline. When it passes, Go's
// HTTP/2 server resets the stream and the write in progress fails.
func (t *h2Transport) SetWriteDeadline(d time.Time) error {
	if err := t.enter(false); err != nil {
		return err
	}
	defer t.leave(false)
	return t.rc.SetWriteDeadline(d)
}

// CloseWrite is where a server that closes first ends its side and then
// waits for the client to close, dropping what it still sends (RFC 6455
// §7.1.1; see Conn.lingerClose). Over TCP the wait keeps unread bytes from
// turning the close into a reset that could destroy the close frame. An
// HTTP/2 stream has no such hazard: its DATA frames arrive in order before
// any RST_STREAM, and the stream can only end when the handler returns. So
// there is nothing to wait for, and CloseWrite ends the reading instead,
// which makes the lingering read return at once.
func (t *h2Transport) CloseWrite() error { return t.body.Close() }

// Close ends the request body, which ends blocked reads, and waits until no
// call uses w. A write blocked on flow control (the client not reading)
// would make that wait unbounded, so it is cut short by resetting the
// stream, as closing a TCP connection cuts a blocked write short. The
// stream itself ends when the handler returns.
func (t *h2Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return net.ErrClosed
	}
	t.closed = true
	if t.writing && t.ctx.Err() == nil {
		// A deadline in the past resets the stream at once.
		_ = t.rc.SetWriteDeadline(time.Unix(1, 0))
	}
	t.mu.Unlock()

	err := t.body.Close()
	t.mu.Lock()
	for t.users > 0 {
		t.idle.Wait()
	}
	t.mu.Unlock()
	return err
}
