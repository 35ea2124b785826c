// Package flatewin is a DEFLATE compressor (RFC 1951) whose LZ77 window
// can be smaller than 32 KiB, written for permessage-deflate.
//
// RFC 7692 §7.1.2 lets the peers agree on server_max_window_bits and
// client_max_window_bits between 8 and 15, and the sender then must not
// refer further back than 1<<N bytes. compress/flate always searches a
// 32 KiB window, so it can only be used for N = 15, and at its fastest
// level it forgets its history at each flush for inputs under 128 bytes,
// which undoes context takeover for the small messages that gain most from
// it. Compressor serves every N and keeps its history across messages.
//
// It is a general DEFLATE encoder: nothing in it is WebSocket protocol.
// Its tests check every output with a decoder of their own, which also
// enforces the window, and with compress/flate.
package flatewin

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"
)

const (
	minMatch = 3   // shortest match DEFLATE can encode (RFC 1951 §3.2.5)
	maxMatch = 258 // longest match DEFLATE can encode (RFC 1951 §3.2.5)

	// minLookahead is the least room kept after the window in the buffer,
	// so that a long message is consumed in steps of at least this many
	// bytes even when the window is tiny.
	minLookahead = 4096

	// maxBlockTokens bounds the literals and matches of one block. A block
	// carries its own Huffman codes, so smaller blocks adapt faster to
	// changing data and larger ones spend fewer bits on code tables.
	maxBlockTokens = 1 << 13

	maxStoredLen = 65535 // a stored block's LEN is 16 bits (RFC 1951 §3.2.4)

	endOfBlock = 256 // literal/length symbol that ends a block (RFC 1951 §3.2.5)
)

// matchParams tunes the LZ77 search; levelParams maps the levels 1..9 of
// compress/flate to values taken from zlib's configuration_table.
type matchParams struct {
	maxChain int // candidates examined per position
	niceLen  int // a match this long ends the search
	lazyLen  int // look one byte ahead only while the match is shorter than this; 0 is greedy
	goodLen  int // the look-ahead examines a quarter of maxChain after a match this long
	// maxInsert, for the greedy levels, is the longest match whose inner
	// positions still go into the hash chains; past it they are skipped,
	// which is most of the time saved on repetitive data (zlib's
	// max_insert_length). 0 inserts every position.
	maxInsert int
}

var levelParams = [...]matchParams{
	{maxChain: 4, niceLen: 8, maxInsert: 4},                   // 1
	{maxChain: 8, niceLen: 16, maxInsert: 5},                  // 2
	{maxChain: 32, niceLen: 32, maxInsert: 6},                 // 3
	{maxChain: 16, niceLen: 16, lazyLen: 4, goodLen: 4},       // 4
	{maxChain: 32, niceLen: 32, lazyLen: 16, goodLen: 8},      // 5
	{maxChain: 128, niceLen: 128, lazyLen: 16, goodLen: 8},    // 6
	{maxChain: 256, niceLen: 128, lazyLen: 32, goodLen: 8},    // 7
	{maxChain: 1024, niceLen: 258, lazyLen: 128, goodLen: 32}, // 8
	{maxChain: 4096, niceLen: 258, lazyLen: 258, goodLen: 32}, // 9
}

// lzToken is one step of the LZ77 parse: a literal byte (dist == 0, litLen
// is the byte) or a match of litLen bytes, dist bytes back.
type lzToken struct {
	litLen uint16
	dist   uint16
}

