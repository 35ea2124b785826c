package fuzzer

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The opening handshake of RFC 6455 §4 in both roles.

// openHandshakeTimeout bounds the opening handshake (CASES §1.5).
const openHandshakeTimeout = 5 * time.Second

// UserAgent is what the runner sends as User-Agent and Server header.
const UserAgent = "wirecraft-wstest/1.0 (Go rebuild of the Autobahn fuzzer)"

// acceptKey computes Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// headerHasToken reports whether a comma-separated header lists token.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// readHead reads an HTTP head up to the empty line and returns it and any
// bytes that followed it.
func readHead(conn net.Conn) (head, rest []byte, err error) {
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 4096)
	for {
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			return buf[:i+4], buf[i+4:], nil
		}
		if len(buf) > 64<<10 {
			return nil, nil, errors.New("HTTP head too large")
		}
		n, err := conn.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil {
			return nil, nil, err
		}
	}
}

// clientHandshake is the fuzzingclient side: it sends the request of
// CASES §1.3 and checks the response.
type clientHandshake struct {
	request, response string
	rest              []byte
	server            string // the Server response header
	deflate           *deflateState
	timedOut          bool
}

func doClientHandshake(conn net.Conn, u *url.URL, c *Case, origin string, protocols []string) (*clientHandshake, error) {
	hs := &clientHandshake{}
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	host := u.Hostname()
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "wss" {
			port = "443"
		}
	}
	resource := u.RequestURI()
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\n", resource)
	fmt.Fprintf(&b, "User-Agent: %s\r\n", UserAgent)
	fmt.Fprintf(&b, "Host: %s\r\n", net.JoinHostPort(host, port))
	b.WriteString("Upgrade: WebSocket\r\nConnection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n")
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\n", key)
	if origin != "" {
		fmt.Fprintf(&b, "Origin: %s\r\n", origin)
	}
	if len(protocols) > 0 {
		fmt.Fprintf(&b, "Sec-WebSocket-Protocol: %s\r\n", strings.Join(protocols, ","))
	}
	// Only 12.x/13.x offer permessage-deflate (CASES §1.3).
	if c.Deflate != nil {
		fmt.Fprintf(&b, "Sec-WebSocket-Extensions: %s\r\n", c.Deflate.OfferHeader())
	}
	b.WriteString("Sec-WebSocket-Version: 13\r\n\r\n")
	hs.request = b.String()

	conn.SetDeadline(time.Now().Add(openHandshakeTimeout))
	defer conn.SetDeadline(time.Time{})
	if _, err := conn.Write([]byte(hs.request)); err != nil {
		return hs, err
	}
	head, rest, err := readHead(conn)
	hs.response, hs.rest = string(head), rest
	if err != nil {
		var ne net.Error
		hs.timedOut = errors.As(err, &ne) && ne.Timeout()
		return hs, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), nil)
	if err != nil {
		return hs, err
	}
	hs.server = resp.Header.Get("Server")
	switch {
	case resp.StatusCode != http.StatusSwitchingProtocols:
		return hs, fmt.Errorf("status %s instead of 101", resp.Status)
	case !headerHasToken(resp.Header, "Upgrade", "websocket"):
		return hs, errors.New("missing Upgrade: websocket")
	case !headerHasToken(resp.Header, "Connection", "upgrade"):
		return hs, errors.New("missing Connection: upgrade")
	case resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key):
		return hs, errors.New("wrong Sec-WebSocket-Accept")
	}
	exts, err := parseExtensions(strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ","))
	if err != nil {
		return hs, err
	}
	for _, e := range exts {
		// An extension we did not offer, or a second one, fails the
		// handshake (CASES §1.3).
		if e.name != "permessage-deflate" || c.Deflate == nil || hs.deflate != nil {
			return hs, fmt.Errorf("server answered extension %q that was not offered", e.name)
		}
		if hs.deflate, err = clientDeflate(e); err != nil {
			return hs, err
		}
	}
	return hs, nil
}

// serverRequest is a parsed opening request in the fuzzingserver role.
type serverRequest struct {
	raw  string
	req  *http.Request
	rest []byte
}

func readServerRequest(conn net.Conn) (*serverRequest, error) {
	conn.SetReadDeadline(time.Now().Add(openHandshakeTimeout))
	defer conn.SetReadDeadline(time.Time{})
	head, rest, err := readHead(conn)
	if err != nil {
		return nil, err
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil {
		return nil, err
	}
	return &serverRequest{raw: string(head), req: req, rest: rest}, nil
}

// checkUpgrade applies the handshake checks of CASES §1.2. specPort is the
// port of the spec URL, which the Host header must name.
func checkUpgrade(r *http.Request, specPort string, tls bool) error {
	host := r.Host
	if host == "" {
		return errors.New("missing Host header")
	}
	_, port, err := net.SplitHostPort(host)
	if err != nil {
		port = "80"
		if tls {
			port = "443"
		}
	}
	if port != specPort {
		return fmt.Errorf("Host port %s does not match the server port %s", port, specPort)
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "8" && v != "13" {
		return fmt.Errorf("unsupported Sec-WebSocket-Version %q", v)
	}
	if k := r.Header.Get("Sec-WebSocket-Key"); len(k) != 24 || !strings.HasSuffix(k, "==") {
		return errors.New("invalid Sec-WebSocket-Key")
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		return errors.New("missing Upgrade: websocket")
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		return errors.New("missing Connection: upgrade")
	}
	return nil
}

// upgradeResponse is the 101 response; ext is the agreed extension or "".
func upgradeResponse(r *http.Request, ext string) string {
	var b strings.Builder
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	fmt.Fprintf(&b, "Server: %s\r\n", UserAgent)
	b.WriteString("Upgrade: WebSocket\r\nConnection: Upgrade\r\n")
	fmt.Fprintf(&b, "Sec-WebSocket-Accept: %s\r\n", acceptKey(r.Header.Get("Sec-WebSocket-Key")))
	if ext != "" {
		fmt.Fprintf(&b, "Sec-WebSocket-Extensions: %s\r\n", ext)
	}
	b.WriteString("\r\n")
	return b.String()
}

// httpError writes a plain HTTP error response and closes.
func httpError(conn net.Conn, code int, msg string) {
	fmt.Fprintf(conn, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, http.StatusText(code), len(msg), msg)
	conn.Close()
}
