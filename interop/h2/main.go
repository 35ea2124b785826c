// Command h2 is the server side of the browser test of WebSockets over
// HTTP/2 (RFC 8441): it serves a test page and an echo endpoint from the
// same HTTPS origin, so that a browser which already talks HTTP/2 to it
// opens the page's WebSocket as an extended CONNECT stream, if the server
// allows it (GODEBUG=http2xconnect=1 in its environment), and as an
// HTTP/1.1 upgrade on a connection of its own otherwise.
//
//	GODEBUG=http2xconnect=1 go run ./interop/h2 -addr 127.0.0.1:0
//
// It prints "READY https://ADDR/" once it listens, with a self-signed
// certificate made at start (the browser must ignore certificate errors),
// and logs how each WebSocket arrived. Paths:
//
//	/        the test page (page.html)
//	/ws      echo: every message comes back with the same type
//	/protos  the protocols the WebSockets so far arrived with, one a line:
//	         "HTTP/2 CONNECT" or "HTTP/1.1 Upgrade"
//
// check.js drives Chromium against it; run.sh runs both modes.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/wirecraft/websocket"
)

//go:embed page.html
var page []byte

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()

	var mu sync.Mutex
	var protos []string
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(page)
	})
	mux.HandleFunc("/protos", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		for _, p := range protos {
			fmt.Fprintln(w, p)
		}
	})
	// No method in the pattern: "GET /ws" would not match the CONNECT of
	// the HTTP/2 form.
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			ConnOptions: websocket.ConnOptions{ReadLimit: 16 << 20},
			Compression: &websocket.CompressionOptions{},
		})
		if err != nil {
			log.Printf("handshake from %s refused: %v", r.RemoteAddr, err)
			return
		}
		proto := "HTTP/1.1 Upgrade"
		if r.ProtoMajor == 2 {
			proto = "HTTP/2 CONNECT"
		}
		mu.Lock()
		protos = append(protos, proto)
		mu.Unlock()
		log.Printf("websocket from %s: %s", r.RemoteAddr, proto)
		for {
			typ, msg, err := c.Read(context.Background())
			if err != nil {
				log.Printf("websocket from %s ended: %v", r.RemoteAddr, err)
				return
			}
			if err := c.Write(context.Background(), typ, msg); err != nil {
				return
			}
		}
	})

	cert, err := selfSigned()
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	xconnect := strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1")
	log.Printf("HTTP/2 extended CONNECT enabled (GODEBUG=http2xconnect=1): %v", xconnect)
	fmt.Printf("READY https://%s/\n", ln.Addr())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// ServeTLS adds "h2" to NextProtos.
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	}
	log.Fatal(srv.ServeTLS(ln, "", ""))
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, valid for a
// day.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "websocket interop h2"},
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
