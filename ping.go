// Ping, pong and keepalive.
//
// RFC 6455 §5.5.2 and §5.5.3: a ping "MAY serve either as a keepalive or as
// a means to verify that the remote endpoint is still responsive"; the pong
// carries the ping's payload back, which is how a pong is matched to its
// ping here.
//
// Answering pings. The goroutine that reads must never wait for the write
// side: a writer may be blocked on a full socket because the peer is not
// reading, and the peer may be waiting for us to read its pings before it
// reads again, so a reader that waits to write a pong can stop both ends
// for ever. The reader therefore only records the pong it owes and leaves
// the writing to whoever holds the write side: the writer in the middle of
// a message sends it when its frame is done (releaseFrame), and when
// nobody writes, a goroutine started for the purpose does. The same
// ordering argument as in coalesce.go makes that reliable: the reader
// records the pong and then tries the lock; a writer releases the lock and
// then looks for pongs owed.

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

// pingState holds the Ping calls waiting for their pongs. Most connections
// never call Ping, so a Conn points to one made on the first call rather
// than embedding it: an idle connection's Conn stays small.
type pingState struct {
	mu      sync.Mutex
	counter uint64
	pending []pendingPing
}

// pingState returns the connection's pingState, making it on first use.
func (c *Conn) pingState() *pingState {
	if s := c.pings.Load(); s != nil {
		return s
	}
	c.pings.CompareAndSwap(nil, new(pingState))
	return c.pings.Load()
}

// Ping sends a ping and waits for the pong that answers it, or for ctx to
// end. Pongs are seen by the goroutine that reads, so Ping needs another
// goroutine to be reading.
func (c *Conn) Ping(ctx context.Context) error {
	s := c.pingState()
	p := pendingPing{pong: make(chan struct{})}
	s.mu.Lock()
	s.counter++
	binary.BigEndian.PutUint64(p.payload[:], s.counter)
	s.pending = append(s.pending, p)
	s.mu.Unlock()
	defer s.forget(p.pong)

	if err := c.writeControl(ctx, opPing, p.payload[:]); err != nil {
		return err
	}
	select {
	case <-p.pong:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-c.Done():
		return c.doneErr
	}
}

func (s *pingState) forget(pong chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.pending {
		if s.pending[i].pong == pong {
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			return
		}
	}
}

// handlePong wakes the Ping call the pong answers, and the keepalive.
func (c *Conn) handlePong(payload []byte) {
	if c.keepalive != nil {
		c.keepalive.pongReceived()
	}
	s := c.pings.Load()
	if s == nil {
		return // no Ping call ever: nothing to wake
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.pending {
		if bytes.Equal(s.pending[i].payload[:], payload) {
			close(s.pending[i].pong)
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
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

// maxOwedPongs bounds the pongs the reader keeps while they wait for the
// write side, in bytes of payload plus one length byte each: the answers
// to at least eight pings of the largest size. A peer that pings faster
// than they leave gets only the pong for its latest ping, as RFC 6455
// §5.5.3 allows: "If an endpoint receives a Ping frame and has not yet
// sent Pong frame(s) in response to previous Ping frame(s), the endpoint
// MAY elect to send a Pong frame for only the most recently processed Ping
// frame."
const maxOwedPongs = 8 * (1 + maxControlPayload)

// owedPongs holds the payloads of the pongs the reader owes, each after a
// length byte. Most connections are never pinged, so a Conn points to one
// made on the first ping.
type owedPongs struct {
	mu   sync.Mutex
	owed []byte // recorded by the reader, guarded by mu
	// sending is the batch being written, owned by the holder of
	// frameSem; owed and sending swap, so neither is ever reallocated.
	sending []byte
}

// owePong records that payload must be echoed in a pong (RFC 6455 §5.5.2),
// and sees that it is sent, without waiting for the write side. The
// reader calls it.
func (c *Conn) owePong(payload []byte) {
	o := c.pongs.Load()
	if o == nil {
		o = &owedPongs{owed: make([]byte, 0, maxOwedPongs), sending: make([]byte, 0, maxOwedPongs)}
		c.pongs.Store(o) // only the reader stores it
	}
	o.mu.Lock()
	if len(o.owed)+1+len(payload) > maxOwedPongs {
		o.owed = o.owed[:0] // answer the latest ping only
	}
	o.owed = append(o.owed, byte(len(payload)))
	o.owed = append(o.owed, payload...)
	o.mu.Unlock()
	c.pongOwed.Store(true)
	if c.frameSem.tryAcquire() {
		// Nobody is writing: a goroutine of its own sends the pong, since
		// even a free socket may block the write.
		c.handOffWrites()
	}
	// Otherwise the holder of frameSem sends it in releaseFrame.
}

// writeOwedPongsLocked sends the pongs owed, in the order of their pings.
// The caller holds frameSem. Once our close frame is out nothing more is
// sent: the peer, who will not read past our close, is closing too.
func (c *Conn) writeOwedPongsLocked() {
	o := c.pongs.Load()
	o.mu.Lock()
	c.pongOwed.Store(false)
	o.owed, o.sending = o.sending[:0], o.owed
	o.mu.Unlock()
	for p := o.sending; len(p) > 0; {
		n := int(p[0])
		payload := p[1 : 1+n]
		p = p[1+n:]
		if c.closeSent.Load() {
			return
		}
		if c.writeControlLocked(context.Background(), opPong, payload) != nil {
			return // the connection is closed; the reader will see it
		}
	}
}
