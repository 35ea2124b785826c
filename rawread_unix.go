//go:build unix

// Waiting for bytes without holding a buffer.
//
// A read from a net.Conn parks the goroutine inside Read, with the buffer
// it was given: an idle connection would hold its read buffer for as long
// as it stays idle. On a TCP or Unix socket the package reads through
// syscall.RawConn instead. The runtime's network poller calls rawRead when
// the socket may be readable; rawRead takes a buffer from the pool and
// reads, and if nothing was there after all (EAGAIN) it gives the buffer
// back before the goroutine parks. The system calls are the same ones
// net.Conn.Read makes: one read, and one more after each wake-up.

package websocket

import (
	"io"
	"net"
	"os"
	"syscall"
)

type rawReader struct {
	conn syscall.RawConn
	// read is c.rawRead bound once: a method value made at each call
	// would allocate.
	read func(fd uintptr) bool
	// The outcome of the last read: the byte count, or the error. On Unix
	// syscall.Read fails with a syscall.Errno, which takes one word where
	// an error value takes two (this struct is part of every Conn).
	n     int
	errno syscall.Errno
}

// init enables raw reads when t is a socket of the standard library. Types
// that merely embed one are left alone: their Read may do more than read.
func (r *rawReader) init(t transport, c *Conn) {
	var sc syscall.Conn
	switch t := t.(type) {
	case *net.TCPConn:
		sc = t
	case *net.UnixConn:
		sc = t
	default:
		return
	}
	conn, err := sc.SyscallConn()
	if err != nil {
		return
	}
	r.conn = conn
	r.read = c.rawRead
}

// enabled reports whether readEmpty can be used.
func (r *rawReader) enabled() bool { return r.conn != nil }

// readEmpty fills c.rbuf, which holds no unread bytes, with what the socket
// has, waiting for bytes to arrive without holding the buffer meanwhile.
func (r *rawReader) readEmpty() (int, error) {
	r.n, r.errno = 0, 0
	if err := r.conn.Read(r.read); err != nil {
		return 0, err // closed, or the read deadline passed
	}
	switch {
	case r.errno != 0:
		return 0, os.NewSyscallError("read", r.errno)
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// rawRead is called by the poller with the socket's descriptor; it returns
// false to be called again once the socket is readable.
func (c *Conn) rawRead(fd uintptr) bool {
	r := &c.raw
	c.rbuf.take()
	for {
		n, err := syscall.Read(int(fd), c.rbuf.bytes())
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			c.rbuf.release()
			return false
		case nil:
			r.n = n
		default:
			r.errno = err.(syscall.Errno) // what syscall.Read fails with on Unix
		}
		return true
	}
}
