package websocket_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wirecraft/websocket"
)

// echoServer starts a server that echoes every message.
func echoServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	}))
}

func wsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") }

// A server that echoes, and a client that sends one message and closes.
func Example() {
	srv := echoServer()
	defer srv.Close()

	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()

	if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		fmt.Println(err)
		return
	}
	typ, msg, err := c.Read(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%v: %s\n", typ, msg)
	fmt.Println(c.Close(websocket.StatusNormalClosure, "done"))
	// Output:
	// text: hello
	// <nil>
}

// Streaming: a message written in pieces and read back in pieces, never
// held whole in memory by the package.
func ExampleConn_Writer() {
	srv := echoServer()
	defer srv.Close()
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()

	w, err := c.Writer(ctx, websocket.MessageBinary)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := 0; i < 100; i++ {
		fmt.Fprintf(w, "line %d\n", i) // sent in fragments as the buffer fills
	}
	if err := w.Close(); err != nil { // sends the final fragment
		fmt.Println(err)
		return
	}

	_, r, err := c.Reader(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := io.Copy(io.Discard, r)
	fmt.Println(n, err)
	// Output:
	// 790 <nil>
}

// The peer's close code is in the error reads return.
func ExampleCloseStatus() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		c.Close(websocket.StatusGoingAway, "restarting")
	}))
	defer srv.Close()

	c, _, err := websocket.Dial(context.Background(), wsURL(srv), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _, err = c.Read(context.Background())
	fmt.Println(websocket.CloseStatus(err))
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		fmt.Println(ce.Reason)
	}
	// Output:
	// 1001 (going away)
	// restarting
}

// A server that speaks two versions of its protocol, and a client that
// prefers the newer one.
func ExampleAcceptOptions_subprotocols() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			Subprotocols: []string{"chat.v2", "chat.v1"},
		})
		if err != nil {
			return
		}
		c.Close(websocket.StatusNormalClosure, "")
	}))
	defer srv.Close()

	c, _, err := websocket.Dial(context.Background(), wsURL(srv), &websocket.DialOptions{
		Subprotocols: []string{"chat.v1", "chat.v2"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()
	fmt.Println(c.Subprotocol())
	// Output:
	// chat.v2
}

// A refused handshake: the error says why, the response shows what the
// server answered.
func ExampleDial_refused() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "log in first", http.StatusUnauthorized)
	}))
	defer srv.Close()

	_, resp, err := websocket.Dial(context.Background(), wsURL(srv), nil)
	fmt.Println(errors.Is(err, websocket.ErrBadHandshake))
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d %s", resp.StatusCode, body)
	// Output:
	// true
	// 401 log in first
}

// Broadcasting: the frame is built once, and every server connection sends
// the same bytes.
func ExampleConn_WritePrepared() {
	news, err := websocket.NewPreparedMessage(websocket.MessageText, []byte("the same news for everyone"))
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		if err := c.WritePrepared(r.Context(), news); err != nil {
			return
		}
		c.Read(r.Context()) // until the client closes
	}))
	defer srv.Close()

	ctx := context.Background()
	for i := 0; i < 2; i++ {
		c, _, err := websocket.Dial(ctx, wsURL(srv), nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		_, msg, err := c.Read(ctx)
		fmt.Printf("client %d: %s %v\n", i, msg, err)
		c.Close(websocket.StatusNormalClosure, "")
	}
	// Output:
	// client 0: the same news for everyone <nil>
	// client 1: the same news for everyone <nil>
}

// A server built with Handler: the connection is served by the function
// given, and closed when it returns, over HTTP/1.1 and HTTP/2 alike.
func ExampleHandler() {
	srv := httptest.NewServer(websocket.Handler(nil, func(ctx context.Context, c *websocket.Conn) {
		for {
			typ, r, err := c.Reader(ctx)
			if err != nil {
				return
			}
			if _, err := c.WriteFrom(ctx, typ, r); err != nil {
				return
			}
		}
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()
	c.Write(ctx, websocket.MessageText, []byte("ping?"))
	_, msg, err := c.Read(ctx)
	fmt.Printf("%s %v\n", msg, err)
	// Output: ping? <nil>
}

// A byte stream over WebSocket: code that takes a net.Conn (here
// bufio and fmt) talks through messages without knowing it.
func ExampleConn_NetConn() {
	srv := echoServer()
	defer srv.Close()

	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	nc := c.NetConn(websocket.MessageBinary)
	defer nc.Close()

	fmt.Fprintf(nc, "line %d\n", 1) // each Write is one message
	fmt.Fprintf(nc, "line %d\n", 2)
	lines := bufio.NewScanner(nc) // reads across message boundaries
	for i := 0; i < 2 && lines.Scan(); i++ {
		fmt.Println(lines.Text())
	}
	// Output:
	// line 1
	// line 2
}

// Shutting a server down: http.Server.Shutdown closes every connection
// Accept made with 1001 (going away), and the client's read says so.
func ExampleAcceptOptions_shutdown() {
	srv := echoServer()
	defer srv.Close()

	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()

	go srv.Config.Shutdown(ctx)
	_, _, err = c.Read(ctx)
	fmt.Println(websocket.CloseStatus(err))
	// Output: 1001 (going away)
}

// A port that serves nothing but WebSockets, without net/http's server:
// each connection from the listener is upgraded with AcceptConn, under a
// bound on the handshake, then served on a goroutine of its own.
func ExampleAcceptConn() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()

	// serve echoes each message, prefixed with the request's path.
	serve := func(c *websocket.Conn, path string) {
		defer c.CloseNow()
		ctx := context.Background()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, append([]byte(path+": "), msg...)); err != nil {
				return
			}
		}
	}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return // the listener is closed
			}
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c, r, err := websocket.AcceptConn(ctx, nc, nil)
				if err != nil {
					return // refused (and answered with an HTTP error), or the client left
				}
				// A new goroutine starts with the smallest stack; this
				// one's grew while it read the request.
				go serve(c, r.URL.Path)
			}()
		}
	}()

	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/echo", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		fmt.Println(err)
		return
	}
	_, msg, err := c.Read(ctx)
	fmt.Printf("%s %v\n", msg, err)
	// Output:
	// /echo: hello <nil>
}
