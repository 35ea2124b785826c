package websocket

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestHTTP2 tests Accept over HTTP/2 (RFC 8441) with the client in
// h2client_test.go.
//
// Go's HTTP/2 server only accepts extended CONNECT when GODEBUG contains
// http2xconnect=1 at process start: net/http reads the variable once, in
// an init function, so neither os.Setenv in a test nor a //go:debug line
// (the setting is not a registered GODEBUG) can turn it on. Without it
// in the environment the test runs the test binary again with it, limited
// to this test, and reports that run; with it, the subtests run here. A
// TestMain re-executing every test would double the time of the whole
// package for the sake of one test.
func TestHTTP2(t *testing.T) {
	if !strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
		runWithExtendedConnect(t)
		return
	}
	t.Run("Echo", testH2Echo)
	t.Run("Fragmentation", testH2Fragmentation)
	t.Run("PingPong", testH2PingPong)
	t.Run("CloseCodes", testH2CloseCodes)
	t.Run("ReadLimit", testH2ReadLimit)
	t.Run("HandlerReturnsEarly", testH2HandlerReturnsEarly)
	t.Run("ContextAndDeadline", testH2ContextAndDeadline)
	t.Run("Shutdown", testH2Shutdown)
	t.Run("Refusals", testH2Refusals)
	t.Run("StdlibClientCannotDial", testH2StdlibClientCannotDial)
	t.Run("Lifetime", testH2Lifetime)
	t.Run("Addresses", testH2Addresses)
}

