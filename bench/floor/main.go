// Command floor is the least a WebSocket echo server can do per message,
// used to see how much of a library's cost per small message is the
// library at all: one goroutine per connection, one read and one write
// system call per batch of frames, the payload unmasked and sent back
// behind a new header. It handles only what wsbench's throughput and
// latency workloads send (whole, unfragmented frames of up to 64 KiB, no
// control frames), so it is a measuring stick, not a server.
//
//	go build -o /tmp/floor ./floor && \
//	  ../../shared/wsbench/bin/wsbench run --workloads throughput,latency --sizes 16 \
//	  --server 'name=floor,cmd=/tmp/floor -addr {addr}' --server ...
package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("READY ws://%s/\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(c)
	}
}

func serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:]))
	in := make([]byte, 256<<10)
	out := make([]byte, 256<<10)
	have := 0
	for {
		n, err := br.Read(in[have:])
		if err != nil {
			return
		}
		have += n
		// Echo every whole frame in the buffer with one write.
		o, p := 0, 0
	frames:
		for have-p >= 2 {
			op, size, hdr := in[p]&0x0f, int(in[p+1]&0x7f), 2
			switch {
			case op == 8 || size == 127:
				return // a close, or larger than this stick measures
			case size == 126 && have-p < 4:
				break frames
			case size == 126:
				size, hdr = int(binary.BigEndian.Uint16(in[p+2:])), 4
			}
			if have-p < hdr+4+size {
				break frames
			}
			key := in[p+hdr : p+hdr+4]
			payload := in[p+hdr+4 : p+hdr+4+size]
			out[o] = in[p] // FIN and opcode
			if size < 126 {
				out[o+1] = byte(size)
				o += 2
			} else {
				out[o+1] = 126
				binary.BigEndian.PutUint16(out[o+2:], uint16(size))
				o += 4
			}
			for i, b := range payload {
				out[o+i] = b ^ key[i&3]
			}
			o += size
			p += hdr + 4 + size
		}
		copy(in, in[p:have])
		have -= p
		if o > 0 {
			if _, err := c.Write(out[:o]); err != nil {
				return
			}
		}
	}
}
