package main

import (
	"github.com/wirecraft/websocket/redisfanout"
	"github.com/wirecraft/websocket/rooms"
)

// redisFanOut links the hub to the other instances that use the Redis
// server at addr. It does not connect yet: the hub starts the link, and a
// Redis that cannot be reached is reported through Options.OnLinkLost and
// tried again, so instances may start in any order.
func redisFanOut(addr string) (rooms.FanOut, error) {
	return redisfanout.New(redisfanout.Options{Addr: addr})
}
