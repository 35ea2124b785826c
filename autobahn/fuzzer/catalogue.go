package fuzzer

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Opcodes of RFC 6455 §5.2 (the reserved ones are written as plain numbers).
const (
	OpCont   byte = 0
	OpText   byte = 1
	OpBinary byte = 2
	OpClose  byte = 8
	OpPing   byte = 9
	OpPong   byte = 10
)

// Outcome names used by the verdicts (CASES §1.10, pitfall 30).
const (
	OK            = "OK"
	NonStrict     = "NON-STRICT"
	Failed        = "FAILED"
	Informational = "INFORMATIONAL"
	Unimplemented = "UNIMPLEMENTED"
	Unclean       = "UNCLEAN"
	WrongCode     = "WRONG CODE"
	FailedByPeer  = "FAILED BY CLIENT"
)

// Payload is what a case sends: Data itself, or, when Repeat > 0, Data
// repeated and cut to exactly Repeat bytes (CASES pitfall 8).
type Payload struct {
	Data   []byte
	Repeat int
}

// Bytes returns the payload as sent on the wire.
func (p Payload) Bytes() []byte {
	if p.Repeat == 0 {
		return p.Data
	}
	out := bytes.Repeat(p.Data, p.Repeat/len(p.Data)+1)
	return out[:p.Repeat]
}

// Len is the payload length in bytes.
func (p Payload) Len() int {
	if p.Repeat > 0 {
		return p.Repeat
	}
	return len(p.Data)
}

// Text is a Payload holding the bytes of s.
func Text(s string) Payload { return Payload{Data: []byte(s)} }

// Repeat is a Payload of pattern repeated and cut to n bytes.
func Repeat(pattern string, n int) Payload {
	if n == 0 {
		return Payload{Data: []byte{}}
	}
	return Payload{Data: []byte(pattern), Repeat: n}
}

// WriteMode controls how the bytes of a frame reach the socket (CASES §1.7).
type WriteMode struct {
	Sync bool // the frame is written by itself, followed by a short pause
	Chop int  // > 0: the frame bytes are written in pieces of this size
}

// Action is one step of a case's script. The concrete types are SendFrame,
// SendMessage, SendClose, SendHeader, SendChunk, Wait, FailTimer and
// CloseTimer; they run in order when the connection opens, a Wait defers the
// rest of the script.
type Action interface{ isAction() }

// SendFrame writes one raw frame exactly as given, without any validity
// checks: invalid frames are the point of many cases.
type SendFrame struct {
	Opcode  byte
	Fin     bool
	Rsv     byte // the 3-bit field value: 4 = RSV1, 2 = RSV2, 1 = RSV3
	Payload Payload
	Write   WriteMode
}

// SendMessage sends a data message through the "message API": one frame, or
// fragments of FragmentSize bytes following the split rule of CASES §3.0.
type SendMessage struct {
	Binary       bool
	Payload      Payload
	FragmentSize int
}

// SendClose starts the closing handshake with the given code (only when
// HasCode) and reason, bypassing any check of their validity. HexReason only
// changes how the report shows the reason (7.5.1 sends invalid UTF-8).
type SendClose struct {
	HasCode   bool
	Code      int
	Reason    []byte
	HexReason bool
}

// SendHeader writes only a frame header that declares Length payload bytes;
// the payload follows in SendChunk actions (6.4.3/6.4.4, CASES pitfall 7).
type SendHeader struct {
	Opcode byte
	Fin    bool
	Length int
}

// SendChunk writes the next raw payload bytes of the frame started by
// SendHeader, masked with the continuing key stream in the client role.
type SendChunk struct{ Data []byte }

// Wait defers the remaining actions by Seconds. With RecordTimeout the
// continuation only runs while the connection is still open and then records
// the pseudo-event timeout(Tag) (the 6.4.x "fail fast" cases, CASES §1.6).
type Wait struct {
	Seconds       float64
	Tag           string
	RecordTimeout bool
}

// FailTimer arms fail@Seconds: send close 1001 if still open, or drop TCP if
// a closing handshake is already running (CASES §1.6, pitfall 16).
type FailTimer struct{ Seconds float64 }

// CloseTimer arms close@Seconds: send a close frame without status code if
// still open (CASES §1.6, pitfall 17).
type CloseTimer struct{ Seconds float64 }

func (SendFrame) isAction()   {}
func (SendMessage) isAction() {}
func (SendClose) isAction()   {}
func (SendHeader) isAction()  {}
func (SendChunk) isAction()   {}
func (Wait) isAction()        {}
func (FailTimer) isAction()   {}
func (CloseTimer) isAction()  {}

// Event is one entry of the received list (CASES §1.8).
type Event struct {
	Kind   string // "message", "pong" or "timeout"
	Data   []byte // message or pong payload
	Binary bool   // message type
	Tag    string // timeout tag
}

// Message is the event of a received data message.
func Message(data []byte, binary bool) Event {
	return Event{Kind: "message", Data: data, Binary: binary}
}

// Pong is the event of a received pong frame.
func Pong(data []byte) Event { return Event{Kind: "pong", Data: data} }

// Timeout is the 6.4.x pseudo-event.
func Timeout(tag string) Event { return Event{Kind: "timeout", Tag: tag} }

// Equal reports whether two events are identical (same kind, bytes, type).
func (e Event) Equal(o Event) bool {
	return e.Kind == o.Kind && e.Binary == o.Binary && e.Tag == o.Tag && bytes.Equal(e.Data, o.Data)
}

// Outcome is one expected received list and the verdict it produces.
type Outcome struct {
	Name   string // OK or NON-STRICT
	Events []Event
}

