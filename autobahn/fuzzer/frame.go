package fuzzer

import (
	"encoding/binary"
	"net"
	"runtime"
	"sync"
	"time"
)

// Frame encoding (RFC 6455 §5.2) and the write queue that reproduces the
// suite's write granularity (CASES §1.7).

// appendHeader appends a frame header declaring length payload bytes. The
// length always uses the shortest encoding, also for control frames longer
// than 125 bytes, which the cases send on purpose (CASES pitfall 10).
func appendHeader(dst []byte, op byte, fin bool, rsv byte, length int, mask *[4]byte) []byte {
	b0 := rsv<<4 | op&0x0f
	if fin {
		b0 |= 0x80
	}
	var b1 byte
	if mask != nil {
		b1 = 0x80
	}
	switch {
	case length < 126:
		dst = append(dst, b0, b1|byte(length))
	case length < 1<<16:
		dst = append(dst, b0, b1|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(length))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(length))
	}
	if mask != nil {
		dst = append(dst, mask[:]...)
	}
	return dst
}

// appendFrame appends a whole frame; the payload is masked when mask is set.
func appendFrame(dst []byte, op byte, fin bool, rsv byte, payload []byte, mask *[4]byte) []byte {
	dst = appendHeader(dst, op, fin, rsv, len(payload), mask)
	start := len(dst)
	dst = append(dst, payload...)
	if mask != nil {
		maskBytes(*mask, 0, dst[start:])
	}
	return dst
}

// maskBytes XORs b with the key stream starting at stream position pos
// (RFC 6455 §5.3) and returns the position after b, so that a payload
// written in several pieces keeps one key stream (6.4.3/6.4.4).
func maskBytes(key [4]byte, pos int, b []byte) int {
	// Fast path: whole 8-byte words with the key rotated to pos.
	if len(b) >= 16 {
		var k8 [8]byte
		for i := range k8 {
			k8[i] = key[(pos+i)&3]
		}
		kw := binary.LittleEndian.Uint64(k8[:])
		n := len(b) &^ 7
		for i := 0; i < n; i += 8 {
			binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^kw)
		}
		for i := n; i < len(b); i++ {
			b[i] ^= key[(pos+i)&3]
		}
		return pos + len(b)
	}
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return pos + len(b)
}

// fragmentSizes splits a message of n bytes by the suite's message API
// (CASES §3.0): pieces of size frag; when n is an exact multiple of frag,
// every data frame has fin=0 and an extra empty frame ends the message; a
// message no longer than frag (or frag <= 0) is one frame.
func fragmentSizes(n, frag int) []int {
	if frag <= 0 || n <= frag {
		return []int{n}
	}
	var sizes []int
	for n > 0 {
		k := frag
		if n < k {
			k = n
		}
		sizes = append(sizes, k)
		n -= k
	}
	if sizes[len(sizes)-1] == frag {
		sizes = append(sizes, 0)
	}
	return sizes
}

// writeItem is one unit of the write queue.
type writeItem struct {
	data  []byte
	pause bool // written by itself and followed by a short pause
	close bool // close the connection after everything before it
}

// writer owns the socket's write side. Writes are queued without blocking
// the session, like a transport buffer, so that a testee echoing a large
// message while we are still sending it cannot deadlock us.
type writer struct {
	conn  net.Conn
	mu    sync.Mutex
	cond  *sync.Cond
	queue []writeItem
	dead  bool
}

func newWriter(conn net.Conn) *writer {
	w := &writer{conn: conn}
	w.cond = sync.NewCond(&w.mu)
	go w.loop()
	return w
}

func (w *writer) push(it writeItem) {
	w.mu.Lock()
	w.queue = append(w.queue, it)
	w.mu.Unlock()
	w.cond.Signal()
}

// abort drops everything queued; the caller closes the socket.
func (w *writer) abort() {
	w.mu.Lock()
	w.dead = true
	w.queue = nil
	w.mu.Unlock()
	w.cond.Signal()
}

// syncPause is the yield between separately written pieces. The original
// yields to its event loop for about 10 µs; on a TCP_NODELAY socket each
// Write then leaves as its own segment.
const syncPause = 10 * time.Microsecond

// pause waits syncPause by yielding the processor until the time is up.
// time.Sleep cannot be used: Go's timers wake an idle program through the
// network poller, whose wait is rounded up to whole milliseconds on Linux,
// so a 10 µs sleep lasts 0.7–1 ms. 9.5.1 writes its 1 MiB frame in 16385
// pieces: 9.4 s with time.Sleep, 0.6 s now, 1.6 s in the original.
func pause() {
	start := time.Now()
	for time.Since(start) < syncPause {
		runtime.Gosched()
	}
}

func (w *writer) loop() {
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && !w.dead {
			w.cond.Wait()
		}
		if w.dead {
			w.mu.Unlock()
			return
		}
		it := w.queue[0]
		w.queue = w.queue[1:]
		// Consecutive plain items are coalesced into one Write: bytes
		// written back to back in one step leave together.
		if !it.pause && !it.close {
			for len(w.queue) > 0 && !w.queue[0].pause && !w.queue[0].close {
				it.data = append(it.data, w.queue[0].data...)
				w.queue = w.queue[1:]
			}
		}
		w.mu.Unlock()
		if it.close {
			w.conn.Close()
			w.abort()
			return
		}
		if _, err := w.conn.Write(it.data); err != nil {
			w.abort()
			return
		}
		if it.pause {
			pause()
		}
	}
}
