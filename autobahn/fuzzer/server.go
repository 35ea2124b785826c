package fuzzer

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The fuzzingserver role: testee clients connect to the runner and drive
// the run through the URL interface of CASES §1.2.

// Server is a fuzzingserver.
type Server struct {
	Cases    []*Case // the configured list; /runCase?case=N indexes it from 1
	Port     string  // the spec URL's port, which Host headers must name
	OutDir   string
	Exclude  func(agent, id string) bool
	Progress Reporter // told about every case, if not nil

	// ShutdownOnComplete stops the server after the first /updateReports,
	// as if every client asked with shutdownOnComplete=true.
	ShutdownOnComplete bool

	mu      sync.Mutex
	active  int                           // runCase sessions still running
	results map[string]map[string]*Result // agent → id → latest result
	notify  chan struct{}                 // closed and replaced on every new result
	stop    chan struct{}
	stopped sync.Once
	ln      net.Listener
}

// Results returns the latest result per agent, in catalogue order.
func (srv *Server) Results() map[string][]*Result {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	out := map[string][]*Result{}
	for agent, m := range srv.results {
		for _, c := range All() {
			if r := m[c.ID]; r != nil {
				out[agent] = append(out[agent], r)
			}
		}
	}
	return out
}

// Serve accepts connections until /stopServer, a shutdown after
// /updateReports, or Stop.
func (srv *Server) Serve(ln net.Listener) error {
	srv.mu.Lock()
	srv.ln = ln
	srv.results = map[string]map[string]*Result{}
	srv.notify = make(chan struct{})
	srv.stop = make(chan struct{})
	srv.mu.Unlock()
	for {
		conn, err := ln.Accept()
		if err != nil {
			select {
			case <-srv.stop:
				return nil
			default:
				return err
			}
		}
		go srv.handle(conn)
	}
}

// Stop ends Serve.
func (srv *Server) Stop() {
	srv.stopped.Do(func() {
		close(srv.stop)
		srv.ln.Close()
	})
}

// Done is closed when the server stops.
func (srv *Server) Done() <-chan struct{} { return srv.stop }

var caseTupleRE = regexp.MustCompile(`^\d+(\.\d+)*$`)

// caseParam resolves case=N (1-based in the configured list) or
// casetuple=a.b.c to a configured case.
func (srv *Server) caseParam(q url.Values) (int, *Case, error) {
	if t := q.Get("casetuple"); t != "" {
		if !caseTupleRE.MatchString(t) {
			return 0, nil, fmt.Errorf("bad casetuple %q", t)
		}
		for i, c := range srv.Cases {
			if c.ID == t {
				return i + 1, c, nil
			}
		}
		return 0, nil, fmt.Errorf("case %s is not configured", t)
	}
	n, err := strconv.Atoi(q.Get("case"))
	if err != nil || n < 1 || n > len(srv.Cases) {
		return 0, nil, fmt.Errorf("bad case parameter %q (have %d cases)", q.Get("case"), len(srv.Cases))
	}
	return n, srv.Cases[n-1], nil
}

func (srv *Server) handle(conn net.Conn) {
	started := time.Now()
	sr, err := readServerRequest(conn)
	if err != nil {
		conn.Close()
		return
	}
	if err := checkUpgrade(sr.req, srv.Port, false); err != nil {
		httpError(conn, 400, err.Error())
		return
	}
	q := sr.req.URL.Query()
	switch sr.req.URL.Path {
	case "/getCaseCount":
		srv.answer(conn, sr, strconv.Itoa(len(srv.Cases)))
	case "/getCaseInfo":
		_, c, err := srv.caseParam(q)
		if err != nil {
			httpError(conn, 500, err.Error())
			return
		}
		info, _ := json.Marshal(map[string]string{"id": c.ID, "description": c.Description})
		srv.answer(conn, sr, string(info))
	case "/getCaseStatus":
		_, c, err := srv.caseParam(q)
		agent := q.Get("agent")
		if err != nil || agent == "" {
			httpError(conn, 500, "case and agent are required")
			return
		}
		srv.answerStatus(conn, sr, agent, c.ID)
	case "/updateReports":
		agent := q.Get("agent")
		if agent == "" {
			httpError(conn, 500, "agent is required")
			return
		}
		srv.waitIdle(10 * time.Second)
		if err := WriteReports(srv.OutDir, srv.Results()); err != nil && srv.Progress != nil {
			srv.Progress.Notef("writing reports: %v", err)
		}
		srv.answer(conn, sr, "")
		sd := strings.ToLower(q.Get("shutdownOnComplete"))
		if srv.ShutdownOnComplete || sd == "true" || sd == "yes" {
			srv.Stop()
		}
	case "/stopServer":
		srv.answer(conn, sr, "")
		srv.Stop()
	case "/runCase":
		n, c, err := srv.caseParam(q)
		agent := q.Get("agent")
		if err != nil || agent == "" {
			httpError(conn, 500, "runCase needs a valid case (or casetuple) and agent")
			return
		}
		srv.runCase(conn, sr, n, c, agent, started)
	default:
		// The original's "command mode" is not needed for conformance.
		httpError(conn, 404, "unknown path")
	}
}

