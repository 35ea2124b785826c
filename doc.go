// Package websocket implements the WebSocket protocol of RFC 6455, server
// and client, on the standard library alone.
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
//   - Over HTTP/2 the connection is the handler's stream and ends when the
//     handler returns. A handler that gives the Conn to other goroutines
//     must wait before returning, for instance with <-c.Done(). If it does
//     not, the connection is closed and those goroutines' writes fail
//     rather than touch the finished ResponseWriter; but a write already
//     under way as the handler returns cannot be guarded, so wait.
//   - http.Server's ReadTimeout and WriteTimeout apply to each HTTP/2
//     stream; Accept clears them for the WebSocket's stream, as it clears a
//     hijacked connection's deadlines over HTTP/1.1.
//   - http.Server.Shutdown waits for HTTP/2 streams, so it would wait for
//     every WebSocket; instead the connections Accept made are closed with
//     1001 (going away) when Shutdown starts, over either protocol.
//   - Middleware between the server and Accept must pass on Flush (or
//     Unwrap to a ResponseWriter that can): the 200 response and every
//     frame are flushed as they are written.
//
// Dial stays on HTTP/1.1: see Dial for why.
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
// buffers, and steady-state streaming allocates nothing. Text messages are
// checked for valid UTF-8 as they arrive; invalid text fails the connection
// with close code 1007 at the first byte that cannot be valid. A message
// over the read limit (ConnOptions.ReadLimit, 32 MiB by default) fails it
// with 1009 before its payload is read.
//
// To relay a message, copy its reader into a writer: io.Copy(w, r) reads
// the payload straight into the buffer it is sent from (the writer's
// ReadFrom), in one frame up to 1 MiB. To send one message to many
// connections, build it once with NewPreparedMessage and send it with
// WritePrepared: a server then writes the same frame bytes to each.
//
// A server that answers each message as it reads it (an echo, a
// request/response protocol) can set ConnOptions.CoalesceWrites: when a
// peer pipelines, the answers to the messages that arrived together leave
// together, in one system call instead of one each. An answer is held only
// while the peer's next frame is already buffered, and goes out before the
// connection waits for more input, with any control frame, or on Flush.
//
// # Memory
//
// A connection holds no read or write buffer while it is idle. Buffers
// come from pools shared by all connections: the read buffer when bytes
// arrive (on TCP and Unix sockets the package waits for them through
// syscall.RawConn, without a buffer), the write buffer while a message is
// written. What an idle connection keeps is its Conn (512 bytes), one
// small channel, and the goroutine that waits in Reader (a 2 KiB stack);
// the channel behind Done, the state of Ping calls and the channel a
// goroutine sleeps on while it waits for another's read or write
// (semaphore.go) are made when first used. Over HTTP/1.1, net/http keeps
// 8 KiB of its own buffers for the connection until the handler returns; a
// server holding many idle connections can serve each on a goroutine of
// its own and return from the handler (examples/echo does).
//
// # Compression
//
// Set AcceptOptions.Compression or DialOptions.Compression to use
// permessage-deflate (RFC 7692) when the peer agrees; browsers offer it on
// every connection. All four parameters are negotiated, context takeover
// works in both directions, and every window size from 256 bytes to 32 KiB
// is honoured, with an LZ77 compressor of the package's own (internal/flatewin),
// since compress/flate cannot limit its window. Messages shorter than
// CompressionOptions.Threshold, and those sent with WriteUncompressed, go
// out as they are. The read limit applies to the inflated size and is
// checked while inflating, so a small message that would inflate to a huge
// one is stopped at the limit.
//
// Memory: without context takeover a connection keeps nothing for
// compression between messages (compressors and inflaters come from pools).
// With it, a connection keeps its compressor for what it sends (about 300
// KiB for a 32 KiB window, 35 KiB for 256 bytes) and the last
// window of what it received (up to 32 KiB plus 4 KiB). A server that must
// hold many idle connections can set ServerNoContextTakeover.
//
// # Control frames and closing
//
// Pings are answered with pongs by the reading goroutine; Ping sends one
// and waits for its pong, and ConnOptions.PingInterval keeps a connection
// alive, closing it when pongs stop coming. Close runs the closing
// handshake of RFC 6455 §7: it sends a close frame, waits (bounded by
// ConnOptions.CloseTimeout) for the peer's, and closes TCP. When the peer
// closes, reads return a *CloseError with its code (CloseStatus reads it
// from any error). When the peer breaks the protocol, the connection is
// failed with the close code RFC 6455 names (1002, 1007, 1009) and reads
// return an error matching ErrProtocol, ErrInvalidUTF8 or ErrMessageTooBig
// with errors.Is.
//
// # Concurrency
//
// A Conn supports one reader and any number of writers at once:
//
//   - One goroutine at a time may call Read or Reader and read from the
//     returned reader. Reading is also what processes control frames, so an
//     application that only writes should still keep a goroutine reading,
//     or pings go unanswered and closes unnoticed.
//   - Any number of goroutines may call Write, Writer and Ping. Messages
//     never interleave: a writer waits until the message in progress is
//     done. Control frames are not held back by a message in progress; they
//     go out between its fragments.
//   - Close, CloseNow, Subprotocol and the Set methods may be called from
//     any goroutine at any time. Close and CloseNow end blocked reads and
//     writes.
//
// Every blocking method takes a context. When it ends while the method
// waits for the network, the connection is closed: a frame cut in the
// middle cannot be resumed. SetReadDeadline and SetWriteDeadline work the
// same way, and a read or write error leaves the connection closed.
//
// # What is where
//
// The files follow the protocol: handshake.go, accept.go and dial.go for
// the opening handshake (RFC 6455 §4), h2.go for its HTTP/2 form and the
// stream transport (RFC 8441), shutdown.go for closing on server shutdown,
// frame.go for the frame header (§5.2), mask.go for masking (§5.3),
// read.go and write.go for messages and fragmentation (§5.4, §5.6),
// prepared.go for broadcasting, coalesce.go for CoalesceWrites, buffer.go
// and rawread_unix.go for the buffers lent to connections, utf8.go for text
// validation (§8.1), close.go for status codes and the closing handshake
// (§5.5.1, §7), ping.go for pings and keepalive (§5.5.2, §5.5.3), errors.go
// for how failures map to close codes.
package websocket
