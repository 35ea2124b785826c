package flatewin

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// checkingInflater decodes the output of Compressor (RFC 1951) and,
// unlike compress/flate, checks the promises permessage-deflate relies
// on: no distance exceeds the window and none reaches before the last
// reset, no block is final, every message ends with a sync flush, and
// every Huffman code is complete.
type checkingInflater struct {
	window  int
	out     []byte // everything decoded so far
	resetAt int    // index in out of the first byte after the last reset

	in    []byte
	bitAt int // next bit of in to read

	blockTypes [3]int // blocks seen, by BTYPE
}

func (f *checkingInflater) reset() { f.resetAt = len(f.out) }

func (f *checkingInflater) bits(n int) (int, error) {
	v := 0
	for i := range n {
		if f.bitAt >= 8*len(f.in) {
			return 0, io.ErrUnexpectedEOF
		}
		v |= int(f.in[f.bitAt/8]>>(f.bitAt%8)&1) << i
		f.bitAt++
	}
	return v, nil
}

// inflateMessage decodes one message's compressed bytes, sync flush
// included, and returns the message.
func (f *checkingInflater) inflateMessage(in []byte) ([]byte, error) {
	if !bytes.HasSuffix(in, []byte{0, 0, 0xff, 0xff}) {
		return nil, errors.New("no sync flush at the end")
	}
	f.in, f.bitAt = in, 0
	start := len(f.out)
	lastEmptyStored := false
	for f.bitAt < 8*len(in) {
		hdr, err := f.bits(3)
		if err != nil {
			return nil, err
		}
		if hdr&1 != 0 {
			return nil, errors.New("final block")
		}
		btype := hdr >> 1
		lastEmptyStored = false
		switch btype {
		case 0:
			f.bitAt = (f.bitAt + 7) &^ 7
			n, err1 := f.bits(16)
			nn, err2 := f.bits(16)
			if err := errors.Join(err1, err2); err != nil {
				return nil, err
			}
			if n != ^nn&0xffff {
				return nil, errors.New("stored block: NLEN is not the complement of LEN")
			}
			if f.bitAt/8+n > len(in) {
				return nil, io.ErrUnexpectedEOF
			}
			f.out = append(f.out, in[f.bitAt/8:f.bitAt/8+n]...)
			f.bitAt += 8 * n
			lastEmptyStored = n == 0
		case 1:
			var lens [maxLitCodes + maxDistCodes]uint8
			for s := range maxLitCodes {
				lens[s] = fixedLiteralCode.lens[s]
			}
			for s := range maxDistCodes {
				lens[maxLitCodes+s] = 5
			}
			lit, _ := newTestHuffman(lens[:maxLitCodes], false)
			dist, _ := newTestHuffman(lens[maxLitCodes:], false)
			if err := f.inflateBlock(lit, dist); err != nil {
				return nil, err
			}
		case 2:
			lit, dist, err := f.readDynamicHeader()
			if err != nil {
				return nil, err
			}
			if err := f.inflateBlock(lit, dist); err != nil {
				return nil, err
			}
		default:
			return nil, errors.New("reserved block type")
		}
		f.blockTypes[btype]++
	}
	if !lastEmptyStored {
		return nil, errors.New("message does not end with an empty stored block")
	}
	return f.out[start:], nil
}

