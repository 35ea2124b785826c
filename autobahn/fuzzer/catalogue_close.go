package fuzzer

import "fmt"

// Section 7: close handling (CASES §3.7). Every case expects the fuzzer to
// be the closing side and arms fail@1s.

func closeCases() []*Case {
	const helloW = "Hello World!"
	closeExp := "The testee answers the close cleanly with 1000 (or without code) and sends nothing else."
	c7 := func(id, desc string, acts []Action, exp ExpectedClose) *Case {
		return &Case{ID: id, Description: desc, Expectation: closeExp,
			Actions: append(acts, FailTimer{1}), Expected: ok(), Close: exp,
			SuppressClose: true, WrongCodeFails: true}
	}
	cs := []*Case{
		{ID: "7.1.1", Description: "Send a text message, then close normally after the echo.",
			Expectation: "The message is echoed, then the testee answers the close cleanly.",
			Actions:     []Action{frame(OpText, Text(helloW)), FailTimer{1}},
			Expected:    ok(msgText(helloW)), Close: fuzzerCloses(), WrongCodeFails: true},
		c7("7.1.2", "Close with 1000, then send a second close frame.",
			[]Action{SendClose{HasCode: true, Code: 1000}, frame(OpClose, Payload{})}, fuzzerCloses()),
		c7("7.1.3", "Close with 1000, then send a ping.",
			[]Action{SendClose{HasCode: true, Code: 1000}, frame(OpPing, Payload{})}, fuzzerCloses()),
		c7("7.1.4", "Close with 1000, then send a text message.",
			[]Action{SendClose{HasCode: true, Code: 1000}, frame(OpText, Text(helloW))}, fuzzerCloses()),
		c7("7.1.5", "Send the first fragment of a text message, close with 1000, then send the last fragment.",
			[]Action{frame(OpText, Text("fragment1")).fin(false), SendClose{HasCode: true, Code: 1000}, frame(OpCont, Text("fragment2"))}, fuzzerCloses()),
		{ID: "7.1.6", Description: "Send a 256 KiB text message, a short text message, close with 1000 and a ping, back to back.",
			Expectation: "Informational only: shows whether the testee processed the data before the close.",
			Actions: []Action{frame(OpText, Repeat("BAsd7&jh23", 262144)), frame(OpText, Text(helloW)),
				SendClose{HasCode: true, Code: 1000}, frame(OpPing, Payload{}), FailTimer{1}},
			Expected:      okOrNonStrict([]Event{msgText(helloW)}, []Event{}),
			Close:         fuzzerCloses(),
			SuppressClose: true, Informational: true},
		c7("7.3.1", "Send a close frame with an empty payload.", []Action{SendClose{}}, fuzzerCloses()),
		c7("7.3.2", "Send a close frame with a 1-byte payload (no valid code).",
			[]Action{SendClose{Reason: []byte("a")}}, ExpectedClose{ClosedByMe: true, Codes: []int{1002}}),
		c7("7.3.3", "Send a close frame with code 1000 and no reason.", []Action{SendClose{HasCode: true, Code: 1000}}, fuzzerCloses()),
		c7("7.3.4", "Send a close frame with code 1000 and a short reason.",
			[]Action{SendClose{HasCode: true, Code: 1000, Reason: []byte(helloW)}}, fuzzerCloses()),
		c7("7.3.5", "Send a close frame with code 1000 and a 123-byte reason (payload of exactly 125 bytes).",
			[]Action{SendClose{HasCode: true, Code: 1000, Reason: Repeat("*", 123).Bytes()}}, fuzzerCloses()),
		c7("7.3.6", "Send a close frame with code 1000 and a 124-byte reason (payload of 126 bytes, too long for a control frame).",
			[]Action{SendClose{HasCode: true, Code: 1000, Reason: Repeat("*", 124).Bytes()}}, ExpectedClose{ClosedByMe: true, Codes: []int{1002}}),
		c7("7.5.1", "Send a close frame with code 1000 and a reason that is invalid UTF-8.",
			[]Action{SendClose{HasCode: true, Code: 1000, Reason: invalidKosme, HexReason: true}},
			ExpectedClose{ClosedByMe: true, Codes: []int{1002, 1007}}),
	}
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		// The accepted list is always {1000, code}, so 7.7.1 lists 1000 twice
		// as in the original's report.
		codes := []int{1000, code}
		cs = append(cs, c7(fmt.Sprintf("7.7.%d", i+1), fmt.Sprintf("Send a close frame with the valid code %d.", code),
			[]Action{SendClose{HasCode: true, Code: code}}, ExpectedClose{ClosedByMe: true, Codes: codes, Clean: true}))
	}
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		c := c7(fmt.Sprintf("7.9.%d", i+1), fmt.Sprintf("Send a close frame with the invalid code %d.", code),
			[]Action{SendClose{HasCode: true, Code: code}}, ExpectedClose{ClosedByMe: true, Codes: []int{1002}})
		c.Expectation = "The testee fails the connection with 1002 (or drops TCP)."
		cs = append(cs, c)
	}
	for i, code := range []int{5000, 65535} {
		cs = append(cs, &Case{ID: fmt.Sprintf("7.13.%d", i+1),
			Description: fmt.Sprintf("Send a close frame with the code %d outside the defined ranges.", code),
			Expectation: "Informational only.",
			Actions:     []Action{SendClose{HasCode: true, Code: code}, FailTimer{1}},
			Expected:    ok(), Close: ExpectedClose{ClosedByMe: true, Codes: []int{1000, code, 1002}},
			SuppressClose: true, Informational: true})
	}
	return cs
}
