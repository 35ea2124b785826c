// A Conn as a net.Conn, its addresses, and a connection that only writes.
//
// Some code wants a byte stream, not messages: a protocol library that
// takes a net.Conn (gRPC, SSH, a multiplexer) tunnelled over WebSocket
// because only WebSocket passes the proxies in between. NetConn gives it
// one: the payloads of the messages read, one after the other, as a
// stream; each Write as a message of its own.

package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"
)

// RemoteAddr returns the address of the peer: the other end of the TCP
// connection, or over HTTP/2 the client the request came from. It returns
// nil if the transport does not know it.
func (c *Conn) RemoteAddr() net.Addr {
	if a, ok := c.t.(interface{ RemoteAddr() net.Addr }); ok {
		return a.RemoteAddr()
	}
	return nil
}

// LocalAddr returns the address of this end, or nil if the transport does
// not know it.
func (c *Conn) LocalAddr() net.Addr {
	if a, ok := c.t.(interface{ LocalAddr() net.Addr }); ok {
		return a.LocalAddr()
	}
	return nil
}

// RemoteAddr is the client's address as net/http recorded it.
func (t *h2Transport) RemoteAddr() net.Addr {
	ap, err := netip.ParseAddrPort(t.remote)
	if err != nil {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}

// LocalAddr is the address the request arrived on.
func (t *h2Transport) LocalAddr() net.Addr {
	a, _ := t.ctx.Value(http.LocalAddrContextKey).(net.Addr)
	return a
}

// CloseRead starts a goroutine that reads the connection for a caller
// that only writes: it answers pings and notices the peer's close, as
// only reading can. It returns a context that ends when the connection is
// closed, so a writing loop can stop. A data message from the peer is not
// expected: the connection is closed with 1008 (policy violation). If ctx
// ends first, the connection is closed as a read cut short by its context
// is. After CloseRead, the caller must not read.
func (c *Conn) CloseRead(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer cancel()
		if _, _, err := c.Reader(ctx); err == nil {
			c.Close(StatusPolicyViolation, "unexpected data message")
		}
	}()
	return ctx
}

// NetConn returns c as a net.Conn that reads and writes messages of type
// typ:
//
//   - Read returns the payloads of the messages received, one after the
//     other, as one stream; the peer's close with 1000 or 1001 reads as
//     io.EOF. A message of the other type closes the connection with 1003
//     (unsupported data) and fails the read.
//   - Write sends its bytes as one message.
//   - Close runs the closing handshake with 1000.
//   - A deadline that passes makes the blocked call fail with an error
//     matching os.ErrDeadlineExceeded, and, as with SetReadDeadline and
//     SetWriteDeadline, leaves the connection closed: a frame cut in the
//     middle cannot be resumed.
//
// The usual net.Conn rules hold: one goroutine reads, writes may come
// from several. Use either the net.Conn or c's own read methods, not
// both.
func (c *Conn) NetConn(typ MessageType) net.Conn {
	return &netConn{c: c, typ: typ}
}

// netConn is what NetConn returns.
type netConn struct {
	c   *Conn
	typ MessageType

	readMu sync.Mutex // one Read at a time, as io.Reader allows
	msg    io.Reader  // the message being read, nil between messages
	eof    bool       // the peer closed normally: Read returns io.EOF
}

func (n *netConn) Read(p []byte) (int, error) {
	n.readMu.Lock()
	defer n.readMu.Unlock()
	for {
		if n.eof {
			return 0, io.EOF
		}
		if n.msg == nil {
			typ, r, err := n.c.Reader(context.Background())
			if err != nil {
				switch CloseStatus(err) {
				case StatusNormalClosure, StatusGoingAway:
					n.eof = true
					return 0, io.EOF
				}
				return 0, asNetError(err)
			}
			if typ != n.typ {
				n.c.Close(StatusUnsupportedData, "unexpected message type")
				return 0, fmt.Errorf("%w: NetConn received a %v message, wants %v", ErrUnsupportedData, typ, n.typ)
			}
			n.msg = r
		}
		k, err := n.msg.Read(p)
		if err == io.EOF {
			n.msg = nil
			if k == 0 {
				continue // an empty message adds nothing to the stream
			}
			err = nil
		}
		return k, asNetError(err)
	}
}

func (n *netConn) Write(p []byte) (int, error) {
	if err := n.c.Write(context.Background(), n.typ, p); err != nil {
		return 0, asNetError(err)
	}
	return len(p), nil
}

// asNetError gives a deadline's error the Timeout method that users of a
// net.Conn test for (net.Error), keeping the rest of its chain.
func asNetError(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return timeoutError{err}
	}
	return err
}

// timeoutError is an error that passed a deadline.
type timeoutError struct{ err error }

func (e timeoutError) Error() string   { return e.err.Error() }
func (e timeoutError) Unwrap() error   { return e.err }
func (e timeoutError) Timeout() bool   { return true }
func (e timeoutError) Temporary() bool { return true }

func (n *netConn) Close() error { return n.c.Close(StatusNormalClosure, "") }

// LocalAddr and RemoteAddr never return nil, as net.Conn users expect an
// address; a transport that knows none gives a placeholder.
func (n *netConn) LocalAddr() net.Addr  { return addrOrUnknown(n.c.LocalAddr()) }
func (n *netConn) RemoteAddr() net.Addr { return addrOrUnknown(n.c.RemoteAddr()) }

func (n *netConn) SetDeadline(t time.Time) error {
	return errors.Join(n.c.SetReadDeadline(t), n.c.SetWriteDeadline(t))
}
func (n *netConn) SetReadDeadline(t time.Time) error  { return n.c.SetReadDeadline(t) }
func (n *netConn) SetWriteDeadline(t time.Time) error { return n.c.SetWriteDeadline(t) }

func addrOrUnknown(a net.Addr) net.Addr {
	if a == nil {
		return unknownAddr{}
	}
	return a
}

// unknownAddr stands for an address the transport does not know.
type unknownAddr struct{}

func (unknownAddr) Network() string { return "websocket" }
func (unknownAddr) String() string  { return "unknown" }
