package fuzzer

import (
	"fmt"
	"strings"
)

// Sections 1–5 and 10: framing, pings, reserved bits, opcodes,
// fragmentation, auto-fragmentation (CASES §3.1–§3.5, §3.9).

const helloWorld = "Hello, world!"

// echoExpectation is the standard text of a case that expects its message back.
const echoExpectation = "The testee echoes the message unchanged; then the fuzzer closes with 1000 and the testee answers cleanly."

// failExpectation is the standard text of a case where the testee must fail.
const failExpectation = "The testee fails the connection (close 1002 or TCP drop) and echoes nothing it received after the violation."

func framingCases() []*Case {
	sizes := []int{0, 125, 126, 127, 128, 65535, 65536, 65536}
	var cs []*Case
	for sub, kind := range []struct {
		op      byte
		name    string
		pattern string
	}{{OpText, "text", "*"}, {OpBinary, "binary", "\xfe"}} {
		for i, n := range sizes {
			p := Repeat(kind.pattern, n)
			f := frame(kind.op, p)
			desc := fmt.Sprintf("Send one unfragmented %s frame with a payload of %d bytes.", kind.name, n)
			if i == 7 {
				f = f.chop(997)
				desc = fmt.Sprintf("Send one unfragmented %s frame with a payload of %d bytes, written to the socket in pieces of 997 bytes.", kind.name, n)
			}
			timeout := 1.0
			if n > 128 {
				timeout = 10
			}
			cs = append(cs, &Case{
				ID:          fmt.Sprintf("1.%d.%d", sub+1, i+1),
				Description: desc,
				Expectation: echoExpectation,
				Actions:     []Action{f, FailTimer{timeout}},
				Expected:    ok(Message(p.Bytes(), kind.op == OpBinary)),
				Close:       fuzzerCloses(),
			})
		}
	}
	return cs
}

func pingCases() []*Case {
	fe125 := Repeat("\xfe", 125)
	pingPong := func(id, desc string, p Payload, mode WriteMode, timer float64) *Case {
		return &Case{
			ID: id, Description: desc,
			Expectation: "A pong with the identical payload comes back; then a clean close with 1000.",
			Actions:     []Action{frame(OpPing, p).mode(mode), CloseTimer{timer}},
			Expected:    ok(Pong(p.Bytes())),
			Close:       fuzzerCloses(),
		}
	}
	cs := []*Case{
		pingPong("2.1", "Send a ping without payload.", Payload{}, WriteMode{}, 1),
		pingPong("2.2", "Send a ping with a short text payload.", Text(helloWorld), WriteMode{}, 1),
		pingPong("2.3", "Send a ping with a short binary payload that is not UTF-8.", Payload{Data: []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}}, WriteMode{}, 1),
		pingPong("2.4", "Send a ping with the largest allowed payload, 125 bytes.", fe125, WriteMode{}, 1),
		{
			ID:          "2.5",
			Description: "Send a ping with a 126-byte payload (a control frame longer than 125 bytes, written with a 16-bit length).",
			Expectation: failExpectation,
			Actions:     []Action{frame(OpPing, Repeat("\xfe", 126)), FailTimer{1}},
			Expected:    ok(),
			Close:       testeeCloses(1002),
		},
		pingPong("2.6", "Send a ping with a 125-byte payload, one byte per write.", fe125, WriteMode{Chop: 1}, 2),
	}
	for _, c := range []struct {
		id, payload string
	}{{"2.7", ""}, {"2.8", "unsolicited pong payload"}} {
		cs = append(cs, &Case{
			ID:          c.id,
			Description: fmt.Sprintf("Send an unsolicited pong (payload %q), then close with 1000.", c.payload),
			Expectation: "The testee ignores the pong and answers the close cleanly.",
			Actions:     []Action{frame(OpPong, Text(c.payload)), SendClose{HasCode: true, Code: 1000}, CloseTimer{1}},
			Expected:    ok(),
			Close:       fuzzerCloses(),
		})
	}
	cs = append(cs, &Case{
		ID:          "2.9",
		Description: "Send an unsolicited pong, then a ping.",
		Expectation: "Only the pong answering the ping comes back.",
		Actions:     []Action{frame(OpPong, Text("unsolicited pong payload")), frame(OpPing, Text("ping payload")), CloseTimer{1}},
		Expected:    ok(pongOf("ping payload")),
		Close:       fuzzerCloses(),
	})
	for i, mode := range []WriteMode{{}, {Chop: 1}} {
		var acts []Action
		var want []Event
		for k := 0; k < 10; k++ {
			p := fmt.Sprintf("payload-%d", k)
			acts = append(acts, frame(OpPing, Text(p)).mode(mode))
			want = append(want, pongOf(p))
		}
		desc := "Send ten pings back to back."
		if mode.Chop > 0 {
			desc = "Send ten pings back to back, one byte per write."
		}
		cs = append(cs, &Case{
			ID: fmt.Sprintf("2.%d", 10+i), Description: desc,
			Expectation: "Ten pongs with the matching payloads arrive in order.",
			Actions:     append(acts, CloseTimer{3}),
			Expected:    ok(want...),
			Close:       fuzzerCloses(),
		})
	}
	return cs
}

