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
// and applies the checks and the negotiation Accept does. In the scale
// benchmark (bench/README.md, 2026-12-07) that took a storm of 10,000
// reconnecting clients from 141 MiB of peak RSS through net/http to 111,
// and 19,744 idle connections from 5.95 KiB each to 4.63.

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
	"strings"
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
// than Accept, per handshake and per idle connection (bench/README.md,
// "Scale"). It does without what net/http provides: other routes and
// plain HTTP requests, middleware, HTTP/2, keep-alive requests before the
// upgrade, and Server.Shutdown (so KeepOnShutdown has no effect: closing
// the connections is the program's to do). The request has no body, and
// its context is not ctx.
//
// ctx bounds the handshake: its deadline becomes the connection's while the
// request is read and answered, and cancelling it ends the handshake. A
// server should give it a timeout, or a client that connects and sends
// nothing holds its goroutine for ever. Serve the connection on a new
// goroutine (see the example): the one that read the request has a stack
// grown by parsing it, which an idle connection would keep (10,000 idle
// connections: 6.71 KiB each on that goroutine, 4.67 KiB on a new one).
//
// A request that is not a valid handshake is answered with an HTTP error
// (400, 403, 405, 426, 431 or 505, with a plain-text reason), nc is closed,
// and the error is a *HandshakeError with that status. Before closing, a
// refusal reads what the client still sends, for up to half a second
// (within ctx), so that the answer is not lost to a TCP reset. On any
// other failure (a failed TLS handshake, a client that left or sent too
// little in time) nothing is answered and nc is closed too.
func AcceptConn(ctx context.Context, nc net.Conn, opts *AcceptOptions) (*Conn, *http.Request, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	hc := bindHandshake(ctx, nc)
	defer hc.stop() // a no-op once release has run

	c, r, err := acceptConn(ctx, nc, opts)
	if err != nil {
		nc.Close()
		// A client that was answered (an HTTP error) gets the error it
		// was told, whatever the context did meanwhile.
		var herr *HandshakeError
		if answered := errors.As(err, &herr) && herr.Status != 0; !answered {
			if cause := hc.cause(); cause != nil {
				err = fmt.Errorf("websocket: accept: %w", cause)
			}
		}
		return nil, r, err
	}
	if !hc.release() {
		c.CloseNow()
		return nil, r, fmt.Errorf("websocket: accept: %w", context.Cause(ctx))
	}
	return c, r, nil
}

// acceptConn is AcceptConn once the context bounds nc: it reads the
// request, checks it, and answers with 101 or an HTTP error.
func acceptConn(ctx context.Context, nc net.Conn, opts *AcceptOptions) (*Conn, *http.Request, error) {
	// Over TLS the handshake comes first. A client that fails it (one
	// speaking plain HTTP to a TLS port) cannot be answered in HTTP.
	if tc, ok := nc.(*tls.Conn); ok {
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, nil, fmt.Errorf("websocket: accept: TLS handshake: %w", err)
		}
	}

	rr := requestReaders.Get().(*requestReader)
	defer requestReaders.Put(rr)
	rr.limit = io.LimitedReader{R: nc, N: maxRequestBytes}
	rr.br.Reset(&rr.limit)
	defer func() { // the pool keeps no connection
		rr.limit = io.LimitedReader{}
		rr.br.Reset(&rr.limit)
	}()

	skipEmptyLines(rr.br)
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
		refuseConn(ctx, nc, nil, herr)
		return nil, nil, herr
	}
	// A body would read from rr, which goes back to the pool: the
	// request handed out has none (and a handshake with one is refused
	// below).
	hasBody := r.ContentLength != 0 || len(r.TransferEncoding) > 0
	r.Body = http.NoBody
	r.RemoteAddr = nc.RemoteAddr().String()
	if tc, ok := nc.(*tls.Conn); ok {
		state := tc.ConnectionState()
		r.TLS = &state
	}

	herr := checkRequest(r)
	var key string
	if herr == nil {
		key, herr = checkClientHandshake(r)
	}
	if herr == nil && hasBody {
		// It would be read as the client's first frames.
		herr = &HandshakeError{Status: http.StatusBadRequest, Reason: "handshake must not have a body"}
	}
	if herr == nil {
		herr = checkOrigin(r, opts)
	}
	if herr != nil {
		refuseConn(ctx, nc, r, herr)
		return nil, r, herr
	}
	n := negotiate(r, opts)
	resp := appendSwitchingProtocols(nil, key, n.subprotocol, n.extensions, nil)
	if _, err := nc.Write(resp); err != nil {
		return nil, r, fmt.Errorf("websocket: accept: writing the 101 response: %w", err)
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

// checkRequest applies what http.ReadRequest leaves to a server, as
// net/http's does: the HTTP version (a 101 answers HTTP/1.x only) and the
// host, which an HTTP/1.1 request must name (RFC 9112 §3.2; RFC 6455
// §4.2.1 item 2). ReadRequest has refused a repeated Host field already,
// and moved the one field into r.Host (or taken the host of an
// absolute-form target).
func checkRequest(r *http.Request) *HandshakeError {
	if r.ProtoMajor != 1 {
		return &HandshakeError{Status: http.StatusHTTPVersionNotSupported, Reason: "HTTP version " + r.Proto + " not supported"}
	}
	if r.ProtoMinor >= 1 && !validHost(r.Host) {
		return &HandshakeError{Status: http.StatusBadRequest, Reason: "missing or malformed Host header"}
	}
	return nil
}

// validHost reports whether h can be a Host field's value: a host with an
// optional port (RFC 9110 §7.2), made of the characters RFC 3986 §3.2.2
// allows in one (names, IPv4, bracketed IPv6, percent-encoding).
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~%!$&'()*+,;=:[]", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isTimeout reports whether err is a deadline's.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// refuseConn answers a refused handshake on a bare connection with what
// refuse would write through net/http: the status, its header fields and
// the plain-text reason. The connection closes after it.
func refuseConn(ctx context.Context, nc net.Conn, r *http.Request, herr *HandshakeError) {
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
	if resp.Write(nc) != nil || ctx.Err() != nil {
		return
	}
	// Closing a TCP connection with unread bytes in its receive buffer
	// sends a reset, which can destroy the response before the client
	// reads it (RFC 9112 §9.6). So, as net/http does, end the sending
	// side and read what the client still sends, for a moment, before
	// the caller closes.
	if tc, ok := nc.(interface{ CloseWrite() error }); ok && tc.CloseWrite() == nil {
		until := time.Now().Add(lingerAfterRefusal)
		if deadline, ok := ctx.Deadline(); ok && deadline.Before(until) {
			until = deadline
		}
		nc.SetReadDeadline(until)
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

// skipEmptyLines drops up to four CR or LF bytes before the request line
// (two CRLF empty lines), which http.ReadRequest would take for a
// malformed request line. RFC 9112 §2.2: "a server that is expecting to
// receive and parse a request-line SHOULD ignore at least one empty line
// (CRLF) received prior to the request-line". net/http's server does so
// only after a POST on the same connection (the stray line ended its
// body), so Accept refuses a fresh connection that starts with one, with
// 400, where AcceptConn follows the RFC.
//
// Peek's error is dropped: ReadRequest reads the connection again and
// meets it again (an EOF, a deadline passed), except a connection reset,
// which the kernel reports once and then reads as EOF; either way nothing
// is answered.
func skipEmptyLines(br *bufio.Reader) {
	peek, _ := br.Peek(4)
	n := 0
	for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
		n++
	}
	br.Discard(n)
}
