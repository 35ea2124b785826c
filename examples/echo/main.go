// Command echo is a WebSocket echo server: every message comes back with
// the same type, pings get their pong, and a close is answered with the
// same code.
//
//	go run ./examples/echo -addr 127.0.0.1:9001
//
// It prints "READY ws://ADDR/" once it listens. Any path upgrades.
// -cpuprofile FILE profiles the server until it is stopped (profile.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/wirecraft/websocket"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "address to listen on")
	readLimit := flag.Int64("read-limit", 64<<20, "largest message accepted, in bytes")
	compress := flag.Bool("compress", true, "accept permessage-deflate when the client offers it")
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
	// Handler serves each connection with serve and closes it when serve
	// returns; over HTTP/1.1 it lets net/http's per-request memory go
	// while the connection is idle (see websocket.Handler).
	handler := websocket.Handler(opts, serve)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("READY ws://%s/\n", ln.Addr())
	srv := &http.Server{
		Handler: handler,
		// A client must not hold a connection open by sending its
		// handshake slowly, nor send a megabyte of headers.
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	if err := srv.Serve(ln); err != nil {
		log.Fatal(err)
	}
	os.Exit(1)
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
