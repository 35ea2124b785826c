// The server side of the opening handshake on a bare connection, without
// net/http's server.
//
// Accept runs inside net/http, which is what most servers want: routes,
// middleware, TLS, HTTP/2, Shutdown. Its price is net/http's per-connection
// machinery, which a port that serves nothing but WebSockets does not use:
// for every handshake the server allocates its connection state, a 4 KiB
// bufio.Reader and a 4 KiB bufio.Writer, and the hijack a second 4 KiB
// writer, none of them returned to net/http's pools. The GC frees them, but
// a server that takes thousands of handshakes at once (clients reconnecting
// after a deploy) holds them all at its peak. AcceptConn reads the request
// with http.ReadRequest, the same parser, through a small pooled buffer,
// and applies the checks and the negotiation Accept does.

package websocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// maxRequestBytes bounds the request line and header fields AcceptConn
// reads: browsers' handshakes are under 2 KiB, cookies included, and the
// bound keeps a client from making the server read without end. (net/http's
// default, MaxHeaderBytes, is 1 MiB; a WebSocket port needs far less.)
const maxRequestBytes = 64 << 10

// handshakeBufferSize is the read buffer for the request: one segment of a
// typical handshake. A longer request is read in several fills.
const handshakeBufferSize = 2 << 10

// requestReader reads one handshake request. It is pooled: a server under a
// storm of reconnections reuses a few hundred instead of allocating
// thousands.
type requestReader struct {
	limit io.LimitedReader
	br    *bufio.Reader
}

var requestReaders = sync.Pool{New: func() any {
	rr := new(requestReader)
	rr.br = bufio.NewReaderSize(&rr.limit, handshakeBufferSize)
	return rr
}}

// AcceptConn reads a WebSocket opening handshake (RFC 6455 §4.2.1) from nc,
// a connection fresh from a net.Listener (a *tls.Conn for wss), answers it,
// and returns the Conn and the request, for its path, query and header
// fields. opts apply as in Accept: subprotocols, compression, the origin
// check (CheckOrigin sees the request), ConnOptions.
//
// It is for a port that serves nothing but WebSockets, where it costs less
// than Accept per handshake (see the file comment of acceptconn.go and the
// scale benchmark in bench/README.md). It does without what net/http
// provides: other routes and plain HTTP requests, middleware, HTTP/2,
// keep-alive requests before the upgrade, and Server.Shutdown (so
// KeepOnShutdown has no effect: closing the connections is the program's
// to do). The request has no body, and its context is not ctx.
//
// ctx bounds the handshake: its deadline becomes the connection's while the
// request is read and answered, and cancelling it ends the handshake. A
// server should give it a timeout, or a client that connects and sends
// nothing holds its goroutine for ever. Serve the connection on a new
// goroutine (see the example): the one that read the request has a stack
// grown by parsing it, which an idle connection would keep (10,000 idle
// connections in the scale benchmark: 6.71 KiB each served on the same
// goroutine, 4.67 KiB on a new one).
//
// A request that is not a valid handshake is answered with an HTTP error
// (400, 403, 405, 426 or 431, with a plain-text reason), nc is closed, and
// the error is a *HandshakeError. On any other failure nc is closed too.
func AcceptConn(ctx context.Context, nc net.Conn, opts *AcceptOptions) (*Conn, *http.Request, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		nc.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, r, err := acceptConn(nc, opts)
	if err != nil {
		nc.Close()
		switch {
		case ctx.Err() != nil:
			err = fmt.Errorf("websocket: accept: %w", context.Cause(ctx))
		case hasDeadline && !time.Now().Before(deadline):
			// The connection's deadline, which is the context's, can
			// expire a moment before the context's own timer.
			err = fmt.Errorf("websocket: accept: %w", context.DeadlineExceeded)
		}
		return nil, r, err
	}
	if !stop() {
		c.CloseNow()
		return nil, r, fmt.Errorf("websocket: accept: %w", context.Cause(ctx))
	}
	nc.SetDeadline(time.Time{})
	return c, r, nil
}

