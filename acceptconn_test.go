package websocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// accepted is what AcceptConn returned on the server side.
type accepted struct {
	c   *Conn
	r   *http.Request
	err error
}

// acceptConnServer listens on loopback and serves with acceptConnOn.
func acceptConnServer(t *testing.T, opts *AcceptOptions) (addr string, results <-chan accepted) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln.Addr().String(), acceptConnOn(t, ln, opts)
}

// acceptConnOn runs AcceptConn, with a 10 s handshake bound, on every
// connection ln takes, until the test ends.
func acceptConnOn(t *testing.T, ln net.Listener, opts *AcceptOptions) <-chan accepted {
	t.Cleanup(func() { ln.Close() })
	ch := make(chan accepted, 16)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c, r, err := AcceptConn(ctx, nc, opts)
				if c != nil {
					t.Cleanup(func() { c.CloseNow() })
				}
				ch <- accepted{c, r, err}
			}()
		}
	}()
	return ch
}

// A client of this package connects, negotiates a subprotocol and
// compression, and echoes through a connection from AcceptConn; the server
// sees the request's path and query.
func TestAcceptConnEcho(t *testing.T) {
	addr, results := acceptConnServer(t, &AcceptOptions{
		Subprotocols: []string{"chat"},
		Compression:  &CompressionOptions{},
	})
	client, _, err := Dial(bg, "ws://"+addr+"/rooms/1?user=ann", &DialOptions{
		Subprotocols: []string{"chat"},
		Compression:  &CompressionOptions{},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseNow()
	got := <-results
	if got.err != nil {
		t.Fatal(got.err)
	}
	if got.r.URL.Path != "/rooms/1" || got.r.URL.Query().Get("user") != "ann" || got.r.RemoteAddr != client.LocalAddr().String() {
		t.Errorf("request: path %q, query %q, remote %q; want /rooms/1, user=ann, %s", got.r.URL.Path, got.r.URL.RawQuery, got.r.RemoteAddr, client.LocalAddr())
	}
	if got.c.Subprotocol() != "chat" || client.Subprotocol() != "chat" {
		t.Errorf("subprotocol: server %q, client %q, want chat", got.c.Subprotocol(), client.Subprotocol())
	}
	go serveEcho(bg, got.c)
	msg := strings.Repeat("compressible ", 100)
	if err := client.Write(bg, MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if _, p, err := client.Read(bg); err != nil || string(p) != msg {
		t.Fatalf("echo: %d bytes, %v; want the %d sent", len(p), err, len(msg))
	}
	if err := client.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
}

// A frame sent in the same write as the request, and so read into the
// handshake's buffer, is the connection's first message.
func TestAcceptConnKeepsBytesAfterTheRequest(t *testing.T) {
	addr, results := acceptConnServer(t, nil)
	frame := "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58" // a masked "Hello" (RFC 6455 §5.7)
	_, _, resp := rawHandshake(t, addr, rfcRequest+frame)
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("response %d, Sec-WebSocket-Accept %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	got := <-results
	if got.err != nil {
		t.Fatal(got.err)
	}
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	if _, p, err := got.c.Read(ctx); err != nil || string(p) != "Hello" {
		t.Fatalf("first message %q, %v; want Hello", p, err)
	}
}

// An empty line before the request line is ignored (RFC 9112 §2.2), and
// the handshake goes on as without it.
func TestAcceptConnIgnoresEmptyLineBeforeRequest(t *testing.T) {
	for _, lead := range []string{"\r\n", "\n", "\r\n\r\n"} {
		addr, results := acceptConnServer(t, nil)
		_, _, resp := rawHandshake(t, addr, lead+rfcRequest)
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Errorf("%q before the request: status %d, want 101", lead, resp.StatusCode)
		}
		if got := <-results; got.err != nil {
			t.Errorf("%q before the request: AcceptConn: %v", lead, got.err)
		}
	}
}

// Every bad request gets its HTTP error and a closed connection, and
// AcceptConn returns a *HandshakeError with the same status.
func TestAcceptConnRefuses(t *testing.T) {
	const good = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	tests := []struct {
		name       string
		request    string
		opts       *AcceptOptions
		wantStatus int
		wantHeader [2]string
	}{
		{"POST", strings.Replace(good, "GET", "POST", 1) + "\r\n", nil, 405, [2]string{"Allow", "GET"}},
		{"HTTP/1.0", strings.Replace(good, "HTTP/1.1", "HTTP/1.0", 1) + "\r\n", nil, 400, [2]string{}},
		{"no Upgrade", strings.Replace(good, "Upgrade: websocket\r\n", "", 1) + "\r\n", nil, 400, [2]string{}},
		{"version 8", strings.Replace(good, "Version: 13", "Version: 8", 1) + "\r\n", nil, 426, [2]string{"Sec-WebSocket-Version", "13"}},
		{"bad key", strings.Replace(good, "dGhlIHNhbXBsZSBub25jZQ==", "short", 1) + "\r\n", nil, 400, [2]string{}},
		{"a body", good + "Content-Length: 5\r\n\r\nhello", nil, 400, [2]string{}},
		{"a chunked body", good + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", nil, 400, [2]string{}},
		{"foreign origin", good + "Origin: https://evil.example\r\n\r\n", nil, 403, [2]string{}},
		{"CheckOrigin refuses", good + "\r\n", &AcceptOptions{CheckOrigin: func(*http.Request) bool { return false }}, 403, [2]string{}},
		{"not HTTP", "hello there\r\n\r\n", nil, 400, [2]string{}},
		{"HTTP/2.0", strings.Replace(good, "HTTP/1.1", "HTTP/2.0", 1) + "\r\n", nil, 505, [2]string{}},
		{"no Host", strings.Replace(good, "Host: server.example.com\r\n", "", 1) + "\r\n", nil, 400, [2]string{}},
		{"two Hosts", good + "Host: other.example.com\r\n\r\n", nil, 400, [2]string{}},
		{"malformed Host", strings.Replace(good, "server.example.com", "a b/c", 1) + "\r\n", nil, 400, [2]string{}},
		{"three empty lines first", "\r\n\r\n\r\n" + good + "\r\n", nil, 400, [2]string{}}, // two are skipped (skipEmptyLines)
		{"header too large", good + "Cookie: " + strings.Repeat("a", maxRequestBytes) + "\r\n\r\n", nil, 431, [2]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, results := acceptConnServer(t, tt.opts)
			conn, br, resp := rawHandshake(t, addr, tt.request)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			body, _ := io.ReadAll(resp.Body)
			if !strings.HasPrefix(string(body), "websocket: ") {
				t.Errorf("body %q, want a plain-text reason", body)
			}
			if tt.wantHeader[0] != "" && resp.Header.Get(tt.wantHeader[0]) != tt.wantHeader[1] {
				t.Errorf("header %s = %q, want %q", tt.wantHeader[0], resp.Header.Get(tt.wantHeader[0]), tt.wantHeader[1])
			}
			if resp.StatusCode == http.StatusUpgradeRequired && resp.Header.Get("Upgrade") != "websocket" {
				t.Errorf("426 without Upgrade: websocket")
			}
			// The server closes: nothing follows the response.
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := br.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("after the response: %d bytes, %v; want EOF", n, err)
			}
			conn.Close() // which ends the server's wait for it (refuseConn)
			got := <-results
			var herr *HandshakeError
			if got.c != nil || !errors.As(got.err, &herr) || !errors.Is(got.err, ErrBadHandshake) || herr.Status != tt.wantStatus {
				t.Fatalf("AcceptConn: conn %v, err %v; want a *HandshakeError with %d", got.c, got.err, tt.wantStatus)
			}
			// A request handed out never reads from the handshake's
			// pooled buffer, which the next connection will use.
			if got.r != nil && got.r.Body != http.NoBody {
				t.Errorf("the refused request has a body of its own: %T", got.r.Body)
			}
		})
	}
}

// The context bounds the handshake: a client that sends nothing does not
// hold the server past the context's deadline or cancellation, and the
// error says which.
func TestAcceptConnContextBoundsHandshake(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) { return context.WithTimeout(bg, 50*time.Millisecond) }, context.DeadlineExceeded},
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(bg)
			cancel() // AcceptConn finds it cancelled, or is cut short by it
			return ctx, cancel
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := net.Pipe()
			defer client.Close()
			ctx, cancel := tc.ctx()
			defer cancel()
			c, _, err := AcceptConn(ctx, server, nil)
			if c != nil || !errors.Is(err, tc.want) {
				t.Fatalf("AcceptConn = %v, %v; want %v", c, err, tc.want)
			}
			// And the connection is closed.
			if _, err := client.Write([]byte("GET")); err == nil {
				t.Error("the connection is still open")
			}
		})
	}
}

