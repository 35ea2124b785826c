package fuzzer

import (
	"crypto/rand"
	"net"
	"time"
)

// connState is the protocol state of the fuzzer's endpoint.
type connState int

const (
	stateOpen    connState = iota // handshake done, no close frame sent or received
	stateClosing                  // a close frame was sent (by us, first or as reply)
	stateClosed                   // TCP is being or has been closed
)

// Timeouts of the fuzzer's endpoint (CASES §1.5).
const (
	closeHandshakeTimeout = time.Second // from our first close frame
	serverDropTimeout     = time.Second // client role: server must close TCP
	// safetyMargin is added to the longest timer of a case to bound a case
	// that the original could leave hanging (CASES pitfall 27).
	safetyMargin = 10 * time.Second
)

// Session runs one case over one established WebSocket connection. All its
// state is owned by one goroutine (run); the reader, the writer and the
// timers only post functions to it. That mirrors the single-threaded event
// loop of the original, so the order of events is well defined.
type Session struct {
	Case     *Case
	isServer bool
	conn     net.Conn
	w        *writer
	inbox    chan func()
	quit     chan struct{}

	state    connState
	openedAt time.Time
	lost     bool
	duration time.Duration

	// What the report calls the connection-state fields (CASES §1.10).
	closedByMe, failedByMe, droppedByMe, wasClean bool
	wasNotCleanReason                             *string
	wasServerDropTimeout, wasCloseTimeout         bool
	safetyDeadlineHit                             bool
	localCloseCode, remoteCloseCode               *int
	localCloseReason, remoteCloseReason           *string

	received []Event
	driver   Driver
	deflate  *deflateState

	closeTimer *time.Timer
	timers     []*time.Timer

	// statistics and the wire log
	log                *wireLog
	rxOctets, txOctets map[int]int
	rxFrames, txFrames map[int]int
	pending            []byte   // plain writes of the current step
	chunkMask          *[4]byte // key of the frame opened by SendHeader
	chunkPos           int      // key stream position within it
	txDataFrames       map[byte]int
	incoming           reader
}

// newSession prepares a session on an open connection. rest holds bytes
// that arrived after the handshake response/request.
func newSession(c *Case, conn net.Conn, isServer bool, d *deflateState, log *wireLog) *Session {
	s := &Session{
		Case: c, isServer: isServer, conn: conn, deflate: d, log: log,
		inbox:    make(chan func(), 64),
		quit:     make(chan struct{}),
		rxOctets: map[int]int{}, txOctets: map[int]int{},
		rxFrames: map[int]int{}, txFrames: map[int]int{},
		txDataFrames: map[byte]int{},
	}
	if c.NewDriver != nil {
		s.driver = c.NewDriver()
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetNoDelay(true)
	}
	return s
}

// run executes the case until the TCP connection is gone and returns the
// duration from open to close.
func (s *Session) run(rest []byte) {
	s.w = newWriter(s.conn)
	s.openedAt = time.Now()
	s.state = stateOpen
	deadline := time.NewTimer(s.safetyDeadline())
	defer deadline.Stop()
	go s.readLoop()

	s.onOpen()
	if len(rest) > 0 {
		s.onData(rest)
	}
	s.flush()
	for !s.lost {
		select {
		case f := <-s.inbox:
			f()
			s.flush()
		case <-deadline.C:
			// The original has no overall deadline; a testee that never
			// closes TCP after its own close would hang it forever.
			s.safetyDeadlineHit = true
			if s.state != stateClosed {
				s.wasClean = false
				s.setNotClean("safety deadline of the Go runner expired")
				s.dropConnection(true)
			} else {
				s.conn.Close()
			}
		}
	}
	close(s.quit)
	for _, t := range s.timers {
		t.Stop()
	}
}

// safetyDeadline is the longest timer of the case plus a margin.
func (s *Session) safetyDeadline() time.Duration {
	longest := 3.0 // the longest wait chain of the short cases (6.4.x)
	for _, a := range s.Case.Actions {
		switch a := a.(type) {
		case FailTimer:
			longest = max(longest, a.Seconds+2)
		case CloseTimer:
			longest = max(longest, a.Seconds)
		}
	}
	return time.Duration(longest*float64(time.Second)) + safetyMargin
}

