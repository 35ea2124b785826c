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
// HTTPS, and with it HTTP/2: -tls serves it with a self-signed certificate
// made at start (the browser will warn), -cert and -key with your own. Each
// WebSocket is then logged with the protocol it came over. Browsers open it
// over their HTTP/2 connection (extended CONNECT, RFC 8441) only if the
// server was started with GODEBUG=http2xconnect=1, and as an HTTP/1.1
// upgrade otherwise:
//
//	GODEBUG=http2xconnect=1 go run ./examples/chat -tls
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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	pingInterval := flag.Duration("ping-interval", 30*time.Second, "keepalive ping interval")
	sendQueue := flag.Int("send-queue", 64, "events queued per client before it counts as too slow")
	verbose := flag.Bool("v", false, "log joins and leaves")
	useTLS := flag.Bool("tls", false, "serve HTTPS (and HTTP/2) with a self-signed certificate made at start")
	certFile := flag.String("cert", "", "serve HTTPS with this certificate file (PEM); needs -key")
	keyFile := flag.String("key", "", "the private key file (PEM) of -cert")
	flag.Parse()
	secure := *useTLS || *certFile != ""

	opts := options{PingInterval: *pingInterval, SendQueue: *sendQueue}
	if *verbose || secure {
		// Over HTTPS the join lines show each WebSocket's protocol.
		opts.Logf = log.Printf
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Handler: newChatServer(opts),
		// Bounds for the HTTP part only: Accept clears the deadlines of a
		// connection it takes over.
		ReadHeaderTimeout: 10 * time.Second,
	}
	if !secure {
		fmt.Printf("READY http://%s/\n", ln.Addr())
		log.Fatal(srv.Serve(ln))
	}
	if *certFile == "" {
		cert, err := selfSignedCert()
		if err != nil {
			log.Fatal(err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	log.Printf("WebSockets over HTTP/2 (GODEBUG=http2xconnect=1): %v",
		strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1"))
	fmt.Printf("READY https://%s/\n", ln.Addr())
	log.Fatal(srv.ServeTLS(ln, *certFile, *keyFile)) // ServeTLS turns HTTP/2 on
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
