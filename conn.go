// The connection: its options, its state, and the rules that let several
// goroutines use it at once.
//
// RFC 6455 §5.1 (who masks), §5.4 (control frames may be injected in the
// middle of a fragmented message), §7 (closing). Reading is in read.go,
// writing in write.go, the closing handshake in close.go.

package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// MessageType is the type of a data message (RFC 6455 §5.6). Its values are
// the frame opcodes.
type MessageType int

// The two kinds of data message.
const (
	// MessageText is UTF-8 text; the package fails the connection (1007) on
	// invalid UTF-8 from the peer.
	MessageText MessageType = 1 // the opcode of a text frame, opText
	// MessageBinary is arbitrary bytes.
	MessageBinary MessageType = 2 // the opcode of a binary frame, opBinary
)

func (t MessageType) String() string {
	switch t {
	case MessageText:
		return "text"
	case MessageBinary:
		return "binary"
	}
	return fmt.Sprintf("MessageType(%d)", int(t))
}

// Defaults used when an option is left at zero.
const (
	// DefaultReadLimit is the largest message a connection reads unless
	// ConnOptions.ReadLimit or SetReadLimit says otherwise: 32 MiB.
	DefaultReadLimit = 32 << 20
	// DefaultCloseTimeout bounds each wait of the closing handshake.
	DefaultCloseTimeout = 5 * time.Second
	// DefaultBufferSize is the size of the read and the write buffer.
	DefaultBufferSize = 4096
)

// ConnOptions configures a connection. AcceptOptions and DialOptions embed
// it; the zero value means the defaults.
type ConnOptions struct {
	// ReadLimit is the largest message, in bytes, the connection accepts.
	// A longer one fails the connection with 1009 (message too big) as soon
	// as a frame header announces it, before its payload is read.
	// 0 means DefaultReadLimit; a negative value means no limit.
	ReadLimit int64

	// PingInterval turns on keepalive: a ping is sent after every
	// PingInterval and the connection is closed with ErrPongTimeout when no
	// pong arrives within PongTimeout (default: PingInterval). Pongs are
	// seen by the goroutine that reads, so keepalive needs one.
	PingInterval time.Duration
	PongTimeout  time.Duration

	// CloseTimeout bounds the waits of the closing handshake: for the
	// peer's close frame, and on a client for the server to close TCP.
	// 0 means DefaultCloseTimeout.
	CloseTimeout time.Duration

	// OnPing and OnPong, if set, are called by the reading goroutine with
	// the payload of each ping and pong received. The slice is only valid
	// during the call. A ping is answered with a pong whether or not OnPing
	// is set (RFC 6455 §5.5.2). OnPong returns before the Ping call that
	// the pong answers does.
	OnPing func(payload []byte)
	OnPong func(payload []byte)

	// ReadBufferSize and WriteBufferSize are the sizes of the connection's
	// buffers; 0 means DefaultBufferSize, and sizes below 139 bytes (a
	// whole control frame) are raised to that. Messages larger than a
	// buffer are still read and written whole, in more system calls. The
	// write buffer is also the fragment size of messages written with
	// Writer.
	ReadBufferSize  int
	WriteBufferSize int

	// CoalesceWrites lets small data frames wait while the peer's next
	// frame has already arrived, so that the answers to pipelined messages
	// leave in one system call rather than one each. Held
	// frames go out as soon as the connection reads from the network
	// again, with the next control frame, when the write buffer fills, or
	// on Flush. It suits a connection read by a loop that answers what it
	// reads (an echo, a request/response server); a connection that writes
	// and then stops reading while input is buffered must call Flush.
	CoalesceWrites bool
}

