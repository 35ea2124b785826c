package rooms_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/rooms"
)

// A chat server: a connection joins the room its URL names and is welcomed
// with who is there; what it says goes to the others in the room. The
// handler only reads, and answers through its member.
func Example_chat() {
	hub := rooms.NewHub(nil)
	defer hub.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow() // the member leaves the hub with the connection
		user, room := r.URL.Query().Get("user"), r.URL.Query().Get("room")
		m, err := hub.Add(c, user)
		if err != nil {
			c.Close(websocket.StatusGoingAway, "shutting down")
			return
		}
		ctx := r.Context()
		if err := m.Join(ctx, room); err != nil {
			return
		}
		here, _ := hub.Presence(ctx, room)
		var names []string
		for _, p := range here {
			names = append(names, p.User)
		}
		m.Send([]byte("welcome to " + room + ", " + user + "; here: " + strings.Join(names, ", ")))
		m.Broadcast(ctx, room, []byte(user+" joined"))
		for {
			_, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			m.Broadcast(ctx, room, []byte(user+": "+string(msg)))
		}
	}))
	defer srv.Close()

	ctx := context.Background()
	connect := func(user string) *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"?room=lobby&user="+user, nil)
		if err != nil {
			log.Fatal(err)
		}
		return c
	}
	read := func(who string, c *websocket.Conn) {
		_, msg, err := c.Read(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s reads: %s\n", who, msg)
	}
	say := func(c *websocket.Conn, text string) {
		if err := c.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
			log.Fatal(err)
		}
	}

	alice := connect("alice")
	defer alice.Close(websocket.StatusNormalClosure, "")
	read("alice", alice)
	bob := connect("bob")
	defer bob.Close(websocket.StatusNormalClosure, "")
	read("bob", bob)
	read("alice", alice)
	say(alice, "hi bob")
	read("bob", bob)
	say(bob, "hello!")
	read("alice", alice)
	// Output:
	// alice reads: welcome to lobby, alice; here: alice
	// bob reads: welcome to lobby, bob; here: alice, bob
	// alice reads: bob joined
	// bob reads: alice: hi bob
	// alice reads: bob: hello!
}

// A notification for one user reaches every tab they have open, and no
// one else's.
func ExampleHub_SendToUser() {
	hub := rooms.NewHub(nil)
	defer hub.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		m, err := hub.Add(c, r.URL.Query().Get("user"))
		if err != nil {
			return
		}
		m.Send([]byte("connected"))
		for {
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	defer srv.Close()

	ctx := context.Background()
	connect := func(user string) *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"?user="+user, nil)
		if err != nil {
			log.Fatal(err)
		}
		c.Read(ctx) // "connected": the hub has it
		return c
	}
	clients := []struct {
		name string
		conn *websocket.Conn
	}{
		{"alice, first tab", connect("alice")},
		{"alice, second tab", connect("alice")},
		{"bob", connect("bob")},
	}

	hub.SendToUser(ctx, "alice", []byte("you have mail"))
	hub.SendToAll(ctx, []byte("maintenance at noon"))
	for _, c := range clients {
		_, msg, err := c.conn.Read(ctx)
		fmt.Printf("%s: %s %v\n", c.name, msg, err)
		c.conn.Close(websocket.StatusNormalClosure, "")
	}
	// Output:
	// alice, first tab: you have mail <nil>
	// alice, second tab: you have mail <nil>
	// bob: maintenance at noon <nil>
}

// Two hubs, as two server processes would have, share rooms and presence
// through a bus. Between processes the code is the same, with a FanOut
// over Redis or another broker in place of the bus's links.
func ExampleNewLocalBus() {
	bus := rooms.NewLocalBus()
	serve := func(hub *rooms.Hub) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer c.CloseNow()
			m, err := hub.Add(c, r.URL.Query().Get("user"))
			if err != nil {
				return
			}
			if err := m.Join(r.Context(), "lobby"); err != nil {
				return
			}
			m.Send([]byte("in the lobby"))
			for {
				if _, _, err := c.Read(r.Context()); err != nil {
					return
				}
			}
		}))
	}
	east := rooms.NewHub(&rooms.Options{FanOut: bus.Link()})
	defer east.Close()
	eastSrv := serve(east)
	defer eastSrv.Close()
	west := rooms.NewHub(&rooms.Options{FanOut: bus.Link()})
	defer west.Close()
	westSrv := serve(west)
	defer westSrv.Close()

	ctx := context.Background()
	connect := func(srv *httptest.Server, user string) *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"?user="+user, nil)
		if err != nil {
			log.Fatal(err)
		}
		c.Read(ctx) // "in the lobby"
		return c
	}
	alice := connect(eastSrv, "alice")
	defer alice.Close(websocket.StatusNormalClosure, "")
	bob := connect(westSrv, "bob")
	defer bob.Close(websocket.StatusNormalClosure, "")

	here, err := west.Presence(ctx, "lobby")
	fmt.Println("the west hub sees", here, err)
	east.Broadcast(ctx, "lobby", []byte("hello from the east"))
	_, msg, err := bob.Read(ctx)
	fmt.Printf("bob, on the west hub, reads: %s %v\n", msg, err)
	// Output:
	// the west hub sees [{alice 1} {bob 1}] <nil>
	// bob, on the west hub, reads: hello from the east <nil>
}