// post runs f on the session goroutine; it is dropped once the session ended.
func (s *Session) post(f func()) {
	select {
	case s.inbox <- f:
	case <-s.quit:
	}
}

// after runs f on the session goroutine after d seconds.
func (s *Session) after(seconds float64, f func()) *time.Timer {
	t := time.AfterFunc(time.Duration(seconds*float64(time.Second)), func() { s.post(f) })
	s.timers = append(s.timers, t)
	return t
}

func (s *Session) readLoop() {
	buf := make([]byte, 256<<10)
	for {
		n, err := s.conn.Read(buf)
		if n > 0 {
			data := append([]byte(nil), buf[:n]...)
			s.post(func() { s.onData(data) })
		}
		if err != nil {
			s.post(s.onConnectionLost)
			return
		}
	}
}

// onOpen starts the case script, then its driver (CASES §1.6: timers and
// the duration clock start here).
func (s *Session) onOpen() {
	if s.Case.NoWirelog {
		s.log.enable(false)
	}
	s.runScript(s.Case.Actions)
	if s.driver != nil {
		s.driver.Start(s)
	}
}

// runScript runs actions in order until a Wait, which schedules the rest.
func (s *Session) runScript(acts []Action) {
	for i, a := range acts {
		switch a := a.(type) {
		case SendFrame:
			s.SendFrame(a)
		case SendMessage:
			s.sendMessage(a)
		case SendClose:
			var code *int
			if a.HasCode {
				code = &a.Code
			}
			s.sendClose(code, a.Reason, a.HexReason, false)
		case SendHeader:
			s.sendHeader(a)
		case SendChunk:
			s.sendChunk(a)
		case FailTimer:
			s.log.timer("KL", a.Seconds)
			s.after(a.Seconds, func() {
				s.log.timer("KLE")
				s.failConnection(1001, "Going Away")
			})
		case CloseTimer:
			s.log.timer("TI", a.Seconds)
			s.after(a.Seconds, func() {
				s.log.timer("TIE")
				s.sendClose(nil, nil, false, false)
			})
		case Wait:
			rest := acts[i+1:]
			var tag any
			if a.Tag != "" {
				tag = a.Tag
			}
			s.log.timer("CT", a.Seconds, tag)
			s.after(a.Seconds, func() {
				s.log.timer("CTE", tag)
				if s.state == stateClosed {
					return
				}
				if a.RecordTimeout {
					// 6.4.x continue only while strictly open (CASES pitfall 20).
					if s.state != stateOpen {
						return
					}
					s.received = append(s.received, Timeout(a.Tag))
				}
				s.runScript(rest)
			})
			return
		}
	}
}

// newMask returns a fresh random masking key in the client role and nil in
// the server role (RFC 6455 §5.3: only clients mask).
func (s *Session) newMask() *[4]byte {
	if s.isServer {
		return nil
	}
	var k [4]byte
	rand.Read(k[:])
	return &k
}

// SendFrame writes one raw frame as given.
func (s *Session) SendFrame(f SendFrame) {
	payload := f.Payload.Bytes()
	mask := s.newMask()
	if s.log.on {
		s.log.txFrame(f, payload, mask)
	}
	s.txFrames[int(f.Opcode)]++
	if f.Opcode <= OpBinary {
		s.txDataFrames[f.Opcode]++
	}
	s.write(appendFrame(nil, f.Opcode, f.Fin, f.Rsv, payload, mask), f.Write)
}

// sendMessage sends a data message through the message API, split by the
// case's fragment size or the session's auto-fragment size (10.1.1).
func (s *Session) sendMessage(m SendMessage) {
	op := OpText
	if m.Binary {
		op = OpBinary
	}
	frag := m.FragmentSize
	if frag == 0 {
		frag = s.Case.AutoFragment
	}
	s.sendFragments(op, 0, m.Payload.Bytes(), frag)
}

