// Command dashboard is a live dashboard of its own server, with per-user
// notifications.
//
//	go run ./examples/dashboard -addr 127.0.0.1:8080
//
// then open http://127.0.0.1:8080/?user=ann (in several tabs if you like)
// and, from a terminal,
//
//	curl -X POST 'http://127.0.0.1:8080/notify?user=ann' -d 'hello'
//
// Every open page receives the server's figures once a second (open
// connections, messages per second, heap in use, goroutines) and draws the
// last 60 seconds of each. A notification posted for ann appears in all of
// ann's tabs and in nobody else's; the answer says how many connections it
// reached:
//
//	{"user":"ann","connections":2,"seq":42}
//
// The user is whoever ?user= names, in the page's URL and in /notify. That
// is for the demo only: a real service takes the user from its
// authentication (a session, a token) in requireUser, and authenticates
// whoever posts notifications.
//
// It prints "READY http://ADDR/" once it listens (-addr 127.0.0.1:0 picks a
// free port). SIGINT or SIGTERM shuts it down gracefully: the package closes
// every WebSocket with 1001 (going away), which the page shows before it
// tries to reconnect.
//
// How it is built (dashboard.go):
//
//   - each connection is a member of a rooms.Hub under the id of its user;
//     the hub gives every member a bounded queue and a goroutine writing it,
//     and the connection's own goroutine only reads;
//   - once a second the figures are encoded once and sent to everyone with
//     Hub.SendToAll, which frames them once (websocket.PreparedMessage) for
//     all connections;
//   - a notification goes to one user's connections with Hub.SendToUser;
//   - keepalive is the package's ConnOptions.PingInterval.
//
// The page (static/) is plain HTML, CSS and JavaScript drawing SVG, with no
// framework and nothing fetched from elsewhere: it works offline.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	interval := flag.Duration("interval", time.Second, "how often the figures are pushed")
	pingInterval := flag.Duration("ping-interval", 30*time.Second, "keepalive ping interval")
	flag.Parse()

	// SIGINT (Ctrl-C) and SIGTERM (what service managers and container
	// runtimes send) end ctx, and with it serve.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("READY http://%s/\n", ln.Addr())
	d := newDashboard(options{Interval: *interval, PingInterval: *pingInterval})
	if err := serve(ctx, ln, d); err != nil {
		log.Fatal(err)
	}
}

// shutdownTimeout bounds the graceful shutdown: the closing handshakes of
// the WebSockets and the HTTP requests still running.
const shutdownTimeout = 10 * time.Second

// serve runs d on ln until ctx ends, then shuts down gracefully: the
// server stops accepting, every WebSocket is closed with 1001 (going
// away), and serve returns once the connections' goroutines have ended.
func serve(ctx context.Context, ln net.Listener, d *dashboard) error {
	srv := &http.Server{
		Handler: d,
		// A client must not hold a connection open by sending its request
		// slowly, nor make the server read a megabyte of headers. These
		// bound the HTTP part only: Accept clears the deadlines of a
		// connection it takes over.
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}

	pushCtx, stopPushing := context.WithCancel(ctx)
	pushDone := make(chan struct{})
	go func() {
		defer close(pushDone)
		d.run(pushCtx)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	var err error
	select {
	case err = <-serveErr: // the listener failed
	case <-ctx.Done():
		log.Printf("shutting down: %d WebSocket connections to close with 1001 (going away)", d.hub.Stats().Members)
		shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		// Shutdown closes the listener, and the package closes each
		// WebSocket the server accepted with 1001 as Shutdown starts.
		// Shutdown itself waits for plain HTTP requests only, so the
		// WebSockets' closing handshakes are waited for next.
		err = srv.Shutdown(shutdownCtx)
		if serr := <-serveErr; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		err = errors.Join(err, d.waitConns(shutdownCtx))
	}
	stopPushing()
	<-pushDone
	// Hub.Close closes any member still open (1001 as well) and waits for
	// the members' goroutines, so that nothing writes after serve returns.
	return errors.Join(err, d.hub.Close())
}