// runWithExtendedConnect runs TestHTTP2 in a child process whose
// environment has GODEBUG=http2xconnect=1.
func runWithExtendedConnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if d, ok := t.Deadline(); ok {
		ctx, cancel = context.WithDeadline(ctx, d.Add(-5*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHTTP2$", "-test.v", "-test.count=1")
	godebug := "http2xconnect=1"
	if prev := os.Getenv("GODEBUG"); prev != "" {
		godebug = prev + "," + godebug
	}
	cmd.Env = append(os.Environ(), "GODEBUG="+godebug)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("TestHTTP2 with GODEBUG=%s: %v\n%s", godebug, err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestHTTP2/Echo")) {
		t.Fatalf("the child run did not run the subtests:\n%s", out)
	}
	if testing.Verbose() {
		t.Logf("TestHTTP2 with GODEBUG=%s:\n%s", godebug, out)
	}
}

// h2Server starts an HTTPS server with HTTP/2 that runs handler.
func h2Server(t *testing.T, handler http.HandlerFunc) *httptest.Server {
	srv := httptest.NewUnstartedServer(handler)
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = nil
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// h2Dial opens a WebSocket over a new HTTP/2 connection to srv and returns
// the client Conn running on the stream.
func h2Dial(t *testing.T, srv *httptest.Server, opts *ConnOptions, fields ...string) *Conn {
	t.Helper()
	hc := dialH2(t, srv)
	st := hc.connect(t, "/ws", append([]string{"sec-websocket-version", "13"}, fields...)...)
	if st.status != "200" {
		t.Fatalf("status %q, want 200", st.status)
	}
	c := newConn(st, false, nil, "", opts, nil)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// echoHandler accepts and echoes every message until the connection ends,
// and reports how it ended on done.
func echoHandler(t *testing.T, opts *AcceptOptions, done chan<- error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		if err != nil {
			done <- err
			return
		}
		if r.ProtoMajor != 2 || r.Method != http.MethodConnect {
			t.Errorf("request %s HTTP/%d, want CONNECT over HTTP/2", r.Method, r.ProtoMajor)
		}
		for {
			typ, msg, err := c.Read(context.Background())
			if err != nil {
				done <- err
				return
			}
			if err := c.Write(context.Background(), typ, msg); err != nil {
				done <- err
				return
			}
		}
	}
}

func wantCloseStatus(t *testing.T, err error, want StatusCode) {
	t.Helper()
	if got := CloseStatus(err); got != want {
		t.Fatalf("got %v (close status %v), want close status %v", err, got, want)
	}
}

func recvWithin(t *testing.T, ch <-chan error, d time.Duration) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(d):
		t.Fatalf("nothing within %v", d)
		return nil
	}
}

func testH2Echo(t *testing.T) {
	done := make(chan error, 1)
	srv := h2Server(t, echoHandler(t, nil, done))
	c := h2Dial(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	big := make([]byte, 1<<20) // several flow-control windows each way
	for i := range big {
		big[i] = byte(i * 7)
	}
	msgs := []struct {
		typ MessageType
		p   []byte
	}{
		{MessageText, []byte("hello")},
		{MessageText, []byte("héllo ✓ 𝄞")},
		{MessageText, nil},
		{MessageBinary, []byte{0, 1, 2, 255}},
		{MessageBinary, big},
	}
	for _, m := range msgs {
		if err := c.Write(ctx, m.typ, m.p); err != nil {
			t.Fatal(err)
		}
		typ, p, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if typ != m.typ || !bytes.Equal(p, m.p) {
			t.Fatalf("echo of a %v message of %d bytes: got %v of %d bytes", m.typ, len(m.p), typ, len(p))
		}
	}
	// 100 messages in a row come back in order.
	go func() {
		for i := 0; i < 100; i++ {
			c.Write(ctx, MessageText, []byte(strings.Repeat("x", i)))
		}
	}()
	for i := 0; i < 100; i++ {
		_, p, err := c.Read(ctx)
		if err != nil || len(p) != i {
			t.Fatalf("message %d: %d bytes, %v", i, len(p), err)
		}
	}
	if err := c.Close(StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	wantCloseStatus(t, recvWithin(t, done, 5*time.Second), StatusNormalClosure)
}

func testH2Fragmentation(t *testing.T) {
	done := make(chan error, 1)
	srv := h2Server(t, echoHandler(t, &AcceptOptions{ConnOptions: ConnOptions{WriteBufferSize: 200}}, done))
	c := h2Dial(t, srv, &ConnOptions{WriteBufferSize: 200})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Both sides write it in fragments of their write buffer's size; the
	// client pings between them, as RFC 6455 §5.4 allows.
	msg := []byte(strings.Repeat("fragmented ✓ ", 1000))
	w, err := c.Writer(ctx, MessageText)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(msg); i += 1000 {
		if _, err := w.Write(msg[i:min(i+1000, len(msg))]); err != nil {
			t.Fatal(err)
		}
		if i == 5000 {
			if err := c.writeControl(ctx, opPing, []byte("mid")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	typ, p, err := c.Read(ctx)
	if err != nil || typ != MessageText || !bytes.Equal(p, msg) {
		t.Fatalf("got %v, %d bytes, %v", typ, len(p), err)
	}
	c.Close(StatusNormalClosure, "")
	wantCloseStatus(t, recvWithin(t, done, 5*time.Second), StatusNormalClosure)
}

func testH2PingPong(t *testing.T) {
	var serverPings atomic.Int32
	serverPinged := make(chan error, 1)
	srv := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, &AcceptOptions{ConnOptions: ConnOptions{OnPing: func([]byte) { serverPings.Add(1) }}})
		if err != nil {
			t.Error(err)
			return
		}
		go func() { serverPinged <- c.Ping(r.Context()) }()
		c.Read(r.Context()) // answers pings, returns on close
	})
	c := h2Dial(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go c.Read(ctx) // answers the server's ping
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("client ping: %v", err)
	}
	if err := recvWithin(t, serverPinged, 5*time.Second); err != nil {
		t.Fatalf("server ping: %v", err)
	}
	if serverPings.Load() != 1 {
		t.Fatalf("server saw %d pings, want 1", serverPings.Load())
	}
}

func testH2CloseCodes(t *testing.T) {
	t.Run("server closes", func(t *testing.T) {
		closed := make(chan error, 1)
		srv := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
			c, err := Accept(w, r, nil)
			if err != nil {
				t.Error(err)
				return
			}
			start := time.Now()
			err = c.Close(4000, "bye")
			if time.Since(start) > 2*time.Second {
				err = errors.New("Close waited for its timeout")
			}
			closed <- err
		})
		c := h2Dial(t, srv, nil)
		_, _, err := c.Read(context.Background())
		if ce, ok := err.(*CloseError); !ok || ce.Code != 4000 || ce.Reason != "bye" {
			t.Fatalf("client read: %v", err)
		}
		if err := recvWithin(t, closed, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("client closes", func(t *testing.T) {
		done := make(chan error, 1)
		srv := h2Server(t, echoHandler(t, nil, done))
		c := h2Dial(t, srv, nil)
		if err := c.Close(StatusGoingAway, "leaving"); err != nil {
			t.Fatal(err)
		}
		err := recvWithin(t, done, 5*time.Second)
		if ce, ok := err.(*CloseError); !ok || ce.Code != StatusGoingAway || ce.Reason != "leaving" {
			t.Fatalf("server read: %v", err)
		}
	})
	t.Run("protocol error", func(t *testing.T) {
		done := make(chan error, 1)
		srv := h2Server(t, echoHandler(t, nil, done))
		hc := dialH2(t, srv)
		st := hc.connect(t, "/ws", "sec-websocket-version", "13")
		// An unmasked client frame: the server fails the connection with
		// 1002 (RFC 6455 §5.1).
		if err := st.sendRaw([]byte{0x81, 0x02, 'h', 'i'}); err != nil {
			t.Fatal(err)
		}
		if err := recvWithin(t, done, 5*time.Second); !errors.Is(err, ErrProtocol) {
			t.Fatalf("server: %v, want ErrProtocol", err)
		}
		c := newConn(st, false, nil, "", nil, nil)
		defer c.CloseNow()
		_, _, err := c.Read(context.Background())
		wantCloseStatus(t, err, StatusProtocolError)
	})
}

func testH2ReadLimit(t *testing.T) {
	done := make(chan error, 1)
	srv := h2Server(t, echoHandler(t, &AcceptOptions{ConnOptions: ConnOptions{ReadLimit: 1024}}, done))
	c := h2Dial(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, MessageBinary, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.Read(ctx); err != nil || len(p) != 1024 {
		t.Fatalf("at the limit: %d bytes, %v", len(p), err)
	}
	c.Write(ctx, MessageBinary, make([]byte, 1025))
	_, _, err := c.Read(ctx)
	wantCloseStatus(t, err, StatusMessageTooBig)
	if err := recvWithin(t, done, 5*time.Second); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("server: %v", err)
	}
}

// A handler that hands the connection to a goroutine and returns at once
// ends the stream; the goroutine's writes fail instead of using the
// finished ResponseWriter (which would panic in net/http).
func testH2HandlerReturnsEarly(t *testing.T) {
	writeErr := make(chan error, 1)
	doneClosed := make(chan bool, 1)
	srv := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		go func() {
			select {
			case <-c.Done():
				doneClosed <- true
			case <-time.After(5 * time.Second):
				doneClosed <- false
			}
			writeErr <- c.Write(context.Background(), MessageText, []byte("too late"))
		}()
	})
	c := h2Dial(t, srv, nil)
	if !<-doneClosed {
		t.Fatal("Done was not closed after the handler returned")
	}
	err := recvWithin(t, writeErr, 5*time.Second)
	if !errors.Is(err, net.ErrClosed) || !strings.Contains(err.Error(), "HTTP/2 stream has ended") {
		t.Fatalf("write after the handler returned: %v", err)
	}
	// The client sees the stream end without a close frame.
	_, _, err = c.Read(context.Background())
	wantCloseStatus(t, err, StatusAbnormalClosure)
}

func testH2ContextAndDeadline(t *testing.T) {
	results := make(chan error, 2)
	srv := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.CloseNow()
		if r.URL.Query().Get("mode") == "deadline" {
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			_, _, err = c.Read(context.Background())
		} else {
			ctx, cancel := context.WithTimeout(r.Context(), 100*time.Millisecond)
			defer cancel()
			_, _, err = c.Read(ctx)
		}
		results <- err
		// The connection is closed: writing fails.
		if werr := c.Write(context.Background(), MessageText, []byte("x")); werr == nil {
			t.Error("write after a failed read succeeded")
		}
	})
	for _, mode := range []string{"deadline", "context"} {
		hc := dialH2(t, srv)
		st := hc.connect(t, "/ws?mode="+mode, "sec-websocket-version", "13")
		start := time.Now()
		err := recvWithin(t, results, 5*time.Second)
		if err == nil || time.Since(start) > 3*time.Second {
			t.Fatalf("%s: read returned %v after %v", mode, err, time.Since(start))
		}
		if mode == "context" && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("context: %v", err)
		}
		// The client's side ends too.
		c := newConn(st, false, nil, "", nil, nil)
		_, _, err = c.Read(context.Background())
		if CloseStatus(err) != StatusAbnormalClosure && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("%s: client read: %v", mode, err)
		}
		c.CloseNow()
	}
}

