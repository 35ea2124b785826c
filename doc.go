// Package websocket implements the WebSocket protocol of RFC 6455, server
// and client, with permessage-deflate (RFC 7692) and WebSockets over
// HTTP/2 (RFC 8441), on the standard library alone.
//
// # Server
//
// Accept upgrades a request inside any http.Handler:
//
//	func handler(w http.ResponseWriter, r *http.Request) {
//		c, err := websocket.Accept(w, r, nil)
//		if err != nil {
//			return // Accept has answered with an HTTP error
//		}
//		defer c.CloseNow()
//		for {
//			typ, msg, err := c.Read(r.Context())
//			if err != nil {
//				return // *CloseError once the client has closed
//			}
//			if err := c.Write(r.Context(), typ, msg); err != nil {
//				return
//			}
//		}
//	}
//
// Accept checks the handshake of RFC 6455 §4.2.1 and answers a bad one
// with the HTTP status the RFC names (400, 405, 426 with the supported
// version) and a plain-text reason. By default it refuses browser pages of
// other origins with 403: list the origins that may connect in
// AcceptOptions.OriginPatterns, or decide with AcceptOptions.CheckOrigin.
// To refuse a request for reasons of your own (authentication), answer it
// with an HTTP error before calling Accept.
//
// A port that serves nothing but WebSockets can do without net/http's
// server: AcceptConn reads the handshake from a connection of a
// net.Listener, with the same checks and options, and costs less per
// handshake (no routes, middleware, HTTP/2 or Shutdown there).
//
// # The lifetime of a connection
//
// One rule, over HTTP/1.1 and HTTP/2 alike: a connection is served inside
// the handler that accepted it, and the handler returns when it is done
// with the connection. The handler above follows it: it reads until the
// client leaves, and r.Context() is valid all along. Other goroutines may
// write to the connection meanwhile (see Concurrency); the handler waits
// for them, for instance on <-c.Done().
//
// Returning earlier breaks the connection: over HTTP/2 the stream ends
// with the handler, and over HTTP/1.1 r.Context() is cancelled, which
// closes the connection under any call that uses it. Both are reported by
// an error that names the handler's return as the likely cause.
//
// Handler applies the rule for you: it accepts each request and runs your
// function on the connection, closing it when the function returns. Over
// HTTP/1.1 it runs the function on a goroutine of its own and lets the
// handler return, which frees about 16 KiB per idle connection that
// net/http keeps for a running handler: prefer it for servers that hold
// many connections.
//
// # Client
//
//	c, _, err := websocket.Dial(ctx, "wss://example.com/chat", nil)
//	if err != nil {
//		return err
//	}
//	defer c.CloseNow()
//	err = c.Write(ctx, websocket.MessageText, []byte("hello"))
//	...
//	c.Close(websocket.StatusNormalClosure, "done")
//
// Dial speaks ws:// and wss://, goes through HTTP proxies (from the
// environment by default), and bounds the whole handshake by its context.
// When the server refuses, the error is a *HandshakeError and the returned
// *http.Response shows the status, headers and the start of the body.
//
// # Messages
//
// Read and Write move whole messages. Reader and Writer stream them: the
// payload is handed over as it arrives and written in fragments as the
// buffer fills, so a message of any size needs no more memory than the
// buffers. Text messages are checked for valid UTF-8 as they arrive;
// invalid text fails the connection with close code 1007 at the first byte
// that cannot be valid. A message over the read limit
// (ConnOptions.ReadLimit, 32 MiB by default) fails it with 1009 before its
// payload is read.
//
// WriteFrom sends what an io.Reader yields as one message; given a message
// Reader it relays the message from one buffer, without copies or
// allocations. To send one message to many connections, build it once with
// NewPreparedMessage and send it with WritePrepared: a server then writes
// the same frame bytes to each. NetConn turns a connection into a net.Conn
// byte stream, for code that wants one.
//
// Two subpackages cover what most applications build on top: wsjson reads
// and writes JSON values as text messages, and rooms keeps members in
// rooms with a bounded queue and one writer per member, broadcasts a
// message encoded once, tracks presence, delivers to one user's
// connections, and spans processes through a FanOut (the module
// github.com/wirecraft/websocket/redisfanout implements it over Redis).
//
// # Concurrency
//
// A Conn supports one reader and any number of writers at once:
//
//   - One goroutine at a time may call Read or Reader and read from the
//     returned reader. Reading is also what processes control frames, so an
//     application that only writes should call CloseRead, or pings go
//     unanswered and closes unnoticed.
//   - Any number of goroutines may call Write, WriteFrom, Writer,
//     WritePrepared, Ping and Flush. Messages never interleave: a writer
//     waits until the message in progress is done, and waiting writers
//     take their turns in the order they came. A writer returned by Writer
//     belongs to one message; used after its Close it fails with
//     ErrWriterClosed and touches nothing.
//   - Control frames are not held back by a message in progress: they go
//     out between its fragments, and messages over 1 MiB are sent in
//     fragments of 1 MiB so that a pong or a close waits for one fragment
//     at most.
//   - The reading goroutine never waits for the write side to answer a
//     ping: the pong is sent by whoever writes next, or by a goroutine of
//     its own. Two peers that both write large messages without reading
//     them cannot stop each other's pongs.
//   - Close, CloseNow, Subprotocol, the address methods and the Set
//     methods may be called from any goroutine at any time. Close and
//     CloseNow end blocked reads and writes.
//
// To answer the messages a connection reads while other goroutines
// broadcast to it, send the answers through the same queue as the
// broadcasts (rooms.Member.Send does): writing them directly from the
// reading goroutine lets them overtake broadcasts queued earlier.
//
// Every blocking method takes a context. When it ends while the method
// waits for the network, the connection is closed: a frame cut in the
// middle cannot be resumed. SetReadDeadline and SetWriteDeadline work the
// same way, and a read or write error leaves the connection closed.
//
// # Control frames and closing
//
// Pings are answered with pongs (see Concurrency); Ping sends one and
// waits for its pong, and ConnOptions.PingInterval keeps a connection
// alive, closing it with ErrPongTimeout when pongs stop coming. Close runs
// the closing handshake of RFC 6455 §7: it sends a close frame, waits
// (bounded by ConnOptions.CloseTimeout) for the peer's, and closes TCP.
// When the peer closes, reads return a *CloseError with its code
// (CloseStatus reads it from any error); a connection lost without a close
// frame reports 1006. When the peer breaks the protocol, the connection is
// failed with the close code RFC 6455 names (1002, 1007, 1009) and reads
// return an error matching ErrProtocol, ErrInvalidUTF8 or ErrMessageTooBig
// with errors.Is.
//
// When its http.Server shuts down, every connection Accept made is closed
// with 1001 (going away), over HTTP/1.1 and HTTP/2, so that Shutdown does
// not wait for them; AcceptOptions.KeepOnShutdown opts a connection out.
//
// # Compression
//
// Set AcceptOptions.Compression or DialOptions.Compression to use
// permessage-deflate (RFC 7692) when the peer agrees; browsers offer it on
// every connection. All four parameters are negotiated, context takeover
// works in both directions, and every window size from 256 bytes to 32 KiB
// is honoured. Messages shorter than CompressionOptions.Threshold, and
// those sent with WriteUncompressed, go out as they are. The read limit
// applies to the inflated size and is checked while inflating, so a small
// message that would inflate to a huge one is stopped at the limit.
//
// Memory: without context takeover a connection keeps nothing for
// compression between messages (compressors and inflaters come from
// pools). With it, a connection keeps its compressor for what it sends
// (about 300 KiB for a 32 KiB window, 35 KiB for 256 bytes) and the last
// window of what it received (up to 32 KiB plus 4 KiB). A server that must
// hold many idle connections can set ServerNoContextTakeover.
//
// # HTTP/2
//
// Accept also serves WebSockets over HTTP/2 (RFC 8441): a client that
// already has an HTTP/2 connection to the server may open a WebSocket as a
// stream of it, with an extended CONNECT request (":protocol: websocket")
// instead of a GET with "Upgrade: websocket". Browsers do this for a
// page's WebSockets to its own origin when the server announces support
// in its SETTINGS; the same handler serves both forms, with the same
// options and the same Conn.
//
// When it happens: the server is served over TLS with HTTP/2 (ServeTLS,
// ListenAndServeTLS), and it was started with
//
//	GODEBUG=http2xconnect=1
//
// in its environment (Go 1.24 or later). net/http reads that variable once,
// at start: it cannot be set from code or go.mod. Without it, the server
// does not announce extended CONNECT and browsers use HTTP/1.1 as before.
//
// Pitfalls:
//
//   - Once announced, Chromium sends every WebSocket to that server as
//     CONNECT and does not fall back to HTTP/1.1 if it fails. A route with
//     a method, such as mux.HandleFunc("GET /ws", ...), does not match
//     CONNECT: register "/ws" and let Accept check the method.
//   - http.Server's ReadTimeout and WriteTimeout apply to each HTTP/2
//     stream; Accept clears them for the WebSocket's stream, as it clears a
//     hijacked connection's deadlines over HTTP/1.1.
//   - Middleware between the server and Accept must pass on Flush (or
//     Unwrap to a ResponseWriter that can): the 200 response and every
//     frame are flushed as they are written.
//
// Dial stays on HTTP/1.1: see Dial for why.
//
// # Memory
//
// A connection holds no read or write buffer while it is idle. Buffers
// come from pools shared by all connections: the read buffer when bytes
// arrive (on TCP and Unix sockets the package waits for them through
// syscall.RawConn, without a buffer), the write buffer while a message is
// written. What an idle connection keeps is its Conn, one small channel,
// and the goroutine that waits in Reader; everything else is made when
// first used. Measured as the growth of Go heap and stacks with 1,000 idle
// connections over loopback, both ends in one process: 3.6 KiB per
// connection served with Handler, 19.6 KiB served inside the handler
// over HTTP/1.1, the difference being what net/http keeps for a running
// handler.
//
// # Production checklist
//
// What a server on the open internet should set, with the package's
// default and where to change it:
//
//   - Handshake time and size: http.Server.ReadHeaderTimeout (net/http's
//     default: none) and MaxHeaderBytes (1 MiB). A client must not keep a
//     half-sent handshake open for ever, nor send a megabyte of headers:
//     set ReadHeaderTimeout to seconds and MaxHeaderBytes to a few KiB.
//     Accept clears the server's read and write deadlines for the
//     connection it takes over; bound each operation with its context.
//   - Message size: ConnOptions.ReadLimit, 32 MiB by default; lower it to
//     the largest message your protocol needs.
//   - Origin: by default only pages of the request's own host may connect
//     (403 otherwise); widen with AcceptOptions.OriginPatterns, never with
//     a CheckOrigin that accepts everything in production.
//   - Authentication: check the token or cookie before Accept and answer
//     401 or 403 with an HTTP error.
//   - Dead peers: ConnOptions.PingInterval (off by default) pings and
//     closes a connection whose pongs stop coming within PongTimeout; TCP
//     keep-alive alone takes minutes to notice.
//   - Slow clients: a client that does not read fills its socket and
//     blocks writers. Give writes a context with a deadline, or let rooms
//     queue per member and drop a member that falls behind (1008) or drop
//     its messages.
//   - Closing: ConnOptions.CloseTimeout (5 s) bounds each wait of the
//     closing handshake; http.Server.Shutdown closes connections with 1001
//     (AcceptOptions.KeepOnShutdown opts out).
//   - Memory per connection: serve with Handler, and for compression
//     consider ServerNoContextTakeover (see Compression).
//
// # What is where
//
// The files follow the protocol: handshake.go, accept.go and dial.go for
// the opening handshake (RFC 6455 §4), h2.go for its HTTP/2 form (RFC
// 8441), frame.go for the frame header (§5.2), mask.go for masking (§5.3),
// read.go and write.go for messages and fragmentation (§5.4, §5.6),
// close.go for status codes and the closing handshake (§5.5.1, §7),
// ping.go for pings, pongs and keepalive (§5.5.2, §5.5.3), utf8.go for text
// validation (§8.1), extensions.go and deflate.go for permessage-deflate
// (RFC 7692; the compressor is internal/flatewin), errors.go for how
// failures map to close codes. Around them:
// conn.go for the connection and its options, semaphore.go for its locks,
// buffer.go and rawread_unix.go for the buffers lent to connections,
// coalesce.go for CoalesceWrites, prepared.go for broadcasting,
// netconn.go for NetConn, shutdown.go for closing on server shutdown.
package websocket