// answer completes the handshake, sends text (if any) and an empty close,
// then waits briefly for the client's close reply before closing TCP.
func (srv *Server) answer(conn net.Conn, sr *serverRequest, text string) {
	defer conn.Close()
	var out []byte
	out = append(out, upgradeResponse(sr.req, "")...)
	if text != "" {
		out = appendFrame(out, OpText, true, 0, []byte(text), nil)
	}
	out = appendFrame(out, OpClose, true, 0, nil, nil)
	if _, err := conn.Write(out); err != nil {
		return
	}
	conn.SetReadDeadline(time.Now().Add(time.Second))
	io.Copy(io.Discard, conn)
}

// waitIdle waits (bounded) until no case is running. A client typically
// asks for /updateReports the moment its last case connection ended, while
// the runner may still be finishing that case; the report must include it.
func (srv *Server) waitIdle(limit time.Duration) {
	deadline := time.After(limit)
	for {
		srv.mu.Lock()
		active, ch := srv.active, srv.notify
		srv.mu.Unlock()
		if active == 0 {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			return
		}
	}
}

// answerStatus sends the behavior of (agent, id) as soon as it exists.
func (srv *Server) answerStatus(conn net.Conn, sr *serverRequest, agent, id string) {
	deadline := time.After(10 * time.Minute)
	for {
		srv.mu.Lock()
		r := srv.results[agent][id]
		ch := srv.notify
		srv.mu.Unlock()
		if r != nil {
			status, _ := json.Marshal(map[string]string{"behavior": r.Behavior})
			srv.answer(conn, sr, string(status))
			return
		}
		select {
		case <-ch:
		case <-deadline:
			conn.Close()
			return
		case <-srv.stop:
			conn.Close()
			return
		}
	}
}

func (srv *Server) runCase(conn net.Conn, sr *serverRequest, n int, c *Case, agent string, started time.Time) {
	var d *deflateState
	ext := ""
	// permessage-deflate is negotiated only in 12.x/13.x (CASES §1.2).
	if c.Deflate != nil {
		offers, err := parseExtensions(strings.Join(sr.req.Header.Values("Sec-WebSocket-Extensions"), ","))
		if err == nil {
			d, err = serverDeflate(c.Deflate, offers)
		}
		if err != nil {
			httpError(conn, 400, err.Error())
			return
		}
		if d != nil {
			ext = d.response
		}
	}
	resp := upgradeResponse(sr.req, ext)
	log := newWireLog()
	log.rxOctets([]byte(sr.raw))
	log.txOctets([]byte(resp), false)
	if _, err := conn.Write([]byte(resp)); err != nil {
		conn.Close()
		return
	}
	if srv.Exclude != nil && srv.Exclude(agent, c.ID) {
		// Excluded for this agent: an empty close, no result (CASES §1.4).
		conn.Write(appendFrame(nil, OpClose, true, 0, nil, nil))
		conn.SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, conn)
		conn.Close()
		return
	}
	r := &Result{Case: c, CaseNumber: n, Agent: agent, IsServer: true, Started: started,
		HTTPRequest: sr.raw, HTTPResponse: resp}
	srv.mu.Lock()
	srv.active++
	srv.mu.Unlock()
	if srv.Progress != nil {
		srv.Progress.CaseStarted(c)
	}
	s := newSession(c, conn, true, d, log)
	s.run(sr.rest)
	s.result(r)
	// Told while the case still counts as active, so that the display is
	// done with it before /updateReports can end the run.
	if srv.Progress != nil {
		srv.Progress.CaseDone(r)
	}
	srv.mu.Lock()
	if srv.results[agent] == nil {
		srv.results[agent] = map[string]*Result{}
	}
	srv.results[agent][c.ID] = r
	srv.active--
	close(srv.notify)
	srv.notify = make(chan struct{})
	srv.mu.Unlock()
}
