// The lifetime rule of the package documentation, on both transports: a
// connection is served inside the handler that accepted it (or by
// Handler), and breaking the rule gives an error that names the cause.

package websocket

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// readmeHandler is the server of the README and the package
// documentation, as written there.
func readmeHandler(ended chan<- error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return // Accept has already answered with an HTTP error
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				ended <- err
				return // a *websocket.CloseError once the client has closed
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				ended <- err
				return
			}
		}
	}
}

// earlyReturnHandler breaks the rule: it hands the connection to a
// goroutine that reads with the request's context, and returns.
func earlyReturnHandler(ended chan<- error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		go func() {
			defer c.CloseNow()
			_, _, err := c.Read(r.Context())
			ended <- err
		}()
	}
}

// echoOverConn sends a message, expects it back, and closes normally.
func echoOverConn(t *testing.T, c *Conn) {
	t.Helper()
	if err := c.Write(bg, MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.Read(bg); err != nil || string(msg) != "hello" {
		t.Fatalf("echo = %q, %v", msg, err)
	}
	if err := c.Close(StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
}

func TestLifetimeHTTP1(t *testing.T) {
	t.Run("README server", func(t *testing.T) {
		ended := make(chan error, 1)
		srv := httptest.NewServer(readmeHandler(ended))
		defer srv.Close()
		c, _, err := Dial(bg, wsURL(srv), nil)
		if err != nil {
			t.Fatal(err)
		}
		echoOverConn(t, c)
		if err := recvWithin(t, ended, 10*time.Second); CloseStatus(err) != StatusNormalClosure {
			t.Fatalf("the handler ended with %v, want the client's 1000", err)
		}
	})
	t.Run("handler returns early", func(t *testing.T) {
		ended := make(chan error, 1)
		srv := httptest.NewServer(earlyReturnHandler(ended))
		defer srv.Close()
		c, _, err := Dial(bg, wsURL(srv), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		err = recvWithin(t, ended, 10*time.Second)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "if its handler returned") {
			t.Fatalf("read with the request's context after the handler returned: %v, want an error naming the cause", err)
		}
	})
	t.Run("Handler", func(t *testing.T) {
		srv := httptest.NewServer(Handler(nil, serveEcho))
		defer srv.Close()
		c, _, err := Dial(bg, wsURL(srv), nil)
		if err != nil {
			t.Fatal(err)
		}
		echoOverConn(t, c)
	})
}

// testH2Lifetime is TestLifetimeHTTP1 over HTTP/2 (run by TestHTTP2, which
// needs GODEBUG=http2xconnect=1).
func testH2Lifetime(t *testing.T) {
	t.Run("README server", func(t *testing.T) {
		ended := make(chan error, 1)
		srv := h2Server(t, readmeHandler(ended))
		c := h2Dial(t, srv, nil)
		echoOverConn(t, c)
		if err := recvWithin(t, ended, 10*time.Second); CloseStatus(err) != StatusNormalClosure {
			t.Fatalf("the handler ended with %v, want the client's 1000", err)
		}
	})
	t.Run("handler returns early", func(t *testing.T) {
		ended := make(chan error, 1)
		srv := h2Server(t, earlyReturnHandler(ended))
		h2Dial(t, srv, nil)
		err := recvWithin(t, ended, 10*time.Second)
		if !strings.Contains(err.Error(), "handler returned") {
			t.Fatalf("read after the handler returned: %v, want an error naming the cause", err)
		}
	})
	t.Run("Handler", func(t *testing.T) {
		srv := h2Server(t, Handler(nil, serveEcho).ServeHTTP)
		c := h2Dial(t, srv, nil)
		echoOverConn(t, c)
	})
}

// serveEcho echoes until the connection ends.
func serveEcho(ctx context.Context, c *Conn) {
	for {
		typ, r, err := c.Reader(ctx)
		if err != nil {
			return
		}
		if _, err := c.WriteFrom(ctx, typ, r); err != nil {
			return
		}
	}
}

// testH2Addresses: over HTTP/2 the connection's addresses are the
// request's.
func testH2Addresses(t *testing.T) {
	addrs := make(chan [2]string, 1)
	srv := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		addrs <- [2]string{c.RemoteAddr().String(), c.LocalAddr().String()}
	})
	h2Dial(t, srv, nil)
	got := <-addrs
	if got[1] != srv.Listener.Addr().String() || got[0] == "" {
		t.Fatalf("remote %q, local %q; want the client and %s", got[0], got[1], srv.Listener.Addr())
	}
}

