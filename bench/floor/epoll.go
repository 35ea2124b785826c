//go:build linux

package main

import (
	"bufio"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// eventLoops is the event-driven floor: one epoll instance and one
// goroutine per CPU, each watching a share of the connections. A loop
// sleeps in epoll_wait until some of its sockets are readable, then reads
// each once and answers its whole frames with one write. Against a
// goroutine per connection, each message saves the read that finds the
// socket empty (EAGAIN) before the goroutine parks, and the park and
// wake-up themselves; epoll_wait's cost is shared by every socket that
// became ready meanwhile.
//
// The sockets stay registered with the Go runtime's own poller, which is
// harmless: it is edge-triggered and nobody waits on it. Ours is
// level-triggered, so a socket that still holds bytes after a read is
// reported again by the next epoll_wait.
type eventLoops struct {
	loops []*eventLoop
	next  atomic.Uint32
}

type eventLoop struct {
	epfd  int
	hold  bool // keep the processor while waiting (see wait)
	mu    sync.Mutex
	conns map[int32]*eventConn
	out   []byte
}

type eventConn struct {
	c    net.Conn // kept so that the socket is not closed by the collector
	fd   int
	in   []byte
	have int
}

func newEventLoops(hold bool) (*eventLoops, error) {
	ls := &eventLoops{}
	for range runtime.GOMAXPROCS(0) {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return nil, err
		}
		l := &eventLoop{epfd: epfd, hold: hold, conns: make(map[int32]*eventConn), out: make([]byte, bufSize)}
		ls.loops = append(ls.loops, l)
		go l.run()
	}
	return ls, nil
}

// add hands a connection whose handshake is done to a loop, with the bytes
// the handshake reader already holds.
func (ls *eventLoops) add(c net.Conn, br *bufio.Reader) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		c.Close()
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		c.Close()
		return
	}
	ec := &eventConn{c: c, in: make([]byte, bufSize)}
	raw.Control(func(fd uintptr) { ec.fd = int(fd) })
	ec.have, _ = br.Read(ec.in[:br.Buffered()])
	l := ls.loops[ls.next.Add(1)%uint32(len(ls.loops))]
	l.mu.Lock()
	l.conns[int32(ec.fd)] = ec
	l.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(ec.fd)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, ec.fd, &ev); err != nil {
		l.drop(ec)
	}
}

func (l *eventLoop) run() {
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := l.wait(events)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			panic(err)
		}
		for _, ev := range events[:n] {
			l.mu.Lock()
			ec := l.conns[ev.Fd]
			l.mu.Unlock()
			if ec != nil && !l.serve(ec) {
				l.drop(ec)
			}
		}
	}
}

// wait returns how many of events are ready. By default it blocks in
// epoll_wait like any system call: the runtime gives the goroutine's
// processor (P) to other goroutines meanwhile, and the loop has to get one
// back after each wake-up. With hold, it waits at most 1 ms through
// RawSyscall6, which the scheduler does not see, so the loop keeps its
// processor; it yields after an empty wait so that the other goroutines
// (accepting, handshakes) still run. A real server would not block a
// processor like that; here it shows what the hand-off costs.
func (l *eventLoop) wait(events []syscall.EpollEvent) (int, error) {
	if !l.hold {
		return syscall.EpollWait(l.epfd, events, -1)
	}
	// epoll_pwait with no signal mask is epoll_wait, and exists on every
	// Linux architecture (arm64 has no epoll_wait).
	n, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.epfd),
		uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 1, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	if n == 0 {
		runtime.Gosched()
	}
	return int(n), nil
}

// serve reads what the socket holds and answers every whole frame; it
// returns false when the connection is over.
func (l *eventLoop) serve(ec *eventConn) bool {
	n, err := syscall.Read(ec.fd, ec.in[ec.have:])
	switch {
	case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
		return true
	case err != nil || n == 0:
		return false
	}
	ec.have += n
	used, o, ok := echoFrames(ec.in[:ec.have], l.out)
	if !ok {
		return false
	}
	ec.have = copy(ec.in, ec.in[used:ec.have])
	for out := l.out[:o]; len(out) > 0; {
		w, err := syscall.Write(ec.fd, out)
		if errors.Is(err, syscall.EAGAIN) {
			// The socket's send buffer is full: finish through the Go
			// poller, which waits for room (rare in this stick's
			// workloads, and it stalls this loop meanwhile).
			_, err := ec.c.Write(out)
			return err == nil
		}
		if err != nil {
			return false
		}
		out = out[w:]
	}
	return true
}

func (l *eventLoop) drop(ec *eventConn) {
	syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, ec.fd, nil)
	l.mu.Lock()
	delete(l.conns, int32(ec.fd))
	l.mu.Unlock()
	ec.c.Close()
}
