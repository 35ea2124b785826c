// Ping, pong and keepalive.
//
// RFC 6455 §5.5.2 and §5.5.3: a ping "MAY serve either as a keepalive or as
// a means to verify that the remote endpoint is still responsive"; the pong
// carries the ping's payload back, which is how a pong is matched to its
// ping here.

package websocket

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync"
	"time"
)

// pendingPing is a Ping call waiting for its pong.
type pendingPing struct {
	payload [8]byte
	pong    chan struct{}
}

// Ping sends a ping and waits for the pong that answers it, or for ctx to
// end. Pongs are seen by the goroutine that reads, so Ping needs another
// goroutine to be reading.
func (c *Conn) Ping(ctx context.Context) error {
	p := pendingPing{pong: make(chan struct{})}
	c.pingMu.Lock()
	c.pingCounter++
	binary.BigEndian.PutUint64(p.payload[:], c.pingCounter)
	c.pings = append(c.pings, p)
	c.pingMu.Unlock()
	defer c.forgetPing(p.pong)

	if err := c.writeControl(ctx, opPing, p.payload[:]); err != nil {
		return err
	}
	select {
	case <-p.pong:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-c.done:
		return c.doneErr
	}
}

func (c *Conn) forgetPing(pong chan struct{}) {
	c.pingMu.Lock()
	defer c.pingMu.Unlock()
	for i := range c.pings {
		if c.pings[i].pong == pong {
			c.pings = append(c.pings[:i], c.pings[i+1:]...)
			return
		}
	}
}

// handlePong wakes the Ping call the pong answers, and the keepalive.
func (c *Conn) handlePong(payload []byte) {
	if c.keepalive != nil {
		c.keepalive.pongReceived()
	}
	c.pingMu.Lock()
	defer c.pingMu.Unlock()
	for i := range c.pings {
		if bytes.Equal(c.pings[i].payload[:], payload) {
			close(c.pings[i].pong)
			c.pings = append(c.pings[:i], c.pings[i+1:]...)
			return
		}
	}
}

// keepalive pings the peer every interval and closes the connection when a
// pong does not come within the timeout. It runs on a timer, not on a
// goroutine of its own: an idle connection keeps no stack for it.
type keepalive struct {
	c        *Conn
	interval time.Duration
	timeout  time.Duration

	mu       sync.Mutex
	timer    *time.Timer
	awaiting bool // a ping is out and its pong has not come
	stopped  bool
}

func (c *Conn) startKeepalive(interval, timeout time.Duration) {
	if timeout <= 0 {
		timeout = interval
	}
	k := &keepalive{c: c, interval: interval, timeout: timeout}
	c.keepalive = k
	k.mu.Lock()
	k.timer = time.AfterFunc(interval, k.fire)
	k.mu.Unlock()
}

// fire runs when the timer expires: either time for a ping, or the pong
// is late.
func (k *keepalive) fire() {
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	if k.awaiting {
		k.mu.Unlock()
		k.c.closeTransport(ErrPongTimeout)
		return
	}
	k.awaiting = true
	k.timer.Reset(k.timeout)
	k.mu.Unlock()

	// The ping waits at most the pong timeout for the wire: if it cannot
	// go out, no pong will come and the timer closes the connection.
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
	defer cancel()
	_ = k.c.writeControl(ctx, opPing, nil)
}

func (k *keepalive) pongReceived() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.awaiting && !k.stopped {
		k.awaiting = false
		k.timer.Reset(k.interval)
	}
}

func (c *Conn) stopKeepalive() {
	k := c.keepalive
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stopped = true
	k.timer.Stop()
}
