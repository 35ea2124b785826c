package websocket

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// RFC 6455 §1.3 works this example through.
func TestAcceptKeyRFCExample(t *testing.T) {
	if got := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("acceptKey = %q", got)
	}
}

func goodRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://example.com/chat", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r.Header.Set("Sec-WebSocket-Version", "13")
	return r
}

// Every bad request is answered with its status and a reason, and Accept
// returns a *HandshakeError with the same status.
func TestAcceptRejectsBadRequests(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(r *http.Request)
		opts       *AcceptOptions
		wantStatus int
		wantHeader [2]string
	}{
		{"POST", func(r *http.Request) { r.Method = http.MethodPost }, nil, 405, [2]string{"Allow", "GET"}},
		{"HTTP/1.0", func(r *http.Request) { r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0 }, nil, 400, [2]string{}},
		{"no Upgrade", func(r *http.Request) { r.Header.Del("Upgrade") }, nil, 400, [2]string{}},
		{"Upgrade: h2c", func(r *http.Request) { r.Header.Set("Upgrade", "h2c") }, nil, 400, [2]string{}},
		{"no Connection", func(r *http.Request) { r.Header.Del("Connection") }, nil, 400, [2]string{}},
		{"Connection: keep-alive", func(r *http.Request) { r.Header.Set("Connection", "keep-alive") }, nil, 400, [2]string{}},
		{"version 8", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") }, nil, 426, [2]string{"Sec-WebSocket-Version", "13"}},
		{"no version", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Version") }, nil, 426, [2]string{"Sec-WebSocket-Version", "13"}},
		{"no key", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Key") }, nil, 400, [2]string{}},
		{"key of 15 bytes", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA") }, nil, 400, [2]string{}},
		{"key not base64", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!==") }, nil, 400, [2]string{}},
		{"two keys", func(r *http.Request) { r.Header.Add("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==") }, nil, 400, [2]string{}},
		{"foreign origin", func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, nil, 403, [2]string{}},
		{"malformed origin", func(r *http.Request) { r.Header.Set("Origin", "::") }, nil, 403, [2]string{}},
		{"origin not in patterns", func(r *http.Request) { r.Header.Set("Origin", "https://a.other.org") },
			&AcceptOptions{OriginPatterns: []string{"*.example.org"}}, 403, [2]string{}},
		{"CheckOrigin refuses", func(r *http.Request) {},
			&AcceptOptions{CheckOrigin: func(*http.Request) bool { return false }}, 403, [2]string{}},
		{"not hijackable", func(r *http.Request) {}, nil, 500, [2]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := goodRequest()
			tt.edit(r)
			w := httptest.NewRecorder() // cannot be hijacked: valid requests end in 500
			c, err := Accept(w, r, tt.opts)
			if c != nil {
				t.Fatal("Accept returned a connection")
			}
			var herr *HandshakeError
			if !errors.As(err, &herr) || !errors.Is(err, ErrBadHandshake) {
				t.Fatalf("err = %v, want a *HandshakeError", err)
			}
			if w.Code != tt.wantStatus || herr.Status != tt.wantStatus {
				t.Errorf("status = %d (error says %d), want %d", w.Code, herr.Status, tt.wantStatus)
			}
			if !strings.HasPrefix(w.Body.String(), "websocket: ") {
				t.Errorf("body = %q, want a plain-text reason", w.Body.String())
			}
			// RFC 9110 §15.5.22: a 426 response "MUST send an Upgrade header
			// field to indicate the acceptable protocols".
			if w.Code == http.StatusUpgradeRequired && w.Header().Get("Upgrade") != "websocket" {
				t.Errorf("426 without Upgrade: websocket (Upgrade = %q)", w.Header().Get("Upgrade"))
			}
			if tt.wantHeader[0] != "" && w.Header().Get(tt.wantHeader[0]) != tt.wantHeader[1] {
				t.Errorf("header %s = %q, want %q", tt.wantHeader[0], w.Header().Get(tt.wantHeader[0]), tt.wantHeader[1])
			}
		})
	}
}

func TestAcceptTokenLists(t *testing.T) {
	r := goodRequest()
	r.Header.Set("Connection", "keep-alive, UPGRADE")
	r.Header.Set("Upgrade", "WebSocket")
	if _, err := checkClientHandshake(r); err != nil {
		t.Errorf("token lists in any case must be accepted: %v", err)
	}
}

func TestCheckOrigin(t *testing.T) {
	tests := []struct {
		origin, host string
		patterns     []string
		ok           bool
	}{
		{"", "example.com", nil, true},
		{"https://example.com", "example.com", nil, true},
		{"https://EXAMPLE.com", "example.com", nil, true},
		{"http://example.com:8080", "example.com:8080", nil, true},
		{"http://example.com:8081", "example.com:8080", nil, false},
		{"https://app.example.org", "example.com", []string{"*.example.org"}, true},
		{"https://example.org", "example.com", []string{"*.example.org"}, false},
		{"null", "example.com", nil, false},
	}
	for _, tt := range tests {
		r := goodRequest()
		r.Host = tt.host
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		err := checkOrigin(r, &AcceptOptions{OriginPatterns: tt.patterns})
		if (err == nil) != tt.ok {
			t.Errorf("origin %q host %q patterns %v: err = %v, want ok=%v", tt.origin, tt.host, tt.patterns, err, tt.ok)
		}
	}
}

func TestSelectSubprotocol(t *testing.T) {
	h := http.Header{}
	h.Add("Sec-WebSocket-Protocol", "chat.v1, chat.v2")
	h.Add("Sec-WebSocket-Protocol", "mqtt")
	tests := []struct {
		supported []string
		want      string
	}{
		{nil, ""},
		{[]string{"chat.v2", "chat.v1"}, "chat.v2"}, // the server's order decides
		{[]string{"mqtt"}, "mqtt"},
		{[]string{"soap"}, ""},
	}
	for _, tt := range tests {
		if got := selectSubprotocol(h, tt.supported); got != tt.want {
			t.Errorf("supported %v: got %q, want %q", tt.supported, got, tt.want)
		}
	}
}

// rawHandshake sends request bytes to addr and returns the response and a
// reader positioned after it.
func rawHandshake(t *testing.T, addr, request string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return conn, br, resp
}

const rfcRequest = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n"

func TestAcceptResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Extra", "yes")
		w.Header().Set("Sec-WebSocket-Accept", "must not replace the computed one")
		c, err := Accept(w, r, &AcceptOptions{Subprotocols: []string{"superchat", "chat"}})
		if err != nil {
			t.Error(err)
			return
		}
		c.Close(StatusNormalClosure, "")
	}))
	defer srv.Close()

	_, _, resp := rawHandshake(t, srv.Listener.Addr().String(), rfcRequest)
	if resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	checks := map[string]string{
		"Upgrade":                "websocket",
		"Connection":             "Upgrade",
		"Sec-Websocket-Accept":   "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
		"Sec-Websocket-Protocol": "superchat",
		"X-Extra":                "yes",
	}
	for name, want := range checks {
		if got := resp.Header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want [%q]", name, got, want)
		}
	}
}