// Compressor writes a raw DEFLATE stream (RFC 1951) whose
// back-references never reach further than 1<<windowBits bytes, one
// message at a time, as permessage-deflate needs (RFC 7692 §7.2.1).
//
// The history carries over from one message to the next (context takeover,
// RFC 7692 §7.1.1) until Reset is called.
//
// Memory: with W = 1<<windowBits and L = max(W, 4096), a compressor holds
// W+L bytes of input buffer (the history and the input being compressed),
// 4·min(2W, 32768) bytes of hash heads, 2W bytes of hash chains,
// 4·min(L, 8192) bytes of tokens and about 11 KiB of Huffman tables and
// scratch space. Measured with Go 1.26 on amd64, size classes included:
//
//	windowBits  8:  35 KiB      windowBits 12:  75 KiB
//	windowBits  9:  42 KiB      windowBits 13: 139 KiB
//	windowBits 10:  43 KiB      windowBits 14: 235 KiB
//	windowBits 11:  53 KiB      windowBits 15: 299 KiB
//
// All of it is allocated by NewCompressor; Compress allocates
// only when dst lacks capacity.
type Compressor struct {
	matchParams
	window int // 1 << windowBits: the furthest a match may reach back

	// buf holds the last window bytes already compressed (the history)
	// followed by input not yet compressed. Positions below are indexes
	// into buf.
	buf        []byte
	end        int // buf[:end] holds data
	pos        int // next byte to compress
	low        int // no match may start before low: the position of the last reset
	blockStart int // first byte of the block being gathered in tokens

	// Hash chains over the 3-byte prefix at each position: head[h] is the
	// latest position with hash h (-1 for none) and prev holds, for a
	// position p, the distance back to the previous position with the same
	// hash (0 for none). prev is a ring of window entries indexed by the
	// position in the whole stream, (p+ringOffset) mod window, so that it
	// survives sliding buf; a distance larger than the window is never
	// needed.
	head       []int32
	prev       []uint16
	ringOffset int // bytes slid out of buf so far, mod window
	hashShift  uint
	hashed     int // positions below hashed have been inserted into the chains

	// Lazy matching looks one position ahead; the search done there is kept
	// for when the parse moves to that position.
	nextPos, nextLen, nextDist int

	tokens  []lzToken
	litFreq [maxLitCodes]uint32
	dstFreq [maxDistCodes]uint32

	// The codes of the current dynamic block and the run-length encoded
	// code lengths that describe them in its header (RFC 1951 §3.2.7).
	litCode, distCode, lenCode huffmanCode
	lenFreq                    [numLenCodes]uint32
	codeLens                   []lengthSymbol
	numLit, numDist, numLen    int
	huff                       huffmanBuilder

	bw bitWriter
}

// NewCompressor returns a compressor whose matches reach back at most
// 1<<windowBits bytes. windowBits must be within 8..15 and level within
// 1..9 (flate.BestSpeed to flate.BestCompression) or -1 for the default, 6.
func NewCompressor(windowBits, level int) *Compressor {
	if windowBits < 8 || windowBits > 15 {
		panic("flatewin: DEFLATE window bits out of range 8..15")
	}
	if level == -1 {
		level = 6
	}
	if level < 1 || level > 9 {
		panic("flatewin: DEFLATE level out of range 1..9")
	}
	window := 1 << windowBits
	lookahead := max(window, minLookahead)
	hashBits := min(windowBits+1, 15)
	d := &Compressor{
		matchParams: levelParams[level-1],
		window:      window,
		buf:         make([]byte, window+lookahead),
		head:        make([]int32, 1<<hashBits),
		prev:        make([]uint16, window),
		hashShift:   uint(32 - hashBits),
		tokens:      make([]lzToken, 0, min(lookahead, maxBlockTokens)),
		codeLens:    make([]lengthSymbol, 0, maxLitLenCodes+maxDistCodes),
		nextPos:     -1,
	}
	for i := range d.head {
		d.head[i] = -1
	}
	return d
}

// Reset forgets the history: the next message is compressed as if it were
// the first (no context takeover, RFC 7692 §7.1.1). It costs O(1): instead
// of clearing the hash chains it raises the lowest position a match may
// start at.
func (d *Compressor) Reset() {
	d.low = d.end
	d.hashed = d.end
}

// History returns the bytes the next message's matches may refer back
// to: the last window bytes compressed since the last reset. The slice is
// the compressor's own, valid until its next call.
func (d *Compressor) History() []byte {
	return d.buf[max(d.low, d.end-d.window):d.end]
}

