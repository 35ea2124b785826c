// Command wscat is a command-line WebSocket client: each line read from
// standard input is sent as a text message, and each message received is
// printed on standard output.
//
//	go run ./examples/wscat ws://127.0.0.1:9001/
//	go run ./examples/wscat -subprotocol chat.v1 -H 'Authorization: Bearer x' wss://example.com/ws
//	go run ./examples/wscat -insecure wss://127.0.0.1:8443/   # self-signed certificate
//
// Text messages are printed as they are, one per line. Binary messages are
// printed as one line "[binary N bytes] HEX", the hex cut after 64 bytes.
// Everything else (the negotiated subprotocol, the peer's close code,
// errors) goes to standard error, so that standard output holds only what
// the peer sent.
//
// At the end of standard input wscat closes the connection with 1000
// (normal closure) and prints the close code the peer answered with; an
// interrupt (Ctrl-C) closes with 1001 (going away). Replies that arrive
// after the close frame went out are not printed: with piped input, give
// them time with -wait (e.g. echo hi | wscat -wait 1s URL). If the peer closes
// first, wscat prints its code and reason and exits. The exit status is 0
// after a close with 1000 from the peer, 1 after any other end, and 2 on
// bad usage.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wirecraft/websocket"
)

// maxHexBytes is how much of a binary message is shown.
const maxHexBytes = 64

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var headers, subprotocols listFlag
	flag.Var(&headers, "H", "extra handshake header `'Name: value'` (repeatable)")
	flag.Var(&subprotocols, "subprotocol", "subprotocol to offer (repeatable, most preferred first)")
	insecure := flag.Bool("insecure", false, "do not verify the server's TLS certificate (wss with a self-signed certificate)")
	timeout := flag.Duration("timeout", 10*time.Second, "time limit for the opening handshake and for each send")
	wait := flag.Duration("wait", 0, "at the end of input, keep printing messages this long before closing")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: wscat [flags] ws://HOST[:PORT]/PATH\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}

	opts := &websocket.DialOptions{Header: http.Header{}, Subprotocols: subprotocols}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			fmt.Fprintf(os.Stderr, "wscat: -H %q: want 'Name: value'\n", h)
			os.Exit(2)
		}
		opts.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if *insecure {
		// Only on request: it makes wss as open to interception as ws.
		opts.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	}
	os.Exit(run(flag.Arg(0), opts, *timeout, *wait))
}

// run connects, relays until either side ends, and returns the exit
// status.
func run(url string, opts *websocket.DialOptions, timeout, wait time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	conn, resp, err := websocket.Dial(ctx, url, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "wscat: %v\n", err)
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			// The server's explanation, if it gave one (Dial keeps up to
			// 1 KiB of the body).
			body, _ := io.ReadAll(resp.Body)
			if s := strings.TrimSpace(string(body)); s != "" {
				fmt.Fprintf(os.Stderr, "wscat: server said: %s\n", s)
			}
		}
		return 1
	}
	defer conn.CloseNow()
	if p := conn.Subprotocol(); p != "" {
		fmt.Fprintf(os.Stderr, "wscat: subprotocol %q\n", p)
	}

	// The reading goroutine prints messages until the connection ends; it
	// is also what receives the peer's close frame during Close.
	readDone := make(chan error, 1)
	go func() { readDone <- printMessages(conn, os.Stdout) }()

	// Lines are read on a goroutine of their own: a blocked read of
	// standard input cannot be interrupted, and must not keep wscat alive
	// once the peer has gone.
	lines := make(chan string)
	stdinDone := make(chan error, 1)
	go func() { stdinDone <- readLines(os.Stdin, lines) }()

	interrupt, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	for {
		select {
		case line := <-lines:
			if !utf8.ValidString(line) {
				// A text message must be UTF-8; the peer would fail the
				// connection (1007) over this line.
				fmt.Fprintln(os.Stderr, "wscat: line is not valid UTF-8, not sent")
				continue
			}
			wctx, cancel := context.WithTimeout(context.Background(), timeout)
			err := conn.Write(wctx, websocket.MessageText, []byte(line))
			cancel()
			if err != nil {
				// A failed write closes the connection: the reading
				// goroutine reports how it ended.
				fmt.Fprintf(os.Stderr, "wscat: send: %v\n", err)
				return report(<-readDone)
			}
		case err := <-stdinDone:
			if err != nil {
				fmt.Fprintf(os.Stderr, "wscat: reading standard input: %v\n", err)
			}
			// Replies still on their way when our close frame goes out
			// are not printed: the package's Close drops data messages
			// that arrive while it waits for the peer's close frame. With
			// piped input that can be every reply, hence -wait.
			if wait > 0 {
				timer := time.NewTimer(wait)
				select {
				case <-timer.C:
				case <-interrupt.Done():
				case err := <-readDone:
					return report(err)
				}
				timer.Stop()
			}
			return closeAndReport(conn, websocket.StatusNormalClosure, readDone)
		case <-interrupt.Done():
			return closeAndReport(conn, websocket.StatusGoingAway, readDone)
		case err := <-readDone:
			// The peer closed first (or the connection broke).
			return report(err)
		}
	}
}

// readLines sends each line of r, without its line ending, to lines, and
// returns nil at the end of r. Lines of any length are accepted.
func readLines(r io.Reader, lines chan<- string) error {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			lines <- strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// printMessages prints every message received until the connection ends,
// and returns the error that ended it.
func printMessages(conn *websocket.Conn, out io.Writer) error {
	for {
		typ, data, err := conn.Read(context.Background())
		if err != nil {
			return err
		}
		if typ == websocket.MessageText {
			fmt.Fprintf(out, "%s\n", data)
			continue
		}
		shown, more := data, ""
		if len(shown) > maxHexBytes {
			shown, more = shown[:maxHexBytes], "…"
		}
		fmt.Fprintf(out, "[binary %d bytes] %s%s\n", len(data), hex.EncodeToString(shown), more)
	}
}

// closeAndReport starts the closing handshake with code, waits for the
// reading goroutine to see the peer's answer, and reports it.
func closeAndReport(conn *websocket.Conn, code websocket.StatusCode, readDone <-chan error) int {
	// Close returns once the reading goroutine has the peer's close frame,
	// or after the package's close timeout; either way reading ends.
	if err := conn.Close(code, ""); err != nil {
		fmt.Fprintf(os.Stderr, "wscat: close: %v\n", err)
	}
	return report(<-readDone)
}

// report prints how the connection ended and returns the exit status: 0
// only for a close frame with 1000 from the peer.
func report(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code == websocket.StatusAbnormalClosure {
		// The package reports a TCP connection that ended without a
		// close frame as 1006 (RFC 6455 §7.1.5); no frame said so.
		fmt.Fprintf(os.Stderr, "wscat: connection lost without a close frame (%v)\n", ce.Code)
		return 1
	}
	if errors.As(err, &ce) {
		if ce.Reason != "" {
			fmt.Fprintf(os.Stderr, "wscat: peer closed: %v, reason %q\n", ce.Code, ce.Reason)
		} else {
			fmt.Fprintf(os.Stderr, "wscat: peer closed: %v\n", ce.Code)
		}
		if ce.Code == websocket.StatusNormalClosure {
			return 0
		}
		return 1
	}
	fmt.Fprintf(os.Stderr, "wscat: connection ended without a close frame from the peer: %v\n", err)
	return 1
}
