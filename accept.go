// The server side of the opening handshake, over net/http.
//
// RFC 6455 §4.2.1 (reading the client's handshake), §4.2.2 (answering it),
// §4.4 (unsupported versions), §10.2 (origin considerations). The HTTP/2
// form of the handshake (RFC 8441) shares the checks and the negotiation
// here; its own checks and its transport are in h2.go.

package websocket

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// AcceptOptions configures Accept. A nil *AcceptOptions means the defaults.
type AcceptOptions struct {
	ConnOptions

	// Compression, if set, accepts permessage-deflate (RFC 7692) when the
	// client offers it.
	Compression *CompressionOptions

	// Subprotocols lists the subprotocols the server speaks, most preferred
	// first. The first of them the client also offers is selected
	// (RFC 6455 §4.2.2 item 5.4: the server picks one of the client's).
	Subprotocols []string

	// OriginPatterns lists the origins, besides the request's own host,
	// whose pages may open a connection: host[:port] patterns in the
	// syntax of path.Match, such as "example.com" or "*.example.com:8443",
	// compared without regard to case.
	OriginPatterns []string

	// CheckOrigin, if set, replaces the origin check: it returns whether
	// the request may go on. Use func(*http.Request) bool { return true }
	// to accept any origin.
	CheckOrigin func(r *http.Request) bool

	// KeepOnShutdown leaves the connection open when the http.Server that
	// accepted it shuts down. By default Shutdown closes it with 1001
	// "going away", over HTTP/1.1 and HTTP/2 alike. Over HTTP/1.1 a kept
	// connection lives on, hijacked and forgotten by the server, until
	// the program closes it; over HTTP/2 it is a stream the server still
	// serves, and Shutdown waits for its handler to return.
	KeepOnShutdown bool
}

// Accept answers a WebSocket opening handshake from within an http.Handler
// and takes over the connection. It serves both forms of the handshake
// with the same options, and the Conn it returns behaves the same:
//
//   - HTTP/1.1: a GET with "Upgrade: websocket" (RFC 6455 §4.2). Accept
//     hijacks the TCP connection and answers 101 Switching Protocols.
//   - HTTP/2: an extended CONNECT with ":protocol: websocket" (RFC 8441).
//     Accept answers 200 and the connection runs on the request's stream:
//     the request body brings the client's frames, w carries the server's.
//     Go's HTTP/2 server only accepts extended CONNECT when the process was
//     started with GODEBUG=http2xconnect=1 (see the package documentation).
//
// Headers set on w before the call are sent with the 101 or 200 response.
//
// A request that is not a valid handshake is answered with an HTTP error
// (400, 403, 405 or 426, with a plain-text reason) and Accept returns a
// *HandshakeError; the handler must not write to w after that, nor after a
// successful Accept.
//
// Lifetime: over HTTP/2 the connection is the handler's stream, and it ends
// when the handler returns. A handler that passes the Conn to other
// goroutines must wait for it before returning, with <-c.Done() (or by
// reading until the connection ends). The package guards the case where it
// does not: once the handler has returned, the connection is closed, and
// writes from other goroutines fail with an error instead of touching the
// finished ResponseWriter. A write already in progress at that moment is
// beyond what a library can guard; the rule is what makes it safe. Over
// HTTP/1.1 the handler may return at once, but waiting is harmless, so
// handlers written for HTTP/2 serve both.
//
// When the http.Server that runs the handler shuts down (Server.Shutdown),
// every connection it accepted is closed with 1001 (going away), on both
// transports, so Shutdown does not wait for WebSockets that never end.
//
// By default a browser page may only connect to its own host (the Origin
// header must name the request's Host); see AcceptOptions.OriginPatterns
// and CheckOrigin. Requests without an Origin header, which browsers always
// send, are accepted.
func Accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	overH2 := r.ProtoMajor >= 2
	var key string
	var herr *HandshakeError
	if overH2 {
		herr = checkExtendedConnect(r)
	} else {
		key, herr = checkClientHandshake(r)
	}
	if herr == nil {
		herr = checkOrigin(r, opts)
	}
	if herr != nil {
		refuse(w, r, herr)
		return nil, herr
	}
	n := negotiate(r, opts)
	var watch *serverConns
	if !opts.KeepOnShutdown {
		watch = shutdownSet(r)
	}

	var c *Conn
	if overH2 {
		c, herr = acceptH2(w, r, n, &opts.ConnOptions)
	} else {
		c, herr = acceptHijack(w, key, n, &opts.ConnOptions)
	}
	if herr != nil {
		return nil, herr
	}
	c.fromAccept = true
	if watch != nil {
		watch.add(c)
	}
	return c, nil
}

