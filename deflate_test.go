package websocket

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// deflateRaw compresses p as a permessage-deflate sender would: DEFLATE,
// sync flush, tail stripped (RFC 7692 §7.2.1).
func deflateRaw(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestSpeed)
	fw.Write(p)
	fw.Flush()
	out := b.Bytes()
	if !bytes.HasSuffix(out, deflateTail[:]) {
		t.Fatalf("flush did not end with the sync tail")
	}
	return out[:len(out)-4]
}

// inflateRaw is the receiver's side, for checking what a Conn sent.
func inflateRaw(t testing.TB, p []byte) []byte {
	out, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader(inflateTail[:]))))
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

var fullDeflate = deflateConfig{level: 1, sendWindowBits: 15, sendTakeover: true, receiveWindowBits: 15, receiveTakeover: true}

// RFC 7692 §7.2.3.1's example: "Hello" compressed, in one frame and split
// over two; and an uncompressed message, which stays legal.
func TestReadCompressedMessages(t *testing.T) {
	hello := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	c, p := newPairDeflate(t, true, nil, &fullDeflate)
	p.send(
		p.frame(true, rsv1Bit, opText, hello),
		p.frame(false, rsv1Bit, opText, hello[:3]),
		p.frame(true, 0, opPing, []byte("between")),
		p.frame(true, 0, opContinuation, hello[3:]),
		p.frame(true, 0, opText, []byte("plain")),
	)
	for _, want := range []string{"Hello", "Hello", "plain"} {
		_, msg, err := c.Read(bg)
		if err != nil || string(msg) != want {
			t.Fatalf("Read = %q, %v; want %q", msg, err, want)
		}
	}
}

// With context takeover, a message may refer back into the one before it
// (RFC 7692 §7.2.3.2's example is two "Hello"s, the second a reference).
func TestReadCompressedWithTakeover(t *testing.T) {
	c, p := newPairDeflate(t, true, nil, &fullDeflate)
	p.send(
		p.frame(true, rsv1Bit, opText, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}),
		p.frame(true, rsv1Bit, opText, []byte{0xf2, 0x00, 0x11, 0x00, 0x00}),
	)
	for i := 0; i < 2; i++ {
		if _, msg, err := c.Read(bg); err != nil || string(msg) != "Hello" {
			t.Fatalf("message %d = %q, %v", i, msg, err)
		}
	}
}

func TestCompressedRuleViolations(t *testing.T) {
	hello := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	tests := []struct {
		name    string
		deflate *deflateConfig
		frames  func(p *rawPeer) [][]byte
		code    StatusCode
		err     error
	}{
		{"RSV1 without deflate", nil, func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(true, rsv1Bit, opText, hello)}
		}, StatusProtocolError, ErrProtocol},
		{"RSV1 on a continuation", &fullDeflate, func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(false, rsv1Bit, opText, hello[:3]), p.frame(true, rsv1Bit, opContinuation, hello[3:])}
		}, StatusProtocolError, ErrProtocol},
		{"RSV1 on a ping", &fullDeflate, func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(true, rsv1Bit, opPing, nil)}
		}, StatusProtocolError, ErrProtocol},
		{"RSV2 with deflate", &fullDeflate, func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(true, rsv2Bit, opText, []byte("x"))}
		}, StatusProtocolError, ErrProtocol},
		{"not DEFLATE data", &fullDeflate, func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(true, rsv1Bit, opBinary, []byte{0xff, 0xff, 0xff})}
		}, StatusProtocolError, ErrProtocol},
		{"invalid UTF-8 inside", &fullDeflate, func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(true, rsv1Bit, opText, deflateRaw(t, []byte("ok\xff")))}
		}, StatusInvalidFramePayloadData, ErrInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p := newPairDeflate(t, true, nil, tt.deflate)
			p.send(tt.frames(p)...)
			readErr := readAsync(c)
			p.expectClose(tt.code)
			p.answerClose(tt.code)
			if err := <-readErr; !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
		})
	}
}