var codeLengthOrder = [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// readDynamicHeader reads the code tables of a dynamic block (RFC 1951 §3.2.7).
func (f *checkingInflater) readDynamicHeader() (lit, dist *testHuffman, err error) {
	hlit, err1 := f.bits(5)
	hdist, err2 := f.bits(5)
	hclen, err3 := f.bits(4)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, nil, err
	}
	nlit, ndist := hlit+257, hdist+1
	if nlit > maxLitLenCodes || ndist > maxDistCodes {
		return nil, nil, fmt.Errorf("HLIT %d or HDIST %d out of range", nlit, ndist)
	}
	var clLens [19]uint8
	for i := range hclen + 4 {
		l, err := f.bits(3)
		if err != nil {
			return nil, nil, err
		}
		clLens[codeLengthOrder[i]] = uint8(l)
	}
	cl, err := newTestHuffman(clLens[:], true)
	if err != nil {
		return nil, nil, fmt.Errorf("code length code: %w", err)
	}
	lens := make([]uint8, 0, nlit+ndist)
	for len(lens) < nlit+ndist {
		sym, err := f.decode(cl)
		if err != nil {
			return nil, nil, err
		}
		var rep, n int
		var l uint8
		switch {
		case sym < 16:
			lens = append(lens, uint8(sym))
			continue
		case sym == 16:
			if len(lens) == 0 {
				return nil, nil, errors.New("repeat with no previous length")
			}
			l, rep, n = lens[len(lens)-1], 3, 2
		case sym == 17:
			rep, n = 3, 3
		default:
			rep, n = 11, 7
		}
		x, err := f.bits(n)
		if err != nil {
			return nil, nil, err
		}
		if len(lens)+rep+x > nlit+ndist {
			return nil, nil, errors.New("code lengths overflow")
		}
		for range rep + x {
			lens = append(lens, l)
		}
	}
	if lens[endOfBlock] == 0 {
		return nil, nil, errors.New("no end-of-block code")
	}
	if lit, err = newTestHuffman(lens[:nlit], true); err != nil {
		return nil, nil, fmt.Errorf("literal/length code: %w", err)
	}
	if dist, err = newTestHuffman(lens[nlit:], true); err != nil {
		return nil, nil, fmt.Errorf("distance code: %w", err)
	}
	return lit, dist, nil
}

func (f *checkingInflater) inflateBlock(lit, dist *testHuffman) error {
	for {
		sym, err := f.decode(lit)
		if err != nil {
			return err
		}
		switch {
		case sym < 256:
			f.out = append(f.out, byte(sym))
			continue
		case sym == endOfBlock:
			return nil
		case sym > 285:
			return fmt.Errorf("length symbol %d", sym)
		}
		c := sym - 257
		x, err := f.bits(int(lengthExtraBits[c]))
		if err != nil {
			return err
		}
		length := int(lengthBase[c]) + x
		dc, err := f.decode(dist)
		if err != nil {
			return err
		}
		if dc >= maxDistCodes {
			return fmt.Errorf("distance symbol %d", dc)
		}
		x, err = f.bits(int(distanceExtraBits[dc]))
		if err != nil {
			return err
		}
		d := int(distanceBase[dc]) + x
		if d > f.window {
			return fmt.Errorf("distance %d beyond the window of %d", d, f.window)
		}
		if len(f.out)-d < f.resetAt {
			return fmt.Errorf("distance %d reaches %d bytes before the last reset", d, f.resetAt-(len(f.out)-d))
		}
		for range length {
			f.out = append(f.out, f.out[len(f.out)-d])
		}
	}
}

// testHuffman decodes a canonical Huffman code the way zlib's puff.c
// does: count[l] codes have length l, and symbols lists them in code order.
type testHuffman struct {
	count   [16]int
	symbols []int
}