// Handler returns an http.Handler that accepts each request as a WebSocket
// with opts and runs serve on the connection. The connection is closed
// when serve returns. serve's context carries the request's values (what
// middleware put there, such as an authenticated user) but is not
// cancelled when the request's handler returns; the connection ends with
// the peer, a failure, Close, or the server's Shutdown (1001).
//
// It follows the lifetime rule of the package (see the package
// documentation) on both transports, and saves memory where it can: over
// HTTP/1.1, serve runs on a goroutine of its own and the handler returns
// at once, which lets net/http release what it keeps for a running
// handler: its buffers and the handler's deeper stack, about 16 KiB per
// idle connection (1,000 idle connections on loopback, both ends in one
// process: 19.6 KiB each served inside the handler, 3.6 KiB with
// Handler). Over HTTP/2 the handler waits for serve, since the stream
// lives only as long as the handler.
//
// To refuse a request before the upgrade (authentication, rate limits),
// wrap the returned handler in ordinary middleware that answers with an
// HTTP error instead of calling it.
//
// http.Server.Shutdown closes the connections (1001) but does not wait for
// the serve functions to return: a server with work to do when a
// connection ends counts them, for instance with a sync.WaitGroup, and
// waits after Shutdown.
func Handler(opts *AcceptOptions, serve func(ctx context.Context, c *Conn)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		if err != nil {
			return // Accept has answered with an HTTP error
		}
		ctx := context.WithoutCancel(r.Context())
		// The request's end says nothing about this connection's
		// contexts any more: do not name it as a cause (contextEnded).
		c.fromAccept = false
		run := func() {
			// A serve that returns has finished with the connection:
			// end it with the closing handshake, which returns at once
			// if the connection is closed already, and in every case
			// leaves the transport closed.
			defer c.Close(StatusNormalClosure, "")
			serve(ctx, c)
		}
		if r.ProtoMajor == 1 {
			go run()
			return
		}
		run()
	})
}

// negotiation is what the server agreed to in the handshake; both forms of
// it negotiate the same way (RFC 8441 §5: the Sec-WebSocket-Protocol and
// Sec-WebSocket-Extensions fields keep their RFC 6455 meaning).
type negotiation struct {
	subprotocol string
	deflate     *deflateConfig // nil: no permessage-deflate
	extensions  string         // the Sec-WebSocket-Extensions response field
}

// negotiate picks the subprotocol and the extensions for a request that
// passed the handshake checks.
func negotiate(r *http.Request, opts *AcceptOptions) negotiation {
	n := negotiation{subprotocol: selectSubprotocol(r.Header, opts.Subprotocols)}
	if opts.Compression != nil {
		// A malformed extension header only costs the client compression:
		// RFC 6455 §9.1 leaves unusable offers to be declined.
		if offers, err := parseExtensions(r.Header); err == nil {
			if cfg, resp, ok := negotiateDeflate(offers, opts.Compression); ok {
				n.deflate, n.extensions = &cfg, resp
			}
		}
	}
	return n
}

// refuse answers a failed handshake with herr's status and reason.
func refuse(w http.ResponseWriter, r *http.Request, herr *HandshakeError) {
	switch herr.Status {
	case http.StatusUpgradeRequired:
		// RFC 6455 §4.4: name the versions the server understands.
		// RFC 9110 §15.5.22: a 426 response "MUST send an Upgrade header
		// field to indicate the acceptable protocols".
		w.Header().Set("Sec-WebSocket-Version", "13")
		w.Header().Set("Upgrade", "websocket")
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", handshakeMethod(r))
	case http.StatusBadRequest:
		if r.ProtoMajor >= 2 && !versionSupported(r.Header) {
			// RFC 6455 §4.4 as RFC 8441 §5 keeps it; the status is 400
			// rather than 426, which needs an Upgrade field HTTP/2 forbids.
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
	}
	// The body names the package: the reason alone could come from any
	// layer of the server.
	http.Error(w, "websocket: "+herr.Reason, herr.Status)
}

// handshakeMethod is the method of the opening handshake in the request's
// HTTP version: GET for HTTP/1.1, CONNECT from HTTP/2 on (RFC 8441 §4).
func handshakeMethod(r *http.Request) string {
	if r.ProtoMajor >= 2 {
		return http.MethodConnect
	}
	return http.MethodGet
}

// versionSupported reports whether the request asks for the one version of
// the protocol there is (RFC 6455 §4.2.1 item 6).
func versionSupported(h http.Header) bool {
	v := h.Values("Sec-WebSocket-Version")
	return len(v) == 1 && v[0] == "13"
}

// acceptHijack completes the HTTP/1.1 handshake: it takes the TCP
// connection over and answers 101 on it (RFC 6455 §4.2.2).
func acceptHijack(w http.ResponseWriter, key string, n negotiation, opts *ConnOptions) (*Conn, *HandshakeError) {
	netConn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "websocket: the connection cannot be taken over", http.StatusInternalServerError)
		return nil, &HandshakeError{Status: http.StatusInternalServerError, Reason: "the connection cannot be taken over: " + err.Error()}
	}
	// The server's read and write timeouts were set for an HTTP exchange;
	// a WebSocket connection lives by its own.
	netConn.SetDeadline(time.Time{})

	// net/http may already have read bytes the client sent right after its
	// request: they are the first frames and must not be lost.
	var buffered []byte
	if n := brw.Reader.Buffered(); n > 0 {
		buffered, _ = brw.Reader.Peek(n)
	}

	resp := appendSwitchingProtocols(nil, key, n.subprotocol, n.extensions, w.Header())
	if _, err := netConn.Write(resp); err != nil {
		netConn.Close()
		return nil, &HandshakeError{Reason: "writing the 101 response: " + err.Error()}
	}
	return newConn(netConn, true, buffered, n.subprotocol, opts, n.deflate), nil
}

