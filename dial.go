// The client side of the opening handshake.
//
// RFC 6455 §3 (ws and wss URIs), §4.1 (the client's requirements: the
// request, and every check on the response), §4.1 item 2 (proxies, through
// HTTP CONNECT).

package websocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DialOptions configures Dial. A nil *DialOptions means the defaults.
type DialOptions struct {
	ConnOptions

	// Header holds extra header fields for the handshake request, such as
	// Origin, Authorization or Cookie. The fields the handshake sets
	// itself cannot be given here.
	Header http.Header

	// Compression, if set, offers permessage-deflate (RFC 7692); the
	// connection uses it if the server accepts.
	Compression *CompressionOptions

	// Subprotocols are offered to the server, most preferred first
	// (RFC 6455 §4.1 item 10).
	Subprotocols []string

	// TLSConfig is used for wss:// URLs. nil means the default
	// configuration, with ServerName taken from the URL.
	TLSConfig *tls.Config

	// NetDialContext opens the TCP connection; nil means a net.Dialer.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Proxy returns the HTTP proxy to reach the server through (with
	// CONNECT), or nil for none. nil means http.ProxyFromEnvironment:
	// HTTPS_PROXY for wss, HTTP_PROXY for ws, NO_PROXY honoured.
	Proxy func(*http.Request) (*url.URL, error)
}

// maxErrorBody is how much of a failed handshake's response body Dial
// keeps for the caller.
const maxErrorBody = 1024

// Dial opens a WebSocket connection to a ws:// or wss:// URL. ctx bounds the
// whole opening handshake (DNS, TCP, proxy, TLS, HTTP) but not the
// connection after it.
//
// The response is returned whenever one was read. When the server refuses
// the handshake, the error is a *HandshakeError and the response holds the
// status, the headers and up to 1 KiB of the body.
//
// Dial always uses HTTP/1.1, also for wss:// (its TLS handshake offers
// only "http/1.1" by ALPN), even to a server that would accept WebSockets
// over HTTP/2 (RFC 8441). The standard library's only HTTP/2 client,
// net/http's Transport, cannot send the extended CONNECT that needs: it
// refuses the ":protocol" pseudo-header as an invalid header field name,
// and its HTTP/2 framing is not otherwise reachable. Servers that speak
// RFC 8441 still accept HTTP/1.1 upgrades, so nothing is lost but the
// sharing of one connection.
func Dial(ctx context.Context, rawURL string, opts *DialOptions) (*Conn, *http.Response, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	u, err := parseWebSocketURL(rawURL)
	if err != nil {
		return nil, nil, err
	}
	for name, values := range opts.Header {
		if handshakeHeaders[http.CanonicalHeaderKey(name)] {
			return nil, nil, fmt.Errorf("websocket: header %s is set by the handshake itself", name)
		}
		for _, v := range values {
			if !validHeaderValue(name) || !validHeaderValue(v) {
				return nil, nil, fmt.Errorf("websocket: invalid header field %q", name)
			}
		}
	}
	for _, p := range opts.Subprotocols {
		if p == "" || strings.ContainsAny(p, ", \r\n") {
			return nil, nil, fmt.Errorf("websocket: invalid subprotocol %q", p)
		}
	}

	netConn, err := dialTransport(ctx, u, opts)
	if err != nil {
		return nil, nil, err
	}
	// The context bounds the handshake.
	hc := bindHandshake(ctx, netConn)
	defer hc.stop() // a no-op once release has run

	conn, resp, err := clientHandshake(netConn, u, opts)
	if err != nil {
		netConn.Close()
		if cause := hc.cause(); cause != nil {
			err = fmt.Errorf("websocket: dial %s: %w", u.Host, cause)
		}
		return nil, resp, err
	}
	if !hc.release() {
		conn.CloseNow()
		return nil, resp, fmt.Errorf("websocket: dial %s: %w", u.Host, context.Cause(ctx))
	}
	return conn, resp, nil
}

