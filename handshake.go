// The opening handshake, as both sides see it.
//
// RFC 6455 §1.3 (overview), §4.1 (client), §4.2 (server), §4.4 (version
// negotiation), §11.3 (the header fields). The server side is in accept.go
// (and acceptconn.go, without net/http's server), the client side in
// dial.go; this file holds what they share.

package websocket

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"time"
)

// acceptGUID is the fixed string of RFC 6455 §1.3 that the server appends
// to the client's key: a value no endpoint that does not understand
// WebSocket would produce.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey computes Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455
// §4.2.2, item 5.4): the base64 of the SHA-1 of the key followed by the
// GUID. It proves the server read this very handshake.
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(acceptGUID))
	var sum [sha1.Size]byte
	return base64.StdEncoding.EncodeToString(h.Sum(sum[:0]))
}

// headerHasToken reports whether the comma-separated lists in the header
// field name contain token, compared case-insensitively (RFC 6455 §4.2.1:
// "Connection" includes the token "Upgrade"; RFC 9110 §5.6.1 lists).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(item), token) {
				return true
			}
		}
	}
	return false
}

// headerTokens returns the items of the comma-separated lists in the header
// field name, with surrounding white space removed.
func headerTokens(h http.Header, name string) []string {
	var tokens []string
	for _, v := range h.Values(name) {
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			if item = strings.TrimSpace(item); item != "" {
				tokens = append(tokens, item)
			}
		}
	}
	return tokens
}

// validHeaderValue reports whether v can be written into a header field
// without breaking the message: no CR, LF or NUL (RFC 9110 §5.5).
func validHeaderValue(v string) bool {
	return !strings.ContainsAny(v, "\r\n\x00")
}

// handshakeHeaders are the fields the handshake itself sets; callers'
// extra headers may not replace them.
var handshakeHeaders = map[string]bool{
	"Upgrade":                  true,
	"Connection":               true,
	"Sec-Websocket-Key":        true,
	"Sec-Websocket-Version":    true,
	"Sec-Websocket-Accept":     true,
	"Sec-Websocket-Protocol":   true,
	"Sec-Websocket-Extensions": true,
}

// handshakeContext ties an opening handshake on a connection to a context,
// for Dial and AcceptConn: the handshake is plain blocking reads and writes
// on the connection, which know nothing of contexts, so the context's
// deadline becomes the connection's, and the context's end moves that
// deadline to the past, which wakes a read or write in progress.
type handshakeContext struct {
	ctx         context.Context
	nc          net.Conn
	deadline    time.Time
	hasDeadline bool
	stop        func() bool
}

func bindHandshake(ctx context.Context, nc net.Conn) handshakeContext {
	h := handshakeContext{ctx: ctx, nc: nc}
	h.deadline, h.hasDeadline = ctx.Deadline()
	if h.hasDeadline {
		nc.SetDeadline(h.deadline)
	}
	h.stop = context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	return h
}

// cause says why a handshake that failed did, if the context ended it:
// the context's cause, or context.DeadlineExceeded when the connection's
// deadline, which is the context's, passed a moment before the context's
// own timer fired. It is nil when the failure was the handshake's own.
func (h handshakeContext) cause() error {
	switch {
	case h.ctx.Err() != nil:
		return context.Cause(h.ctx)
	case h.hasDeadline && !time.Now().Before(h.deadline):
		return context.DeadlineExceeded
	}
	return nil
}

// release unties a handshake that succeeded and clears the deadline: the
// connection lives by its own from now on. It reports false if the context
// ended first, which may have expired the deadline under the new
// connection: the caller closes it and returns context.Cause.
func (h handshakeContext) release() bool {
	if !h.stop() {
		return false
	}
	h.nc.SetDeadline(time.Time{})
	return true
}