// ResetDict forgets the history, as Reset does, and takes dict as the new
// one: the next message is compressed as if the last len(dict) bytes
// compressed had been dict (of which only the last window bytes count).
//
// With History, it lets a connection keep only its history between
// messages and borrow a compressor for each one, as gws does: the price is
// hashing the history again, at the start of the next message.
func (d *Compressor) ResetDict(dict []byte) {
	dict = dict[max(0, len(dict)-d.window):]
	if d.end+len(dict) > len(d.buf) {
		d.clear()
	}
	copy(d.buf[d.end:], dict)
	// The bytes already in buf, and the chains through them, are below
	// low, where no match may start; the dictionary's positions are
	// hashed by the next search, as hashed is where they begin.
	d.low = d.end
	d.hashed = d.end
	d.end += len(dict)
	d.pos = d.end
	d.blockStart = d.end
	d.nextPos = -1
}

// clear empties buf, and the hash heads, which point into it.
func (d *Compressor) clear() {
	d.end, d.pos, d.low, d.hashed, d.blockStart = 0, 0, 0, 0, 0
	d.nextPos = -1
	for i := range d.head {
		d.head[i] = -1
	}
}

// Compress appends to dst the DEFLATE blocks for msg, ending with a
// sync flush: an empty stored block whose last four bytes are
// 00 00 ff ff, which permessage-deflate removes before framing
// (RFC 7692 §7.2.1). No block is final (BFINAL=0), so the outputs of
// consecutive calls form one DEFLATE stream.
func (d *Compressor) Compress(dst, msg []byte) []byte {
	d.bw.out = dst
	for {
		n := copy(d.buf[d.end:], msg)
		d.end += n
		msg = msg[n:]
		if len(msg) == 0 {
			break
		}
		// buf is full and more input waits: compress while a match of
		// maxMatch bytes still fits, then make room.
		d.parse(d.end - maxMatch)
		d.writeBlock()
		d.slide()
	}
	d.parse(d.end)
	d.writeBlock()

	// The sync flush. The empty stored block also brings the stream to
	// a byte boundary, so the next message starts on a fresh byte.
	d.bw.writeBits(0, 3) // BFINAL=0, BTYPE=00
	d.bw.alignToByte()
	dst = append(d.bw.out, 0x00, 0x00, 0xff, 0xff) // LEN=0, NLEN=^LEN
	d.bw.out = nil
	return dst
}

// slide moves the last window bytes before pos to the start of buf,
// dropping older bytes no match can reach any more. The block being
// gathered must have been written, as its bytes may be dropped.
func (d *Compressor) slide() {
	// After a long match the chains may lag behind pos by up to maxMatch
	// positions, some of which would be dropped before being inserted.
	d.insertUpTo(d.pos)
	s := d.pos - d.window
	copy(d.buf, d.buf[s:d.end])
	d.end -= s
	d.pos -= s
	d.blockStart -= s
	d.hashed -= s
	d.nextPos -= s
	d.low = max(d.low-s, 0)
	d.ringOffset = (d.ringOffset + s) & (d.window - 1)
	for i, p := range d.head {
		if int(p) >= s {
			d.head[i] = p - int32(s)
		} else {
			d.head[i] = -1
		}
	}
}

// parse chooses literals and matches for the bytes from pos up to limit,
// writing a block whenever the token buffer fills up. A match may run
// past limit, up to end.
func (d *Compressor) parse(limit int) {
	for d.pos < limit {
		if len(d.tokens) == cap(d.tokens) {
			d.writeBlock()
		}
		length, dist := d.matchAt(d.pos, 0)
		if length >= minMatch && length < d.lazyLen && d.pos+1 < d.end {
			// Lazy evaluation (RFC 1951 §4): if the next position starts
			// a longer match, a literal here and that match are cheaper.
			if next, _ := d.matchAt(d.pos+1, length); next > length {
				length = 0
			}
		}
		if length < minMatch {
			d.tokens = append(d.tokens, lzToken{litLen: uint16(d.buf[d.pos])})
			d.pos++
			continue
		}
		d.tokens = append(d.tokens, lzToken{litLen: uint16(length), dist: uint16(dist)})
		if d.maxInsert > 0 && length > d.maxInsert {
			// The match's first position goes in, the rest are skipped:
			// later matches are found from its start or after its end.
			d.insertUpTo(d.pos + 1)
			d.hashed = max(d.hashed, d.pos+length)
		}
		d.pos += length
	}
}