func reservedBitCases() []*Case {
	hello := Text(helloWorld)
	single := func(id, desc string, f SendFrame) *Case {
		return &Case{ID: id, Description: desc, Expectation: failExpectation,
			Actions: []Action{f, FailTimer{1}}, Expected: ok(), Close: testeeCloses(1002)}
	}
	echoThenBad := func(id string, rsv byte, mode WriteMode) *Case {
		return &Case{
			ID:          id,
			Description: fmt.Sprintf("Send a valid text message, then a text frame with RSV = %d, then a ping (write mode %s).", rsv, modeName(mode)),
			Expectation: "The first message is echoed, then the testee fails the connection; no pong. Failing before the echo is NON-STRICT.",
			Actions: []Action{
				frame(OpText, hello).mode(mode),
				frame(OpText, hello).rsv(rsv).mode(mode),
				frame(OpPing, Payload{}).mode(mode),
				FailTimer{1},
			},
			Expected: okOrNonStrict([]Event{msgText(helloWorld)}, []Event{}),
			Close:    testeeCloses(1002),
		}
	}
	// The rsv values are the 3-bit field (CASES pitfall 4); 3.4 sets RSV1.
	return []*Case{
		single("3.1", "Send a text frame with RSV = 1.", frame(OpText, hello).rsv(1)),
		echoThenBad("3.2", 2, WriteMode{}),
		echoThenBad("3.3", 3, WriteMode{Sync: true}),
		echoThenBad("3.4", 4, WriteMode{Chop: 1}),
		single("3.5", "Send a binary frame with RSV = 5.", frame(OpBinary, Payload{Data: []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}}).rsv(5)),
		// CASES pitfall 5: a binary frame, not a ping.
		single("3.6", "Send a binary frame with RSV = 6.", frame(OpBinary, hello).rsv(6)),
		single("3.7", "Send an empty close frame with RSV = 7.", frame(OpClose, Payload{}).rsv(7)),
	}
}

func opcodeCases() []*Case {
	hello := Text(helloWorld)
	var cs []*Case
	for sub, ops := range [][]byte{{3, 4, 5, 6, 7}, {11, 12, 13, 14, 15}} {
		for i, op := range ops {
			id := fmt.Sprintf("4.%d.%d", sub+1, i+1)
			switch i {
			case 0, 1:
				p := Payload{}
				if i == 1 {
					p = Text("reserved opcode payload")
				}
				cs = append(cs, &Case{ID: id,
					Description: fmt.Sprintf("Send a frame with the reserved opcode %d.", op),
					Expectation: failExpectation,
					Actions:     []Action{frame(op, p), FailTimer{1}},
					Expected:    ok(), Close: testeeCloses(1002)})
			default:
				mode := WriteMode{}
				p := hello
				if i == 2 {
					p = Payload{}
				}
				if i == 4 {
					mode.Chop = 1
				}
				cs = append(cs, &Case{ID: id,
					Description: fmt.Sprintf("Send a valid text message, then a frame with the reserved opcode %d, then a ping (write mode %s).", op, modeName(mode)),
					Expectation: "The first message is echoed, then the testee fails the connection; no pong. Failing before the echo is NON-STRICT.",
					Actions: []Action{frame(OpText, hello).mode(mode), frame(op, p).mode(mode),
						frame(OpPing, Payload{}).mode(mode), FailTimer{1}},
					Expected: okOrNonStrict([]Event{msgText(helloWorld)}, []Event{}),
					Close:    testeeCloses(1002)})
			}
		}
	}
	return cs
}

func modeName(m WriteMode) string {
	switch {
	case m.Chop > 0:
		return fmt.Sprintf("chop %d", m.Chop)
	case m.Sync:
		return "sync"
	}
	return "plain"
}