// parseWebSocketURL checks a ws:// or wss:// URL (RFC 6455 §3). http and
// https are accepted as their equivalents.
func parseWebSocketURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("websocket: %w", err)
	}
	switch u.Scheme {
	case "ws", "http":
		u.Scheme = "ws"
	case "wss", "https":
		u.Scheme = "wss"
	default:
		return nil, fmt.Errorf("websocket: URL scheme must be ws or wss, not %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("websocket: URL %q has no host", rawURL)
	}
	// RFC 6455 §3: "Fragment identifiers are meaningless in the context of
	// WebSocket URIs and MUST NOT be used on these URIs."
	if u.Fragment != "" {
		return nil, fmt.Errorf("websocket: URL %q has a fragment", rawURL)
	}
	return u, nil
}

// hostPort returns the URL's host with the scheme's default port if it
// names none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	switch u.Scheme {
	case "wss", "https":
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// dialTransport opens the byte stream to the server: TCP, through the
// proxy if there is one, then TLS for wss.
func dialTransport(ctx context.Context, u *url.URL, opts *DialOptions) (net.Conn, error) {
	dial := opts.NetDialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	proxyFunc := opts.Proxy
	if proxyFunc == nil {
		proxyFunc = http.ProxyFromEnvironment
	}
	// The proxy function looks at an HTTP request; give it the URL with the
	// HTTP scheme that has the same transport.
	httpURL := *u
	httpURL.Scheme = map[string]string{"ws": "http", "wss": "https"}[u.Scheme]
	proxyURL, err := proxyFunc(&http.Request{Method: http.MethodGet, URL: &httpURL, Header: http.Header{}})
	if err != nil {
		return nil, fmt.Errorf("websocket: choosing a proxy: %w", err)
	}

	addr := hostPort(u)
	var conn net.Conn
	if proxyURL == nil {
		conn, err = dial(ctx, "tcp", addr)
	} else {
		conn, err = dialThroughProxy(ctx, dial, proxyURL, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("websocket: dial %s: %w", addr, err)
	}

	if u.Scheme == "wss" {
		cfg := &tls.Config{}
		if opts.TLSConfig != nil {
			cfg = opts.TLSConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		// The upgrade is an HTTP/1.1 exchange: do not let ALPN pick h2.
		cfg.NextProtos = []string{"http/1.1"}
		tlsConn := tls.Client(conn, cfg)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("websocket: TLS handshake with %s: %w", addr, err)
		}
		conn = tlsConn
	}
	return conn, nil
}

// dialThroughProxy opens a tunnel to addr through an HTTP proxy with the
// CONNECT method (RFC 9110 §9.3.6), as RFC 6455 §4.1 item 2 describes.
func dialThroughProxy(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), proxyURL *url.URL, addr string) (net.Conn, error) {
	if proxyURL.Scheme != "http" {
		return nil, fmt.Errorf("proxy scheme %q is not supported (only http)", proxyURL.Scheme)
	}
	proxyAddr := proxyURL.Host
	if proxyURL.Port() == "" {
		proxyAddr = net.JoinHostPort(proxyURL.Hostname(), "80")
	}
	conn, err := dial(ctx, "tcp", proxyAddr)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", proxyAddr, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	req := &http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Opaque: addr},
		Host:   addr,
		Header: http.Header{},
	}
	if user := proxyURL.User; user != nil {
		password, _ := user.Password()
		credentials := base64.StdEncoding.EncodeToString([]byte(user.Username() + ":" + password))
		req.Header.Set("Proxy-Authorization", "Basic "+credentials)
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: %w", proxyAddr, err)
	}
	// The proxy sends nothing after its response until we speak, so a
	// reader of our own can be dropped once the response is read.
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: %w", proxyAddr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, fmt.Errorf("proxy %s refused CONNECT: %s", proxyAddr, resp.Status)
	}
	if br.Buffered() > 0 {
		conn.Close()
		return nil, fmt.Errorf("proxy %s sent data before the tunnel was used", proxyAddr)
	}
	conn.SetDeadline(time.Time{})
	return conn, nil
}

