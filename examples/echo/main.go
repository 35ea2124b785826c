// Command echo is a WebSocket echo server: every message comes back with
// the same type, pings get their pong, and a close is answered with the
// same code.
//
//	go run ./examples/echo -addr 127.0.0.1:9001
//
// It prints "READY ws://ADDR/" once it listens. Any path upgrades. The
// port serves nothing but WebSockets, so by default it upgrades the
// listener's connections with websocket.AcceptConn, without net/http's
// server; -nethttp serves through an http.Server with websocket.Handler
// instead, the form for a server with other routes.
// -cpuprofile FILE profiles the server until it is stopped (profile.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/wirecraft/websocket"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "address to listen on")
	readLimit := flag.Int64("read-limit", 64<<20, "largest message accepted, in bytes")
	compress := flag.Bool("compress", true, "accept permessage-deflate when the client offers it")
	nethttp := flag.Bool("nethttp", false, "serve through net/http's server (websocket.Handler) instead of AcceptConn")
	flag.Parse()
	startProfile()

	opts := &websocket.AcceptOptions{
		// The echo loop answers each message as it reads it: with
		// CoalesceWrites, the answers to messages that arrived together
		// leave together, in one system call.
		ConnOptions: websocket.ConnOptions{ReadLimit: *readLimit, CoalesceWrites: true},
		// A test page served from another port must be able to connect,
		// so this demo accepts every origin. A real service lists the
		// origins of its own pages in OriginPatterns instead.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	if *compress {
		opts.Compression = &websocket.CompressionOptions{}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("READY ws://%s/\n", ln.Addr())
	if *nethttp {
		err = serveHTTP(ln, opts)
	} else {
		err = serveBare(ln, opts)
	}
	log.Fatal(err)
}

// handshakeTimeout bounds a handshake: a client must not hold a connection
// open by sending its request slowly.
const handshakeTimeout = 10 * time.Second

// serveBare upgrades every connection of ln with AcceptConn, and serves it
// on a goroutine of its own.
func serveBare(ln net.Listener, opts *websocket.AcceptOptions) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors, most likely: wait for some to be
			// closed rather than stop serving (net/http does the same).
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			log.Printf("accept: %v; retrying in %v", err, backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
			defer cancel()
			c, _, err := websocket.AcceptConn(ctx, nc, opts)
			if err != nil {
				return // refused (answered with an HTTP error), or the client left
			}
			// A new goroutine starts with the smallest stack; this one's
			// grew while it read the request, and an idle connection
			// would keep it (10,000 idle connections: 6.71 KiB each on
			// this goroutine, 4.67 KiB on a new one; bench/README.md).
			go func() {
				defer c.Close(websocket.StatusNormalClosure, "")
				serve(context.Background(), c)
			}()
		}()
	}
}

// serveHTTP serves through net/http. Handler serves each connection with
// serve and closes it when serve returns; over HTTP/1.1 it lets net/http's
// per-request memory go while the connection is idle (see
// websocket.Handler).
func serveHTTP(ln net.Listener, opts *websocket.AcceptOptions) error {
	srv := &http.Server{
		Handler: websocket.Handler(opts, serve),
		// A client must not hold a connection open by sending its
		// handshake slowly, nor send a megabyte of headers.
		ReadHeaderTimeout: handshakeTimeout,
		MaxHeaderBytes:    16 << 10,
	}
	return srv.Serve(ln)
}

// serve echoes until the connection ends, and logs why it ended unless
// it was closed normally.
func serve(ctx context.Context, c *websocket.Conn) {
	if err := echo(ctx, c); err != nil && websocket.CloseStatus(err) < 0 {
		log.Printf("echo: %v", err)
	}
}

// echo copies each message back as it arrives. WriteFrom reads the
// payload from the message reader straight into the buffer it is sent
// from: no allocation per message, one write system call for a message of
// up to 1 MiB, and no buffer held between messages.
func echo(ctx context.Context, c *websocket.Conn) error {
	for {
		typ, r, err := c.Reader(ctx)
		if err != nil {
			return err
		}
		if _, err := c.WriteFrom(ctx, typ, r); err != nil {
			return err
		}
	}
}
