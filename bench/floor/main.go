// Command floor is the least a WebSocket echo server can do per message,
// used to see how much of a library's cost per small message is the
// library at all: one read and one write system call per batch of frames,
// the payload unmasked and sent back behind a new header. It handles only
// what wsbench's throughput and latency workloads send at their small
// sizes (whole, unfragmented frames with a 16-bit length at most, that is
// under 64 KiB, no control frames), so it is a measuring stick, not a
// server.
//
// By default each connection is read by a goroutine of its own, as every
// Go WebSocket package measured here does it. With -epoll (Linux) the
// connections are instead watched by one epoll loop per CPU (epoll.go),
// which reads every ready socket after one wake-up: the floor of an
// event-driven design. -hold makes those loops keep their processor while
// they wait, which a real server would not do, to show what giving it up
// and getting it back costs.
//
//	go build -o /tmp/floor ./floor && \
//	  ../../shared/wsbench/bin/wsbench run --workloads throughput,latency --sizes 16 \
//	  --server 'name=floor,cmd=/tmp/floor -addr {addr}' \
//	  --server 'name=floor-epoll,cmd=/tmp/floor -epoll -addr {addr}' \
//	  --server 'name=floor-hold,cmd=/tmp/floor -epoll -hold -addr {addr}' --server ...
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

// bufSize is the read and write buffer of a connection: room for several
// 64 KiB frames.
const bufSize = 256 << 10

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "address to listen on")
	useEpoll := flag.Bool("epoll", false, "serve connections from epoll loops instead of a goroutine each")
	hold := flag.Bool("hold", false, "with -epoll, keep the processor while waiting for events (see eventLoop.wait)")
	flag.Parse()
	var loops *eventLoops
	if *useEpoll {
		var err error
		if loops, err = newEventLoops(*hold); err != nil {
			log.Fatal(err)
		}
	}
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
		go func() {
			br, ok := handshake(c)
			if !ok {
				c.Close()
				return
			}
			if loops != nil {
				loops.add(c, br)
				return
			}
			serve(c, br)
		}()
	}
}

// handshake reads the upgrade request and answers it. It returns the reader
// the request came through, which may hold the first frames already.
func handshake(c net.Conn) (*bufio.Reader, bool) {
	br := bufio.NewReaderSize(c, 64<<10)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, false
	}
	sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	_, err = fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:]))
	return br, err == nil
}

// serve echoes on the connection's own goroutine: read what has arrived,
// answer every whole frame in one write, repeat.
func serve(c net.Conn, br *bufio.Reader) {
	defer c.Close()
	in := make([]byte, bufSize)
	out := make([]byte, bufSize)
	have := 0
	for {
		n, err := br.Read(in[have:])
		if err != nil {
			return
		}
		have += n
		used, o, ok := echoFrames(in[:have], out)
		if !ok {
			return
		}
		have = copy(in, in[used:have])
		if o > 0 {
			if _, err := c.Write(out[:o]); err != nil {
				return
			}
		}
	}
}

// echoFrames writes to out the answer to every whole frame at the start of
// in, and returns how many bytes of in those frames took and how many of
// out the answers take. ok is false for a close frame or a frame with a
// 64-bit length (64 KiB or more), which this stick does not measure.
func echoFrames(in, out []byte) (used, o int, ok bool) {
	p := 0
	for len(in)-p >= 2 {
		op, size, hdr := in[p]&0x0f, int(in[p+1]&0x7f), 2
		switch {
		case op == 8 || size == 127:
			return 0, 0, false
		case size == 126 && len(in)-p < 4:
			return p, o, true // the rest of the header has not arrived
		case size == 126:
			size, hdr = int(binary.BigEndian.Uint16(in[p+2:])), 4
		}
		if len(in)-p < hdr+4+size {
			return p, o, true // the rest of the frame has not arrived
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
	return p, o, true
}
