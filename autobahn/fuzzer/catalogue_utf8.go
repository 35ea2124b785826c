package fuzzer

import (
	"fmt"
	"unicode/utf8"
)

// Section 6: UTF-8 handling (CASES §3.6 and §4).

// kosme is the Greek word "κόσμε", the classic UTF-8 sample (11 bytes).
var kosme = []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")

// invalidKosme is kosme followed by an encoded surrogate (U+D800) and
// "edited" (CASES §4.1).
var invalidKosme = cat(kosme, []byte{0xed, 0xa0, 0x80}, []byte("edited"))

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// utf8Group is one generated family 6.5–6.23: vectors in order.
type utf8Group struct {
	sub     int
	title   string
	vectors [][]byte
}

// enc returns the UTF-8 form of code point r (valid scalar values only).
func enc(r rune) []byte { return utf8.AppendRune(nil, r) }

// utf8Groups builds the vector families in the order of CASES §4.2. The
// validity of each vector is not stored: it is exactly what a strict decoder
// says (CASES §4 states that the suite's flags agree with utf8.Valid for all
// 132 vectors).
func utf8Groups() []utf8Group {
	var gs []utf8Group
	add := func(title string, vs ...[]byte) {
		gs = append(gs, utf8Group{sub: 5 + len(gs), title: title, vectors: vs})
	}
	hw := func(mid []byte) []byte { return cat([]byte("hello"), mid, []byte("world")) }
	add("valid sample strings",
		hw(enc(0x24)), hw(enc(0xa2)), hw(enc(0x20ac)), hw(enc(0x24b62)), kosme)

	var prefixes [][]byte
	for n := 1; n <= len(kosme); n++ {
		prefixes = append(prefixes, kosme[:n])
	}
	add("every prefix of a valid multi-byte string", prefixes...)

	add("shortest encoding of each length", h("00"), h("c280"), h("e0a080"), h("f0908080"))
	add("5- and 6-byte forms (invalid)", h("f888808080"), h("fc8480808080"))
	add("largest value of each length", h("7f"), h("dfbf"), h("efbfbf"), h("f48fbfbf"))
	add("largest 4/5/6-byte forms beyond U+10FFFF (invalid)", h("f7bfbfbf"), h("fbbfbfbfbf"), h("fdbfbfbfbfbf"))
	add("boundary code points", h("ed9fbf"), h("ee8080"), h("efbfbd"), h("f48fbfbf"), h("f4908080"))

	var allCont []byte
	for b := 0x80; b < 0xbf; b++ {
		allCont = append(allCont, byte(b))
	}
	add("stray continuation bytes", h("80"), h("bf"), h("80bf"), h("80bf80"), h("80bf80bf"),
		h("80bf80bf80"), h("80bf80bf80bf"), allCont)

	leadSpace := func(from, to int) []byte { // lead bytes from..to-1, each followed by a space
		var out []byte
		for b := from; b < to; b++ {
			out = append(out, byte(b), ' ')
		}
		return out
	}
	add("lead bytes followed by space", leadSpace(0xc0, 0xdf), leadSpace(0xe0, 0xef),
		leadSpace(0xf0, 0xf7), leadSpace(0xf8, 0xfb), leadSpace(0xfc, 0xfd))

	truncated := [][]byte{h("c0"), h("e080"), h("f08080"), h("f8808080"), h("fc80808080"),
		h("df"), h("efbf"), h("f7bfbf"), h("fbbfbfbf"), h("fdbfbfbfbf")}
	add("sequences missing their last byte", truncated...)
	add("all truncated sequences concatenated", cat(truncated...))
	add("bytes that never occur (FE/FF)", h("fe"), h("ff"), h("fefeffff"))
	add("overlong encodings of \"/\"", h("c0af"), h("e080af"), h("f08080af"), h("f8808080af"), h("fc80808080af"))
	add("largest overlong encodings", h("c1bf"), h("e09fbf"), h("f08fbfbf"), h("f887bfbfbf"), h("fc83bfbfbfbf"))
	add("overlong encodings of NUL", h("c080"), h("e08080"), h("f0808080"), h("f880808080"), h("fc8080808080"))

	// Surrogates cannot go through utf8.AppendRune, so they are spelled out.
	surr := [][]byte{h("eda080"), h("edadbf"), h("edae80"), h("edafbf"), h("edb080"), h("edbe80"), h("edbfbf")}
	add("lone UTF-16 surrogates", surr...)
	var pairs [][]byte
	for _, hi := range surr[:4] {
		for _, lo := range [][]byte{surr[4], surr[6]} {
			pairs = append(pairs, cat(hi, lo))
		}
	}
	add("surrogate pairs encoded separately", pairs...)

	nonchars := [][]byte{enc(0xfffe), enc(0xffff)}
	for plane := rune(1); plane <= 16; plane++ {
		nonchars = append(nonchars, enc(plane<<16|0xfffe), enc(plane<<16|0xffff))
	}
	add("noncharacters (valid)", nonchars...)
	var specials [][]byte
	for r := rune(0xfff9); r <= 0xffff; r++ {
		specials = append(specials, enc(r))
	}
	add("Specials block U+FFF9..U+FFFF (valid)", specials...)
	return gs
}

// h decodes a hex literal of the vector tables.
func h(s string) []byte {
	out := make([]byte, len(s)/2)
	for i := range out {
		fmt.Sscanf(s[2*i:2*i+2], "%02x", &out[i])
	}
	return out
}

