// Coalescing writes: one system call for the answers to many messages.
//
// A peer that pipelines (sends its next messages without waiting for the
// answers) delivers several frames per read system call. A server that
// answers each message as it reads it would then make one write system call
// per answer, and at small sizes the system calls are most of the cost. With
// ConnOptions.CoalesceWrites, a small data frame written while the read
// buffer still holds bytes of the peer's next frame is held back in a buffer
// instead: more answers are about to follow. The held frames leave in one
// write:
//
//   - when the connection is about to read from the network (it has
//     nothing buffered that it could answer), see beforeNetworkRead: a
//     goroutine of its own writes them then, so that the reader goes on
//     reading;
//   - with the next frame that is not held: a data frame that does not fit
//     in the buffer, or any control frame. The held frames go first, so
//     frames keep their order; a close frame in particular follows every
//     data frame (RFC 6455 §5.5.1);
//   - on Flush.
//
// The reader and the writers are different goroutines, or may be. The
// reader must not wait for the write side (a close frame aside, see Conn):
// neither for frameSem, which a writer blocked on a full socket may hold,
// nor for a write of its own. The peer's reader may be writing too, each
// end's write would wait for the other to read, and both would wait
// forever. (A socket with room for the bytes makes that rare; net.Pipe,
// which holds no bytes, makes it likely.) So the reader only tries to take
// frameSem, and hands the write to a goroutine, as it does for the pongs
// it owes (ping.go; handOffWrites does both). Two flags make that enough:
// inputAhead, stored by the reader, and hasHeld, stored by the writers.
// The reader clears inputAhead and then looks at hasHeld; a writer sets
// hasHeld, releases frameSem and then looks at inputAhead. Go's atomics
// are sequentially consistent, so at least one of them sees the other's
// store: if the reader cannot take frameSem to write the held frames, the
// writer holding it sees that the reader is about to wait, and writes them
// once it has released it (see releaseFrame).

package websocket

import (
	"context"
	"net"
	"sync"
)

// noteInputAhead records, when coalescing, whether the read buffer holds
// bytes of a frame the caller has not read yet. The reader calls it as it
// hands bytes or a message to the caller: what the caller writes in answer
// may then be held.
func (c *Conn) noteInputAhead() {
	if c.coalesce {
		c.inputAhead.Store(c.rpos < c.rend)
	}
}

// beforeNetworkRead is called by the reader before each read from the
// transport, which may wait: frames held for the answers must leave now.
func (c *Conn) beforeNetworkRead() {
	if !c.coalesce {
		return
	}
	c.inputAhead.Store(false)
	if c.hasHeld.Load() && c.frameSem.tryAcquire() {
		c.handOffWrites()
	}
	// If frameSem is taken, its holder writes the held frames, or sees to
	// it in releaseFrame.
}

// output writes one frame, which may be held (see the file comment) if
// holdable; held frames go out in front of it. The caller holds frameSem.
// It returns the transport's error, which the caller hands to writeFailed.
func (c *Conn) output(frame []byte, holdable bool) error {
	hold := holdable && c.coalesce && c.inputAhead.Load() && len(frame) <= c.held.pool.size
	if !hold && c.heldN == 0 {
		_, err := c.t.Write(frame)
		return err
	}
	if c.heldN+len(frame) > c.held.pool.size {
		return c.writeVectored(nil, frame)
	}
	c.held.take()
	c.heldN += copy(c.held.bytes()[c.heldN:], frame)
	if hold {
		c.hasHeld.Store(true)
		return nil
	}
	// The frame joined the held ones: all of them leave in one write.
	_, err := c.t.Write(c.held.bytes()[:c.heldN])
	c.dropHeld()
	return err
}

