// Command server is the Autobahn|Testsuite testee server: an echo server on
// the package, for the suite in fuzzingclient mode (the suite dials it once
// per case).
//
//	go run ./autobahn/testee/server -addr 127.0.0.1:9001
//
// It prints "READY ws://ADDR/" once it listens. Messages are echoed as they
// stream in, so text is checked for valid UTF-8 fragment by fragment, the
// way the suite's section 6.4 wants ("fail fast").
//
// With -fault NAME (repeatable or comma-separated: none, utf8, rsv, ping,
// close-code, drop) it serves instead a deliberately faulty echo loop of its
// own that bypasses the package (faulty.go, a test fixture), used by
// faulty_test.go to check that the runner catches exactly the planted bugs.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"

	"github.com/wirecraft/websocket"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "address to listen on")
	var fault faultFlag
	flag.Var(&fault, "fault", "serve the faulty test fixture with these planted bugs instead of the package: "+strings.Join(faultNames, ", ")+" (repeatable or comma-separated)")
	flag.Parse()

	opts := &websocket.AcceptOptions{
		// Section 9 sends messages of up to 16 MiB. The echo loop answers
		// what it reads, so it coalesces its writes (as examples/echo
		// does), and the suite checks that path too.
		ConnOptions: websocket.ConnOptions{ReadLimit: 64 << 20, CoalesceWrites: true},
		// The suite may send an Origin of its own choosing.
		CheckOrigin: func(*http.Request) bool { return true },
		// Sections 12 and 13: permessage-deflate with every parameter.
		Compression: &websocket.CompressionOptions{},
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("READY ws://%s/\n", ln.Addr())
	if fault.set {
		log.Fatal(http.Serve(ln, faultyHandler(fault.enabled)))
	}
	log.Fatal(http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		echo(c)
	})))
}

// echo sends every message back as it arrives, until the connection ends.
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
		if _, err := io.CopyBuffer(w, struct{ io.Reader }{r}, buf); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
}
