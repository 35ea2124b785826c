// Command chat is a multi-room chat server with its browser page.
//
//	go run ./examples/chat -addr 127.0.0.1:8080
//
// then open http://127.0.0.1:8080/, pick a name and a room. Everyone in the
// same room sees the room's messages, who joins and leaves, and the list of
// who is there; rooms do not see each other.
//
// The page (static/index.html, with its script and style inline) is
// embedded in the binary and served at /. It connects to
// /ws?room=NAME&name=USER, sends each chat line as a text message and
// receives JSON events:
//
//	{"type":"message","room":"lobby","name":"ann","text":"hi","time":"..."}
//	{"type":"join","room":"lobby","name":"bob","users":["ann","bob"],"time":"..."}
//	{"type":"leave","room":"lobby","name":"bob","text":"too slow","users":["ann"],"time":"..."}
//
// How it is built (chat.go):
//
//   - each connection has one goroutine reading it (the HTTP handler's) and
//     one writing the events queued for it;
//   - each room has a hub goroutine that owns its member list and fans
//     events out without ever waiting for a member: every member has a
//     bounded queue, and a member whose queue is full has fallen behind and
//     is closed with 1008 (policy violation) instead of slowing the room;
//   - keepalive is the package's ConnOptions.PingInterval, so dead
//     connections are noticed and idle ones stay open through proxies.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	pingInterval := flag.Duration("ping-interval", 30*time.Second, "keepalive ping interval")
	sendQueue := flag.Int("send-queue", 64, "events queued per client before it counts as too slow")
	verbose := flag.Bool("v", false, "log joins and leaves")
	flag.Parse()

	opts := options{PingInterval: *pingInterval, SendQueue: *sendQueue}
	if *verbose {
		opts.Logf = log.Printf
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("READY http://%s/\n", ln.Addr())
	srv := &http.Server{
		Handler: newChatServer(opts),
		// Bounds for the HTTP part only: Accept clears the deadlines of a
		// connection it takes over.
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Fatal(srv.Serve(ln))
}