// A deflate bomb: a few kilobytes that inflate to 64 MiB. The read limit
// applies to the inflated size and stops it early, without the memory.
func TestDeflateBomb(t *testing.T) {
	bomb := deflateRaw(t, make([]byte, 64<<20))
	t.Logf("bomb: %d bytes on the wire, 64 MiB inflated", len(bomb))
	const limit = 1 << 20
	c, p := newPairDeflate(t, true, &ConnOptions{ReadLimit: limit, CloseTimeout: 2e9}, &fullDeflate)
	go p.send(p.frame(true, rsv1Bit, opBinary, bomb))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	readErr := readAsync(c)
	p.expectClose(StatusMessageTooBig)
	p.answerClose(StatusMessageTooBig)
	err := <-readErr
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("err = %v, want ErrMessageTooBig", err)
	}
	// Read's buffer never grows past the limit (plus one byte to see it is
	// crossed); everything else is small.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4*limit {
		t.Errorf("reading allocated %d bytes for a %d-byte limit", grew, limit)
	}
}

// What a Conn sends compressed: RSV1 on the first frame only, the tail
// stripped, and small or opted-out messages left alone.
func TestWriteCompressed(t *testing.T) {
	cfg := fullDeflate
	cfg.threshold = 16
	c, p := newPairDeflate(t, true, &ConnOptions{WriteBufferSize: 1024}, &cfg)
	text := []byte(strings.Repeat("compressible text ", 500)) // 9000 bytes
	go func() {
		c.Write(bg, MessageText, text)
		c.Write(bg, MessageText, []byte("tiny"))
		c.WriteUncompressed(bg, MessageBinary, text)
	}()
	p.client = true // a client Conn's peer: expects unmasked frames

	h, payload := p.next()
	if h.rsv != rsv1Bit || h.opcode != opText {
		t.Fatalf("first frame: rsv %#x opcode %v", h.rsv, h.opcode)
	}
	wire := append([]byte(nil), payload...)
	for !h.fin {
		h, payload = p.next()
		if h.rsv != 0 || h.opcode != opContinuation {
			t.Fatalf("continuation: rsv %#x opcode %v", h.rsv, h.opcode)
		}
		wire = append(wire, payload...)
	}
	if got := inflateRaw(t, wire); !bytes.Equal(got, text) {
		t.Fatalf("inflated %d bytes, want the %d sent", len(got), len(text))
	}
	if len(wire) > len(text)/4 {
		t.Errorf("%d bytes compressed to %d", len(text), len(wire))
	}
	if h, payload := p.next(); h.rsv != 0 || string(payload) != "tiny" {
		t.Errorf("below the threshold: rsv %#x %q", h.rsv, payload)
	}
	if h, payload := p.next(); h.rsv != 0 || !bytes.Equal(payload, text) {
		t.Errorf("WriteUncompressed: rsv %#x, %d bytes", h.rsv, len(payload))
	}
}

// With context takeover the same message costs almost nothing the second
// time; without it, the same every time.
func TestWriteContextTakeover(t *testing.T) {
	msg := []byte(`{"user":"ada","text":"the same JSON message, sent twice over","room":"lobby"}`)
	for _, takeover := range []bool{true, false} {
		cfg := fullDeflate
		cfg.sendTakeover = takeover
		c, p := newPairDeflate(t, true, nil, &cfg)
		go func() {
			c.Write(bg, MessageText, msg)
			c.Write(bg, MessageText, msg)
		}()
		p.client = true
		_, first := p.next()
		_, second := p.next()
		if takeover && len(second) >= len(first)/2 {
			t.Errorf("takeover: %d then %d bytes, want the second much smaller", len(first), len(second))
		}
		if !takeover && len(second) != len(first) {
			t.Errorf("no takeover: %d then %d bytes, want the same", len(first), len(second))
		}
	}
}

// A connection keeps its compressor and its buffer of compressed bytes
// only while it sends often. Otherwise a context takeover connection keeps
// just the history: the messages sent with a compressor primed from it
// still refer back into the earlier ones, and the whole sequence decodes
// as one stream.
func TestIdleCompressorReleased(t *testing.T) {
	for _, takeover := range []bool{true, false} {
		t.Run(fmt.Sprintf("takeover=%v", takeover), func(t *testing.T) {
			testIdleCompressorReleased(t, takeover)
		})
	}
}