// matchAt returns the longest match for position p longer than atLeast
// (length 0 if there is none), reusing the search of the lazy look-ahead
// when it was done for p. That search is only reused when it found a
// longer match than the one at the previous position: otherwise the parse
// takes that match and skips p.
func (d *Compressor) matchAt(p, atLeast int) (length, dist int) {
	if p == d.nextPos {
		return d.nextLen, d.nextDist
	}
	d.insertUpTo(p)
	chain := d.maxChain
	if atLeast >= d.goodLen {
		// Already good: a short search for a better one (zlib's good_length).
		chain /= 4
	}
	length, dist = d.longestMatch(p, max(atLeast, minMatch-1), chain)
	d.nextPos, d.nextLen, d.nextDist = p, length, dist
	return length, dist
}

func (d *Compressor) hash(p int) uint32 {
	b := d.buf[p : p+minMatch]
	return (uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])) * 0x9e3779b1 >> d.hashShift
}

// insertUpTo adds every position before p to the hash chains. The last two
// bytes of the data cannot be hashed until more data arrives, so they are
// inserted by the next call that has it.
func (d *Compressor) insertUpTo(p int) {
	for ; d.hashed < p && d.hashed+minMatch <= d.end; d.hashed++ {
		q := d.hashed
		h := d.hash(q)
		delta := q - int(d.head[h])
		if d.head[h] < 0 || delta > d.window {
			delta = 0 // ends the chain: nothing older is in reach
		}
		d.prev[(q+d.ringOffset)&(d.window-1)] = uint16(delta)
		d.head[h] = int32(q)
	}
}

// longestMatch walks at most chain links of the hash chain of position p,
// which must not have been inserted yet, and returns the longest earlier
// match within the window and after the last reset, if it is longer than
// best.
func (d *Compressor) longestMatch(p, best, chain int) (length, dist int) {
	maxLen := min(maxMatch, d.end-p)
	if maxLen <= best {
		return 0, 0
	}
	nice := min(d.niceLen, maxLen) // no match can be longer than maxLen
	oldest := max(p-d.window, d.low)
	cur := d.buf[p : p+maxLen]
	cand := int(d.head[d.hash(p)])
	for ; cand >= oldest && chain > 0; chain-- {
		// Comparing the byte that would make the match longer than the
		// best so far rejects most candidates at once.
		if c := d.buf[cand : cand+maxLen]; c[best] == cur[best] {
			if n := commonPrefixLen(c, cur); n > best {
				best, dist = n, p-cand
				if n >= nice {
					break
				}
			}
		}
		delta := int(d.prev[(cand+d.ringOffset)&(d.window-1)])
		if delta == 0 {
			break
		}
		cand -= delta
	}
	if dist == 0 {
		return 0, 0
	}
	return best, dist
}

// commonPrefixLen returns how many leading bytes a and b, of equal length,
// share, comparing eight at a time.
func commonPrefixLen(a, b []byte) int {
	n := 0
	for ; n+8 <= len(a); n += 8 {
		if x := binary.LittleEndian.Uint64(a[n:]) ^ binary.LittleEndian.Uint64(b[n:]); x != 0 {
			return n + bits.TrailingZeros64(x)/8
		}
	}
	for n < len(a) && a[n] == b[n] {
		n++
	}
	return n
}

// writeBlock encodes the tokens gathered since blockStart as whichever
// block type is smallest: dynamic codes fitted to the block, the fixed
// codes, which need no table, or stored bytes for incompressible data.
func (d *Compressor) writeBlock() {
	raw := d.buf[d.blockStart:d.pos]
	d.blockStart = d.pos
	if len(raw) == 0 {
		return
	}
	d.countFrequencies()
	extra := d.extraBits()
	fixedSize := 3 + d.codeBits(&fixedLiteralCode, &fixedDistanceCode) + extra
	dynamicSize := 3 + d.buildDynamicCodes() + d.codeBits(&d.litCode, &d.distCode) + extra
	storedSize := storedBits(len(raw), d.bw.nbits)
	switch {
	case storedSize <= min(fixedSize, dynamicSize):
		d.writeStored(raw)
	case fixedSize <= dynamicSize:
		d.bw.writeBits(1<<1, 3) // BFINAL=0, BTYPE=01
		d.writeTokens(&fixedLiteralCode, &fixedDistanceCode)
	default:
		d.bw.writeBits(2<<1, 3) // BFINAL=0, BTYPE=10
		d.writeDynamicHeader()
		d.writeTokens(&d.litCode, &d.distCode)
	}
	d.tokens = d.tokens[:0]
}

