package fuzzer

import (
	"time"
)

// The time-left estimate of the progress display. Case durations differ by
// five orders of magnitude (a 2 ms framing case, a 1000-message
// compression loop of 128 KiB messages), so counting cases says little.
// Each case gets a rough cost from what it sends; the estimate is the cost
// of the cases left, scaled by how fast this testee has been on the cost
// already done — per section where the section has started, since speed
// differs (section 12's compression depends on the testee's deflate).

// Cost model, in seconds, read off a full run against this repository's
// testee on a loaded 2-core machine. Only the ratios matter: the measured
// speed rescales it.
const (
	costCase      = 2e-3   // handshake, a few frames, closing handshake
	costByte      = 20e-9  // one payload byte sent and echoed back (9.1.6: 16 MiB in 0.6 s)
	costPiece     = 30e-6  // one separately written piece (‹chop›, ‹sync›; 9.5.1: 16385 in 0.55 s)
	costFrame     = 1e-6   // one frame of a fragmented message (9.3.1: 65537 frames)
	costRoundTrip = 100e-6 // one message sent after the previous echo (9.7.1: 1000 in 0.1 s)
	// permessage-deflate loops (12.x, 13.x): 1000 messages of 128 KiB take
	// 5–12 s, 1000 of 16 bytes 0.2 s; 256-byte fragments add about a third.
	costDeflateByte      = 60e-9
	costDeflateRoundTrip = 180e-6
	costDeflateFrame     = 4e-6
)

// caseCost is the model's cost of one case, in seconds.
func caseCost(c *Case) float64 {
	cost := costCase
	for _, a := range c.Actions {
		switch a := a.(type) {
		case Wait:
			// The delayed steps of 6.4.x end early when the testee fails
			// the connection during the second wait, as it should.
			if a.RecordTimeout {
				cost += a.Seconds / 2
			} else {
				cost += a.Seconds
			}
		case SendFrame:
			n := a.Payload.Len()
			cost += float64(n) * costByte
			if a.Write.Chop > 0 {
				cost += float64(n/a.Write.Chop+1) * costPiece
			} else if a.Write.Sync {
				cost += costPiece
			}
		case SendMessage:
			n := a.Payload.Len()
			cost += float64(n)*costByte + float64(len(fragmentSizes(n, a.FragmentSize)))*costFrame
		}
	}
	if c.NewDriver == nil {
		return cost
	}
	switch d := c.NewDriver().(type) {
	case *roundTrips:
		cost += float64(d.count) * (costRoundTrip + float64(d.length)*costByte)
	case *deflateLoop:
		per := costDeflateRoundTrip + float64(d.length)*costDeflateByte
		if d.fragment > 0 {
			per += float64(d.length/d.fragment) * costDeflateFrame
		}
		cost += float64(d.count) * per
	}
	return cost
}

// estimator keeps the model's costs and the time the ended cases took.
type estimator struct {
	cost    map[string]float64 // case id → model cost
	section map[string]string  // case id → section
	// model cost and wall time of the ended cases, per section and in all
	doneCost, doneTime   map[string]float64
	totalCost, totalTime float64
	noDeflate            bool // a 12.x/13.x case found no permessage-deflate
}

func (e *estimator) init(planned []*Case) {
	e.cost = map[string]float64{}
	e.section = map[string]string{}
	e.doneCost, e.doneTime = map[string]float64{}, map[string]float64{}
	for _, c := range planned {
		e.cost[c.ID] = caseCost(c)
		e.section[c.ID] = c.Section()
	}
}

// observe records an ended case and the wall time it took.
func (e *estimator) observe(r *Result, took time.Duration) {
	c := r.Case
	cost := e.costOf(c.ID)
	sec := c.Section()
	e.doneCost[sec] += cost
	e.doneTime[sec] += took.Seconds()
	e.totalCost += cost
	e.totalTime += took.Seconds()
	if c.Deflate != nil && r.Behavior == Unimplemented {
		// The testee did not negotiate permessage-deflate: every other
		// compression case ends just as fast.
		e.noDeflate = true
	}
}

func (e *estimator) costOf(id string) float64 {
	if e.noDeflate && ByID(id) != nil && ByID(id).Deflate != nil {
		return costCase
	}
	return e.cost[id]
}

// left is the estimated time for the pending cases; running has been
// running for spent.
func (e *estimator) left(pending map[string]int, running *Case, spent time.Duration) time.Duration {
	if e.totalCost <= 0 {
		return 0
	}
	global := e.totalTime / e.totalCost
	speed := func(sec string) float64 {
		// A section's own speed once it has done enough work to go by.
		if c := e.doneCost[sec]; c >= 0.05 {
			return e.doneTime[sec] / c
		}
		return global
	}
	var s float64
	for id, n := range pending {
		if n == 0 {
			continue
		}
		t := float64(n) * e.costOf(id) * speed(e.section[id])
		if running != nil && id == running.ID {
			t = max(0, t-spent.Seconds())
		}
		s += t
	}
	return time.Duration(s * float64(time.Second))
}