// A client may send its first frame right behind the request; net/http has
// then read it already. It must reach the connection.
func TestAcceptKeepsBytesBufferedByNetHTTP(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.CloseNow()
		_, p, err := c.Read(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- string(p)
	}))
	defer srv.Close()

	// A masked text frame "Hello" (RFC 6455 §5.7) in the same write.
	frame := "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"
	rawHandshake(t, srv.Listener.Addr().String(), rfcRequest+frame)
	if s := <-got; s != "Hello" {
		t.Errorf("first message = %q, want Hello", s)
	}
}

func TestCheckServerHandshake(t *testing.T) {
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	good := func() *http.Response {
		return &http.Response{StatusCode: 101, Status: "101 Switching Protocols", Header: http.Header{
			"Upgrade":              {"websocket"},
			"Connection":           {"Upgrade"},
			"Sec-Websocket-Accept": {"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
		}}
	}
	tests := []struct {
		name     string
		edit     func(*http.Response)
		offered  []string
		wantErr  string
		wantProt string
	}{
		{"good", func(*http.Response) {}, nil, "", ""},
		{"status 200", func(r *http.Response) { r.StatusCode, r.Status = 200, "200 OK" }, nil, "instead of 101", ""},
		{"no Upgrade", func(r *http.Response) { r.Header.Del("Upgrade") }, nil, "Upgrade", ""},
		{"no Connection", func(r *http.Response) { r.Header.Del("Connection") }, nil, "Connection", ""},
		{"wrong accept", func(r *http.Response) { r.Header.Set("Sec-Websocket-Accept", "x") }, nil, "does not match", ""},
		{"extension not offered", func(r *http.Response) { r.Header.Set("Sec-Websocket-Extensions", "permessage-deflate") }, nil, "not offered", ""},
		{"subprotocol not offered", func(r *http.Response) { r.Header.Set("Sec-Websocket-Protocol", "chat") }, nil, "not offered", ""},
		{"two subprotocols", func(r *http.Response) { r.Header.Set("Sec-Websocket-Protocol", "a, b") }, []string{"a", "b"}, "more than one", ""},
		{"offered subprotocol", func(r *http.Response) { r.Header.Set("Sec-Websocket-Protocol", "b") }, []string{"a", "b"}, "", "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := good()
			tt.edit(resp)
			prot, _, herr := checkServerHandshake(resp, key, tt.offered, nil)
			if tt.wantErr == "" {
				if herr != nil || prot != tt.wantProt {
					t.Errorf("got %q, %v; want %q", prot, herr, tt.wantProt)
				}
				return
			}
			if herr == nil || !strings.Contains(herr.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one mentioning %q", herr, tt.wantErr)
			}
		})
	}
}

func wsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") }

func TestDialSeesRefusal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Why", "closed today")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, strings.Repeat("no ", 2000))
	}))
	defer srv.Close()
	c, resp, err := Dial(context.Background(), wsURL(srv), nil)
	if c != nil || !errors.Is(err, ErrBadHandshake) {
		t.Fatalf("Dial = %v, %v; want ErrBadHandshake", c, err)
	}
	var herr *HandshakeError
	if !errors.As(err, &herr) || herr.Status != 403 {
		t.Errorf("err = %#v, want status 403", err)
	}
	if resp == nil || resp.StatusCode != 403 || resp.Header.Get("X-Why") != "closed today" {
		t.Fatalf("resp = %+v", resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if len(body) != maxErrorBody || !strings.HasPrefix(string(body), "no no") {
		t.Errorf("body has %d bytes, want the first %d", len(body), maxErrorBody)
	}
}

func TestDialOptions(t *testing.T) {
	seen := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r
		c, err := Accept(w, r, &AcceptOptions{Subprotocols: []string{"v2"}, CheckOrigin: func(*http.Request) bool { return true }})
		if err != nil {
			return
		}
		c.Close(StatusNormalClosure, "")
	}))
	defer srv.Close()
	c, resp, err := Dial(context.Background(), wsURL(srv)+"/path?q=1", &DialOptions{
		Header:       http.Header{"Origin": {"https://example.com"}, "Authorization": {"Bearer t"}},
		Subprotocols: []string{"v1", "v2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	r := <-seen
	if r.URL.RequestURI() != "/path?q=1" || r.Header.Get("Authorization") != "Bearer t" || r.Header.Get("Origin") != "https://example.com" {
		t.Errorf("request = %s %v", r.URL, r.Header)
	}
	if c.Subprotocol() != "v2" || resp.StatusCode != 101 {
		t.Errorf("subprotocol %q, status %d", c.Subprotocol(), resp.StatusCode)
	}
}

func TestDialRejectsBadArguments(t *testing.T) {
	tests := []struct {
		url  string
		opts *DialOptions
	}{
		{"ftp://example.com/", nil},
		{"ws:///nohost", nil},
		{"ws://example.com/#fragment", nil},
		{"ws://example.com/", &DialOptions{Header: http.Header{"Sec-Websocket-Key": {"x"}}}},
		{"ws://example.com/", &DialOptions{Header: http.Header{"X-Bad": {"a\r\nInjected: 1"}}}},
		{"ws://example.com/", &DialOptions{Subprotocols: []string{"a,b"}}},
	}
	for _, tt := range tests {
		if _, _, err := Dial(context.Background(), tt.url, tt.opts); err == nil {
			t.Errorf("Dial(%q, %+v) succeeded", tt.url, tt.opts)
		}
	}
}

func TestDialTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, p, err := c.Read(context.Background())
		if err == nil {
			c.Write(context.Background(), typ, p)
		}
	}))
	defer srv.Close()
	tlsConfig := srv.Client().Transport.(*http.Transport).TLSClientConfig
	c, _, err := Dial(context.Background(), "wss"+strings.TrimPrefix(srv.URL, "https"), &DialOptions{TLSConfig: tlsConfig})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.Write(context.Background(), MessageText, []byte("over TLS"))
	if _, p, err := c.Read(context.Background()); err != nil || string(p) != "over TLS" {
		t.Fatalf("echo = %q, %v", p, err)
	}
	if _, ok := c.t.(*tls.Conn); !ok {
		t.Errorf("transport is %T, want *tls.Conn", c.t)
	}
}