// checkClientHandshake applies RFC 6455 §4.2.1 to a request and returns its
// Sec-WebSocket-Key, or the HTTP status and reason to answer with.
func checkClientHandshake(r *http.Request) (string, *HandshakeError) {
	// §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
	if r.Method != http.MethodGet {
		return "", &HandshakeError{Status: http.StatusMethodNotAllowed, Reason: "handshake must be a GET request"}
	}
	if !r.ProtoAtLeast(1, 1) {
		return "", &HandshakeError{Status: http.StatusBadRequest, Reason: "handshake needs HTTP/1.1 or later"}
	}
	// §4.2.1 items 3 and 4.
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		return "", &HandshakeError{Status: http.StatusBadRequest, Reason: "missing \"Upgrade: websocket\""}
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		return "", &HandshakeError{Status: http.StatusBadRequest, Reason: "missing \"Connection: upgrade\""}
	}
	// §4.2.1 item 6 and §4.4: only version 13 exists; anything else gets
	// 426 with the version we speak.
	if !versionSupported(r.Header) {
		return "", &HandshakeError{Status: http.StatusUpgradeRequired, Reason: "unsupported Sec-WebSocket-Version (13 is supported)"}
	}
	// §4.2.1 item 5: "a base64-encoded value that, when decoded, is 16
	// bytes in length". The check is on the length of the encoding (16
	// bytes always encode to 24 characters with "==") and the decoding.
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 || !validKey(keys[0]) {
		return "", &HandshakeError{Status: http.StatusBadRequest, Reason: "Sec-WebSocket-Key is not the base64 of 16 bytes"}
	}
	return keys[0], nil
}

// validKey reports whether key is the base64 encoding of 16 bytes.
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var raw [18]byte
	n, err := base64.StdEncoding.Decode(raw[:], []byte(key))
	return err == nil && n == 16
}

// checkOrigin applies the origin policy (RFC 6455 §10.2: "servers that are
// not intended to process input from any web page but only for certain
// sites SHOULD verify the |Origin| field").
func checkOrigin(r *http.Request, opts *AcceptOptions) *HandshakeError {
	if opts.CheckOrigin != nil {
		if opts.CheckOrigin(r) {
			return nil
		}
		return &HandshakeError{Status: http.StatusForbidden, Reason: "origin not allowed"}
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil // not a browser: the Origin header protects browsers' users
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return &HandshakeError{Status: http.StatusForbidden, Reason: "malformed Origin header"}
	}
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	host := strings.ToLower(u.Host)
	for _, pattern := range opts.OriginPatterns {
		if ok, _ := path.Match(strings.ToLower(pattern), host); ok {
			return nil
		}
	}
	return &HandshakeError{Status: http.StatusForbidden, Reason: "origin " + strconv.Quote(origin) + " not allowed"}
}

// selectSubprotocol returns the first of the server's subprotocols the
// client offered, or "".
func selectSubprotocol(h http.Header, supported []string) string {
	if len(supported) == 0 {
		return ""
	}
	offered := headerTokens(h, "Sec-WebSocket-Protocol")
	for _, s := range supported {
		for _, o := range offered {
			if s == o {
				return s
			}
		}
	}
	return ""
}

// appendSwitchingProtocols appends the server's handshake response
// (RFC 6455 §4.2.2 item 5) to b, with the extra header fields from extra.
func appendSwitchingProtocols(b []byte, key, subprotocol, extensions string, extra http.Header) []byte {
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, acceptKey(key)...)
	b = append(b, "\r\n"...)
	if subprotocol != "" {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, subprotocol...)
		b = append(b, "\r\n"...)
	}
	if extensions != "" {
		b = append(b, "Sec-WebSocket-Extensions: "...)
		b = append(b, extensions...)
		b = append(b, "\r\n"...)
	}
	for name, values := range extra {
		if handshakeHeaders[http.CanonicalHeaderKey(name)] || !validHeaderValue(name) {
			continue
		}
		for _, v := range values {
			if validHeaderValue(v) {
				b = append(b, name...)
				b = append(b, ": "...)
				b = append(b, v...)
				b = append(b, "\r\n"...)
			}
		}
	}
	return append(b, "\r\n"...)
}