// With Handler, the request's end is no cause: a read that times out says
// it timed out.
func TestHandlerTimeoutNotBlamedOnRequest(t *testing.T) {
	ended := make(chan error, 1)
	srv := httptest.NewServer(Handler(nil, func(ctx context.Context, c *Conn) {
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, _, err := c.Read(ctx)
		ended <- err
	}))
	defer srv.Close()
	c, _, err := Dial(bg, wsURL(srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	err = recvWithin(t, ended, 10*time.Second)
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "handler returned") {
		t.Fatalf("read past its deadline: %v, want context.DeadlineExceeded and no word of the handler", err)
	}
}

// contextEnded names the request as the likely cause only for a cancelled
// context that came from an HTTP request, on a connection from Accept.
func TestContextEndedNamesTheRequest(t *testing.T) {
	// What net/http puts in every request's context.
	requestCtx := context.WithValue(bg, http.ServerContextKey, &http.Server{})
	cancelled := func(parent context.Context) context.Context {
		ctx, cancel := context.WithCancel(parent)
		cancel()
		return ctx
	}
	expired, cancel := context.WithDeadline(requestCtx, time.Unix(0, 0))
	defer cancel()
	ownCause, cancelCause := context.WithCancelCause(requestCtx)
	errOwn := errors.New("shutting the room")
	cancelCause(errOwn)

	for _, tc := range []struct {
		name       string
		fromAccept bool // the connection came from Accept, not Handler
		ctx        context.Context
		want       error
		named      bool
	}{
		{"request's context cancelled, from Accept", true, cancelled(requestCtx), context.Canceled, true},
		{"request's context cancelled, from Handler", false, cancelled(requestCtx), context.Canceled, false},
		{"a context of the program's own cancelled", true, cancelled(bg), context.Canceled, false},
		// The program's own context derived from the request, cancelled
		// while the handler runs, cannot be told apart: the error names
		// the handler's return as a possibility only.
		{"the program's context from the request cancelled", true, cancelled(requestCtx), context.Canceled, true},
		{"request's context past its deadline", true, expired, context.DeadlineExceeded, false},
		{"request's context cancelled with a cause", true, ownCause, errOwn, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Conn{fromAccept: tc.fromAccept}
			err := c.contextEnded(tc.ctx)
			if !errors.Is(err, tc.want) {
				t.Errorf("%v does not match %v", err, tc.want)
			}
			if named := strings.Contains(err.Error(), "if its handler returned"); named != tc.named {
				t.Errorf("%v: names the handler: %v, want %v", err, named, tc.named)
			}
		})
	}
}

// A connection served on a goroutine after its handler returned keeps
// nothing of the request: not its context, nor what middleware hung on it.
func TestAcceptKeepsNothingOfTheRequest(t *testing.T) {
	type markerKey struct{}
	collected := make(chan struct{})
	served := make(chan *Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		marker := new([32]byte) // not a tiny allocation: its cleanup runs
		runtime.AddCleanup(marker, func(ch chan struct{}) { close(ch) }, collected)
		r = r.WithContext(context.WithValue(r.Context(), markerKey{}, marker))
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		served <- c
	}))
	defer srv.Close()
	client, _, err := Dial(bg, wsURL(srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseNow()
	server := <-served // alive here, and the handler has returned or will
	defer server.CloseNow()
	if !collectedAfterGC(collected) {
		t.Fatal("the request's context is still reachable from the open connection")
	}
}
