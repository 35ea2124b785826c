package rooms_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/internal/leakcheck"
	"github.com/wirecraft/websocket/rooms"
)

// Every member gets the messages of each sender in the order they were
// sent, under concurrent broadcasts, and a handler's answer sent with
// Member.Send comes after the broadcast the handler made before it. All
// members see the hub's broadcasts in one same order.
func TestOrderPerMember(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	const broadcasters, perSender, clients = 4, 100, 3
	// A queue that cannot fill, and DropMessages so that an overflow would
	// show as a count rather than as a closed connection.
	hub := newHub(t, &rooms.Options{QueueSize: 4096, SlowPolicy: rooms.DropMessages})
	srv := startServer(t, hub, func(ctx context.Context, m *rooms.Member, msg string) {
		// "req N": news of it for the room, then the answer.
		n := strings.TrimPrefix(msg, "req ")
		if err := hub.Broadcast(ctx, "r", []byte("news-"+m.User()+" "+n)); err != nil {
			t.Error(err)
		}
		if err := m.Send([]byte("rep " + n)); err != nil {
			t.Error(err)
		}
	})
	cs := make([]*client, clients)
	for i := range cs {
		cs[i] = srv.dial(t, fmt.Sprintf("u%d", i), "r")
	}

	ctx := testContext(t)
	var wg sync.WaitGroup
	for g := 0; g < broadcasters; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 1; n <= perSender; n++ {
				if err := hub.Broadcast(ctx, "r", fmt.Appendf(nil, "b%d %d", g, n)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	perClient := broadcasters*perSender + clients*perSender + perSender // broadcasts, news, answers
	streams := make([][]string, clients)
	for i, c := range cs {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for n := 1; n <= perSender; n++ {
				if err := c.conn.Write(ctx, websocket.MessageText, fmt.Appendf(nil, "req %d", n)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for len(streams[i]) < perClient {
				msg, err := c.next()
				if err != nil {
					t.Error(err)
					return
				}
				streams[i] = append(streams[i], msg)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	var broadcastOrder []string // client 0's, which every other must match
	for i, stream := range streams {
		user := cs[i].member.User()
		last := make(map[string]int) // sender → last number seen
		var order []string
		for _, msg := range stream {
			sender, num, _ := strings.Cut(msg, " ")
			n, _ := strconv.Atoi(num)
			if n != last[sender]+1 {
				t.Fatalf("%s: %q after %s %d", user, msg, sender, last[sender])
			}
			last[sender] = n
			if sender == "rep" {
				if own := last["news-"+user]; own < n {
					t.Fatalf("%s: answer %d came before the news of request %d (last news: %d)", user, n, n, own)
				}
				continue
			}
			order = append(order, msg)
		}
		for sender, n := range last {
			if n != perSender {
				t.Errorf("%s: %d messages from %s, want %d", user, n, sender, perSender)
			}
		}
		if len(last) != broadcasters+clients+1 {
			t.Errorf("%s: messages from %d senders, want %d", user, len(last), broadcasters+clients+1)
		}
		if i == 0 {
			broadcastOrder = order
		} else if !slices.Equal(order, broadcastOrder) {
			t.Errorf("%s saw the broadcasts in another order than %s", user, cs[0].member.User())
		}
	}
	if st := hub.Stats(); st.DroppedMessages != 0 {
		t.Errorf("%d messages dropped", st.DroppedMessages)
	}
}

// bigMessage is message number n of fillQueue: large, so that a client
// that does not read stops taking them after a few, whatever the socket
// buffers.
func bigMessage(n int) []byte {
	msg := fmt.Appendf(nil, "%d ", n)
	return append(msg, strings.Repeat("x", 256<<10)...)
}

// number returns the n of bigMessage(n).
func number(msg string) int {
	num, _, _ := strings.Cut(msg, " ")
	n, _ := strconv.Atoi(num)
	return n
}

// fillQueue broadcasts bigMessage(1), bigMessage(2), ... to room "r" until
// full reports that the slow-client policy has struck, and returns how
// many it sent. Nothing is timed: the member's client does not read, so
// its queue fills once the socket buffers have.
func fillQueue(t *testing.T, hub *rooms.Hub, full func() bool) int {
	t.Helper()
	const limit = 10000 // 2.5 GB: far beyond any socket buffers
	ctx := testContext(t)
	for n := 1; n <= limit; n++ {
		if err := hub.Broadcast(ctx, "r", bigMessage(n)); err != nil {
			t.Fatal(err)
		}
		if full() {
			t.Logf("the policy struck at message %d", n)
			return n
		}
	}
	t.Fatalf("%d messages sent and the policy has not struck", limit)
	return 0
}

// The default policy: a member whose queue is full is closed with 1008
// "too slow" and leaves the hub, having received, in order, part of what
// was sent before.
func TestSlowClientDropMember(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	hub := newHub(t, &rooms.Options{QueueSize: 2, WriteTimeout: time.Minute})
	srv := startServer(t, hub, nil)
	slow := srv.dial(t, "slow", "r")

	fillQueue(t, hub, func() bool { return hub.Stats().DroppedMembers > 0 })
	var err error
	for want := 1; ; want++ {
		var msg string
		if msg, err = slow.next(); err != nil {
			break
		}
		if n := number(msg); n != want {
			t.Fatalf("got message %d, want %d", n, want)
		}
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "too slow" {
		t.Fatalf("client's read ended with %v, want a 1008 close, reason \"too slow\"", err)
	}
	waitDone(t, slow.member)
	if p, err := hub.Presence(testContext(t), "r"); err != nil || len(p) != 0 {
		t.Errorf("presence in r after the drop: %v, %v; want none", p, err)
	}
	if st := hub.Stats(); st != (rooms.Stats{DroppedMembers: 1}) {
		t.Errorf("stats %+v, want one member dropped and none left", st)
	}
	if err := slow.member.Send([]byte("late")); err != rooms.ErrClosed {
		t.Errorf("Send to a dropped member: %v, want ErrClosed", err)
	}
}

// DropMessages: a member whose queue is full misses those messages, which
// are counted, and stays; once it reads again it gets the rest, in order.
func TestSlowClientDropMessages(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	hub := newHub(t, &rooms.Options{QueueSize: 2, SlowPolicy: rooms.DropMessages, WriteTimeout: time.Minute})
	srv := startServer(t, hub, nil)
	slow := srv.dial(t, "slow", "r")

	sent := fillQueue(t, hub, func() bool { return slow.member.Dropped() >= 3 })

	// The client catches up, reading until "end", which goes out as soon
	// as there is room in the queue for it.
	type result struct {
		numbers []int
		err     error
	}
	got := make(chan result, 1)
	go func() {
		var r result
		for {
			var msg string
			if msg, r.err = slow.next(); r.err != nil || msg == "end" {
				got <- r
				return
			}
			r.numbers = append(r.numbers, number(msg))
		}
	}()
	refused := 0 // each is a message dropped, counted like the others
	for {
		err := slow.member.Send([]byte("end"))
		if err == nil {
			break
		}
		if err != rooms.ErrQueueFull {
			t.Fatalf("Send: %v", err)
		}
		refused++
		time.Sleep(time.Millisecond)
	}
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !slices.IsSorted(r.numbers) || len(slices.Compact(slices.Clone(r.numbers))) != len(r.numbers) {
		t.Errorf("messages out of order or repeated: %v", r.numbers)
	}
	dropped := int(slow.member.Dropped())
	if len(r.numbers)+dropped != sent+refused {
		t.Errorf("%d messages received and %d dropped, of %d sent", len(r.numbers), dropped, sent+refused)
	}
	if st := hub.Stats(); st != (rooms.Stats{Members: 1, DroppedMessages: uint64(dropped)}) {
		t.Errorf("stats %+v, want the member still there and %d messages dropped", st, dropped)
	}
}

// twoHubs returns two servers whose hubs share rooms through a LocalBus.
func twoHubs(t *testing.T) (a, b *testServer) {
	bus := rooms.NewLocalBus()
	a = startServer(t, newHub(t, &rooms.Options{FanOut: bus.Link()}), nil)
	b = startServer(t, newHub(t, &rooms.Options{FanOut: bus.Link()}), nil)
	return a, b
}

// Each hub counts every instance's members in a room, per user, and
// follows joins, leaves and connections that end.
func TestPresenceAcrossHubs(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	a, b := twoHubs(t)
	aliceA := a.dial(t, "alice", "lobby")
	aliceB := b.dial(t, "alice", "lobby", "kitchen")
	bob := b.dial(t, "bob", "lobby")
	a.dial(t, "carol", "kitchen")

	check := func(when string, room string, want ...rooms.Presence) {
		t.Helper()
		for name, hub := range map[string]*rooms.Hub{"a": a.hub, "b": b.hub} {
			got, err := hub.Presence(testContext(t), room)
			if err != nil || !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("%s: hub %s: presence in %s: %v, %v; want %v", when, name, room, got, err, want)
			}
		}
	}
	check("at first", "lobby", rooms.Presence{User: "alice", Conns: 2}, rooms.Presence{User: "bob", Conns: 1})
	check("at first", "kitchen", rooms.Presence{User: "alice", Conns: 1}, rooms.Presence{User: "carol", Conns: 1})
	check("at first", "attic")

	bob.send("leave lobby")
	bob.send("join kitchen")
	bob.send("join kitchen") // already in: nothing changes
	for _, want := range []string{"left lobby", "joined kitchen", "joined kitchen"} {
		if msg := bob.read(); msg != want {
			t.Fatalf("bob got %q, want %q", msg, want)
		}
	}
	check("after bob moved", "lobby", rooms.Presence{User: "alice", Conns: 2})
	check("after bob moved", "kitchen", rooms.Presence{User: "alice", Conns: 1}, rooms.Presence{User: "bob", Conns: 1}, rooms.Presence{User: "carol", Conns: 1})

	aliceA.conn.Close(websocket.StatusNormalClosure, "")
	waitDone(t, aliceA.member)
	check("after a tab of alice closed", "lobby", rooms.Presence{User: "alice", Conns: 1})
	aliceB.conn.Close(websocket.StatusNormalClosure, "")
	waitDone(t, aliceB.member)
	check("after alice left", "lobby")
	check("after alice left", "kitchen", rooms.Presence{User: "bob", Conns: 1}, rooms.Presence{User: "carol", Conns: 1})
}

// SendToUser reaches every connection of that user, on every hub, and
// nobody else; a member's broadcast reaches everyone else in the room,
// once, and not the member.
func TestDelivery(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	a, b := twoHubs(t)
	aliceA := a.dial(t, "alice", "lobby")
	aliceB := b.dial(t, "alice")
	bob := a.dial(t, "bob", "lobby")
	carol := b.dial(t, "carol", "lobby")
	dave := a.dial(t, "dave", "attic")

	ctx := testContext(t)
	if err := a.hub.SendToUser(ctx, "alice", []byte("for alice")); err != nil {
		t.Fatal(err)
	}
	bob.send("say lobby hi from bob")
	bob.send("say nowhere into the void")
	// The answer comes once the says before it have been handled.
	bob.send("join lobby")
	if msg := bob.read(); msg != "joined lobby" {
		t.Fatalf("bob got %q, want the answer to his join", msg)
	}
	if err := b.hub.SendToAll(ctx, []byte("end")); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name string
		c    *client
		want []string
	}{
		{"alice on a", aliceA, []string{"for alice", "hi from bob"}},
		{"alice on b", aliceB, []string{"for alice"}},
		{"bob", bob, nil},
		{"carol", carol, []string{"hi from bob"}},
		{"dave", dave, nil},
	} {
		if got := tt.c.readUntil("end"); !slices.Equal(got, tt.want) {
			t.Errorf("%s got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// Hub.Close closes every member with 1001, ends their goroutines, and
// refuses what comes after.
func TestHubClose(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	hub := newHub(t, nil)
	srv := startServer(t, hub, nil)
	cs := []*client{srv.dial(t, "alice", "lobby"), srv.dial(t, "bob")}

	// The clients read, as clients do, so that they answer the close.
	errs := make(chan error, len(cs))
	for _, c := range cs {
		go func() {
			_, err := c.next()
			errs <- err
		}()
	}
	if err := hub.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range cs {
		err := <-errs
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway {
			t.Errorf("a client's read ended with %v, want a 1001 close", err)
		}
	}
	for _, c := range cs {
		select {
		case <-c.member.Done():
		default:
			t.Errorf("%s still in the hub after Close", c.member.User())
		}
	}

	ctx := testContext(t)
	for name, err := range map[string]error{
		"Close":     hub.Close(),
		"Broadcast": hub.Broadcast(ctx, "lobby", []byte("x")),
		"SendToAll": hub.SendToAll(ctx, []byte("x")),
		"Send":      cs[0].member.Send([]byte("x")),
		"Join":      cs[1].member.Join(ctx, "lobby"),
	} {
		if err != rooms.ErrClosed {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if _, err := hub.Presence(ctx, "lobby"); err != rooms.ErrClosed {
		t.Errorf("Presence after Close: %v, want ErrClosed", err)
	}
	if _, err := hub.Add(cs[0].conn, "alice"); err != rooms.ErrClosed {
		t.Errorf("Add after Close: %v, want ErrClosed", err)
	}
}

// A member leaves the hub when its connection ends, however it ends, and
// the others stay.
func TestMemberLeavesWithConnection(t *testing.T) {
	for _, tt := range []struct {
		name string
		end  func(c *client)
	}{
		{"client closes", func(c *client) { c.conn.Close(websocket.StatusNormalClosure, "") }},
		{"client drops the connection", func(c *client) { c.conn.CloseNow() }},
		{"handler returns", func(c *client) { c.send("quit") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(leakcheck.Check(t))
			hub := newHub(t, nil)
			srv := startServer(t, hub, nil)
			alice := srv.dial(t, "alice", "lobby")
			bob := srv.dial(t, "bob", "lobby")

			tt.end(alice)
			waitDone(t, alice.member)
			ctx := testContext(t)
			want := []rooms.Presence{{User: "bob", Conns: 1}}
			if got, err := hub.Presence(ctx, "lobby"); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("presence: %v, %v; want %v", got, err, want)
			}
			if n := hub.Stats().Members; n != 1 {
				t.Errorf("%d members, want 1", n)
			}
			if err := hub.Broadcast(ctx, "lobby", []byte("still here")); err != nil {
				t.Fatal(err)
			}
			if msg := bob.read(); msg != "still here" {
				t.Errorf("bob got %q", msg)
			}
		})
	}
}

// Text that is not UTF-8 is refused before it reaches anyone.
func TestInvalidText(t *testing.T) {
	hub := newHub(t, nil)
	ctx := testContext(t)
	if err := hub.Broadcast(ctx, "r", []byte{0xff}); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("Broadcast of invalid UTF-8: %v", err)
	}
	binary := newHub(t, &rooms.Options{MessageType: websocket.MessageBinary})
	if err := binary.Broadcast(ctx, "r", []byte{0xff}); err != nil {
		t.Errorf("binary Broadcast: %v", err)
	}
}
