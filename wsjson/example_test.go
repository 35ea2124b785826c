package wsjson_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/wsjson"
)

// event is a message of a small protocol, as the server writes it: Type
// says what Data holds.
type event struct {
	Type string `json:"type"`
	Data any    `json:"data,omitempty"`
}

// incoming is the same message as the client reads it: Data stays raw JSON
// until Type has said what to decode it into.
type incoming struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

type chatLine struct {
	From string `json:"from"`
	Text string `json:"text"`
}

type roomUsers struct {
	Room  string   `json:"room"`
	Users []string `json:"users"`
}

// A client that dispatches on a "type" field: each message is read once,
// its payload decoded into the struct its type names.
func Example_dispatch() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		for _, ev := range []event{
			{Type: "users", Data: roomUsers{Room: "lobby", Users: []string{"ada", "bob"}}},
			{Type: "chat", Data: chatLine{From: "ada", Text: "hello, bob"}},
			{Type: "typing", Data: "bob"},
			{Type: "bye"},
		} {
			if err := wsjson.Write(ctx, c, ev); err != nil {
				return
			}
		}
		c.Read(ctx) // until the client closes
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()
	for {
		var msg incoming
		if err := wsjson.Read(ctx, c, &msg); err != nil {
			fmt.Println(err)
			return
		}
		switch msg.Type {
		case "users":
			var u roomUsers
			if err := json.Unmarshal(msg.Data, &u); err != nil {
				fmt.Println(err)
				return
			}
			fmt.Printf("in %s: %s\n", u.Room, strings.Join(u.Users, ", "))
		case "chat":
			var line chatLine
			if err := json.Unmarshal(msg.Data, &line); err != nil {
				fmt.Println(err)
				return
			}
			fmt.Printf("%s says %q\n", line.From, line.Text)
		case "bye":
			fmt.Println("bye")
			c.Close(websocket.StatusNormalClosure, "")
			return
		default:
			fmt.Printf("(ignoring a %q message)\n", msg.Type)
		}
	}
	// Output:
	// in lobby: ada, bob
	// ada says "hello, bob"
	// (ignoring a "typing" message)
	// bye
}