func testIdleCompressorReleased(t *testing.T, takeover bool) {
	msg := []byte(`{"user":"ada","text":"the same JSON message, sent after a pause","room":"lobby"}`)
	cfg := fullDeflate
	cfg.sendTakeover = takeover
	c, p := newPairDeflate(t, true, nil, &cfg)
	p.client = true
	d := c.deflate
	d.keepFor = time.Hour // every message below comes within the hour of the one before
	holds := func() bool {
		if !c.msgSem.tryAcquire() {
			return true // a message is being written
		}
		defer c.msgSem.release()
		return d.comp != nil || d.zbuf != nil
	}
	var stream bytes.Buffer
	fr := flate.NewReader(&stream)
	var sizes []int
	send := func() {
		t.Helper()
		errc := make(chan error, 1)
		go func() { errc <- c.Write(bg, MessageText, msg) }()
		_, payload := p.next()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(payload))
		stream.Write(payload)
		stream.Write(deflateTail[:])
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(fr, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("message %d inflated to %q, %v", len(sizes)-1, got, err)
		}
	}
	checkReleased := func(what string) {
		t.Helper()
		if holds() {
			t.Fatalf("%s: the compressor or its buffer was kept", what)
		}
		n := len(sizes) * len(msg)
		if !takeover {
			n = 0 // every message starts from nothing
		}
		if len(d.sendHistory) != n || !bytes.HasSuffix(bytes.Repeat(msg, len(sizes)), d.sendHistory) {
			t.Fatalf("%s: kept %d bytes of history, want %d", what, len(d.sendHistory), n)
		}
	}

	send()
	checkReleased("after the first message")
	send()
	if !holds() {
		t.Fatal("a message soon after another: neither the compressor nor its buffer was kept")
	}
	c.releaseIdleCompressor() // what the timer does after keepFor
	checkReleased("after keepFor")
	send()
	// The timer itself, sooner. If it fires while holds has the lock, it
	// puts itself off by keepFor, as it would for a message being
	// written: set it again. Looking only every millisecond leaves it the
	// lock most of the time.
	waitFor(t, "the timer to give back the compressor", func() bool {
		if holds() {
			d.idleTimer.Reset(time.Millisecond)
			time.Sleep(time.Millisecond)
			return false
		}
		return true
	})
	checkReleased("after the timer")
	send()
	for i, n := range sizes[1:] {
		if takeover && n >= sizes[0]/2 {
			t.Errorf("compressed sizes %v: message %d, primed from the history, is not much smaller than the first", sizes, i+1)
		}
		if !takeover && n != sizes[0] {
			t.Errorf("compressed sizes %v: message %d differs from the first without takeover", sizes, i+1)
		}
	}

	// Once the connection is closed there is no next message: the
	// history goes too, even if the compressor went back before.
	c.releaseIdleCompressor()
	c.CloseNow()
	c.releaseIdleCompressor()
	if d.sendHistory != nil || holds() {
		t.Errorf("closed connection: kept %d bytes of history, compressor or buffer kept: %v", len(d.sendHistory), holds())
	}
}

// Every combination of parameters, through Accept and Dial: both sides
// must agree, and every message must come back intact.
func TestDeflateRoundTrips(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	messages := [][]byte{
		nil,
		[]byte("a"),
		[]byte(strings.Repeat("κόσμε ", 3000)),
		[]byte(strings.Repeat(`{"id":1,"name":"x"},`, 4000)), // 80 KB: larger than a 32 KiB window
	}
	random := make([]byte, 100<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	messages = append(messages, random)

	type side struct{ server, client CompressionOptions }
	var cases []side
	for _, bits := range []int{8, 9, 12, 15} {
		cases = append(cases,
			side{CompressionOptions{ServerMaxWindowBits: bits}, CompressionOptions{}},
			side{CompressionOptions{}, CompressionOptions{ServerMaxWindowBits: bits, ClientMaxWindowBits: bits}},
		)
	}
	cases = append(cases,
		side{CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true}, CompressionOptions{}},
		side{CompressionOptions{}, CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true, Level: 9}},
		side{CompressionOptions{Threshold: 100}, CompressionOptions{Threshold: 100}},
	)
	for _, tt := range cases {
		name := fmt.Sprintf("server%+v/client%+v", tt.server, tt.client)
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := Accept(w, r, &AcceptOptions{Compression: &tt.server})
				if err != nil {
					return
				}
				defer c.CloseNow()
				if c.deflate == nil {
					t.Error("server: no compression agreed")
				}
				for i := 0; ; i++ {
					typ, r, err := c.Reader(context.Background())
					if err != nil {
						return
					}
					wr, _ := c.Writer(context.Background(), typ)
					io.Copy(wr, r)
					wr.Close()
				}
			}))
			defer srv.Close()
			c, resp, err := Dial(bg, wsURL(srv), &DialOptions{Compression: &tt.client})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			t.Logf("agreed: %s", resp.Header.Get("Sec-WebSocket-Extensions"))
			for round := 0; round < 2; round++ {
				for _, m := range messages {
					typ := MessageBinary
					if m != nil && m[0] != random[0] {
						typ = MessageText
					}
					if err := c.Write(bg, typ, m); err != nil {
						t.Fatal(err)
					}
					gotType, got, err := c.Read(bg)
					if err != nil || gotType != typ || !bytes.Equal(got, m) {
						t.Fatalf("round %d: echo of %d bytes = %d bytes %v, %v", round, len(m), len(got), gotType, err)
					}
				}
			}
			if err := c.Close(StatusNormalClosure, ""); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Compressed messages read and written in steady state allocate nothing