func fragmentationCases() []*Case {
	f1, f2 := Text("fragment1"), Text("fragment2")
	modes := []WriteMode{{}, {Sync: true}, {Chop: 1}}
	var cs []*Case
	bad := func(id, desc string, acts ...Action) {
		cs = append(cs, &Case{ID: id, Description: desc, Expectation: failExpectation,
			Actions: append(acts, FailTimer{1}), Expected: ok(), Close: testeeCloses(1002)})
	}
	bad("5.1", "Send a ping split into two fragments.", frame(OpPing, f1).fin(false), frame(OpCont, f2))
	bad("5.2", "Send a pong split into two fragments.", frame(OpPong, f1).fin(false), frame(OpCont, f2))
	for i, m := range modes {
		cs = append(cs, &Case{ID: fmt.Sprintf("5.%d", 3+i),
			Description: fmt.Sprintf("Send a text message in two fragments (write mode %s).", modeName(m)),
			Expectation: echoExpectation,
			Actions:     []Action{frame(OpText, f1).fin(false).mode(m), frame(OpCont, f2).mode(m), CloseTimer{1}},
			Expected:    ok(msgText("fragment1fragment2")), Close: fuzzerCloses()})
	}
	for i, m := range modes {
		cs = append(cs, &Case{ID: fmt.Sprintf("5.%d", 6+i),
			Description: fmt.Sprintf("Send a text message in two fragments with a ping between them (write mode %s).", modeName(m)),
			Expectation: "The pong arrives first, then the echo of the whole message.",
			Actions: []Action{frame(OpText, f1).fin(false).mode(m), frame(OpPing, Text("ping payload")).mode(m),
				frame(OpCont, f2).mode(m), CloseTimer{1}},
			Expected: ok(pongOf("ping payload"), msgText("fragment1fragment2")), Close: fuzzerCloses()})
	}
	stray := Text("non-continuation payload")
	for fin := 0; fin < 2; fin++ {
		for i, m := range modes {
			id := fmt.Sprintf("5.%d", 9+3*fin+i)
			what := "a continuation frame (fin=1)"
			if fin == 1 {
				what = "a continuation frame with fin=0"
			}
			bad(id, fmt.Sprintf("Send %s outside any message, then a text message (write mode %s).", what, modeName(m)),
				frame(OpCont, stray).fin(fin == 0).mode(m), frame(OpText, hello()).mode(m))
		}
	}
	cs = append(cs, &Case{ID: "5.15",
		Description: "Send a text message in two fragments, then a stray continuation frame with fin=0 and a text frame.",
		Expectation: "The first message is echoed, then the testee fails the connection. Failing without the echo is NON-STRICT.",
		Actions: []Action{frame(OpText, f1).fin(false), frame(OpCont, f2), frame(OpCont, Text("fragment3")).fin(false),
			frame(OpText, Text("fragment4")), FailTimer{1}},
		Expected: okOrNonStrict([]Event{msgText("fragment1fragment2")}, []Event{}),
		Close:    testeeCloses(1002)})
	twice := func(firstFin bool) []Action {
		seq := []Action{frame(OpCont, f1).fin(firstFin), frame(OpText, f2).fin(false), frame(OpCont, Text("fragment3"))}
		return append(seq, seq...)
	}
	bad("5.16", "Twice: a continuation frame (fin=0) outside a message, a text frame with fin=0, a continuation frame.", twice(false)...)
	bad("5.17", "Twice: a continuation frame (fin=1) outside a message, a text frame with fin=0, a continuation frame.", twice(true)...)
	bad("5.18", "Send a text frame with fin=0 followed by another text frame instead of a continuation.",
		frame(OpText, f1).fin(false), frame(OpText, f2))
	for i, m := range []WriteMode{{}, {Sync: true}} {
		cs = append(cs, &Case{ID: fmt.Sprintf("5.%d", 19+i),
			Description: fmt.Sprintf("Send a text message in five fragments with two pings in between and a 1 s pause after the first ping (write mode %s).", modeName(m)),
			Expectation: "Each pong arrives as soon as its ping was sent, then the echo of the whole message.",
			Actions: []Action{
				frame(OpText, f1).fin(false).mode(m), frame(OpCont, f2).fin(false).mode(m), frame(OpPing, Text("pongme 1!")).mode(m),
				Wait{Seconds: 1},
				frame(OpCont, Text("fragment3")).fin(false).mode(m), frame(OpCont, Text("fragment4")).fin(false).mode(m),
				frame(OpPing, Text("pongme 2!")).mode(m), frame(OpCont, Text("fragment5")).mode(m),
				CloseTimer{1},
			},
			Expected: ok(pongOf("pongme 1!"), pongOf("pongme 2!"), msgText("fragment1fragment2fragment3fragment4fragment5")),
			Close:    fuzzerCloses()})
	}
	return cs
}

func hello() Payload { return Text(helloWorld) }

func autoFragmentCases() []*Case {
	p := Repeat("*", 65536)
	return []*Case{{
		ID:           "10.1.1",
		Description:  "Send a 65536-byte text message that the fuzzer's message API splits into frames of 1300 bytes (1 text + 50 continuation frames).",
		Expectation:  echoExpectation + " The fuzzer also checks that it really sent 1 text and 50 continuation frames.",
		Actions:      []Action{SendMessage{Payload: p}, FailTimer{10}},
		Expected:     ok(Message(p.Bytes(), false)),
		Close:        fuzzerCloses(),
		AutoFragment: 1300,
	}}
}

// describeBytes renders a short hex form for descriptions.
func describeBytes(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		fmt.Fprintf(&sb, "%02x", c)
	}
	return sb.String()
}