// connectProxy is a minimal HTTP CONNECT proxy that records what it saw.
func connectProxy(t *testing.T) (addr string, requests chan *http.Request) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	requests = make(chan *http.Request, 1)
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer client.Close()
				req, err := http.ReadRequest(bufio.NewReader(client))
				if err != nil {
					return
				}
				requests <- req
				target, err := net.Dial("tcp", req.Host)
				if err != nil {
					io.WriteString(client, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
					return
				}
				defer target.Close()
				io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n")
				go io.Copy(target, client)
				io.Copy(client, target)
			}()
		}
	}()
	return ln.Addr().String(), requests
}

func TestDialThroughProxy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		if typ, p, err := c.Read(context.Background()); err == nil {
			c.Write(context.Background(), typ, p)
		}
	}))
	defer srv.Close()
	proxyAddr, requests := connectProxy(t)
	proxyURL, _ := url.Parse("http://user:secret@" + proxyAddr)

	c, _, err := Dial(context.Background(), wsURL(srv), &DialOptions{Proxy: http.ProxyURL(proxyURL)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	req := <-requests
	if req.Method != http.MethodConnect || req.Host != srv.Listener.Addr().String() {
		t.Errorf("proxy saw %s %s", req.Method, req.Host)
	}
	if auth := req.Header.Get("Proxy-Authorization"); auth != "Basic dXNlcjpzZWNyZXQ=" {
		t.Errorf("Proxy-Authorization = %q", auth)
	}
	c.Write(context.Background(), MessageText, []byte("via proxy"))
	if _, p, err := c.Read(context.Background()); err != nil || string(p) != "via proxy" {
		t.Fatalf("echo = %q, %v", p, err)
	}
}

// The context bounds the whole handshake: a server that never answers
// cannot hold Dial.
func TestDialContextBoundsHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			io.Copy(io.Discard, c) // read the request, answer nothing
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err = Dial(ctx, "ws://"+ln.Addr().String()+"/", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

func FuzzServerHandshake(f *testing.F) {
	f.Add([]byte(rfcRequest))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://a\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.0\r\nUpgrade: websocket\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Version: 8\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(raw))))
		if err != nil {
			return
		}
		key, herr := checkClientHandshake(r)
		if herr == nil {
			herr = checkOrigin(r, &AcceptOptions{OriginPatterns: []string{"*.example.com"}})
		}
		if herr != nil {
			if herr.Status < 400 || herr.Status > 499 || herr.Reason == "" || strings.HasPrefix(herr.Reason, "websocket: ") {
				t.Fatalf("rejection %d %q is not a 4xx with a reason", herr.Status, herr.Reason)
			}
			return
		}
		// An accepted request has a key that is the base64 of 16 bytes, and
		// a response can be built for it.
		if !validKey(key) {
			t.Fatalf("accepted key %q", key)
		}
		resp := appendSwitchingProtocols(nil, key, selectSubprotocol(r.Header, []string{"chat"}), "", nil)
		if _, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(resp))), nil); err != nil {
			t.Fatalf("response does not parse: %v", err)
		}
	})
}
