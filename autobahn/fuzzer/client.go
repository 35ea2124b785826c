package fuzzer

import (
	"fmt"
	"net"
	"net/url"
	"time"
)

// The fuzzingclient role: the runner dials a testee server once per case
// (CASES §1.3).

// Target is one testee server of a fuzzingclient run (spec "servers").
type Target struct {
	URL       string
	Agent     string // empty: the Server response header, else "UnknownServer"
	Origin    string
	Protocols []string
}

// RunClient runs the cases against one testee server in order and returns
// the results. A failed TCP connect ends the run for this server, like the
// original. progress, if not nil, is told about every case.
func RunClient(t Target, cases []*Case, exclude func(agent, id string) bool, progress Reporter) ([]*Result, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "ws" {
		return nil, fmt.Errorf("unsupported URL scheme %q (only ws://)", u.Scheme)
	}
	hostport := u.Host
	if u.Port() == "" {
		hostport = net.JoinHostPort(u.Hostname(), "80")
	}
	agent := t.Agent
	var results []*Result
	for _, c := range cases {
		if progress != nil {
			progress.CaseStarted(c)
		}
		started := time.Now()
		conn, err := net.DialTimeout("tcp", hostport, openHandshakeTimeout)
		if err != nil {
			return results, fmt.Errorf("case %s: %w", c.ID, err)
		}
		r := &Result{Case: c, CaseNumber: c.Index, Started: started}
		log := newWireLog()
		hs, err := doClientHandshake(conn, u, c, t.Origin, t.Protocols)
		log.txOctets([]byte(hs.request), false)
		if hs.response != "" {
			log.rxOctets([]byte(hs.response))
		}
		r.HTTPRequest, r.HTTPResponse = hs.request, hs.response
		if agent == "" {
			agent = hs.server
			if agent == "" {
				agent = "UnknownServer"
			}
		}
		r.Agent = agent
		if exclude != nil && exclude(agent, c.ID) {
			// Excluded for this agent: connect, close at once, no result
			// (CASES §1.4).
			if err == nil {
				conn.Write(appendFrame(nil, OpClose, true, 0, nil, &[4]byte{1, 2, 3, 4}))
			}
			conn.Close()
			continue
		}
		if err != nil {
			conn.Close()
			r.Behavior, r.BehaviorClose = Failed, Failed
			r.Text = "Opening handshake failed: " + err.Error()
			r.TextClose = r.Text
			r.Conn.WasOpenHandshakeTimeout = hs.timedOut
			r.Wirelog = log.rows
			r.RxOctets, r.TxOctets, r.RxFrames, r.TxFrames = map[int]int{}, map[int]int{}, map[int]int{}, map[int]int{}
		} else {
			s := newSession(c, conn, false, hs.deflate, log)
			s.run(hs.rest)
			s.result(r)
		}
		results = append(results, r)
		if progress != nil {
			progress.CaseDone(r)
		}
	}
	return results, nil
}
