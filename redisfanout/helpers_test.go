package redisfanout_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/redisfanout"
	"github.com/wirecraft/websocket/rooms"
)

// waitLimit bounds every wait of these tests, so that a bug fails a test
// instead of hanging it. No test asserts how long anything takes.
const waitLimit = 10 * time.Second

// A redisServer is a redis-server process of a test's own, on a loopback
// port no other test uses, with persistence off: a restart starts empty.
type redisServer struct {
	t    *testing.T
	path string // of the redis-server binary
	dir  string // its working directory
	addr string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan struct{} // closed when the process has exited
}

// startRedis starts a redis-server for t, stopped when t ends. These tests
// are about a real Redis: without one, they fail rather than skip, so that
// a CI without it cannot pass them unnoticed.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (%v): these tests start a real Redis; install it with `apt-get install redis-server`", err)
	}
	s := &redisServer{t: t, path: path, dir: t.TempDir(), addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))}
	s.start()
	t.Cleanup(s.kill)
	return s
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs redis-server on s.addr and waits until it answers PING.
func (s *redisServer) start() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.addr)
	s.log = new(bytes.Buffer)
	s.cmd = exec.Command(s.path, "--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		close(done)
	}(s.cmd, s.done)
	deadline := time.Now().Add(waitLimit)
	for !s.pings() {
		select {
		case <-s.done:
			s.t.Fatalf("redis-server exited at start: %s", s.log)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s does not answer PING: %s", s.addr, s.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pings reports whether the server answers PING, on a connection of its
// own so that no client's state is involved.
func (s *redisServer) pings() bool {
	c, err := net.DialTimeout("tcp", s.addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// kill ends the server with SIGKILL, as a crash would, and waits for it.
// Killing one that has exited already does nothing.
func (s *redisServer) kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// client returns a go-redis client of the server for the test to inspect
// it, closed when the test ends.
func (s *redisServer) client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.addr})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// waitSubscribers waits until n clients are subscribed to channel: a
// link's first subscription is not reported, and a message published
// before it reaches Redis would not come back.
func (s *redisServer) waitSubscribers(channel string, n int64) {
	s.t.Helper()
	c := s.client()
	eventually(s.t, fmt.Sprintf("%d subscribers of %s", n, channel), func() bool {
		counts, err := c.PubSubNumSub(context.Background(), channel).Result()
		return err == nil && counts[channel] == n
	})
}

// eventually polls cond until it holds, and fails the test if it still
// does not after waitLimit.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after %v", what, waitLimit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newLink returns a FanOut on s, for one hub (which closes it).
func newLink(t *testing.T, s *redisServer, opts redisfanout.Options) *redisfanout.FanOut {
	t.Helper()
	opts.Addr = s.addr
	f, err := redisfanout.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// newHub returns a hub that is closed when the test ends.
func newHub(t *testing.T, opts *rooms.Options) *rooms.Hub {
	h := rooms.NewHub(opts)
	t.Cleanup(func() { h.Close() })
	return h
}

// testServer serves WebSocket connections into a hub.
type testServer struct {
	t       *testing.T
	hub     *rooms.Hub
	url     string
	members chan *rooms.Member // each member, as it is added
}

// startServer runs an httptest server whose handler adds each connection
// to hub as the user its URL names, joins the rooms it names, and sends
// "ready", followed by the errors of the joins if there are any. The
// handler then reads until the connection ends.
func startServer(t *testing.T, hub *rooms.Hub) *testServer {
	s := &testServer{t: t, hub: hub, members: make(chan *rooms.Member, 100)}
	srv := httptest.NewServer(http.HandlerFunc(s.serveWS))
	t.Cleanup(srv.Close)
	s.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	return s
}

func (s *testServer) serveWS(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	m, err := s.hub.Add(c, r.URL.Query().Get("user"))
	if err != nil {
		c.Close(websocket.StatusGoingAway, "closed")
		return
	}
	ready := "ready"
	for _, room := range r.URL.Query()["room"] {
		// An error means the room is joined but other instances may not
		// know: the client is told, and the test decides.
		if err := m.Join(r.Context(), room); err != nil {
			ready += ": " + err.Error()
		}
	}
	s.members <- m
	m.Send([]byte(ready))
	for {
		if _, _, err := c.Read(r.Context()); err != nil {
			return
		}
	}
}

// client is a test's connection to a testServer, and its member there.
type client struct {
	t      *testing.T
	name   string
	conn   *websocket.Conn
	member *rooms.Member
	ready  string // the server's first message
}

// dial connects as user, in rooms, and waits until the server has added
// it and joined the rooms.
func (s *testServer) dial(t *testing.T, user string, rooms ...string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, s.url+"?"+url.Values{"user": {user}, "room": rooms}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	c := &client{t: t, name: user, conn: conn}
	if c.ready = c.read(); !strings.HasPrefix(c.ready, "ready") {
		t.Fatalf("%s: first message %q, want ready", user, c.ready)
	}
	c.member = <-s.members
	return c
}

// read returns the next message.
func (c *client) read() string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, msg, err := c.conn.Read(ctx)
	if err != nil {
		c.t.Fatalf("%s: read: %v", c.name, err)
	}
	return string(msg)
}

// expect reads the next message and fails the test unless it is want.
// Since a member's messages come in order, this is how the tests show that
// nothing came before want: no duplicate, nothing lost resurfacing.
func (c *client) expect(want, why string) {
	c.t.Helper()
	if got := c.read(); got != want {
		c.t.Errorf("%s got %q, want %q (%s)", c.name, got, want, why)
	}
}

// checkLeaks returns a function for t.Cleanup that fails t if goroutines
// started since checkLeaks was called are still running after waitLimit.
// Register it first, so that it runs after every other cleanup.
func checkLeaks(t *testing.T) func() {
	before := make(map[string]bool)
	for _, g := range goroutines() {
		before[g.id] = true
	}
	return func() {
		deadline := time.Now().Add(waitLimit)
		for {
			var leaked []string
			for _, g := range goroutines() {
				if !before[g.id] && !g.framework() {
					leaked = append(leaked, g.stack)
				}
			}
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d goroutine(s) still running after the test:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			// Goroutines end a moment after what stopped them returns.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// goroutine is one entry of a dump of all goroutines.
type goroutine struct{ id, stack string }

// framework reports whether g belongs to the test framework (another
// test's goroutine, or the cleanup running this check) or the runtime.
func (g goroutine) framework() bool {
	return strings.Contains(g.stack, "created by testing.") ||
		strings.Contains(g.stack, "testing.tRunner(") ||
		strings.Contains(g.stack, "created by runtime.") ||
		strings.Contains(g.stack, "created by os/signal.")
}

// goroutines returns every goroutine's stack.
func goroutines() []goroutine {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var gs []goroutine
	for _, entry := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(entry, "\n")
		id, _, _ := strings.Cut(strings.TrimPrefix(header, "goroutine "), " ")
		gs = append(gs, goroutine{id: id, stack: entry})
	}
	return gs
}

// crashAddrEnv, when set, makes the test binary run as a crashing
// instance (see TestMain) instead of running the tests.
const crashAddrEnv = "REDISFANOUT_TEST_CRASHING_INSTANCE"

// TestMain runs the tests, or, in a process started by
// startCrashingInstance, an instance that records presence and then waits
// to be killed, never calling Close.
func TestMain(m *testing.M) {
	if addr := os.Getenv(crashAddrEnv); addr != "" {
		runCrashingInstance(addr)
		return
	}
	os.Exit(m.Run())
}

// crashTTL is the presence TTL of the crashing instance.
const crashTTL = time.Second

// runCrashingInstance records that user "dave" has 2 connections in room
// "lobby", says "ready" on stdout, and waits.
func runCrashingInstance(addr string) {
	f, err := redisfanout.New(redisfanout.Options{Addr: addr, PresenceTTL: crashTTL})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	f.Start("crashing", nopReceiver{})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := f.SetPresence(ctx, "lobby", "dave", 2); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("ready")
	select {} // until killed
}

// nopReceiver is the receiver of an instance without a hub.
type nopReceiver struct{}

func (nopReceiver) Receive([]byte) {}
func (nopReceiver) LinkLost(error) {}
func (nopReceiver) LinkRestored()  {}

// startCrashingInstance runs runCrashingInstance in a process of its own
// linked to s, waits until it is ready, and returns the process to kill.
func startCrashingInstance(t *testing.T, s *redisServer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), crashAddrEnv+"="+s.addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("crashing instance: %q, %v", line, err)
	}
	return cmd
}