// ExpectedClose describes how the connection should end (CASES §1.10).
type ExpectedClose struct {
	ClosedByMe bool  // the fuzzer is expected to send the first close frame
	Codes      []int // accepted close codes from the testee
	Clean      bool  // a clean close is required
	// WrongCloserFatal turns behavior into FAILED when the other side
	// closed first (6.3.x, 6.4.x and invalid 6.5–6.23 vectors).
	WrongCloserFatal bool
}

// Case is one test case of the catalogue.
type Case struct {
	ID          string
	Index       int // 1-based position in the full ordered catalogue
	Description string
	Expectation string

	Actions  []Action
	Expected []Outcome // nil for the cases judged by a Driver
	Close    ExpectedClose

	// SuppressClose disables the automatic close when the received events
	// match (CASES §1.9).
	SuppressClose bool
	// WrongCodeFails turns behavior into FAILED on a WRONG CODE close verdict.
	WrongCodeFails bool
	// Informational forces both verdicts to INFORMATIONAL (7.1.6, 7.13.x).
	Informational bool
	// AutoFragment makes the message API split messages into frames of
	// this many bytes (10.1.1) and checks the frames actually sent.
	AutoFragment int
	// NoWirelog suppresses the wire log while data flows (9.x, 12.x, 13.x).
	NoWirelog bool
	// ReportTime and ReportRatio are the report flags of the same names.
	ReportTime, ReportRatio bool

	// NewDriver, when set, replaces event recording and comparison: 9.x
	// echo checks and the 12.x/13.x compression loops.
	NewDriver func() Driver
	// Deflate is the permessage-deflate parameter set of 12.x/13.x.
	Deflate *DeflateParams
}

// Section is the first component of the id ("6" for "6.4.1").
func (c *Case) Section() string { return strings.SplitN(c.ID, ".", 2)[0] }

// Driver runs a case whose outcome is not an event-list comparison
// (9.x, 12.x, 13.x). All methods are called on the session's goroutine.
type Driver interface {
	// Start is called once the connection is open.
	Start(s *Session)
	// Message receives every complete data message.
	Message(s *Session, data []byte, binary bool)
	// Verdict returns behavior and its explanation when the case ends.
	Verdict(s *Session) (behavior, result string)
}

var (
	catalogueOnce sync.Once
	catalogue     []*Case
	catalogueByID map[string]*Case
)

// All returns the full catalogue in the suite's order (ids compared as
// integer tuples, CASES §1.4). The slice must not be modified.
func All() []*Case {
	catalogueOnce.Do(func() {
		var cs []*Case
		cs = append(cs, framingCases()...)
		cs = append(cs, pingCases()...)
		cs = append(cs, reservedBitCases()...)
		cs = append(cs, opcodeCases()...)
		cs = append(cs, fragmentationCases()...)
		cs = append(cs, utf8Cases()...)
		cs = append(cs, closeCases()...)
		cs = append(cs, limitCases()...)
		cs = append(cs, autoFragmentCases()...)
		cs = append(cs, deflateCases()...)
		SortCases(cs)
		catalogueByID = make(map[string]*Case, len(cs))
		for i, c := range cs {
			c.Index = i + 1
			if catalogueByID[c.ID] != nil {
				panic("duplicate case id " + c.ID)
			}
			catalogueByID[c.ID] = c
		}
		catalogue = cs
	})
	return catalogue
}

// ByID returns the case with the given id, or nil.
func ByID(id string) *Case {
	All()
	return catalogueByID[id]
}

// SortCases orders cases by id read as a tuple of integers.
func SortCases(cs []*Case) {
	sort.SliceStable(cs, func(i, j int) bool { return CompareIDs(cs[i].ID, cs[j].ID) < 0 })
}

// CompareIDs compares two case ids as integer tuples: "6.9.1" < "6.10.1".
func CompareIDs(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		var x, y int
		fmt.Sscan(pa[i], &x)
		fmt.Sscan(pb[i], &y)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return len(pa) - len(pb)
}

// Small constructors that keep the case tables short.

func frame(op byte, p Payload) SendFrame { return SendFrame{Opcode: op, Fin: true, Payload: p} }

func (f SendFrame) fin(v bool) SendFrame       { f.Fin = v; return f }
func (f SendFrame) rsv(v byte) SendFrame       { f.Rsv = v; return f }
func (f SendFrame) chop(n int) SendFrame       { f.Write.Chop = n; return f }
func (f SendFrame) mode(m WriteMode) SendFrame { f.Write = m; return f }

func textMsg(p Payload, fragment int) SendMessage {
	return SendMessage{Payload: p, FragmentSize: fragment}
}

func ok(events ...Event) []Outcome { return []Outcome{{Name: OK, Events: events}} }

func okOrNonStrict(okEvents []Event, nonStrict []Event) []Outcome {
	return []Outcome{{Name: OK, Events: okEvents}, {Name: NonStrict, Events: nonStrict}}
}

// fuzzerCloses is the usual expectation of a case that ends normally: the
// fuzzer closes with 1000 and the testee answers cleanly.
func fuzzerCloses() ExpectedClose {
	return ExpectedClose{ClosedByMe: true, Codes: []int{1000}, Clean: true}
}

// testeeCloses is the expectation of a case where the testee must fail the
// connection; a clean close is not required (CASES §1.10 last paragraph).
func testeeCloses(code int) ExpectedClose {
	return ExpectedClose{ClosedByMe: false, Codes: []int{code}}
}

func msgText(s string) Event { return Message([]byte(s), false) }
func pongOf(s string) Event  { return Pong([]byte(s)) }
