// Command chat is a multi-room chat server with its browser page, built on
// the rooms and wsjson packages: JSON events, presence, typing indicators,
// acknowledged messages that a reconnecting page resends without them
// being shown twice, and tokens checked before the WebSocket upgrade.
//
//	cd examples/chat && go run .
//
// then open one of the links it prints, such as
// http://127.0.0.1:8080/?token=ann-demo-token&room=lobby, and another with
// bob's token in a second window. -tokens sets who may connect:
//
//	go run . -tokens 'ann:s3cret,bob:hunter2'
//
// # Protocol
//
// The page connects to /ws?token=TOKEN (the token may also come in a
// chat_token cookie or an "Authorization: Bearer" header). A request
// without a token is answered 401, one with an unknown token 403, as plain
// HTTP before any upgrade. Each WebSocket message is one JSON event with
// a "type"; chat.go lists them (clientEvent, serverEvent). In short: the
// client joins a room, and sends messages with an id of its own; the
// server passes each message on to the room with the sender's name and
// its own timestamp, and acknowledges it to the sender. Presence (who is
// in the room) goes to the room at every join and leave, typing
// notifications to the others in it.
//
// # Delivery
//
// The page keeps each message until its ack comes: it shows it as
// pending, and resends it when it reconnects. The server remembers the ids
// it has accepted (dedup.go), so a message whose ack was lost is
// acknowledged again but passed on once. The page reconnects by itself,
// with exponential backoff and jitter, so a restarted server is not hit
// by every client at the same moment. On joining, a client gets the last
// messages of the room, which covers what was said while it was
// reconnecting; it shows each (sender, id) once.
//
// What this does not cover: the history and the dedup window live in the
// server's memory, so a server that restarts forgets them (a message whose
// ack was lost in the crash is shown again if resent).
//
// # Several instances
//
// -redis ADDR links this instance to others through Redis (package
// redisfanout): rooms, messages, typing and presence span all of them.
//
//	go run . -addr 127.0.0.1:8080 -redis 127.0.0.1:6379
//	go run . -addr 127.0.0.1:8081 -redis 127.0.0.1:6379
//
// Delivery between instances is at most once: what is said while Redis is
// down reaches only the clients on the same instance, and presence lists
// made meanwhile hold only that instance's users (the page says so). When
// Redis is back, every instance records its presence again and sends its
// rooms fresh lists.
//
// # HTTPS
//
// -tls serves HTTPS with a self-signed certificate made at start (the
// browser will warn), -cert and -key with your own. Browsers then open the
// WebSocket over their HTTP/2 connection (extended CONNECT, RFC 8441) if
// the server was started with GODEBUG=http2xconnect=1, and as an HTTP/1.1
// upgrade otherwise.
//
// The server prints "READY http://ADDR/" once it listens, then a link per
// user. make e2e-chat, at the root of the repository, runs the tests: Go
// tests of the protocol (chat_test.go) and a run in headless Chromium
// (e2e/chat.e2e.js).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"
)

// demoTokens are the default -tokens: fine on a loopback address for a
// demonstration, and nowhere else.
const demoTokens = "ann:ann-demo-token,bob:bob-demo-token,cat:cat-demo-token"

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	tokenList := flag.String("tokens", demoTokens, "who may connect: user:token pairs, comma-separated")
	pingInterval := flag.Duration("ping-interval", 30*time.Second, "keepalive ping interval")
	redisAddr := flag.String("redis", "", "link with other instances through the Redis server at this address")
	verbose := flag.Bool("v", false, "log connections")
	useTLS := flag.Bool("tls", false, "serve HTTPS (and HTTP/2) with a self-signed certificate made at start")
	certFile := flag.String("cert", "", "serve HTTPS with this certificate file (PEM); needs -key")
	keyFile := flag.String("key", "", "the private key file (PEM) of -cert")
	flag.Parse()
	secure := *useTLS || *certFile != ""

	toks, err := parseTokens(*tokenList)
	if err != nil {
		log.Fatal(err)
	}
	opts := options{Tokens: toks, PingInterval: *pingInterval}
	if *verbose || *redisAddr != "" {
		opts.Logf = log.Printf
	}
	if *redisAddr != "" {
		if opts.FanOut, err = redisFanOut(*redisAddr); err != nil {
			log.Fatal(err)
		}
	}
	chat := newChatServer(opts)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Handler: chat,
		// A client must not hold a connection open by sending its
		// handshake slowly, nor send a megabyte of headers. Both bound the
		// HTTP part only: Accept clears the deadlines of a connection it
		// takes over.
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}

	// On SIGINT or SIGTERM, Shutdown closes every WebSocket with 1001
	// (going away), which the page takes as its cue to reconnect, and the
	// hub withdraws this instance's presence from the other instances.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	shutDown := make(chan struct{})
	go func() {
		defer close(shutDown)
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()

	scheme := "http"
	if secure {
		scheme = "https"
		if *certFile == "" {
			cert, err := selfSignedCert()
			if err != nil {
				log.Fatal(err)
			}
			srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		}
	}
	fmt.Printf("READY %s://%s/\n", scheme, ln.Addr())
	users := make([]string, 0, len(toks))
	for token, user := range toks {
		users = append(users, user+"\t"+fmt.Sprintf("%s://%s/?token=%s&room=lobby", scheme, ln.Addr(), url.QueryEscape(token)))
	}
	slices.Sort(users)
	for _, u := range users {
		fmt.Println("  " + u)
	}

	if secure {
		err = srv.ServeTLS(ln, *certFile, *keyFile) // ServeTLS turns HTTP/2 on
	} else {
		err = srv.Serve(ln)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	// Serve returns as soon as Shutdown begins; Shutdown itself goes on
	// closing connections.
	<-shutDown
	if err := chat.Close(); err != nil {
		log.Print(err)
	}
}

// selfSignedCert makes a certificate for 127.0.0.1 and localhost, valid
// for a day.
func selfSignedCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "chat example"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
