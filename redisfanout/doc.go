// Package redisfanout links rooms.Hubs in different processes through
// Redis: it is a rooms.FanOut over Redis pub/sub, with presence kept in
// Redis hashes that expire when the instance that wrote them stops.
//
//	link, err := redisfanout.New(redisfanout.Options{Addr: "localhost:6379"})
//	if err != nil {
//		log.Fatal(err)
//	}
//	hub := rooms.NewHub(&rooms.Options{FanOut: link}) // the hub starts and closes the link
//
// # Messages
//
// Every hub's messages go through one pub/sub channel, named by
// Options.Prefix ("websocket:rooms" by default). Each link publishes on it
// and subscribes to it, and hands what it receives to its hub, which drops
// its own messages. Delivery is what Redis pub/sub gives, at most once:
// a message reaches the instances subscribed when Redis handles the
// PUBLISH, and no others. Publish returns an error, and the hub's
// Broadcast with it, when the PUBLISH fails, and at once, without trying,
// while the link is down: nothing is queued or retried.
//
// # Link state
//
// One goroutine per link reads the subscription. A read error (Redis
// closed the connection, or was killed) reports rooms.Receiver.LinkLost,
// once per outage; so does a PING on an idle subscription that gets no
// answer within Options.PingInterval, since a connection cut without a
// reset stays silent. The link then tries again every Options.RetryDelay,
// and when Redis confirms the subscription it reports LinkRestored, once,
// and the hub writes its presence again. While the link is down, Publish,
// SetPresence and Presence return ErrLinkDown at once, without waiting for
// go-redis's attempts to reach Redis.
//
// # Presence
//
// Presence is kept in Redis under keys that all start with "{" + Prefix +
// "}:" (a Redis Cluster hash tag, so that the scripts below touch keys of
// one slot):
//
//	{P}:presence:ROOM     hash: "INSTANCE|USER" → "GENERATION:CONNECTIONS"
//	{P}:rooms:INSTANCE    hash: ROOM → how many entries INSTANCE has in ROOM
//	{P}:instance:INSTANCE string with a TTL: INSTANCE's generation, while it is alive
//
// The generation is a Redis timestamp taken when the instance's alive key
// is created: an entry left from before that key last expired counts for
// nothing, so that an instance that stalled past its TTL cannot bring
// stale entries back to life.
//
// Presence(room) is one script on one hash: it sums the fields of live
// instances other than the caller, and deletes those of dead ones. An
// instance refreshes its keys' TTL (Options.PresenceTTL) every third of
// it, so when it stops without Close (a crash, a kill) its alive key
// expires within PresenceTTL and from then on its entries count for
// nothing: the next Presence of each room deletes them, and a room hash
// that no live instance refreshes expires whole. Close deletes the
// instance's entries at once.
package redisfanout
