// Package rooms keeps the WebSocket connections of a chat, notification or
// dashboard server and sends them messages: to a room, to every connection
// of one user, or to everyone, across one process or many.
//
// # Members and rooms
//
// A Hub holds members. A Member is one connection and the id of the user
// it belongs to: a user with three tabs open is three members with the same
// id. Members join and leave rooms; Hub.Presence tells which users are in
// a room and with how many connections. A handler adds its connection,
// joins rooms and reads:
//
//	func (s *server) serveWS(w http.ResponseWriter, r *http.Request) {
//		c, err := websocket.Accept(w, r, nil)
//		if err != nil {
//			return
//		}
//		defer c.CloseNow() // the member leaves the hub as the connection ends
//		m, err := s.hub.Add(c, userID(r))
//		if err != nil {
//			c.Close(websocket.StatusGoingAway, "shutting down")
//			return
//		}
//		if err := m.Join(r.Context(), "lobby"); err != nil {
//			log.Print(err) // the member is in the room here; other instances may not know yet
//		}
//		for {
//			_, msg, err := c.Read(r.Context())
//			if err != nil {
//				return
//			}
//			m.Broadcast(r.Context(), "lobby", msg) // to everyone in the room but m
//		}
//	}
//
// # Ordering: everything goes through the queue
//
// Each member has a bounded queue and one goroutine that writes what is
// queued, in order. Broadcasts, messages to the member's user, and the
// member's own replies all go through it: a handler answers its client
// with Member.Send, never by writing to the Conn itself. A direct write
// would overtake the messages still queued, so a client could see the
// answer to a request before a broadcast that was sent earlier.
//
// Sending never waits for a client: a message is built once (a
// websocket.PreparedMessage, so framing is done once for all recipients)
// and queued for each recipient without blocking. Broadcasts on one hub
// are queued under one lock, so every member of the hub sees them in the
// same order.
//
// # Slow clients
//
// A client that reads slower than messages come fills its queue
// (Options.QueueSize). What happens then is Options.SlowPolicy: by default
// (DropMember) the member is closed with 1008 (policy violation), reason
// "too slow", and leaves the hub; with DropMessages it stays and misses the
// messages that found its queue full, which are counted (Member.Dropped,
// Hub.Stats). Either way the other members are not held up.
//
// # Several processes
//
// Options.FanOut links hubs in different processes, so that a room, a
// user or everyone spans all of them: see FanOut for what a hub expects
// of it. In short, a hub delivers each message to its own members first
// and then publishes it; it drops its own messages when they come back;
// delivery to other instances is at most once, nothing published while
// the link is down is resent; presence is recorded per instance and
// written again when the link recovers. LocalBus links hubs within one
// process.
//
// Presence is a question, not a stream of events: a server that shows its
// clients who is in a room asks Hub.Presence after a member joins, and
// after it has left (once <-Member.Done() when its connection ended), and
// broadcasts the answer.
//
// To send JSON, encode it with json.Marshal and queue the bytes (Send,
// Broadcast, SendToUser): the hub writes to the connection, so wsjson.Write
// must not.
//
// # Shutdown
//
// A member leaves the hub when its connection ends, however it ends; its
// goroutine ends with it. Hub.Close closes every member with 1001 (going
// away), waits for their goroutines, and closes the fan-out.
//
// A graceful stop of a server: http.Server.Shutdown first (no new
// connections; the package closes the open ones with 1001), then
// Hub.Close, then wait for the functions serving connections to return.
// Neither Shutdown nor Hub.Close waits for those: a server that has work
// to do when a connection ends (a log line, presence) counts them with a
// sync.WaitGroup.
package rooms
