package main

import (
	"errors"

	"github.com/wirecraft/websocket/rooms"
)

// redisFanOut links the hub to other instances through Redis.
func redisFanOut(addr string) (rooms.FanOut, error) {
	return nil, errors.New("-redis: not available in this build yet")
}
