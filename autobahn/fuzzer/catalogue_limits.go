package fuzzer

import "fmt"

// Section 9: limits and performance (CASES §3.8). Only the type and length
// of what comes back are judged; the content is not compared (CASES
// pitfall 22), exactly like the original.

const (
	textPattern   = "BAsd7&jh23"
	binaryPattern = "\x00\xfe\x23\xfa\xf0"
)

func limitCases() []*Case {
	var cs []*Case
	add := func(id, desc string, binary bool, length int, acts ...Action) {
		cs = append(cs, &Case{
			ID: id, Description: desc,
			Expectation: fmt.Sprintf("A %s message of exactly %d bytes comes back (content not compared); then a clean close with 1000.", kindName(binary), length),
			Actions:     acts,
			Close:       fuzzerCloses(),
			NoWirelog:   true, ReportTime: true,
			NewDriver: func() Driver { return &singleEcho{binary: binary, length: length} },
		})
	}
	sizes := []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20}
	timeouts := map[bool][]float64{false: {10, 10, 100, 100, 100, 100}, true: {10, 10, 10, 10, 100, 100}}
	for sub, bin := range []bool{false, true} {
		op, pat := kindOf(bin)
		for i, n := range sizes {
			add(fmt.Sprintf("9.%d.%d", sub+1, i+1), fmt.Sprintf("Send a %s message of %d bytes in one frame.", kindName(bin), n),
				bin, n, frame(op, Repeat(pat, n)), CloseTimer{timeouts[bin][i]})
		}
	}
	const msgLen = 4 << 20
	for sub, bin := range []bool{false, true} {
		for i, frag := range []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20} {
			p := Repeat("*", msgLen)
			if bin && i == 0 {
				// Only 9.4.1 carries 0xfe; 9.4.2–9.4.9 send '*' (CASES pitfall 9).
				p = Repeat("\xfe", msgLen)
			}
			add(fmt.Sprintf("9.%d.%d", sub+3, i+1),
				fmt.Sprintf("Send a %s message of %d bytes in fragments of %d bytes.", kindName(bin), msgLen, frag),
				bin, msgLen, SendMessage{Binary: bin, Payload: p, FragmentSize: frag}, CloseTimer{100})
		}
	}
	for sub, bin := range []bool{false, true} {
		op, pat := kindOf(bin)
		for i, chop := range []int{64, 128, 256, 512, 1024, 2048} {
			add(fmt.Sprintf("9.%d.%d", sub+5, i+1),
				fmt.Sprintf("Send a %s message of 1 MiB in one frame, written to the socket in pieces of %d bytes.", kindName(bin), chop),
				bin, 1<<20, frame(op, Repeat(pat, 1<<20)).chop(chop), CloseTimer{1000})
		}
	}
	for sub, bin := range []bool{false, true} {
		for i, n := range []int{0, 16, 64, 256, 1024, 4096} {
			bin, n := bin, n
			cs = append(cs, &Case{
				ID:          fmt.Sprintf("9.%d.%d", sub+7, i+1),
				Description: fmt.Sprintf("Round trips: send 1000 %s messages of %d bytes one after the other, each after the previous echo.", kindName(bin), n),
				Expectation: "Every echo has the right type and length (content not compared); then a clean close with 1000.",
				Actions:     []Action{CloseTimer{[]float64{60, 60, 60, 120, 240, 480}[i]}},
				Close:       fuzzerCloses(),
				NoWirelog:   true, ReportTime: true,
				NewDriver: func() Driver { return &roundTrips{binary: bin, length: n, count: 1000} },
			})
		}
	}
	return cs
}

func kindName(binary bool) string {
	if binary {
		return "binary"
	}
	return "text"
}

func kindOf(binary bool) (byte, string) {
	if binary {
		return OpBinary, binaryPattern
	}
	return OpText, textPattern
}

// singleEcho judges 9.1–9.6: the first message decides, then the fuzzer
// closes with 1000.
type singleEcho struct {
	binary   bool
	length   int
	decided  bool
	behavior string
	result   string
}

func (d *singleEcho) Start(*Session) {}

func (d *singleEcho) Message(s *Session, data []byte, binary bool) {
	if d.decided {
		return
	}
	d.decided = true
	if binary == d.binary && len(data) == d.length {
		d.behavior, d.result = OK, fmt.Sprintf("Got back a %s message of %d bytes.", kindName(binary), len(data))
	} else {
		d.behavior, d.result = Failed, fmt.Sprintf("Got back a %s message of %d bytes, wanted %s of %d bytes.",
			kindName(binary), len(data), kindName(d.binary), d.length)
	}
	s.Close(1000)
}

func (d *singleEcho) Verdict(*Session) (string, string) {
	if !d.decided {
		return Failed, "No message came back before the case ended."
	}
	return d.behavior, d.result
}

// roundTrips judges 9.7/9.8: one frame outstanding at any time, each echo
// checked for type and length.
type roundTrips struct {
	binary bool
	length int
	count  int
	sent   int
	done   bool
	failed string
}

func (d *roundTrips) Start(s *Session) { d.send(s) }

func (d *roundTrips) send(s *Session) {
	op, pat := OpText, "*"
	if d.binary {
		op, pat = OpBinary, "\xfe"
	}
	d.sent++
	s.SendFrame(frame(op, Repeat(pat, d.length)))
}

func (d *roundTrips) Message(s *Session, data []byte, binary bool) {
	if d.done {
		return
	}
	switch {
	case binary != d.binary || len(data) != d.length:
		d.done = true
		d.failed = fmt.Sprintf("Echo %d was a %s message of %d bytes.", d.sent, kindName(binary), len(data))
		s.Close(1000)
	case d.sent < d.count:
		d.send(s)
	default:
		d.done = true
		s.Close(1000)
	}
}

func (d *roundTrips) Verdict(*Session) (string, string) {
	switch {
	case d.failed != "":
		return Failed, d.failed
	case d.done:
		return OK, fmt.Sprintf("All %d round trips completed.", d.count)
	}
	return Failed, fmt.Sprintf("Only %d of %d round trips were started before the case ended.", d.sent, d.count)
}