// newTestHuffman builds a decoder for the code lengths lens. With
// complete set, it rejects codes that leave bit patterns unused, as
// zlib and compress/flate do.
func newTestHuffman(lens []uint8, complete bool) (*testHuffman, error) {
	h := &testHuffman{}
	for _, l := range lens {
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	for l := 1; l < 16; l++ {
		left = left<<1 - h.count[l]
		if left < 0 {
			return nil, errors.New("over-subscribed code")
		}
	}
	if complete && left != 0 {
		return nil, fmt.Errorf("incomplete code %v", lens)
	}
	for l := 1; l < 16; l++ {
		for s, sl := range lens {
			if int(sl) == l {
				h.symbols = append(h.symbols, s)
			}
		}
	}
	return h, nil
}

func (f *checkingInflater) decode(h *testHuffman) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		b, err := f.bits(1)
		if err != nil {
			return 0, err
		}
		code |= b
		count := h.count[l]
		if code-count < first {
			return h.symbols[index+code-first], nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, errors.New("invalid Huffman code")
}

// between says what happens to the compressor between two messages.
type between int

const (
	keep     between = iota // nothing: context takeover
	reset                   // Reset: no context takeover
	handOver                // History into another compressor's ResetDict: takeover, as a connection does it
)

// checkCompressor compresses msgs in order, doing what between says
// between messages, and checks each message's output with
// checkingInflater and with compress/flate: one reader for the whole
// stream with context takeover, a fresh reader per message otherwise.
func checkCompressor(t testing.TB, windowBits, level int, msgs [][]byte, between between) (compressed int, inflater *checkingInflater) {
	t.Helper()
	d := NewCompressor(windowBits, level)
	// The compressor handed over to has compressed other data before,
	// as one from a pool has.
	spare := NewCompressor(windowBits, level)
	spare.Compress(nil, testText(3*(1<<windowBits)/2, 99))
	check := &checkingInflater{window: 1 << windowBits}
	var stream bytes.Buffer
	fr := flate.NewReader(&stream)
	var out []byte
	for i, msg := range msgs {
		if i > 0 {
			switch between {
			case reset:
				d.Reset()
				check.reset()
			case handOver:
				history := bytes.Clone(d.History())
				spare.ResetDict(history)
				d, spare = spare, d
			}
		}
		out = d.Compress(out[:0], msg)
		compressed += len(out)
		got, err := check.inflateMessage(out)
		if err != nil {
			t.Fatalf("windowBits %d level %d message %d (%d bytes): %v", windowBits, level, i, len(msg), err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("windowBits %d level %d message %d: decoded %d bytes differ from the %d sent", windowBits, level, i, len(got), len(msg))
		}
		if between == reset {
			stream.Reset()
			fr.(flate.Resetter).Reset(&stream, nil)
		}
		stream.Write(out)
		got = make([]byte, len(msg))
		if _, err := io.ReadFull(fr, got); err != nil {
			t.Fatalf("windowBits %d level %d message %d: compress/flate: %v", windowBits, level, i, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("windowBits %d level %d message %d: compress/flate decoded other bytes", windowBits, level, i)
		}
	}
	return compressed, check
}

// testText returns n bytes of English-like prose: words drawn with a Zipf
// distribution from a vocabulary, like the word frequencies of real text.
func testText(n int, seed uint64) []byte {
	const prose = `The WebSocket Protocol enables two-way communication between a client
running untrusted code in a controlled environment to a remote host that has
opted-in to communications from that code. The security model used for this
is the origin-based security model commonly used by web browsers. The
protocol consists of an opening handshake followed by basic message framing,
layered over TCP. The goal of this technology is to provide a mechanism for
browser-based applications that need two-way communication with servers that
does not rely on opening multiple HTTP connections. This document defines a
framework for creating WebSocket extensions and a compression extension that
compresses the payload data portion of messages using the DEFLATE algorithm
with a sliding window whose size the client and the server agree on.`
	words := strings.Fields(prose)
	rng := rand.New(rand.NewPCG(seed, 7))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(seed, 8)), 1.1, 2, uint64(len(words)-1))
	var b bytes.Buffer
	for line := 0; b.Len() < n; {
		b.WriteString(words[zipf.Uint64()])
		switch r := rng.IntN(20); {
		case r == 0:
			b.WriteString(".\n")
			line = 0
		case r == 1:
			b.WriteString(", ")
		case line > 70:
			b.WriteByte('\n')
			line = 0
		default:
			b.WriteByte(' ')
			line += 8
		}
	}
	return b.Bytes()[:n]
}

// testJSON returns a JSON array of records like those chat or trading
// applications send, of about n bytes.
func testJSON(n int, seed uint64) []byte {
	type record struct {
		ID     int      `json:"id"`
		User   string   `json:"user"`
		Event  string   `json:"event"`
		Price  float64  `json:"price"`
		Active bool     `json:"active"`
		Tags   []string `json:"tags"`
	}
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	events := []string{"order.created", "order.filled", "quote.update", "heartbeat"}
	tags := []string{"eu", "us", "vip", "beta", "mobile", "web"}
	rng := rand.New(rand.NewPCG(seed, 9))
	var recs []record
	for size := 2; size < n; {
		r := record{
			ID:     rng.IntN(1_000_000),
			User:   users[rng.IntN(len(users))],
			Event:  events[rng.IntN(len(events))],
			Price:  float64(rng.IntN(100_000)) / 100,
			Active: rng.IntN(2) == 0,
			Tags:   []string{tags[rng.IntN(len(tags))], tags[rng.IntN(len(tags))]},
		}
		b, _ := json.Marshal(r)
		size += len(b) + 1
		recs = append(recs, r)
	}
	b, _ := json.Marshal(recs)
	return b
}

func testRandom(n int, seed uint64) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(seed, 10))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// testMessages is a sequence exercising the boundaries of the compressor:
// empty and tiny messages, the buffer filling and sliding mid-message,
// incompressible data, long runs, and many small messages in a row. With
// huge, it ends with a 1 MiB message of text, random bytes, JSON and runs.
func testMessages(huge bool) [][]byte {
	msgs := [][]byte{
		{},
		{'a'},
		[]byte("ab"),
		bytes.Repeat([]byte("abc"), 1000),
		testText(20_000, 1),
		testJSON(1024, 2),
		testRandom(10_000, 3),
		bytes.Repeat([]byte{0}, 70_000),
		{},
		testText(100*1024, 4),
	}
	for i := range 40 {
		msgs = append(msgs, testJSON(100+i*17, uint64(i)))
	}
	if huge {
		mixed := append(testText(400_000, 5), testRandom(200_000, 6)...)
		mixed = append(mixed, testJSON(400_000, 7)...)
		mixed = append(mixed, bytes.Repeat([]byte("0123456789"), (1<<20-len(mixed))/10)...)
		msgs = append(msgs, mixed)
	}
	return msgs
}