// acceptConn is AcceptConn without the context: it reads the request,
// checks it, and answers with 101 or an HTTP error.
func acceptConn(nc net.Conn, opts *AcceptOptions) (*Conn, *http.Request, error) {
	rr := requestReaders.Get().(*requestReader)
	defer requestReaders.Put(rr)
	rr.limit = io.LimitedReader{R: nc, N: maxRequestBytes}
	rr.br.Reset(&rr.limit)
	defer func() { // the pool keeps no connection
		rr.limit = io.LimitedReader{}
		rr.br.Reset(&rr.limit)
	}()

	r, err := http.ReadRequest(rr.br)
	if err != nil {
		var herr *HandshakeError
		switch {
		case rr.limit.N == 0:
			herr = &HandshakeError{Status: http.StatusRequestHeaderFieldsTooLarge, Reason: fmt.Sprintf("request header larger than %d bytes", maxRequestBytes)}
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isTimeout(err):
			// The client went away, or sent too little in time: there
			// is nobody to answer.
			return nil, nil, fmt.Errorf("websocket: accept: reading the request: %w", err)
		default:
			herr = &HandshakeError{Status: http.StatusBadRequest, Reason: "malformed request: " + err.Error()}
		}
		refuseConn(nc, nil, herr)
		return nil, nil, herr
	}
	r.RemoteAddr = nc.RemoteAddr().String()
	if tc, ok := nc.(*tls.Conn); ok {
		state := tc.ConnectionState()
		r.TLS = &state
	}

	key, herr := checkClientHandshake(r)
	if herr == nil && (r.ContentLength != 0 || len(r.TransferEncoding) > 0) {
		// A body would be read as the client's first frames.
		herr = &HandshakeError{Status: http.StatusBadRequest, Reason: "handshake must not have a body"}
	}
	if herr == nil {
		herr = checkOrigin(r, opts)
	}
	if herr != nil {
		refuseConn(nc, r, herr)
		return nil, r, herr
	}
	n := negotiate(r, opts)
	resp := appendSwitchingProtocols(nil, key, n.subprotocol, n.extensions, nil)
	if _, err := nc.Write(resp); err != nil {
		return nil, r, &HandshakeError{Reason: "writing the 101 response: " + err.Error()}
	}
	// Bytes the client sent right after its request are its first frames.
	// The buffer goes back to the pool, so they are copied out (newConn
	// copies them into the connection's read buffer).
	var buffered []byte
	if k := rr.br.Buffered(); k > 0 {
		buffered, _ = rr.br.Peek(k)
	}
	return newConn(nc, true, buffered, n.subprotocol, &opts.ConnOptions, n.deflate), r, nil
}

// isTimeout reports whether err is a deadline's.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// refuseConn answers a refused handshake on a bare connection with what
// refuse would write through net/http: the status, its header fields and
// the plain-text reason. The connection closes after it.
func refuseConn(nc net.Conn, r *http.Request, herr *HandshakeError) {
	if r == nil {
		r = &http.Request{ProtoMajor: 1, ProtoMinor: 1}
	}
	var rec refusal
	rec.header = make(http.Header)
	refuse(&rec, r, herr)
	resp := &http.Response{
		StatusCode:    rec.status,
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		ContentLength: int64(rec.body.Len()),
		Body:          io.NopCloser(&rec.body),
		Close:         true,
	}
	if resp.Write(nc) != nil {
		return
	}
	// Closing a TCP connection with unread bytes in its receive buffer
	// sends a reset, which can destroy the response before the client
	// reads it (RFC 9112 §9.6). So, as net/http does, end the sending
	// side and read what the client still sends, for a moment, before
	// the caller closes.
	if tc, ok := nc.(interface{ CloseWrite() error }); ok && tc.CloseWrite() == nil {
		nc.SetReadDeadline(time.Now().Add(lingerAfterRefusal))
		io.Copy(io.Discard, io.LimitReader(nc, maxRequestBytes))
	}
}

// lingerAfterRefusal is how long refuseConn reads what follows a refused
// request, waiting for the client to close after the response.
const lingerAfterRefusal = 500 * time.Millisecond

// refusal is the http.ResponseWriter refuseConn gives refuse: it keeps
// what is written, to send it as one response.
type refusal struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rec *refusal) Header() http.Header { return rec.header }

func (rec *refusal) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
}

func (rec *refusal) Write(p []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	return rec.body.Write(p)
}
