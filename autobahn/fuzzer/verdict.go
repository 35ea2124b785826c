package fuzzer

import (
	"fmt"
	"slices"
	"time"
)

// Result is everything known about one run of one case: the verdicts and
// the connection details that go into the reports.
type Result struct {
	Case       *Case
	CaseNumber int // server role: N of /runCase; client role: catalogue index
	Agent      string
	IsServer   bool
	Started    time.Time
	Duration   time.Duration
	Opened     bool // the opening handshake completed

	Behavior, BehaviorClose string
	Text, TextClose         string // explanations ("result", "resultClose")

	Received []Event
	Conn     ConnOutcome

	RxOctets, TxOctets, RxFrames, TxFrames map[int]int
	Wirelog                                []any
	HTTPRequest, HTTPResponse              string
	TrafficStats                           map[string]any
}

// ConnOutcome are the connection-state fields of CASES §1.10.
type ConnOutcome struct {
	ClosedByMe, FailedByMe, DroppedByMe, WasClean bool
	WasNotCleanReason                             *string
	WasServerConnectionDropTimeout                bool
	WasOpenHandshakeTimeout                       bool
	WasCloseHandshakeTimeout                      bool
	LocalCloseCode, RemoteCloseCode               *int
	LocalCloseReason, RemoteCloseReason           *string
}

// judgeClose applies the behaviorClose rules of CASES §1.10 in order.
func judgeClose(c *Case, opened, isServer bool, o ConnOutcome) (string, string) {
	exp := c.Close
	switch {
	case !opened:
		return Failed, "The opening handshake did not complete."
	case o.ClosedByMe != exp.ClosedByMe:
		return Failed, "The connection was closed by the wrong endpoint."
	case exp.Clean && !o.WasClean:
		return Unclean, "The connection was not closed cleanly (no close handshake or TCP not closed in time)."
	case o.RemoteCloseCode != nil && !slices.Contains(exp.Codes, *o.RemoteCloseCode):
		return WrongCode, fmt.Sprintf("The testee's close code %d is not one of %v (or none).", *o.RemoteCloseCode, exp.Codes)
	case !isServer && o.DroppedByMe:
		return FailedByPeer, "The fuzzer had to drop the TCP connection itself."
	}
	return OK, "The connection was closed as expected."
}

// judgeEvents compares the received list with the expected outcomes: the
// first exact match names the behavior (CASES §1.10 step 2, pitfall 13).
func judgeEvents(c *Case, received []Event) (string, string) {
	for _, o := range c.Expected {
		if eventsEqual(o.Events, received) {
			return o.Name, fmt.Sprintf("The received events match the %s expectation.", o.Name)
		}
	}
	return Failed, "The received events differ from every expectation."
}

// judge computes both verdicts of a finished session.
func judge(c *Case, opened, isServer bool, received []Event, o ConnOutcome, d Driver, s *Session) (b, bc, text, textClose string) {
	bc, textClose = judgeClose(c, opened, isServer, o)
	switch {
	case !opened:
		b, text = Failed, "The opening handshake did not complete."
	case d != nil:
		b, text = d.Verdict(s)
	default:
		b, text = judgeEvents(c, received)
	}
	if c.Close.WrongCloserFatal && opened && o.ClosedByMe != c.Close.ClosedByMe {
		b, text = Failed, "The wrong endpoint closed the connection, which fails this case."
	}
	if c.WrongCodeFails && bc == WrongCode {
		b, text = Failed, "The close code was wrong, which fails this case."
	}
	if c.AutoFragment > 0 && s != nil {
		// 10.1.1 checks the fuzzer's own framing (CASES pitfall 21).
		wantCont := c.Actions[0].(SendMessage).Payload.Len() / c.AutoFragment
		if s.txDataFrames[OpText] != 1 || s.txDataFrames[OpCont] != wantCont {
			b, text = Failed, fmt.Sprintf("The fuzzer sent %d text and %d continuation frames, wanted 1 and %d.",
				s.txDataFrames[OpText], s.txDataFrames[OpCont], wantCont)
		}
	}
	if c.Informational {
		b, bc = Informational, Informational
	}
	return b, bc, text, textClose
}
