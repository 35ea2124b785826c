// Command echo is a WebSocket echo server: every message comes back with
// the same type, pings get their pong, and a close is answered with the
// same code.
//
//	go run ./examples/echo -addr 127.0.0.1:9001
//
// It prints "READY ws://ADDR/" once it listens. Any path upgrades.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/wirecraft/websocket"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "address to listen on")
	readLimit := flag.Int64("read-limit", 64<<20, "largest message accepted, in bytes")
	compress := flag.Bool("compress", true, "accept permessage-deflate when the client offers it")
	flag.Parse()

	opts := &websocket.AcceptOptions{
		ConnOptions: websocket.ConnOptions{ReadLimit: *readLimit},
		// A test page served from another port must be able to connect,
		// so this demo accepts every origin. A real service lists the
		// origins of its own pages in OriginPatterns instead.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	if *compress {
		opts.Compression = &websocket.CompressionOptions{}
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			log.Printf("accept: %v", err)
			return
		}
		defer c.CloseNow()
		if err := echo(c); err != nil && websocket.CloseStatus(err) < 0 {
			log.Printf("echo: %v", err)
		}
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("READY ws://%s/\n", ln.Addr())
	if err := http.Serve(ln, handler); err != nil {
		log.Fatal(err)
	}
	os.Exit(1)
}

// echo copies each message back as it arrives, through one reused buffer:
// a message of any size costs no allocation and is never held whole.
func echo(c *websocket.Conn) error {
	ctx := context.Background()
	buf := make([]byte, 32<<10)
	for {
		typ, r, err := c.Reader(ctx)
		if err != nil {
			return err
		}
		w, err := c.Writer(ctx, typ)
		if err != nil {
			return err
		}
		if _, err := io.CopyBuffer(w, onlyReader{r}, buf); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
}

// onlyReader hides every method but Read, so that io.CopyBuffer uses the
// buffer it is given.
type onlyReader struct{ io.Reader }