// TestCompressorRoundTrip runs testMessages through every window
// size, with context takeover and with a reset before each message. The
// 1 MiB message is left out of the runs with resets, where it would only
// repeat the work of the runs without: reset changes message boundaries,
// not the inside of a message.
func TestCompressorRoundTrip(t *testing.T) {
	for wb := 8; wb <= 15; wb++ {
		for _, between := range []between{keep, reset, handOver} {
			t.Run(fmt.Sprintf("windowBits=%d/between=%d", wb, between), func(t *testing.T) {
				t.Parallel()
				checkCompressor(t, wb, -1, testMessages(between != reset), between)
			})
		}
	}
}

func TestCompressorLevels(t *testing.T) {
	msgs := [][]byte{testText(20_000, 11), testJSON(10_000, 12), testRandom(3000, 13), testText(20_000, 11)}
	for _, wb := range []int{8, 12, 15} {
		for level := 1; level <= 9; level++ {
			t.Run(fmt.Sprintf("windowBits=%d/level=%d", wb, level), func(t *testing.T) {
				t.Parallel()
				checkCompressor(t, wb, level, msgs, keep)
			})
		}
	}
}

// TestCompressorFarthestMatch checks that a match exactly 1<<windowBits
// back is used, and one byte further is not.
func TestCompressorFarthestMatch(t *testing.T) {
	for wb := 8; wb <= 15; wb++ {
		w := 1 << wb
		block := testRandom(w, uint64(wb))
		for _, gap := range []int{0, 1} {
			// The repeated block starts w (then w+1) bytes after the
			// original, a distance just within (then beyond) reach.
			msg := append(append(append([]byte{}, block...), make([]byte, gap)...), block...)
			n, _ := checkCompressor(t, wb, 9, [][]byte{msg}, keep)
			if within := n < w+w/2; within != (gap == 0) {
				t.Errorf("windowBits %d, repeat %d bytes back: %d compressed bytes for %d", wb, w+gap, n, len(msg))
			}
		}
	}
}

