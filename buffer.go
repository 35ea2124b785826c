// Buffers lent to connections while they use them.
//
// Most connections are idle most of the time. An idle connection needs no
// read buffer (nothing has arrived) and no write buffer (nothing is being
// written), so neither is kept in the Conn: a connection takes a buffer
// from a pool when bytes arrive or a message is written, and gives it back
// as soon as it holds nothing more. With 10,000 mostly idle connections
// this is the difference between 8 KiB each and a few hundred buffers in
// all.

package websocket

import "sync"

// bufferPool lends buffers of one size. The pool holds *[]byte rather than
// []byte so that putting a buffer back does not allocate (a slice does not
// fit in an interface value without one).
type bufferPool struct {
	size int
	pool sync.Pool
}

// bufferPools has one pool per buffer size in use: the default sizes, and
// any other sizes ConnOptions ask for.
var bufferPools sync.Map // int → *bufferPool

// bufferPoolFor returns the pool of buffers of the given size, creating it
// on first use. It is called once per connection, not per buffer.
func bufferPoolFor(size int) *bufferPool {
	if p, ok := bufferPools.Load(size); ok {
		return p.(*bufferPool)
	}
	p, _ := bufferPools.LoadOrStore(size, &bufferPool{size: size})
	return p.(*bufferPool)
}

// get returns a buffer of the pool's size. Its contents are whatever the
// last user left: callers only read what they wrote.
func (p *bufferPool) get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, p.size)
	return &b
}

// put gives a buffer back. The caller must not use it afterwards.
func (p *bufferPool) put(b *[]byte) { p.pool.Put(b) }

// lentBuffer is a buffer a connection holds only while it needs it. It is
// two words, not five: a Conn has four of them (read, write, held frames
// and ReadFrom's large buffer), and keeping the slice header here as well
// would cost an idle connection 96 bytes.
type lentBuffer struct {
	pool *bufferPool
	box  *[]byte // nil while nothing is held
}

// bytes returns the buffer held, or nil if none is.
func (l *lentBuffer) bytes() []byte {
	if l.box == nil {
		return nil
	}
	return *l.box
}

// take makes sure a buffer is held.
func (l *lentBuffer) take() {
	if l.box == nil {
		l.box = l.pool.get()
	}
}

// release gives the buffer back, if one is held.
func (l *lentBuffer) release() {
	if l.box != nil {
		l.pool.put(l.box)
		l.box = nil
	}
}