func utf8Cases() []*Case {
	valid := func(id, desc string, acts []Action, want []byte) *Case {
		return &Case{ID: id, Description: desc, Expectation: echoExpectation,
			Actions: append(acts, CloseTimer{1}), Expected: ok(Message(want, false)), Close: fuzzerCloses()}
	}
	invalidClose := ExpectedClose{ClosedByMe: false, Codes: []int{1007}, WrongCloserFatal: true}
	invalidExp := "The testee fails the connection with 1007 (or drops TCP) and echoes nothing."
	sample := h("48656c6c6f2dc2b540c39fc3b6c3a4c3bcc3a0c3a12d5554462d382121")
	cs := []*Case{
		valid("6.1.1", "Send an empty text message.", []Action{frame(OpText, Payload{})}, []byte{}),
		valid("6.1.2", "Send a text message of three empty fragments.",
			[]Action{frame(OpText, Payload{}).fin(false), frame(OpCont, Payload{}).fin(false), frame(OpCont, Payload{})}, []byte{}),
		valid("6.1.3", "Send a text message of three fragments where only the middle one has payload.",
			[]Action{frame(OpText, Payload{}).fin(false), frame(OpCont, Text("middle frame payload")).fin(false), frame(OpCont, Payload{})},
			[]byte("middle frame payload")),
		valid("6.2.1", "Send a valid UTF-8 text message in one frame.", []Action{textMsg(Payload{Data: sample}, 0)}, sample),
		valid("6.2.2", "Send a valid UTF-8 text message in two fragments split at a character boundary.",
			[]Action{frame(OpText, Payload{Data: sample[:15]}).fin(false), frame(OpCont, Payload{Data: sample[15:]})}, sample),
		valid("6.2.3", "Send a valid UTF-8 text message one byte per frame.", []Action{textMsg(Payload{Data: sample}, 1)}, sample),
		valid("6.2.4", "Send the valid UTF-8 text \"κόσμε\" one byte per frame.", []Action{textMsg(Payload{Data: kosme}, 1)}, kosme),
	}
	for i, frag := range []int{0, 1} {
		desc := "Send a text message with invalid UTF-8 (an encoded surrogate) in one frame."
		if frag == 1 {
			desc = "Send a text message with invalid UTF-8 (an encoded surrogate) one byte per frame."
		}
		cs = append(cs, &Case{ID: fmt.Sprintf("6.3.%d", i+1), Description: desc, Expectation: invalidExp,
			Actions: []Action{textMsg(Payload{Data: invalidKosme}, frag), FailTimer{1}}, Expected: ok(), Close: invalidClose})
	}
	// 6.4.x: the invalid byte arrives in the second of three timed parts
	// (CASES §3.6 "fail fast").
	parts := [][][]byte{
		{kosme, h("f4908080"), []byte("edited")},
		{cat(kosme, h("f4")), h("90"), h("8080656469746564")},
	}
	failFast := okOrNonStrict([]Event{Timeout("A")}, []Event{Timeout("A"), Timeout("B")})
	failFastExp := "The testee fails with 1007 as soon as the invalid part arrives (OK), or only after the complete message (NON-STRICT)."
	for i, p := range parts {
		cs = append(cs, &Case{ID: fmt.Sprintf("6.4.%d", i+1),
			Description: "Send a text message in three fragments, 1 s apart; the second makes the message invalid UTF-8.",
			Expectation: failFastExp,
			Actions: []Action{frame(OpText, Payload{Data: p[0]}).fin(false), Wait{1, "A", true},
				frame(OpCont, Payload{Data: p[1]}).fin(false), Wait{1, "B", true},
				frame(OpCont, Payload{Data: p[2]}), FailTimer{1}},
			Expected: failFast, Close: invalidClose})
	}
	for i, p := range parts {
		cs = append(cs, &Case{ID: fmt.Sprintf("6.4.%d", i+3),
			Description: "Send one text frame (fin=0, 21 payload bytes) whose payload is written in three parts 1 s apart; the second makes it invalid UTF-8; then an empty final continuation frame.",
			Expectation: failFastExp,
			Actions: []Action{SendHeader{Opcode: OpText, Length: 21}, SendChunk{p[0]}, Wait{1, "A", true},
				SendChunk{p[1]}, Wait{1, "B", true}, SendChunk{p[2]}, frame(OpCont, Payload{}), FailTimer{1}},
			Expected: failFast, Close: invalidClose})
	}
	for _, g := range utf8Groups() {
		for i, v := range g.vectors {
			id := fmt.Sprintf("6.%d.%d", g.sub, i+1)
			c := &Case{ID: id, Actions: []Action{textMsg(Payload{Data: v}, 0), FailTimer{0.5}}}
			if utf8.Valid(v) {
				c.Description = fmt.Sprintf("Send a text message with the valid UTF-8 %s (%s).", describeBytes(v), g.title)
				c.Expectation = echoExpectation
				c.Expected = ok(Message(v, false))
				c.Close = fuzzerCloses()
			} else {
				c.Description = fmt.Sprintf("Send a text message with the invalid UTF-8 %s (%s).", describeBytes(v), g.title)
				c.Expectation = invalidExp
				c.Expected = ok()
				c.Close = invalidClose
			}
			cs = append(cs, c)
		}
	}
	return cs
}