func TestCompressorRatio(t *testing.T) {
	sentence := []byte("The quick brown fox jumps over the lazy dog while the WebSocket connection stays open. ")
	repetitive := bytes.Repeat(sentence, 64*1024/len(sentence))
	text := testText(64*1024, 21)
	for wb := 8; wb <= 15; wb++ {
		n, _ := checkCompressor(t, wb, -1, [][]byte{repetitive}, keep)
		if n*50 > len(repetitive) {
			t.Errorf("windowBits %d: repetitive text %d -> %d bytes, want at least 50:1", wb, len(repetitive), n)
		}
		n, _ = checkCompressor(t, wb, -1, [][]byte{text}, keep)
		if n*2 > len(text) {
			t.Errorf("windowBits %d: text %d -> %d bytes, want at least 2:1", wb, len(text), n)
		}
	}
}

// TestCompressorContextTakeover checks that a message repeated with
// context takeover compresses to a few bytes once it fits in the window,
// and that reset forgets it.
func TestCompressorContextTakeover(t *testing.T) {
	msg := testJSON(900, 31)
	for wb := 10; wb <= 15; wb++ {
		d := NewCompressor(wb, -1)
		first := len(d.Compress(nil, msg))
		second := len(d.Compress(nil, msg))
		if h := d.History(); !bytes.Equal(h, bytes.Repeat(msg, 2)[2*len(msg)-len(h):]) || len(h) != min(2*len(msg), 1<<wb) {
			t.Errorf("windowBits %d: History is %d bytes, not the last %d compressed", wb, len(h), min(2*len(msg), 1<<wb))
		}
		other := NewCompressor(wb, -1)
		other.Compress(nil, testText(5000, 3))
		other.ResetDict(bytes.Clone(d.History()))
		if handed := len(other.Compress(nil, msg)); handed*10 > first {
			t.Errorf("windowBits %d: repeated message handed over %d bytes, first time %d, want a tenth", wb, handed, first)
		}
		d.Reset()
		third := len(d.Compress(nil, msg))
		if second*10 > first {
			t.Errorf("windowBits %d: repeated message %d then %d bytes, want a tenth", wb, first, second)
		}
		if third != first {
			t.Errorf("windowBits %d: after reset %d bytes, first time %d", wb, third, first)
		}
	}
}

func TestCompressorEmptyMessage(t *testing.T) {
	// RFC 7692 §7.2.3.6: an empty message compresses to a single 0x00
	// once the trailing 00 00 ff ff is removed.
	d := NewCompressor(15, -1)
	for range 2 {
		if got, want := d.Compress(nil, nil), []byte{0, 0, 0, 0xff, 0xff}; !bytes.Equal(got, want) {
			t.Fatalf("empty message: % x, want % x", got, want)
		}
	}
}

// TestCompressorRFC7692Example compresses "Hello" as in the example
// of RFC 7692 §7.2.3.1, with fixed codes. The second time, with context
// takeover, the whole message is one match, where the zlib output of
// §7.2.3.2 spends a literal on the H.
func TestCompressorRFC7692Example(t *testing.T) {
	d := NewCompressor(15, -1)
	hello := []byte("Hello")
	if got, want := d.Compress(nil, hello), []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff}; !bytes.Equal(got, want) {
		t.Errorf("first Hello: % x, want % x", got, want)
	}
	if got, want := d.Compress(nil, hello), []byte{0x02, 0x13, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff}; !bytes.Equal(got, want) {
		t.Errorf("second Hello: % x, want % x", got, want)
	}
}

func TestCompressorAllocs(t *testing.T) {
	msg := testJSON(1024, 41)
	d := NewCompressor(15, -1)
	dst := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { dst = d.Compress(dst[:0], msg) }); n != 0 {
		t.Errorf("compressMessage allocates %v times per message", n)
	}
}