// writeVectored writes the held frames, then the header h unless it is
// nil, then data, in one vectored write (writev on TCP), leaving out the
// empty parts: a transport that cannot write vectors writes each part on
// its own, and an empty write may still cost it a packet.
func (c *Conn) writeVectored(h *frameHeader, data []byte) error {
	v := vectoredWrites.Get().(*vectoredWrite)
	hn := 0
	if h != nil {
		hn = putFrameHeader(v.header[:], *h)
	}
	// WriteTo consumes the slice it is called on, so v.vec is made anew in
	// v.parts each time; both are in v, so this does not allocate.
	v.vec = v.parts[:0]
	for _, p := range [3][]byte{c.held.bytes()[:c.heldN], v.header[:hn], data} {
		if len(p) > 0 {
			v.vec = append(v.vec, p)
		}
	}
	_, err := v.vec.WriteTo(c.t)
	*v = vectoredWrite{} // do not keep the caller's payload alive
	vectoredWrites.Put(v)
	c.dropHeld()
	return err
}

// vectoredWrite is the scratch space of one vectored write. Only large
// frames sent from the caller's own bytes need one, so it is borrowed from
// a pool for each rather than kept in every Conn, where an idle connection
// would carry its 112 bytes.
type vectoredWrite struct {
	header [maxFrameHeaderSize]byte
	parts  [3][]byte
	vec    net.Buffers
}

var vectoredWrites = sync.Pool{New: func() any { return new(vectoredWrite) }}

// flushHeldLocked writes the held frames, if any. The caller holds frameSem.
func (c *Conn) flushHeldLocked() error {
	if c.heldN == 0 {
		return nil
	}
	if c.writeErr != nil {
		c.dropHeld()
		return c.writeErr
	}
	_, err := c.t.Write(c.held.bytes()[:c.heldN])
	c.dropHeld()
	if err != nil {
		return c.writeFailed(err)
	}
	return nil
}

// dropHeld forgets the held frames and gives their buffer back.
func (c *Conn) dropHeld() {
	c.heldN = 0
	c.held.release()
	c.hasHeld.Store(false)
}

// handOffWrites starts a goroutine that writes what the reader owes the
// peer, the held frames and the pongs (ping.go), and then lets go of
// frameSem, which the reader took for it. The write may wait for the peer
// to read, and the peer may be waiting for us to read first (see the file
// comment).
func (c *Conn) handOffWrites() {
	if c.writeOwedFunc == nil {
		// Bound once: "go c.writeOwed()" would make the method value
		// anew each time, an allocation per hand-off.
		c.writeOwedFunc = c.writeOwed
	}
	go c.writeOwedFunc()
}

// writeOwed writes the pongs owed, which take the held frames in front of
// them in the same write (output), then whatever is still held, and lets
// go of frameSem.
func (c *Conn) writeOwed() {
	if c.pongOwed.Load() {
		c.writeOwedPongsLocked()
	}
	_ = c.flushHeldLocked() // a failure closed the connection; writers see it
	c.releaseFrame()
}

// releaseFrame is the only way frameSem is released. After a frame it
// writes what is held if the reader went to wait for the network meanwhile
// (see the file comment), and the pongs the reader owes (ping.go): whoever
// holds frameSem last before the lock falls free looks for both, so
// neither waits for a write that may never come.
func (c *Conn) releaseFrame() {
	for {
		c.frameSem.release()
		heldDue := c.hasHeld.Load() && !c.inputAhead.Load()
		if !heldDue && !c.pongOwed.Load() {
			return
		}
		if !c.frameSem.tryAcquire() {
			return // its holder, or the goroutine it was handed to, will look
		}
		if heldDue {
			_ = c.flushHeldLocked() // a failure closed the connection; writers see it
		}
		if c.pongOwed.Load() {
			c.writeOwedPongsLocked()
		}
	}
}

// Flush sends the messages that ConnOptions.CoalesceWrites is holding back,
// if there are any. Without CoalesceWrites there never are. A connection
// that coalesces writes and then stops reading for a while calls Flush so
// that its last messages do not wait for the next read.
func (c *Conn) Flush(ctx context.Context) error {
	if err := c.acquire(ctx, &c.frameSem); err != nil {
		return err
	}
	defer c.releaseFrame()
	stop := c.watch(ctx)
	defer stop()
	return c.flushHeldLocked()
}