// more than uncompressed ones once the buffers are warm... except what
// compress/flate itself does; this pins that it stays small.
func BenchmarkDeflateWrite(b *testing.B) {
	json := []byte(strings.Repeat(`{"user":"ada","text":"hello there","room":"lobby","ts":1700000000},`, 16))[:1024]
	text := []byte(strings.Repeat("It was the best of times, it was the worst of times. ", 1300))[:64<<10]
	for _, takeover := range []bool{true, false} {
		for name, msg := range map[string][]byte{"json1KiB": json, "text64KiB": text} {
			b.Run(fmt.Sprintf("%s/takeover=%v", name, takeover), func(b *testing.B) {
				cfg := fullDeflate
				cfg.sendTakeover = takeover
				c := newConn(&replayTransport{data: []byte{0}}, true, nil, "", nil, &cfg)
				counter := &countingTransport{}
				c.t = counter
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if err := c.Write(bg, MessageText, msg); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(counter.n)/float64(b.N)/float64(len(msg)), "wire/payload")
			})
		}
	}
}

// countingTransport counts what is written and discards it.
type countingTransport struct {
	replayTransport
	n int64
}

func (c *countingTransport) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// A connection that has received little keeps a history of about that
// size, not a whole window: an idle compressed connection costs memory for
// what it was sent.
func TestInflaterHistorySmall(t *testing.T) {
	z := inflater{window: 32768}
	for i := 0; i < 3; i++ {
		z.remember(make([]byte, 1000))
	}
	if len(z.history) != 3000 || cap(z.history) > 4000 {
		t.Fatalf("after 3000 bytes: history len %d cap %d, want 3000 and at most 4000", len(z.history), cap(z.history))
	}
}

// The history a takeover connection keeps always ends with the last window
// bytes of output, however the output is cut, and never grows past the
// window and its slack.
func TestInflaterHistory(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, window := range []int{256, 4096, 32768} {
		z := inflater{window: window}
		var all []byte
		for i := 0; i < 2000; i++ {
			out := make([]byte, rng.IntN(3*window/2+1))
			for j := range out {
				out[j] = byte(rng.Uint32())
			}
			all = append(all, out...)
			z.remember(out)
			want := all[max(0, len(all)-window):]
			if !bytes.Equal(z.dict(), want) {
				t.Fatalf("window %d, step %d: history is not the last window of output", window, i)
			}
			if cap(z.history) > window+historySlack {
				t.Fatalf("window %d: history grew to %d", window, cap(z.history))
			}
		}
	}
}

// A DEFLATE stream that ends (with a final block) before the frame's
// payload does: the bytes after it are not read as frames of their own.
func TestCompressedDataEndsEarly(t *testing.T) {
	c, p := newPairDeflate(t, true, nil, &fullDeflate)
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestSpeed)
	fw.Write([]byte("Hello"))
	fw.Close() // ends with a final block
	payload := append(b.Bytes(), p.frame(true, 0, opText, []byte("smuggled"))...)
	go p.send(p.frame(true, rsv1Bit, opText, payload))
	typ, msg, err := c.Read(bg)
	if err == nil {
		t.Fatalf("read %v %q; want the connection failed", typ, msg)
	}
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("err = %v, want ErrProtocol", err)
	}
	p.expectClose(StatusProtocolError)
}