// A refusal the client has received is the error, even when the context
// ends while the server waits for the client to close (refuseConn).
func TestAcceptConnRefusalOutlivesContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	result := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			result <- err
			return
		}
		_, _, err = AcceptConn(ctx, nc, nil)
		result <- err
	}()
	_, _, resp := rawHandshake(t, ln.Addr().String(), strings.Replace(rfcRequest, "GET", "POST", 1))
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("status %d, want 405", resp.StatusCode)
	}
	cancel() // the client has its answer and keeps the connection open
	var herr *HandshakeError
	if err := recvWithin(t, result, 10*time.Second); !errors.As(err, &herr) || herr.Status != http.StatusMethodNotAllowed {
		t.Fatalf("AcceptConn: %v, want the *HandshakeError with 405 that was sent", err)
	}
}

// Over TLS: a wss client is accepted and the request carries the TLS
// state; a client speaking plain HTTP to the TLS port is not answered in
// HTTP, and its error is no *HandshakeError.
func TestAcceptConnTLS(t *testing.T) {
	certs := httptest.NewTLSServer(http.NotFoundHandler()) // a certificate, and a client that trusts it
	defer certs.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", certs.TLS)
	if err != nil {
		t.Fatal(err)
	}
	results := acceptConnOn(t, ln, nil)

	tlsConfig := certs.Client().Transport.(*http.Transport).TLSClientConfig
	client, _, err := Dial(bg, "wss://"+ln.Addr().String()+"/secure", &DialOptions{TLSConfig: tlsConfig})
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseNow()
	got := <-results
	if got.err != nil || got.r.TLS == nil || !got.r.TLS.HandshakeComplete || got.r.URL.Path != "/secure" {
		t.Fatalf("wss: %v, request %+v", got.err, got.r)
	}

	plain, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := io.WriteString(plain, rfcRequest); err != nil {
		t.Fatal(err)
	}
	got = <-results
	if got.c != nil || got.err == nil || errors.Is(got.err, ErrBadHandshake) {
		t.Fatalf("plain HTTP to the TLS port: conn %v, err %v; want a failure that is no bad handshake", got.c, got.err)
	}
	plain.SetReadDeadline(time.Now().Add(10 * time.Second))
	if answer, _ := io.ReadAll(plain); bytes.Contains(answer, []byte("HTTP/1.1")) {
		t.Errorf("answered in HTTP: %q", answer)
	}
}

