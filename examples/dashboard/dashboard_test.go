package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/wsjson"
)

// The count is 1,000 without the race detector and 200 under it (see
// race_test.go); make e2e-dashboard runs both.
var clientCount = flag.Int("dashboard.clients", defaultClients, "clients TestUpdatesAndNotifications connects")

// message is what the test reads from the server: an update or a
// notification, told apart by Type.
type message struct {
	Type       string  `json:"type"`
	Seq        uint64  `json:"seq"`
	Conns      int     `json:"conns"`
	MsgsPerSec float64 `json:"msgsPerSec"`
	HeapInUse  uint64  `json:"heapInUse"`
	Goroutines uint64  `json:"goroutines"`
	Text       string  `json:"text"`
}

// testClient is one connection of the test and what it has received.
type testClient struct {
	user string
	conn *websocket.Conn
	done chan struct{} // closed when read returns

	lastSeq atomic.Uint64 // the seq of the latest update, for polling

	mu      sync.Mutex
	updates []message
	notes   []string
}

// read records what arrives until the connection ends.
func (c *testClient) read(ctx context.Context) {
	defer close(c.done)
	for {
		var m message
		if err := wsjson.Read(ctx, c.conn, &m); err != nil {
			return
		}
		c.mu.Lock()
		switch m.Type {
		case "update":
			c.updates = append(c.updates, m)
		case "notify":
			c.notes = append(c.notes, m.Text)
		}
		c.mu.Unlock()
		if m.Type == "update" {
			c.lastSeq.Store(m.Seq)
		}
	}
}

// received returns copies of what c has received so far.
func (c *testClient) received() ([]message, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]message(nil), c.updates...), append([]string(nil), c.notes...)
}

// waitTimeout bounds each wait of the tests. It is generous because it only
// stops a hang: on a loaded machine a thousand handshakes and their first
// updates can take a while, and nothing is asserted about how long.
const waitTimeout = 60 * time.Second

// waitFor polls cond until it holds, and fails the test if it does not
// within timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUpdatesAndNotifications connects many clients (1,000; 200 under
// -race), three of them user ann's, and checks that
//
//   - every client receives every update the server sends while it is
//     connected, one per tick of the server's own counter (seq), in order,
//     with none missing or repeated, for three ticks;
//   - the updates carry the server's figures (all the clients counted);
//   - a notification posted to /notify?user=ann reaches exactly ann's three
//     connections, and the answer says it reached 3.
//
// Time is only bounded (waitFor), never measured: the server's tick counter
// says how many updates each client must have.
func TestUpdatesAndNotifications(t *testing.T) {
	n := *clientCount
	if n < 3 {
		t.Fatalf("-dashboard.clients=%d: at least 3 are needed, for ann's", n)
	}
	needFiles(t, uint64(2*n+200))

	d := newDashboard(options{Interval: time.Second})
	srv := httptest.NewServer(d)
	pushCtx, stopPushing := context.WithCancel(context.Background())
	pushDone := make(chan struct{})
	go func() {
		defer close(pushDone)
		d.run(pushCtx)
	}()
	clientCtx, closeClients := context.WithCancel(context.Background())
	clients := make([]*testClient, n)
	t.Cleanup(func() {
		// Ending the clients' context closes their connections; then the
		// server's side ends, the hub and the HTTP server.
		closeClients()
		for _, c := range clients {
			if c != nil {
				<-c.done
			}
		}
		stopPushing()
		<-pushDone
		d.hub.Close()
		srv.Close()
	})

	// Three clients spread over the list are ann's; every other client is
	// a user of its own.
	isAnn := map[int]bool{0: true, n / 2: true, n - 1: true}
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws?user="
	var (
		wg       sync.WaitGroup
		failures atomic.Int64
		firstErr atomic.Value
		slots    = make(chan struct{}, 50) // handshakes under way at once
	)
	for i := range clients {
		user := fmt.Sprintf("user-%04d", i)
		if isAnn[i] {
			user = "ann"
		}
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			ctx, cancel := context.WithTimeout(clientCtx, waitTimeout)
			defer cancel()
			conn, _, err := websocket.Dial(ctx, wsURL+user, nil)
			if err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			c := &testClient{user: user, conn: conn, done: make(chan struct{})}
			clients[i] = c
			go c.read(clientCtx)
		}()
	}
	wg.Wait()
	if f := failures.Load(); f > 0 {
		t.Fatalf("%d of %d clients could not connect; the first: %v", f, n, firstErr.Load())
	}

	// A client is in the hub shortly after its handshake, on the server's
	// goroutine. Once all are, every later update is queued for each one.
	waitFor(t, waitTimeout, fmt.Sprintf("%d members in the hub", n), func() bool {
		return d.hub.Stats().Members == n
	})
	first := d.seq.Load() // updates from first+1 on are queued for every client
	const ticks = 3
	waitForUpdate(t, clients, first+ticks)

	res := postNotify(t, srv.URL+"/notify?user=ann", "hello ann")
	if res.User != "ann" || res.Connections != 3 {
		t.Errorf("/notify answered %+v, want user ann and 3 connections", res)
	}
	// Updates after res.Seq are queued behind the notification: a client
	// that has one has received the notification too, if it was meant
	// for it.
	waitForUpdate(t, clients, res.Seq+1)

	bad := 0 // clients that failed a check; only the first few are described
	report := func(format string, args ...any) {
		if bad++; bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	for i, c := range clients {
		updates, notes := c.received()
		// Strictly increasing, and from first+1 on, one update per tick of
		// the server's counter: first+1, first+2, … with no gap.
		var seqs []uint64
		for _, u := range updates {
			seqs = append(seqs, u.Seq)
		}
		want := first + 1
		ok := true
		for j, s := range seqs {
			if j > 0 && s <= seqs[j-1] {
				report("client %d (%s): updates out of order: %v", i, c.user, seqs)
				ok = false
				break
			}
			if s > first {
				if s != want {
					report("client %d (%s): got update %d where %d was due: %v", i, c.user, s, want, seqs)
					ok = false
					break
				}
				want++
			}
		}
		if got := want - first - 1; ok && got < ticks {
			report("client %d (%s): %d updates after %d, want at least %d: %v", i, c.user, got, first, ticks, seqs)
		}

		if isAnn[i] {
			if len(notes) != 1 || notes[0] != "hello ann" {
				report("client %d (ann): notifications %q, want [\"hello ann\"]", i, notes)
			}
		} else if len(notes) != 0 {
			report("client %d (%s): got ann's notification: %q", i, c.user, notes)
		}
	}
	if bad > 10 {
		t.Errorf("… %d clients failed in all", bad)
	}

	// The figures of one update, taken once everyone was connected.
	updates, _ := clients[0].received()
	for _, u := range updates {
		if u.Seq != first+2 {
			continue
		}
		// Each connection has at least its reading goroutine on the server.
		if u.Conns != n || u.HeapInUse == 0 || u.Goroutines < uint64(n) || u.MsgsPerSec <= 0 {
			t.Errorf("update %d: %+v, want %d connections, at least %d goroutines, some heap and some messages per second", u.Seq, u, n, n)
		}
	}
	if s := d.hub.Stats(); s.DroppedMessages != 0 {
		t.Errorf("the hub dropped %d messages; every client was reading", s.DroppedMessages)
	}
}