func (s *Session) sendFragments(op, rsv byte, data []byte, frag int) {
	pos := 0
	sizes := fragmentSizes(len(data), frag)
	for i, n := range sizes {
		f := SendFrame{Opcode: op, Fin: i == len(sizes)-1, Payload: Payload{Data: data[pos : pos+n]}}
		if i == 0 {
			f.Rsv = rsv
		} else {
			f.Opcode = OpCont
		}
		s.SendFrame(f)
		pos += n
	}
}

// SendCompressed sends a message compressed with the negotiated
// permessage-deflate: RSV1 on the first frame, the compressed bytes split
// by frag (CASES §3.10 step 3, pitfall 12).
func (s *Session) SendCompressed(msg []byte, binary bool, frag int) {
	op := OpText
	if binary {
		op = OpBinary
	}
	s.sendFragments(op, 4, s.deflate.compress(msg), frag)
}

// DeflateActive reports whether permessage-deflate was negotiated.
func (s *Session) DeflateActive() bool { return s.deflate != nil }

func (s *Session) sendHeader(h SendHeader) {
	s.chunkMask = s.newMask()
	s.chunkPos = 0
	s.txFrames[int(h.Opcode)]++
	s.write(appendHeader(nil, h.Opcode, h.Fin, 0, h.Length, s.chunkMask), WriteMode{})
}

func (s *Session) sendChunk(c SendChunk) {
	data := append([]byte(nil), c.Data...)
	if s.chunkMask != nil {
		s.chunkPos = maskBytes(*s.chunkMask, s.chunkPos, data)
	}
	s.write(data, WriteMode{})
}

// write hands bytes to the socket with the requested granularity.
func (s *Session) write(data []byte, m WriteMode) {
	switch {
	case m.Chop > 0:
		s.flush()
		for len(data) > 0 {
			n := min(m.Chop, len(data))
			s.push(data[:n:n], true)
			data = data[n:]
		}
	case m.Sync:
		s.flush()
		s.push(data, true)
	default:
		s.log.txOctets(data, false)
		s.txOctets[len(data)]++
		s.pending = append(s.pending, data...)
	}
}

func (s *Session) push(data []byte, pause bool) {
	s.log.txOctets(data, pause)
	s.txOctets[len(data)]++
	s.w.push(writeItem{data: append([]byte(nil), data...), pause: pause})
}

// flush hands the plain writes of the current step to the writer as one
// piece, so they leave together (CASES §1.7).
func (s *Session) flush() {
	if len(s.pending) > 0 && s.state != stateClosed {
		s.w.push(writeItem{data: s.pending})
	}
	s.pending = nil
}

// Close starts the closing handshake with a status code, if still open.
func (s *Session) Close(code int) { s.sendClose(&code, nil, false, false) }

// sendClose sends a close frame if the connection is open and moves to the
// closing state. isReply marks the answer to the testee's close.
func (s *Session) sendClose(code *int, reason []byte, hexReason, isReply bool) {
	if s.state != stateOpen {
		return
	}
	// The bulk phase of 9.x/12.x/13.x is over: log the close again.
	s.log.enable(true)
	var payload []byte
	if code != nil {
		payload = append(payload, byte(*code>>8), byte(*code))
	}
	payload = append(payload, reason...)
	s.SendFrame(SendFrame{Opcode: OpClose, Fin: true, Payload: Payload{Data: payload}})
	s.state = stateClosing
	s.closedByMe = !isReply
	if code != nil {
		c := *code & 0xffff
		s.localCloseCode = &c
	}
	if reason != nil {
		r := string(reason)
		if hexReason {
			r = hexString(reason)
		}
		s.localCloseReason = &r
	}
	if s.closedByMe {
		s.closeTimer = s.after(closeHandshakeTimeout.Seconds(), func() {
			if s.state != stateClosed {
				s.wasCloseTimeout = true
				s.wasClean = false
				s.setNotClean("peer did not respond (in time) in closing handshake")
				s.dropConnection(true)
			}
		})
	}
}

