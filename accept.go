// The server side of the opening handshake, over net/http.
//
// RFC 6455 §4.2.1 (reading the client's handshake), §4.2.2 (answering it),
// §4.4 (unsupported versions), §10.2 (origin considerations).

package websocket

import (
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
}

// Accept answers a WebSocket opening handshake from within an http.Handler
// and takes over the connection. Headers set on w before the call are sent
// with the 101 response.
//
// A request that is not a valid handshake is answered with an HTTP error
// (400, 403, 405 or 426, with a plain-text reason) and Accept returns a
// *HandshakeError; the handler must not write to w after that, nor after a
// successful Accept.
//
// By default a browser page may only connect to its own host (the Origin
// header must name the request's Host); see AcceptOptions.OriginPatterns
// and CheckOrigin. Requests without an Origin header, which browsers always
// send, are accepted.
func Accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	key, herr := checkClientHandshake(r)
	if herr == nil {
		herr = checkOrigin(r, opts)
	}
	if herr != nil {
		if herr.Status == http.StatusUpgradeRequired {
			// RFC 6455 §4.4: name the versions the server understands.
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		if herr.Status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodGet)
		}
		http.Error(w, herr.Reason, herr.Status)
		return nil, herr
	}
	subprotocol := selectSubprotocol(r.Header, opts.Subprotocols)
	var deflate *deflateConfig
	var extensionsHeader string
	if opts.Compression != nil {
		// A malformed extension header only costs the client compression:
		// RFC 6455 §9.1 leaves unusable offers to be declined.
		if offers, err := parseExtensions(r.Header); err == nil {
			if cfg, resp, ok := negotiateDeflate(offers, opts.Compression); ok {
				deflate, extensionsHeader = &cfg, resp
			}
		}
	}

	netConn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		herr := &HandshakeError{Status: http.StatusInternalServerError, Reason: "the connection cannot be taken over: " + err.Error()}
		http.Error(w, "websocket: the connection cannot be taken over", http.StatusInternalServerError)
		return nil, herr
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

	resp := appendSwitchingProtocols(nil, key, subprotocol, extensionsHeader, w.Header())
	if _, err := netConn.Write(resp); err != nil {
		netConn.Close()
		return nil, &HandshakeError{Reason: "writing the 101 response: " + err.Error()}
	}
	return newConn(netConn, true, buffered, subprotocol, &opts.ConnOptions, deflate), nil
}

// checkClientHandshake applies RFC 6455 §4.2.1 to a request and returns its
// Sec-WebSocket-Key, or the HTTP status and reason to answer with.
func checkClientHandshake(r *http.Request) (string, *HandshakeError) {
	// §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
	if r.Method != http.MethodGet {
		return "", &HandshakeError{Status: http.StatusMethodNotAllowed, Reason: "websocket: handshake must be a GET request"}
	}
	if !r.ProtoAtLeast(1, 1) {
		return "", &HandshakeError{Status: http.StatusBadRequest, Reason: "websocket: handshake needs HTTP/1.1 or later"}
	}
	// §4.2.1 items 3 and 4.
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		return "", &HandshakeError{Status: http.StatusBadRequest, Reason: "websocket: missing \"Upgrade: websocket\""}
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		return "", &HandshakeError{Status: http.StatusBadRequest, Reason: "websocket: missing \"Connection: upgrade\""}
	}
	// §4.2.1 item 6 and §4.4: only version 13 exists; anything else gets
	// 426 with the version we speak.
	if v := r.Header.Values("Sec-WebSocket-Version"); len(v) != 1 || v[0] != "13" {
		return "", &HandshakeError{Status: http.StatusUpgradeRequired, Reason: "websocket: unsupported Sec-WebSocket-Version (13 is supported)"}
	}
	// §4.2.1 item 5: "a base64-encoded value that, when decoded, is 16
	// bytes in length". The check is on the length of the encoding (16
	// bytes always encode to 24 characters with "==") and the decoding.
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 || !validKey(keys[0]) {
		return "", &HandshakeError{Status: http.StatusBadRequest, Reason: "websocket: Sec-WebSocket-Key is not the base64 of 16 bytes"}
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
		return &HandshakeError{Status: http.StatusForbidden, Reason: "websocket: origin not allowed"}
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil // not a browser: the Origin header protects browsers' users
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return &HandshakeError{Status: http.StatusForbidden, Reason: "websocket: malformed Origin header"}
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
	return &HandshakeError{Status: http.StatusForbidden, Reason: "websocket: origin " + strconv.Quote(origin) + " not allowed"}
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