func FuzzCompressor(f *testing.F) {
	f.Add([]byte("hello hello hello hello"), uint8(0), uint8(6), uint16(5), uint8(keep))
	f.Add(bytes.Repeat([]byte("abcabcabd"), 100), uint8(1), uint8(9), uint16(0), uint8(reset))
	f.Add(testText(3000, 51), uint8(7), uint8(1), uint16(700), uint8(handOver))
	f.Add(testRandom(600, 52), uint8(3), uint8(4), uint16(300), uint8(reset))
	f.Fuzz(func(t *testing.T, data []byte, wb, level uint8, split uint16, mode uint8) {
		// Cut data into messages of split bytes (one message if 0), with
		// an empty message after each so that sync flushes meet. At most
		// 32 messages keep each run fast, which the fuzzer's minimization
		// of long inputs needs.
		var msgs [][]byte
		size := max(int(split), (len(data)+31)/32)
		for len(data) > 0 {
			n := len(data)
			if split > 0 {
				n = min(n, size)
			}
			msgs = append(msgs, data[:n], nil)
			data = data[n:]
		}
		checkCompressor(t, 8+int(wb%8), 1+int(level%9), msgs, between(mode%3))
	})
}

// TestCompressorBlockTypes checks that each kind of data gets the
// block type that suits it: dynamic codes for text, stored bytes for
// random data, and fixed codes for a message too short to pay for a code
// table.
func TestCompressorBlockTypes(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  []byte
		want int // BTYPE
	}{
		{"text", testText(30_000, 61), 2},
		{"JSON", testJSON(1024, 62), 2},
		{"random", testRandom(30_000, 63), 0},
		{"short", []byte("a short message"), 1},
	} {
		_, check := checkCompressor(t, 15, -1, [][]byte{tc.msg}, keep)
		// One stored block is the sync flush.
		got := check.blockTypes
		got[0]--
		for btype, n := range got {
			if (btype == tc.want) != (n > 0) {
				t.Errorf("%s: blocks by type %v, want only type %d", tc.name, got, tc.want)
				break
			}
		}
	}
}

// benchmarkInput is a kind of message for the benchmarks, which cycle
// through different messages of the kind, more than the window holds, so
// that context takeover finds what consecutive messages share rather than
// a copy of the same message.
type benchmarkInput struct {
	name string
	msgs [][]byte
}

// benchmarkInputs are 64 1 KiB JSON messages, typical of an application
// protocol, and 4 times 64 KiB of text.
var benchmarkInputs = func() []benchmarkInput {
	json := benchmarkInput{name: "JSON-1KiB"}
	text := benchmarkInput{name: "text-64KiB"}
	for i := range uint64(64) {
		json.msgs = append(json.msgs, testJSON(1024, 100+i)[:1024])
	}
	for i := range uint64(4) {
		text.msgs = append(text.msgs, testText(64*1024, 200+i))
	}
	return []benchmarkInput{json, text}
}()

// BenchmarkCompressor compresses one message per iteration with
// context takeover; ratio is input size over output size, the sync flush's
// 00 00 ff ff excluded as permessage-deflate does not send it.
func BenchmarkCompressor(b *testing.B) {
	for _, in := range benchmarkInputs {
		for _, wb := range []int{15, 9} {
			for _, level := range []int{1, 6} {
				b.Run(fmt.Sprintf("%s/windowBits=%d/level=%d", in.name, wb, level), func(b *testing.B) {
					d := NewCompressor(wb, level)
					var out []byte
					sent := 0
					b.SetBytes(int64(len(in.msgs[0])))
					b.ReportAllocs()
					for i := range b.N {
						out = d.Compress(out[:0], in.msgs[i%len(in.msgs)])
						sent += len(out) - 4
					}
					b.ReportMetric(float64(len(in.msgs[0])*b.N)/float64(sent), "ratio")
				})
			}
		}
	}
}

// BenchmarkCompressorFlate does what BenchmarkCompressor does
// with compress/flate at BestSpeed, whose window is always 32 KiB.
func BenchmarkCompressorFlate(b *testing.B) {
	for _, in := range benchmarkInputs {
		b.Run(in.name, func(b *testing.B) {
			var out bytes.Buffer
			fw, _ := flate.NewWriter(&out, flate.BestSpeed)
			sent := 0
			b.SetBytes(int64(len(in.msgs[0])))
			b.ReportAllocs()
			for i := range b.N {
				out.Reset()
				fw.Write(in.msgs[i%len(in.msgs)])
				fw.Flush()
				sent += out.Len() - 4
			}
			b.ReportMetric(float64(len(in.msgs[0])*b.N)/float64(sent), "ratio")
		})
	}
}
