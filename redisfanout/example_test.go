package redisfanout_test

import (
	"log"
	"net/http"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/redisfanout"
	"github.com/wirecraft/websocket/rooms"
)

// A chat server whose rooms span every instance linked to one Redis. Each
// instance runs the same code; a broadcast on one reaches the room's
// members on all of them, and Presence counts them all.
func Example() {
	link, err := redisfanout.New(redisfanout.Options{Addr: "localhost:6379"})
	if err != nil {
		log.Fatal(err)
	}
	hub := rooms.NewHub(&rooms.Options{
		FanOut: link, // started by NewHub, closed by hub.Close
		OnLinkLost: func(err error) {
			log.Printf("Redis link lost, rooms are local until it is back: %v", err)
		},
		OnLinkRestored: func() { log.Print("Redis link restored") },
	})
	defer hub.Close()

	http.HandleFunc("/chat", func(w http.ResponseWriter, r *http.Request) {
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
			log.Print(err) // joined here; other instances count it once the link is back
		}
		for {
			_, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			// An error means other instances did not get msg (the link
			// is down); this instance's members did.
			m.Broadcast(r.Context(), "lobby", msg)
		}
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}
