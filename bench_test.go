package websocket

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"
)

// replayTransport serves the same bytes over and over, as if the peer sent
// one frame forever, and discards what is written: the network is taken
// out so only the package's own cost is measured.
type replayTransport struct {
	data []byte
	pos  int
}

func (r *replayTransport) Read(p []byte) (int, error) {
	if r.pos == len(r.data) {
		r.pos = 0
	}
	n := copy(p, r.data[r.pos:])
	r.pos += n
	return n, nil
}

func (r *replayTransport) Write(p []byte) (int, error)      { return len(p), nil }
func (r *replayTransport) Close() error                     { return nil }
func (r *replayTransport) SetReadDeadline(time.Time) error  { return nil }
func (r *replayTransport) SetWriteDeadline(time.Time) error { return nil }

// replayConn returns a Conn whose peer endlessly sends one binary message
// of the given size, masked when the Conn is a server.
func replayConn(server bool, size int) *Conn {
	h := frameHeader{fin: true, opcode: opBinary, masked: server, maskKey: 0x01020304, length: int64(size)}
	frame := make([]byte, maxFrameHeaderSize+size)
	n := putFrameHeader(frame, h)
	return newConn(&replayTransport{data: frame[:n+size]}, server, nil, "", nil, nil)
}

// readOne reads one message through Reader into buf.
func readOne(c *Conn, buf []byte) error {
	_, r, err := c.Reader(bg)
	if err != nil {
		return err
	}
	for {
		_, err := r.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func writeStreamed(c *Conn, payload []byte) error {
	w, err := c.Writer(bg, MessageBinary)
	if err != nil {
		return err
	}
	if _, err := w.Write(payload); err != nil {
		return err
	}
	return w.Close()
}

var benchSizes = []int{16, 64 << 10}

func roleName(server bool) string {
	if server {
		return "server"
	}
	return "client"
}

// The steady state of reading and writing allocates nothing, in either
// role, for small and large messages (the Read convenience method, which
// returns a new slice, and Writer's handle excepted).
func TestZeroAllocsPerMessage(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector (make test runs this test without it)")
	}
	for _, server := range []bool{true, false} {
		for _, size := range benchSizes {
			name := fmt.Sprintf("%s/%d", roleName(server), size)
			c := replayConn(server, size)
			buf := make([]byte, 32<<10)
			payload := make([]byte, size)
			source := bytes.NewReader(nil)
			ops := map[string]func(){
				"Reader": func() {
					if err := readOne(c, buf); err != nil {
						t.Fatal(err)
					}
				},
				"Write": func() {
					if err := c.Write(bg, MessageBinary, payload); err != nil {
						t.Fatal(err)
					}
				},
				"WriteFrom": func() {
					source.Reset(payload)
					if _, err := c.WriteFrom(bg, MessageBinary, source); err != nil {
						t.Fatal(err)
					}
				},
			}
			for op, fn := range ops {
				if allocs := testing.AllocsPerRun(200, fn); allocs != 0 {
					t.Errorf("%s %s: %v allocations per message, want 0", name, op, allocs)
				}
			}
			// Writer hands out a handle per message, so that a stale one
			// can be told from the current one: its one allocation.
			if allocs := testing.AllocsPerRun(200, func() {
				if err := writeStreamed(c, payload); err != nil {
					t.Fatal(err)
				}
			}); allocs != 1 {
				t.Errorf("%s Writer: %v allocations per message, want 1", name, allocs)
			}
		}
	}
}

func BenchmarkRead(b *testing.B) {
	for _, server := range []bool{true, false} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dB", roleName(server), size), func(b *testing.B) {
				c := replayConn(server, size)
				buf := make([]byte, 32<<10)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if err := readOne(c, buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	benchmarkWrites(b, func(c *Conn, payload []byte) error { return c.Write(bg, MessageBinary, payload) })
}

func BenchmarkWriter(b *testing.B) { benchmarkWrites(b, writeStreamed) }

// BenchmarkConcurrentWrite has several goroutines write small messages
// to one connection at once, the broadcast shape: what the writers'
// lock costs when it is contended (each hand-over wakes a waiter).
func BenchmarkConcurrentWrite(b *testing.B) {
	for _, writers := range []int{2, 8} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			c := replayConn(true, 16)
			payload := make([]byte, 16)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			// RunParallel starts parallelism×GOMAXPROCS goroutines.
			b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := c.Write(bg, MessageBinary, payload); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// benchmarkWrites measures write, one message per iteration, in both roles
// and at both sizes.
func benchmarkWrites(b *testing.B, write func(c *Conn, payload []byte) error) {
	for _, server := range []bool{true, false} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dB", roleName(server), size), func(b *testing.B) {
				c := replayConn(server, size)
				payload := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if err := write(c, payload); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// Read allocates the message once, at its size, when the frame announces
// it.
func TestReadAllocatesOnce(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector (make test runs this test without it)")
	}
	for _, size := range benchSizes {
		c := replayConn(true, size)
		allocs := testing.AllocsPerRun(100, func() {
			if _, msg, err := c.Read(bg); err != nil || len(msg) != size {
				t.Fatalf("Read = %d bytes, %v", len(msg), err)
			}
		})
		if allocs != 1 {
			t.Errorf("%d-byte message: %v allocations, want 1", size, allocs)
		}
	}
}