// countFrequencies counts how often each literal/length and distance
// symbol occurs in the block, the end-of-block symbol included.
func (d *Compressor) countFrequencies() {
	clear(d.litFreq[:])
	clear(d.dstFreq[:])
	for _, t := range d.tokens {
		if t.dist == 0 {
			d.litFreq[t.litLen]++
			continue
		}
		d.litFreq[257+int(lengthCode[t.litLen-minMatch])]++
		d.dstFreq[distanceCode(t.dist)]++
	}
	d.litFreq[endOfBlock] = 1
}

// extraBits is the size of the extra bits that follow length and distance
// codes, the same whatever Huffman codes the block uses.
func (d *Compressor) extraBits() int {
	n := 0
	for c, f := range d.litFreq[257:maxLitLenCodes] {
		n += int(f) * int(lengthExtraBits[c])
	}
	for c, f := range d.dstFreq {
		n += int(f) * int(distanceExtraBits[c])
	}
	return n
}

// codeBits is the size of the block's symbols under the given codes.
func (d *Compressor) codeBits(lit, dist *huffmanCode) int {
	n := 0
	for s, f := range d.litFreq[:maxLitLenCodes] {
		n += int(f) * int(lit.lens[s])
	}
	for s, f := range d.dstFreq {
		n += int(f) * int(dist.lens[s])
	}
	return n
}

// writeTokens writes the block's tokens and its end-of-block symbol.
func (d *Compressor) writeTokens(lit, dist *huffmanCode) {
	w := &d.bw
	for _, t := range d.tokens {
		if t.dist == 0 {
			w.writeCode(lit, int(t.litLen))
			continue
		}
		lc := lengthCode[t.litLen-minMatch]
		w.writeCode(lit, 257+int(lc))
		w.writeBits(uint32(t.litLen-lengthBase[lc]), uint(lengthExtraBits[lc]))
		dc := distanceCode(t.dist)
		w.writeCode(dist, int(dc))
		w.writeBits(uint32(t.dist-distanceBase[dc]), uint(distanceExtraBits[dc]))
	}
	w.writeCode(lit, endOfBlock)
}

// storedBits is the size of raw as stored blocks of at most 65535 bytes
// when the stream is nbits into its current byte: each block has a 3-bit
// header, padding to the byte boundary, LEN and NLEN (RFC 1951 §3.2.4).
func storedBits(n int, nbits uint) int {
	size := 0
	pad := (8 - (int(nbits)+3)%8) % 8
	for {
		chunk := min(n, maxStoredLen)
		size += 3 + pad + 32 + 8*chunk
		n -= chunk
		if n == 0 {
			return size
		}
		pad = 5
	}
}

func (d *Compressor) writeStored(raw []byte) {
	for len(raw) > 0 {
		chunk := raw[:min(len(raw), maxStoredLen)]
		raw = raw[len(chunk):]
		d.bw.writeBits(0, 3) // BFINAL=0, BTYPE=00
		d.bw.alignToByte()
		n := uint16(len(chunk))
		d.bw.out = binary.LittleEndian.AppendUint16(d.bw.out, n)
		d.bw.out = binary.LittleEndian.AppendUint16(d.bw.out, ^n)
		d.bw.out = append(d.bw.out, chunk...)
	}
}

const (
	numLenCodes = 19 // symbols of the code length alphabet (RFC 1951 §3.2.7)

	// Code length symbols that stand for runs (RFC 1951 §3.2.7).
	repeatPrevious = 16 // the previous length 3..6 times; 2 extra bits
	repeatZero     = 17 // length 0 3..10 times; 3 extra bits
	repeatZeroLong = 18 // length 0 11..138 times; 7 extra bits
)

// lengthSymbol is one symbol of the code length alphabet with the value of
// its extra bits.
type lengthSymbol struct {
	sym, extra uint8
}

// lengthSymbolExtraBits is the number of extra bits after each code length
// symbol.
var lengthSymbolExtraBits = [numLenCodes]uint8{repeatPrevious: 2, repeatZero: 3, repeatZeroLong: 7}