// clientHandshake sends the opening handshake on conn and checks the
// server's answer (RFC 6455 §4.1).
func clientHandshake(conn net.Conn, u *url.URL, opts *DialOptions) (*Conn, *http.Response, error) {
	// §4.1 item 7: "a randomly selected 16-byte value ... base64-encoded".
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, nil, fmt.Errorf("websocket: generating the key: %w", err)
	}
	key := base64.StdEncoding.EncodeToString(raw[:])

	if _, err := conn.Write(appendClientRequest(nil, u, key, opts)); err != nil {
		return nil, nil, fmt.Errorf("websocket: writing the handshake: %w", err)
	}

	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet, URL: u})
	if err != nil {
		return nil, nil, fmt.Errorf("websocket: reading the handshake response: %w", err)
	}
	subprotocol, deflate, herr := checkServerHandshake(resp, key, opts.Subprotocols, opts.Compression)
	if herr != nil {
		// Keep a bounded part of the body: enough to show the server's
		// explanation, never an unbounded read.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return nil, resp, herr
	}

	// Bytes after the response are the server's first frames.
	var buffered []byte
	if n := br.Buffered(); n > 0 {
		buffered, _ = br.Peek(n)
	}
	return newConn(conn, false, buffered, subprotocol, &opts.ConnOptions, deflate), resp, nil
}

// appendClientRequest appends the handshake request (RFC 6455 §4.1 items
// 1–12) to b.
func appendClientRequest(b []byte, u *url.URL, key string, opts *DialOptions) []byte {
	b = append(b, "GET "...)
	b = append(b, u.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	if host := opts.Header.Get("Host"); host != "" {
		b = append(b, host...)
	} else {
		b = append(b, u.Host...)
	}
	b = append(b, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	b = append(b, key...)
	b = append(b, "\r\nSec-WebSocket-Version: 13\r\n"...)
	if len(opts.Subprotocols) > 0 {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, strings.Join(opts.Subprotocols, ", ")...)
		b = append(b, "\r\n"...)
	}
	if opts.Compression != nil {
		b = append(b, "Sec-WebSocket-Extensions: "...)
		b = append(b, deflateOffer(opts.Compression).String()...)
		b = append(b, "\r\n"...)
	}
	for name, values := range opts.Header {
		if http.CanonicalHeaderKey(name) == "Host" {
			continue
		}
		for _, v := range values {
			b = append(b, name...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	return append(b, "\r\n"...)
}

// checkServerHandshake applies RFC 6455 §4.1's checks on the server's
// response and returns the selected subprotocol and, if the server accepted
// permessage-deflate, what was agreed.
func checkServerHandshake(resp *http.Response, key string, offered []string, compression *CompressionOptions) (string, *deflateConfig, *HandshakeError) {
	fail := func(reason string) (string, *deflateConfig, *HandshakeError) {
		// HandshakeError.Error names the package once; a reason taken
		// from one of our own errors must not name it again.
		return "", nil, &HandshakeError{Status: resp.StatusCode, Reason: strings.TrimPrefix(reason, "websocket: ")}
	}
	// §4.1 item 1 (of the checks): "If the status code received from the
	// server is not 101, the client handles the response per HTTP
	// procedures."
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fail("server answered " + resp.Status + " instead of 101 Switching Protocols")
	}
	// Items 2 and 3.
	if !headerHasToken(resp.Header, "Upgrade", "websocket") {
		return fail("response lacks \"Upgrade: websocket\"")
	}
	if !headerHasToken(resp.Header, "Connection", "upgrade") {
		return fail("response lacks \"Connection: upgrade\"")
	}
	// Item 4: the accept value proves the server read our key.
	if resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		return fail("Sec-WebSocket-Accept does not match the key")
	}
	// Item 5: "If the response includes a |Sec-WebSocket-Extensions| header
	// field and this header field indicates the use of an extension that was
	// not present in the client's handshake ..., the client MUST _Fail the
	// WebSocket Connection_."
	exts, err := parseExtensions(resp.Header)
	if err != nil {
		return fail(err.Error())
	}
	var deflate *deflateConfig
	if len(exts) > 0 {
		if compression == nil {
			return fail("server selected extension " + exts[0].name + ", which was not offered")
		}
		cfg, ok, err := acceptDeflateResponse(exts, compression)
		if err != nil {
			return fail(err.Error())
		}
		if ok {
			deflate = &cfg
		}
	}
	// Item 6: the same for a subprotocol; and at most one may be chosen.
	protocols := resp.Header.Values("Sec-WebSocket-Protocol")
	switch {
	case len(protocols) == 0:
		return "", deflate, nil
	case len(protocols) > 1 || strings.Contains(protocols[0], ","):
		return fail("server selected more than one subprotocol")
	case !slices.Contains(offered, protocols[0]):
		return fail("server selected subprotocol " + protocols[0] + ", which was not offered")
	}
	return protocols[0], deflate, nil
}