// http.Server.Shutdown waits for HTTP/2 streams; the connections Accept
// made close with 1001, so their handlers return and Shutdown completes.
func testH2Shutdown(t *testing.T) {
	done := make(chan error, 1)
	srv := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		go c.Read(context.Background())
		<-c.Done()
		done <- nil
	})
	c := h2Dial(t, srv, nil)
	read := make(chan error, 1)
	go func() {
		_, _, err := c.Read(context.Background())
		read <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v after %v", err, time.Since(start))
	}
	wantCloseStatus(t, recvWithin(t, read, 5*time.Second), StatusGoingAway)
	recvWithin(t, done, time.Second)
}

func testH2Refusals(t *testing.T) {
	errs := make(chan error, 1)
	srv := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
		_, err := Accept(w, r, nil)
		errs <- err
	})
	cases := []struct {
		name   string
		fields []string
		status int
	}{
		{"other origin", []string{"sec-websocket-version", "13", "origin", "https://evil.example"}, http.StatusForbidden},
		{"version 8", []string{"sec-websocket-version", "8"}, http.StatusBadRequest},
		{"key", []string{"sec-websocket-version", "13", "sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="}, http.StatusBadRequest},
	}
	hc := dialH2(t, srv)
	for _, tc := range cases {
		st := hc.connect(t, "/ws", tc.fields...)
		if st.status == "200" {
			t.Errorf("%s: answered 200", tc.name)
		}
		var herr *HandshakeError
		if err := recvWithin(t, errs, 5*time.Second); !errors.As(err, &herr) || herr.Status != tc.status {
			t.Errorf("%s: Accept returned %v, want status %d", tc.name, err, tc.status)
		}
	}

	// A GET over HTTP/2 is not a handshake: 405, naming CONNECT.
	resp, err := srv.Client().Get(srv.URL + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "CONNECT" {
		t.Fatalf("GET over HTTP/%d: %s, Allow %q", resp.ProtoMajor, resp.Status, resp.Header.Get("Allow"))
	}
	recvWithin(t, errs, time.Second)
}

// Dial stays on HTTP/1.1: net/http's client, the only HTTP/2 client in
// the standard library, refuses the :protocol pseudo-header RFC 8441
// needs, even with extended CONNECT enabled.
func testH2StdlibClientCannotDial(t *testing.T) {
	srv := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
		t.Error("the request reached the server")
	})
	req, err := http.NewRequest(http.MethodConnect, srv.URL+"/ws", io.NopCloser(strings.NewReader("")))
	if err != nil {
		t.Fatal(err)
	}
	req.Header[":protocol"] = []string{"websocket"}
	req.Header.Set("Sec-WebSocket-Version", "13")
	resp, err := srv.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("the client sent an extended CONNECT: %s", resp.Status)
	}
	if !strings.Contains(err.Error(), `invalid header field name ":protocol"`) {
		t.Fatalf("unexpected error: %v", err)
	}
}