// lengthCodeOrder is the order in which a dynamic block header gives the
// lengths of the code length code, rarely used lengths last so that
// trailing zeros can be left out (RFC 1951 §3.2.7).
var lengthCodeOrder = [numLenCodes]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// buildDynamicCodes fits Huffman codes to the block's frequencies, then
// prepares the header that transmits them, and returns the header's size
// in bits, the 3-bit block header excluded.
func (d *Compressor) buildDynamicCodes() int {
	var lens [maxLitLenCodes + maxDistCodes]uint8
	d.huff.build(d.litFreq[:maxLitLenCodes], 15, lens[:maxLitLenCodes])
	d.litCode.assignCodes(lens[:maxLitLenCodes])
	d.huff.build(d.dstFreq[:], 15, lens[maxLitLenCodes:])
	d.distCode.assignCodes(lens[maxLitLenCodes:])

	// HLIT and HDIST drop unused codes at the end of each alphabet;
	// the header then sends the two length lists back to back, as one
	// sequence, so that a run may cross from one into the other.
	d.numLit = 257 + lastNonZero(lens[257:maxLitLenCodes])
	d.numDist = 1 + lastNonZero(lens[maxLitLenCodes+1:])
	copy(lens[d.numLit:], lens[maxLitLenCodes:maxLitLenCodes+d.numDist])
	d.encodeCodeLengths(lens[:d.numLit+d.numDist])

	var clLens [numLenCodes]uint8
	d.huff.build(d.lenFreq[:], 7, clLens[:])
	d.lenCode.assignCodes(clLens[:])
	d.numLen = numLenCodes
	for d.numLen > 4 && clLens[lengthCodeOrder[d.numLen-1]] == 0 {
		d.numLen--
	}

	size := 5 + 5 + 4 + 3*d.numLen
	for _, c := range d.codeLens {
		size += int(d.lenCode.lens[c.sym]) + int(lengthSymbolExtraBits[c.sym])
	}
	return size
}

// lastNonZero returns one more than the index of the last non-zero
// element of lens, or 0 if there is none.
func lastNonZero(lens []uint8) int {
	for i := len(lens); i > 0; i-- {
		if lens[i-1] != 0 {
			return i
		}
	}
	return 0
}

// encodeCodeLengths run-length encodes lens into codeLens with the
// repeat symbols of RFC 1951 §3.2.7 and counts the symbols in lenFreq.
func (d *Compressor) encodeCodeLengths(lens []uint8) {
	d.codeLens = d.codeLens[:0]
	clear(d.lenFreq[:])
	emit := func(sym, extra uint8) {
		d.codeLens = append(d.codeLens, lengthSymbol{sym, extra})
		d.lenFreq[sym]++
	}
	for i := 0; i < len(lens); {
		l := lens[i]
		run := 1
		for i+run < len(lens) && lens[i+run] == l {
			run++
		}
		i += run
		if l == 0 {
			for ; run >= 11; run -= min(run, 138) {
				emit(repeatZeroLong, uint8(min(run, 138)-11))
			}
			if run >= 3 {
				emit(repeatZero, uint8(run-3))
				run = 0
			}
		} else {
			// A repeat copies the previous length, so the first
			// length of the run is sent as itself.
			emit(l, 0)
			for run--; run >= 3; run -= min(run, 6) {
				emit(repeatPrevious, uint8(min(run, 6)-3))
			}
		}
		for ; run > 0; run-- {
			emit(l, 0)
		}
	}
}

// writeDynamicHeader writes HLIT, HDIST, HCLEN, the code length code and
// the run-length encoded code lengths (RFC 1951 §3.2.7).
func (d *Compressor) writeDynamicHeader() {
	w := &d.bw
	w.writeBits(uint32(d.numLit-257), 5)
	w.writeBits(uint32(d.numDist-1), 5)
	w.writeBits(uint32(d.numLen-4), 4)
	for _, s := range lengthCodeOrder[:d.numLen] {
		w.writeBits(uint32(d.lenCode.lens[s]), 3)
	}
	for _, c := range d.codeLens {
		w.writeCode(&d.lenCode, int(c.sym))
		w.writeBits(uint32(c.extra), uint(lengthSymbolExtraBits[c.sym]))
	}
}