// failConnection is the fuzzer's reaction to a protocol error of the testee
// or to its own fail timer: a close frame while open, else dropping TCP
// (CASES §1.5: failing is a close handshake, not a TCP drop).
func (s *Session) failConnection(code int, reason string) {
	if s.state == stateClosed {
		return
	}
	s.failedByMe = true
	if s.state == stateOpen {
		if len(reason) > 123 {
			reason = reason[:123]
		}
		s.sendClose(&code, []byte(reason), false, false)
	} else {
		s.dropConnection(false)
	}
}

// protocolViolation fails with 1002; processing of the offending frame
// continues so the testee's close reply can still be read.
func (s *Session) protocolViolation(reason string) { s.failConnection(1002, reason) }

// invalidPayload fails with 1007 (invalid UTF-8 from the testee).
func (s *Session) invalidPayload(reason string) { s.failConnection(1007, reason) }

// dropConnection closes TCP: at once (abort) or after the queued writes.
func (s *Session) dropConnection(abort bool) {
	if s.state == stateClosed {
		return
	}
	s.droppedByMe = true
	s.state = stateClosed
	if abort {
		s.pending = nil
		s.w.abort()
		s.conn.Close()
		return
	}
	s.flush()
	s.w.push(writeItem{close: true})
}

func (s *Session) setNotClean(reason string) {
	if s.wasNotCleanReason == nil {
		s.wasNotCleanReason = &reason
	}
}

func (s *Session) onConnectionLost() {
	if s.lost {
		return
	}
	s.lost = true
	s.duration = time.Since(s.openedAt)
	for _, t := range s.timers {
		t.Stop()
	}
	s.state = stateClosed
	if !s.wasClean && !s.droppedByMe {
		s.setNotClean("peer dropped the TCP connection without previous WebSocket closing handshake")
	}
	s.w.abort()
	s.conn.Close()
}

// record appends a received event and closes automatically once every
// expected list matches (CASES §1.9).
func (s *Session) record(e Event) {
	s.received = append(s.received, e)
	c := s.Case
	if c.SuppressClose || !c.Close.ClosedByMe || len(c.Expected) == 0 {
		return
	}
	for _, o := range c.Expected {
		if !eventsEqual(o.Events, s.received) {
			return
		}
	}
	s.Close(1000)
}

func eventsEqual(a, b []Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// result collects the verdicts and report fields once the session ended.
func (s *Session) result(r *Result) {
	r.Opened = true
	r.Duration = s.duration
	r.Received = s.received
	r.Conn = ConnOutcome{
		ClosedByMe: s.closedByMe, FailedByMe: s.failedByMe, DroppedByMe: s.droppedByMe, WasClean: s.wasClean,
		WasNotCleanReason:              s.wasNotCleanReason,
		WasServerConnectionDropTimeout: s.wasServerDropTimeout,
		WasCloseHandshakeTimeout:       s.wasCloseTimeout,
		LocalCloseCode:                 s.localCloseCode, LocalCloseReason: s.localCloseReason,
		RemoteCloseCode: s.remoteCloseCode, RemoteCloseReason: s.remoteCloseReason,
	}
	r.Behavior, r.BehaviorClose, r.Text, r.TextClose = judge(s.Case, true, s.isServer, s.received, r.Conn, s.driver, s)
	if s.safetyDeadlineHit {
		r.TextClose += " The Go runner's safety deadline ended the case."
	}
	r.RxOctets, r.TxOctets, r.RxFrames, r.TxFrames = s.rxOctets, s.txOctets, s.rxFrames, s.txFrames
	s.log.enable(true)
	r.Wirelog = s.log.rows
	if s.deflate != nil && r.Behavior == OK && s.Case.ReportRatio {
		d := s.deflate
		ratio := func(wire, app int64) any {
			if app == 0 {
				return nil
			}
			return float64(wire) / float64(app)
		}
		r.TrafficStats = map[string]any{
			"incomingOctetsWireLevel": d.inWire, "incomingOctetsAppLevel": d.inApp,
			"outgoingOctetsWireLevel": d.outWire, "outgoingOctetsAppLevel": d.outApp,
			"incomingCompressionRatio": ratio(d.inWire, d.inApp),
			"outgoingCompressionRatio": ratio(d.outWire, d.outApp),
			"datasets":                 "generated stand-ins, not the original files",
		}
	}
}