// waitForUpdate waits until every client has received update seq or a
// later one, and names the clients behind if that does not happen in time.
func waitForUpdate(t *testing.T, clients []*testClient, seq uint64) {
	t.Helper()
	behind := func() (n int, oldest uint64) {
		oldest = seq
		for _, c := range clients {
			if last := c.lastSeq.Load(); last < seq {
				n++
				oldest = min(oldest, last)
			}
		}
		return n, oldest
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		n, oldest := behind()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v for update %d: %d of %d clients are behind, the furthest at update %d",
				waitTimeout, seq, n, len(clients), oldest)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// postNotify posts text to url and decodes the answer.
func postNotify(t *testing.T, url, text string) notifyResult {
	t.Helper()
	resp, err := http.Post(url, "text/plain; charset=utf-8", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s: %s", url, resp.Status, body)
	}
	var res notifyResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatalf("POST %s: decoding the answer: %v", url, err)
	}
	return res
}

// TestNotifyRequests checks how /notify answers requests it refuses, and
// one for a user with no page open.
func TestNotifyRequests(t *testing.T) {
	d := newDashboard(options{})
	srv := httptest.NewServer(d)
	defer srv.Close()
	defer d.hub.Close()

	for _, tc := range []struct {
		name, method, query, body string
		status                    int
	}{
		{"get", "GET", "?user=ann", "", http.StatusMethodNotAllowed},
		{"no user", "POST", "", "hello", http.StatusBadRequest},
		{"bad user", "POST", "?user=a%20b", "hello", http.StatusBadRequest},
		{"too long", "POST", "?user=ann", strings.Repeat("x", maxNotification+1), http.StatusRequestEntityTooLarge},
		{"not UTF-8", "POST", "?user=ann", "\xff", http.StatusBadRequest},
		{"nobody there", "POST", "?user=ann", "hello", http.StatusOK},
	} {
		req, err := http.NewRequest(tc.method, srv.URL+"/notify"+tc.query, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s %s: %s, want %d", tc.name, tc.method, tc.query, resp.Status, tc.status)
		}
		if tc.status == http.StatusOK && strings.TrimSpace(string(body)) != `{"user":"ann","connections":0,"seq":0}` {
			t.Errorf("%s: answer %s", tc.name, body)
		}
	}
}

// TestShutdownClosesWith1001 runs the server as main does and stops it as
// a signal would: a connected client must be told 1001 (going away), and
// serve must return without error.
func TestShutdownClosesWith1001(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := newDashboard(options{})
	ctx, sendSignal := context.WithCancel(context.Background())
	defer sendSignal()
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, d) }()

	dialCtx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, _, err := websocket.Dial(dialCtx, "ws://"+ln.Addr().String()+"/ws?user=ann", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	waitFor(t, waitTimeout, "the client in the hub", func() bool { return d.hub.Stats().Members == 1 })

	sendSignal()
	for {
		_, _, err := c.Read(dialCtx)
		if err == nil {
			continue // an update sent before the shutdown
		}
		if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
			t.Fatalf("read after shutdown: %v (status %d), want 1001", err, got)
		}
		break
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(2 * shutdownTimeout):
		t.Fatal("serve did not return after the shutdown")
	}
}