// huffmanBuilder computes length-limited Huffman code lengths. Its arrays
// are scratch space kept between blocks so that building allocates
// nothing.
type huffmanBuilder struct {
	leaves [maxLitLenCodes]huffmanLeaf
	weight [maxLitLenCodes]uint32 // of internal nodes, in creation order
	// parent of each node: leaves are nodes 0..n-1, in the order of
	// leaves, and internal nodes follow.
	parent [2 * maxLitLenCodes]int32
	depth  [maxLitLenCodes]uint16 // of internal nodes
}

type huffmanLeaf struct {
	sym  uint16
	freq uint32
}

// build sets lens[s] to the code length of symbol s for a Huffman code
// on freq whose codes are at most maxBits long.
func (b *huffmanBuilder) build(freq []uint32, maxBits int, lens []uint8) {
	clear(lens)
	n := 0
	for s, f := range freq {
		if f != 0 {
			b.leaves[n] = huffmanLeaf{uint16(s), f}
			n++
		}
	}
	// A code of one symbol would be a 1-bit code with a pattern left
	// unused, which decoders may reject as incomplete (compress/flate
	// makes an exception; RFC 1951 has no word on it). Like zlib, give
	// unused symbols a weight until there are two.
	for s := 0; n < 2; s++ {
		if freq[s] == 0 {
			b.leaves[n] = huffmanLeaf{uint16(s), 1}
			n++
		}
	}
	leaves := b.leaves[:n]
	slices.SortFunc(leaves, func(x, y huffmanLeaf) int {
		return cmp.Or(cmp.Compare(x.freq, y.freq), cmp.Compare(x.sym, y.sym))
	})

	// Huffman's algorithm with two queues: the leaves, sorted, and the
	// internal nodes, which are created in order of weight. Each step
	// joins the two lightest nodes at the queues' heads.
	nextLeaf, nextNode := 0, 0
	lightest := func(made int) int {
		if nextLeaf < n && (nextNode == made || leaves[nextLeaf].freq <= b.weight[nextNode]) {
			nextLeaf++
			return nextLeaf - 1
		}
		nextNode++
		return n + nextNode - 1
	}
	nodeWeight := func(node int) uint32 {
		if node < n {
			return leaves[node].freq
		}
		return b.weight[node-n]
	}
	for made := 0; made < n-1; made++ {
		x := lightest(made)
		y := lightest(made)
		b.weight[made] = nodeWeight(x) + nodeWeight(y)
		b.parent[x] = int32(n + made)
		b.parent[y] = int32(n + made)
	}

	// Depths, from the root (the last node made) down: a parent is always
	// made after its children. Count the leaves at each depth, those
	// deeper than maxBits at maxBits.
	var count [16]int
	b.depth[n-2] = 0
	for node := n - 3; node >= 0; node-- {
		b.depth[node] = b.depth[b.parent[n+node]-int32(n)] + 1
	}
	for leaf := range n {
		count[min(int(b.depth[b.parent[leaf]-int32(n)])+1, maxBits)]++
	}

	// Clamping made the code over-full: the Kraft sum of 2^-length
	// exceeds 1. Each step takes one leaf from maxBits and moves a
	// shallower leaf one level down next to it, which leaves the number
	// of leaves alone and lowers the sum by 2^-maxBits, until the code is
	// exactly full (the method of miniz's tdefl_huffman_enforce_max_code_size).
	kraft := 0
	for l := 1; l <= maxBits; l++ {
		kraft += count[l] << (maxBits - l)
	}
	for ; kraft > 1<<maxBits; kraft-- {
		count[maxBits]--
		for l := maxBits - 1; l > 0; l-- {
			if count[l] != 0 {
				count[l]--
				count[l+1] += 2
				break
			}
		}
	}

	// The rarest symbols get the longest codes.
	i := 0
	for l := maxBits; l > 0; l-- {
		for range count[l] {
			lens[leaves[i].sym] = uint8(l)
			i++
		}
	}
}

