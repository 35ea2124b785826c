//go:build !linux

package main

import (
	"bufio"
	"errors"
	"net"
)

// eventLoops exists on Linux only (epoll.go).
type eventLoops struct{}

func newEventLoops(bool) (*eventLoops, error) {
	return nil, errors.New("-epoll needs Linux")
}

func (*eventLoops) add(net.Conn, *bufio.Reader) {}
