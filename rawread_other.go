//go:build !unix

package websocket

// rawReader is only implemented on Unix (see rawread_unix.go); elsewhere
// an idle connection keeps its read buffer while it waits.
type rawReader struct{}

func (r *rawReader) init(transport, *Conn) {}

func (r *rawReader) enabled() bool { return false }

func (r *rawReader) readEmpty() (int, error) { panic("websocket: raw reads are not available") }