// transport is the byte stream under a Conn: a hijacked net.Conn for the
// HTTP/1.1 upgrade, or anything else with the same few methods. The
// protocol code sees nothing more of it.
type transport interface {
	io.ReadWriteCloser
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// Conn is a WebSocket connection, from either side.
//
// Concurrency: one goroutine at a time may read (Read, Reader and the
// io.Reader it returns). Any number of goroutines may write at once (Write,
// WriteFrom, Writer, WritePrepared, Ping, Flush): each data message goes
// out whole, writers take turns in the order they came, and control frames
// (pongs, pings, close) may go out between the fragments of a message. A
// writer returned by Writer belongs to one message and fails once closed.
// Close, CloseNow, Subprotocol and the Set methods may be called from any
// goroutine at any time; Close and CloseNow end blocked reads and writes.
//
// The reading goroutine never waits for the write side: the pong a ping
// asks for, and the answers CoalesceWrites holds back, are sent by the next
// writer to finish a frame, or by a goroutine of their own when nobody
// writes (a reader that waited to write while its peer waited for it to
// read would stop both). The one exception is a close frame, the answer
// to the peer's or the one that fails the connection, which the close
// timeout bounds: after it there is nothing more to read.
type Conn struct {
	// The fields are grouped by who uses them. What is only needed now
	// and then is made when first used, or borrowed from a pool: an idle
	// server holds one Conn per connection (TestIdleConnectionMemory).
	// The small fields sit where they fill gaps, which keeps Conn within
	// 576 bytes, the size class below 640: 64 bytes per connection, 1% of
	// an idle one (wsbench idle).
	t           transport
	subprotocol string
	isServer    bool
	// fromAccept: the connection came from Accept, where a context taken
	// from the request is cancelled when the handler returns, which
	// contextEnded mentions. Handler clears it: the context it gives
	// serve does not end with the request. Nothing of the request is
	// kept: its contexts, with what net/http hangs on them, are about
	// 330 bytes per connection once the handler has returned.
	fromAccept bool

	// Reading. The fields below are used by one goroutine at a time: the
	// holder of readSem.
	inMessage  bool   // a data message started and its final frame has not come
	compressed bool   // the current message has RSV1: permessage-deflate (RFC 7692 §6)
	msgOpen    bool   // a message's bytes are being handed to the caller
	frameKey   uint32 // the current frame's masking key, rotated to the next byte
	readSem    semaphore
	readLimit  atomic.Int64
	rbuf       lentBuffer // bytes read from t; unread ones are rbuf.bytes()[rpos:rend]
	rpos       int
	rend       int
	raw        rawReader   // waits for bytes without holding rbuf, where t allows it
	frame      frameHeader // the data frame being read
	frameLeft  int64       // its payload bytes not yet read
	msgSize    int64       // payload bytes of the current message so far
	utf8       utf8Validator
	msgOpcode  opcode // the current message's type: opText or opBinary
	readErr    error  // once set, every read returns it
	reader     messageReader
	// writeOwed bound to c, made the first time the reader hands a write
	// to a goroutine (handOffWrites).
	writeOwedFunc func()

	// Writing. msgSem is held for a whole data message, frameSem for one
	// frame: control frames only take frameSem, which is what lets them go
	// out between fragments.
	msgSem    semaphore
	frameSem  semaphore
	wbuf      lentBuffer // maxFrameHeaderSize of header room, then payload; held by the msgSem holder
	coalesce  bool
	closeSent atomic.Bool // our close frame is on the wire (RFC 6455 §5.5.1)
	hasHeld   atomic.Bool // heldN > 0, for the reader to see without frameSem (coalesce.go)
	pongOwed  atomic.Bool // pongs has pongs to send (ping.go)
	writeErr  error       // guarded by frameSem; once set, every write returns it
	writer    messageWriter
	maskKeys  *maskKeySource

	// Coalescing (coalesce.go). held and heldN are guarded by frameSem;
	// hasHeld is above and inputAhead below, where they fill gaps.
	held  lentBuffer // frames written but held back: held.bytes()[:heldN]
	heldN int

	// Closing. A goroutine that waits for the connection to close waits on
	// Done's channel: it is made only when somebody waits, which on most
	// connections nobody ever does.
	closing    atomic.Bool // closing t has begun: doneErr is set
	inputAhead atomic.Bool // the read buffer holds bytes the caller has not read (coalesce.go)
	doneOnce   sync.Once
	closedMu   sync.Mutex                  // guards closed
	closed     chan struct{}               // see Done; nil until Done is called or t is closed
	doneErr    error                       // why t was closed; set before closing
	watchedBy  atomic.Pointer[serverConns] // its server's open connections, if they are watched (see serverConns.add)

	closeTimeout time.Duration
	onPing       func([]byte)
	onPong       func([]byte)

	// deflate is permessage-deflate's state, nil unless it was negotiated.
	deflate *deflateState

	// Pings: pings is made by the first Ping call, pongs by the first
	// ping received (pongOwed is with the writing fields, in a gap).
	pings     atomic.Pointer[pingState]
	pongs     atomic.Pointer[owedPongs]
	keepalive *keepalive
}

// newConn builds a Conn over t once the opening handshake is done.
// buffered holds bytes already read from t past the handshake.
func newConn(t transport, isServer bool, buffered []byte, subprotocol string, opts *ConnOptions, deflate *deflateConfig) *Conn {
	if opts == nil {
		opts = &ConnOptions{}
	}
	rsize := bufferSize(opts.ReadBufferSize)
	for rsize < len(buffered) {
		// Rare: more bytes came with the handshake than the buffer holds.
		// Doubling keeps the number of distinct pool sizes small.
		rsize *= 2
	}
	c := &Conn{
		t:            t,
		isServer:     isServer,
		subprotocol:  subprotocol,
		closeTimeout: opts.CloseTimeout,
		onPing:       opts.OnPing,
		onPong:       opts.OnPong,
		rbuf:         lentBuffer{pool: bufferPoolFor(rsize)},
		wbuf:         lentBuffer{pool: bufferPoolFor(maxFrameHeaderSize + bufferSize(opts.WriteBufferSize))},
		coalesce:     opts.CoalesceWrites,
		maskKeys:     defaultMaskKeys,
	}
	if c.closeTimeout <= 0 {
		c.closeTimeout = DefaultCloseTimeout
	}
	if len(buffered) > 0 {
		c.rbuf.take()
		c.rend = copy(c.rbuf.bytes(), buffered)
	}
	c.held.pool = c.wbuf.pool
	c.raw.init(t, c)
	c.SetReadLimit(opts.ReadLimit)
	c.reader.c = c
	c.writer.c = c
	if deflate != nil {
		c.deflate = newDeflateState(*deflate)
		c.deflate.in.c = c
	}
	if opts.PingInterval > 0 {
		c.startKeepalive(opts.PingInterval, opts.PongTimeout)
	}
	return c
}

// bufferSize applies the default, and a floor that fits a whole control
// frame so one can always be read from the buffer.
func bufferSize(n int) int {
	if n <= 0 {
		return DefaultBufferSize
	}
	return max(n, maxFrameHeaderSize+maxControlPayload)
}

// Subprotocol returns the subprotocol agreed in the opening handshake
// (RFC 6455 §1.9), or "" if none.
func (c *Conn) Subprotocol() string { return c.subprotocol }

// SetReadLimit sets the largest message, in bytes, the connection accepts;
// 0 means DefaultReadLimit and a negative value means no limit. It applies
// from the next frame header on.
func (c *Conn) SetReadLimit(n int64) {
	if n == 0 {
		n = DefaultReadLimit
	}
	c.readLimit.Store(n)
}

// SetReadDeadline sets the time after which a blocked read fails. A read
// that fails this way leaves the connection closed: the frame stream cannot
// be resumed in the middle of a frame. The zero time means no deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.t.SetReadDeadline(t) }

// SetWriteDeadline sets the time after which a blocked write fails, which
// closes the connection. The zero time means no deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.t.SetWriteDeadline(t) }

// errClosed is what operations return once the connection was closed on
// this side (by Close, CloseNow, or after a failure was handled).
var errClosed = fmt.Errorf("websocket: connection closed: %w", net.ErrClosed)

// closeTransport closes the byte stream once and records why; the first
// cause wins and is what later operations report. Operations see the
// connection closed as soon as it begins; goroutines waiting for a lock or
// a pong wake on Done's channel, once t.Close has returned. That is at
// once, but for TLS, whose Close first sends a close_notify alert
// (bounded by crypto/tls at 5 s) when no write is in progress.
func (c *Conn) closeTransport(cause error) {
	c.doneOnce.Do(func() {
		c.doneErr = cause
		c.closing.Store(true)
		c.stopKeepalive()
		c.t.Close()
		c.forgetOnShutdown()
		c.closedMu.Lock()
		if c.closed == nil {
			c.closed = closedChan // Done was never called: nobody waits
		} else {
			close(c.closed)
		}
		c.closedMu.Unlock()
	})
}

// closedChan is a closed channel, what Done returns for a connection that
// was closed before anyone asked.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// Done returns a channel that is closed once the connection is closed and
// its transport released, whichever side or failure closed it.
//
// An HTTP handler that serves a connection over HTTP/2 must not return
// before then (see Accept): handing the connection to other goroutines and
// ending with
//
//	<-c.Done()
//
// keeps the handler, and so the HTTP/2 stream, alive for as long as the
// connection. Over HTTP/1.1 it is equally valid.
func (c *Conn) Done() <-chan struct{} {
	// The channel is made on the first call: most connections are never
	// asked, and a channel is 112 bytes of heap each.
	c.closedMu.Lock()
	defer c.closedMu.Unlock()
	if c.closed == nil {
		c.closed = make(chan struct{})
	}
	return c.closed
}

// closedErr returns the reason the connection is closed, or nil while it
// is open.
func (c *Conn) closedErr() error {
	if c.closing.Load() {
		return c.doneErr
	}
	return nil
}

// watch makes the cancellation of ctx close the connection while an
// operation is blocked on the network, and returns the function that ends
// the watch. A read or write cut short cannot be resumed mid-frame, so
// closing is the only safe outcome. A context that cannot be cancelled
// costs nothing here: no goroutine, no allocation.
func (c *Conn) watch(ctx context.Context) (stop func() bool) {
	if ctx.Done() == nil {
		return nothingToStop
	}
	return context.AfterFunc(ctx, func() { c.closeTransport(c.contextEnded(ctx)) })
}

// contextEnded is why the connection was closed when ctx ended. On a
// connection from Accept, a cancelled context that carries net/http's
// server value came from an HTTP request, and a common mistake is to serve
// the connection after the handler returned, which cancels the request's
// context. The error mentions it as a possibility: the program may also
// have cancelled a context of its own derived from the request, or (over
// HTTP/2) the client may have reset the stream.
func (c *Conn) contextEnded(ctx context.Context) error {
	cause := context.Cause(ctx)
	if c.fromAccept && errors.Is(cause, context.Canceled) && ctx.Value(http.ServerContextKey) != nil {
		return fmt.Errorf("websocket: connection closed: %w (the context came from an HTTP request: if its handler returned, that cancelled it; serve the connection inside the handler, or use Handler)", cause)
	}
	return fmt.Errorf("websocket: connection closed: %w", cause)
}

func nothingToStop() bool { return true }

// ioError turns an error from the transport into the error an operation
// returns: the recorded cause if the connection was closed on this side,
// since the transport only knows it was closed, not why.
func (c *Conn) ioError(err error) error {
	if cause := c.closedErr(); cause != nil {
		return cause
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		// RFC 6455 §7.1.5: a connection closed without a close frame has
		// the close code 1006, whether the peer's TCP said goodbye (FIN)
		// or broke off (a reset).
		ce := &CloseError{Code: StatusAbnormalClosure}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			ce.lost = err // a reset is worth telling; the end of the stream is what 1006 says
		}
		return ce
	}
	return fmt.Errorf("websocket: %w", err)
}