// bitWriter packs bits into bytes least significant bit first, the order
// of RFC 1951 §3.1.1.
type bitWriter struct {
	out   []byte
	bits  uint64
	nbits uint
}

// writeBits writes the n low bits of b; n is at most 16.
func (w *bitWriter) writeBits(b uint32, n uint) {
	w.bits |= uint64(b) << w.nbits
	w.nbits += n
	if w.nbits >= 48 {
		x := w.bits
		w.out = append(w.out, byte(x), byte(x>>8), byte(x>>16), byte(x>>24), byte(x>>32), byte(x>>40))
		w.bits >>= 48
		w.nbits -= 48
	}
}

// writeCode writes the Huffman code of symbol s.
func (w *bitWriter) writeCode(h *huffmanCode, s int) {
	w.writeBits(uint32(h.codes[s]), uint(h.lens[s]))
}

// alignToByte writes the pending bits, padding the last byte with zeros.
func (w *bitWriter) alignToByte() {
	for ; w.nbits > 0; w.nbits -= min(w.nbits, 8) {
		w.out = append(w.out, byte(w.bits))
		w.bits >>= 8
	}
}

// Alphabet sizes of RFC 1951 §3.2.5 and §3.2.6. Symbols 286 and 287 and
// distance codes 30 and 31 have fixed codes but never occur in data.
const (
	maxLitLenCodes = 286
	maxLitCodes    = 288
	maxDistCodes   = 30
)

// huffmanCode is a prefix code: lens[s] is the length of symbol s's code
// (0 if s is unused) and codes[s] the code itself, bit-reversed so that
// bitWriter, which emits least significant bit first, sends it most
// significant bit first as RFC 1951 §3.1.1 requires of Huffman codes.
type huffmanCode struct {
	codes [maxLitCodes]uint16
	lens  [maxLitCodes]uint8
}

// assignCodes gives the symbols with lengths lens their canonical codes
// (RFC 1951 §3.2.2): shorter codes first, and within a length in symbol
// order.
func (h *huffmanCode) assignCodes(lens []uint8) {
	var count [16]uint16
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	var next [16]uint16
	code := uint16(0)
	for l := 1; l < 16; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	clear(h.lens[:])
	for s, l := range lens {
		h.lens[s] = l
		if l != 0 {
			h.codes[s] = bits.Reverse16(next[l]) >> (16 - l)
			next[l]++
		}
	}
}

// The fixed Huffman codes of RFC 1951 §3.2.6.
var fixedLiteralCode, fixedDistanceCode = func() (lit, dist huffmanCode) {
	var lens [maxLitCodes]uint8
	for s := range lens {
		switch {
		case s < 144:
			lens[s] = 8
		case s < 256:
			lens[s] = 9
		case s < 280:
			lens[s] = 7
		default:
			lens[s] = 8
		}
	}
	lit.assignCodes(lens[:])
	for s := range lens[:maxDistCodes] {
		lens[s] = 5
	}
	dist.assignCodes(lens[:maxDistCodes])
	return lit, dist
}()

// Lengths and distances of RFC 1951 §3.2.5: code c stands for base[c] plus
// an extra value of extraBits[c] bits.
var (
	lengthBase = [29]uint16{
		3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
		35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
	}
	lengthExtraBits = [29]uint8{
		0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
		3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
	}
	distanceBase = [maxDistCodes]uint16{
		1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
		257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
	}
	distanceExtraBits = [maxDistCodes]uint8{
		0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
		7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
	}
)

// lengthCode maps a match length minus 3 to its length code minus 257.
var lengthCode = func() (codes [maxMatch - minMatch + 1]uint8) {
	for c := range lengthBase {
		for l := int(lengthBase[c]); l < int(lengthBase[c])+1<<lengthExtraBits[c]; l++ {
			codes[l-minMatch] = uint8(c)
		}
	}
	return codes
}()

// distanceCode returns the code of distance dist (1..32768). Past the first
// four, each pair of codes covers twice the distances of the pair before,
// so the code follows from the position of the top bit and the bit below
// it.
func distanceCode(dist uint16) uint8 {
	d := uint32(dist) - 1
	if d < 4 {
		return uint8(d)
	}
	top := bits.Len32(d) - 1
	return uint8(2*top + int(d>>(top-1)&1))
}