// FuzzAcceptConn: whatever a client sends, AcceptConn returns a Conn or
// an error, never panics, and answers a refusal with a well-formed HTTP
// response.
func FuzzAcceptConn(f *testing.F) {
	f.Add([]byte(rfcRequest))
	f.Add([]byte(rfcRequest + "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 1\r\n\r\nx"))
	f.Add([]byte("GET / HTTP/1.0\r\nUpgrade: websocket\r\n\r\n"))
	f.Add([]byte("\r\n\r\n"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	f.Fuzz(func(t *testing.T, raw []byte) {
		// A TCP client, so that it can send raw and then end its side
		// (which net.Pipe cannot) while it reads the whole answer.
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		server, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		answer := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(client)
			answer <- b
		}()
		go func() {
			client.Write(raw)
			client.(*net.TCPConn).CloseWrite()
		}()
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		c, r, err := AcceptConn(ctx, server, &AcceptOptions{Subprotocols: []string{"chat"}})
		if err == nil {
			if c == nil || r == nil {
				t.Fatal("no error, and no connection or no request")
			}
			c.CloseNow()
		}
		resp, rerr := http.ReadResponse(bufio.NewReader(strings.NewReader(string(<-answer))), nil)
		var herr *HandshakeError
		switch {
		case errors.As(err, &herr):
			if rerr != nil || resp.StatusCode != herr.Status {
				t.Fatalf("refusal %v answered with %v, %v", herr, resp, rerr)
			}
		case err == nil:
			if rerr != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("accepted, answered with %v, %v", resp, rerr)
			}
			// Only a GET over HTTP/1.1 or later, with a Host, is one.
			if r.Method != http.MethodGet || r.ProtoMajor != 1 || r.ProtoMinor < 1 || r.Host == "" || r.Body != http.NoBody {
				t.Fatalf("accepted %s %s HTTP/%d.%d, Host %q, body %T", r.Method, r.URL, r.ProtoMajor, r.ProtoMinor, r.Host, r.Body)
			}
		default:
			// Nothing answered: the client left, or sent too little.
			if rerr == nil {
				t.Fatalf("failure %v, yet answered %d", err, resp.StatusCode)
			}
		}
	})
}
