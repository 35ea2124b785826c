package fuzzer

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// Datasets for the compression cases 12.x/13.x (CASES §3.10 table A).
//
// The original suite ships five files that may not be copied here. These are
// deterministic stand-ins of the same size, message type and character,
// generated from a fixed seed so that every run sends identical bytes.
// Verdicts only depend on each echo matching what was sent; compression
// ratios differ from the original's.

// Dataset is one payload source of the compression cases.
type Dataset struct {
	Name   string
	Binary bool
	// For binary datasets units are bytes; for text datasets units are
	// Unicode code points (CASES pitfall 12).
	bytes []byte
	// offsets[i] is the byte offset of code point i in bytes; only for
	// text datasets, with a final entry len(bytes).
	offsets []int
}

func newTextDataset(name string, runes []rune) *Dataset {
	d := &Dataset{Name: name, offsets: make([]int, 0, len(runes)+1)}
	for _, r := range runes {
		d.offsets = append(d.offsets, len(d.bytes))
		d.bytes = utf8.AppendRune(d.bytes, r)
	}
	d.offsets = append(d.offsets, len(d.bytes))
	return d
}

// Units is the dataset length in bytes (binary) or code points (text).
func (d *Dataset) Units() int {
	if d.Binary {
		return len(d.bytes)
	}
	return len(d.offsets) - 1
}

// Window returns message k (1-based) of n units: the cyclic window starting
// at (k-1)*n, UTF-8 encoded for text datasets.
func (d *Dataset) Window(k, n int) []byte {
	total := d.Units()
	start := ((k - 1) * n) % total
	pos := func(unit int) int { // byte offset of a unit
		if d.Binary {
			return unit
		}
		return d.offsets[unit]
	}
	var out []byte
	for n > 0 {
		end := min(start+n, total)
		out = append(out, d.bytes[pos(start):pos(end)]...)
		n -= end - start
		start = 0
	}
	return out
}

// rng is a small deterministic generator (SplitMix64), used instead of
// math/rand so the byte stream is fixed by this file alone.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

var words = strings.Fields(`the of and to in that it with as was for on be by he his at is this from
had not but which have all were they are one their there been when so would who them she more into
if her no out up what said about could time then only man some now well may over like other such
night heart light spirit world earth heaven eyes hand soul life love death day dream voice fire
shadow deep old young learned power nature hope joy sorrow word deed truth art wisdom doctor student`)

var (
	datasetsOnce sync.Once
	datasets     map[string]*Dataset
)

// DatasetByName returns one of json_data1, lena512, gutenberg_faust,
// html_data1, ooms.
func DatasetByName(name string) *Dataset {
	datasetsOnce.Do(func() {
		datasets = map[string]*Dataset{
			"json_data1":      newTextDataset("json_data1", []rune(genJSON(194056))),
			"lena512":         {Name: "lena512", Binary: true, bytes: genBitmap()},
			"gutenberg_faust": {Name: "gutenberg_faust", Binary: true, bytes: []byte(genProse(222218))},
			"html_data1":      newTextDataset("html_data1", genHTML(263620, 26)),
			"ooms":            {Name: "ooms", Binary: true, bytes: genPDF(1042328)},
		}
	})
	return datasets[name]
}

func genProse(n int) string {
	r := &rng{s: 2229}
	var b strings.Builder
	for b.Len() < n {
		sentence := 4 + r.intn(14)
		for i := 0; i < sentence; i++ {
			w := words[r.intn(len(words))]
			if i == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			b.WriteString(w)
			if i < sentence-1 {
				b.WriteByte(' ')
			}
		}
		b.WriteString(".")
		if r.intn(6) == 0 {
			b.WriteString("\r\n\r\n")
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()[:n]
}

func genJSON(n int) string {
	r := &rng{s: 1}
	var b strings.Builder
	b.WriteString("[")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id": %d, "name": "%s %s", "active": %t, "score": %d.%02d, "tags": ["%s", "%s"], "text": "%s %s %s"},`+"\n",
			i, words[r.intn(len(words))], words[r.intn(len(words))], r.intn(2) == 0, r.intn(1000), r.intn(100),
			words[r.intn(len(words))], words[r.intn(len(words))],
			words[r.intn(len(words))], words[r.intn(len(words))], words[r.intn(len(words))])
	}
	return b.String()[:n]
}

// genHTML builds an HTML page of exactly n code points, nonASCII of which
// are characters outside ASCII (all in the Basic Multilingual Plane).
func genHTML(n, nonASCII int) []rune {
	r := &rng{s: 4}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><title>Data</title></head><body>\n")
	for b.Len() < 2*n {
		fmt.Fprintf(&b, "<div class=\"row r%d\"><p>%s</p><a href=\"/item/%d\">%s</a></div>\n",
			r.intn(10), genProseRunes(r, 6+r.intn(10)), r.intn(100000), words[r.intn(len(words))])
	}
	out := []rune(b.String())[:n]
	special := []rune("äöüßéèñçø€ŒœÆ")
	for i := 0; i < nonASCII; i++ {
		pos := (i + 1) * (n / (nonASCII + 1))
		out[pos] = special[i%len(special)]
	}
	return out
}

func genProseRunes(r *rng, count int) string {
	ws := make([]string, count)
	for i := range ws {
		ws[i] = words[r.intn(len(words))]
	}
	return strings.Join(ws, " ")
}

// genBitmap builds an uncompressed 512×512 8-bit BMP: header, grey palette,
// smooth gradients plus noise.
func genBitmap() []byte {
	const w, hgt = 512, 512
	var b bytes.Buffer
	le32 := func(v uint32) { b.Write([]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}) }
	le16 := func(v uint16) { b.Write([]byte{byte(v), byte(v >> 8)}) }
	const off = 14 + 40 + 1024
	b.WriteString("BM")
	le32(off + w*hgt)
	le32(0)
	le32(off)
	le32(40)
	le32(w)
	le32(hgt)
	le16(1)
	le16(8)
	le32(0)
	le32(w * hgt)
	le32(2835)
	le32(2835)
	le32(256)
	le32(0)
	for i := 0; i < 256; i++ {
		b.Write([]byte{byte(i), byte(i), byte(i), 0})
	}
	r := &rng{s: 512}
	for y := 0; y < hgt; y++ {
		for x := 0; x < w; x++ {
			v := (x*3+y*2)/5 + int(r.next()%9) - 4
			if (x/64+y/64)%3 == 0 {
				v = 255 - v
			}
			if v < 0 {
				v = 0
			}
			b.WriteByte(byte(v))
		}
	}
	return b.Bytes()
}

// genPDF mixes PDF-like text objects with blocks of random bytes that
// stand for already-compressed streams.
func genPDF(n int) []byte {
	r := &rng{s: 5439}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	for obj := 1; b.Len() < n; obj++ {
		fmt.Fprintf(&b, "%d 0 obj\n<< /Type /Page /Length %d >>\nstream\nBT /F1 12 Tf (%s) Tj ET\n",
			obj, r.intn(9000), genProseRunes(r, 20+r.intn(40)))
		raw := make([]byte, 512+r.intn(4096))
		for i := range raw {
			raw[i] = byte(r.next())
		}
		b.Write(raw)
		b.WriteString("\nendstream\nendobj\n")
	}
	return b.Bytes()[:n]
}
