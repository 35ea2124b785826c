// The permessage-deflate data path: compressing what is sent, inflating
// what arrives.
//
// RFC 7692 §6 (RSV1 marks a compressed message; control frames are never
// compressed), §7.2.1 (compressing: DEFLATE, sync flush, strip 00 00 ff ff),
// §7.2.2 (decompressing: append 00 00 ff ff, inflate), §7.1.1 (context
// takeover: the LZ77 window carries over from message to message unless
// no_context_takeover was agreed). Negotiation is in extensions.go.

package websocket

import (
	"compress/flate"
	"io"
	"math"
	"math/bits"
	"sync"
	"time"

	"github.com/wirecraft/websocket/internal/flatewin"
)

// deflateTail is what a sync flush ends with (RFC 7692 §7.2.1): the
// sender strips it from every message, the receiver puts it back.
var deflateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// inflateTail is appended to a compressed message before inflating: the
// sync flush tail, then an empty final stored block (RFC 1951 §3.2.4) so
// that the flate reader ends with io.EOF at the end of the message instead
// of asking for the next message's bytes.
var inflateTail = [9]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// deflateState is a connection's share of permessage-deflate.
type deflateState struct {
	cfg deflateConfig

	// Sending. A compressor holds about 300 KiB for a 32 KiB window.
	// Without context takeover it is borrowed from a pool for each message
	// and given back at its end. With takeover the connection keeps
	// sendHistory, the bytes the next message may refer back to (at most a
	// window), and borrows a compressor primed with them; it keeps the
	// compressor only while it sends more often than once per keepFor
	// (keepCompressor), and gives it back once it has sent nothing for that
	// long. Priming costs about as much as compressing 30 KiB
	// (BenchmarkDeflateWrite's takeover rows, measured when every message
	// paid it: 3-5 µs per 1 KiB message became 85-130 µs), too much for
	// every message of a busy connection, while keeping the compressor
	// costs an idle connection its 300 KiB (177 KiB per connection at the
	// scale benchmark's idle deflate point, where each connection sends
	// one message).
	comp        *flatewin.Compressor
	sendHistory []byte
	keepFor     time.Duration
	lastSent    time.Time   // when the last compressed message ended
	idleTimer   *time.Timer // gives back the compressor and zbuf of a connection gone quiet
	// zbuf holds the compressed bytes of the chunk being sent. It goes
	// with the compressor: up to a fragment's worth of output, too much
	// to keep on a connection that does not send.
	zbuf []byte

	in inflater
}

func newDeflateState(cfg deflateConfig) *deflateState {
	d := &deflateState{cfg: cfg, keepFor: keepCompressor}
	d.in.takeover = cfg.receiveTakeover
	d.in.window = 1 << cfg.receiveWindowBits
	return d
}

// compressChunk compresses p, the next part of a message, and returns the
// bytes to send: the DEFLATE data up to a sync flush, without its tail if p
// ends the message.
func (d *deflateState) compressChunk(p []byte, final bool) []byte {
	if d.comp == nil {
		d.comp = getCompressor(d.cfg.sendWindowBits, d.cfg.level)
		if d.cfg.sendTakeover {
			// RFC 7692 §7.1.1: the message may refer back into the
			// earlier ones. (Without takeover every message starts with
			// an empty window, RFC 7692 §7.1.1.1: a compressor is Reset
			// when it goes back to the pool.)
			d.comp.ResetDict(d.sendHistory)
		}
	}
	d.zbuf = d.comp.Compress(d.zbuf[:0], p)
	out := d.zbuf
	if !final {
		return out
	}
	// RFC 7692 §7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff 0xff)
	// from the tail end."
	out = out[:len(out)-len(deflateTail)]
	now := time.Now()
	busy := now.Sub(d.lastSent) < d.keepFor
	d.lastSent = now
	switch {
	case !busy:
		// The first message, or one after a pause: the next is likely
		// far off too. Keep nothing but the history; out stays valid
		// for the caller, as zbuf lets go of it rather than reuse it.
		d.releaseCompressor(true)
	case !d.cfg.sendTakeover:
		d.putCompressor() // the next message starts from nothing anyway
		fallthrough
	default:
		if d.idleTimer == nil {
			// Made unable to fire, then stored, then set: the function
			// reads the field (to put itself off while a message is
			// being written), so it must not run before the store.
			d.idleTimer = time.AfterFunc(math.MaxInt64, d.in.c.releaseIdleCompressor)
		}
		d.idleTimer.Reset(d.keepFor)
	}
	return out
}

// releaseCompressor gives back what a connection keeps only while it
// sends: the compressor, keeping its history if the connection will send
// again (withHistory), and the buffer of compressed bytes.
func (d *deflateState) releaseCompressor(withHistory bool) {
	switch {
	case !withHistory || !d.cfg.sendTakeover:
		d.sendHistory = nil
	case d.comp != nil:
		d.sendHistory = append(d.sendHistory[:0], d.comp.History()...)
	}
	if d.comp != nil {
		d.putCompressor()
	}
	d.zbuf = nil
}

// keepCompressor is how long a connection keeps its compressor (with
// context takeover) and its buffer of compressed bytes after a message, if
// it sent the one before less than that long ago. A takeover connection
// that sends less often pays for priming a compressor once per message: at
// most about 0.1 ms of CPU a second.
const keepCompressor = time.Second

// releaseIdleCompressor runs keepFor after a compressed message that kept
// the compressor or its output buffer: if no message is being written,
// both go, and only the history stays.
func (c *Conn) releaseIdleCompressor() {
	if !c.msgSem.tryAcquire() {
		if c.closedErr() == nil {
			// A message is being written. If it is compressed its end
			// arms the timer again, but it may not be.
			c.deflate.idleTimer.Reset(c.deflate.keepFor)
		}
		return
	}
	defer c.msgSem.release()
	open := c.closedErr() == nil
	c.deflate.releaseCompressor(open) // a closed connection sends no next message
}

// putCompressor gives the compressor back to its pool.
func (d *deflateState) putCompressor() {
	putCompressor(d.comp, d.cfg.sendWindowBits, d.cfg.level)
	d.comp = nil
}

// Compressors go back to a pool when a connection lets go of one (see
// deflateState), one pool per window size and level. The compressor is
// flatewin's, not compress/flate's: see that package for why.
var compressorPools [16][10]sync.Pool

func getCompressor(windowBits, level int) *flatewin.Compressor {
	if c, ok := compressorPools[windowBits][level].Get().(*flatewin.Compressor); ok {
		return c
	}
	return flatewin.NewCompressor(windowBits, level)
}

func putCompressor(c *flatewin.Compressor, windowBits, level int) {
	c.Reset()
	compressorPools[windowBits][level].Put(c)
}

// flateReaders is the pool of inflaters: about 40 KiB each, needed only
// while a compressed message is being read.
var flateReaders sync.Pool

// inflater decompresses the messages of one connection. It is also the
// io.Reader (and io.ByteReader, so flate does not wrap it in a bufio.Reader
// of its own) that feeds the flate reader the message's payload, frame
// after frame, followed by inflateTail.
type inflater struct {
	c        *Conn
	takeover bool
	window   int
	// history ends with the last window bytes of earlier compressed
	// messages: all a takeover connection must keep between messages,
	// since the flate reader itself goes back to the pool. It grows to
	// historySlack bytes of room beyond the window, so that bytes are moved
	// down once per few kilobytes of output rather than on every read.
	history []byte

	fr       io.ReadCloser // while a message is being read
	tailPos  int           // bytes of inflateTail handed over
	inflated int64         // bytes the message inflated to so far, for the read limit
	srcErr   error         // the connection's error, which flate may wrap
}

// start prepares for a compressed message whose first frame is current.
func (z *inflater) start() {
	z.tailPos = 0
	z.inflated = 0
	z.srcErr = nil
	if fr, ok := flateReaders.Get().(io.ReadCloser); ok {
		z.fr = fr
		// Reset with the history as dictionary: the new message may refer
		// back into the previous ones (RFC 7692 §7.1.1).
		z.fr.(flate.Resetter).Reset(z, z.dict())
	} else {
		z.fr = flate.NewReaderDict(z, z.dict())
	}
}

// read inflates the next bytes of the message into p.
func (z *inflater) read(p []byte) (int, error) {
	n, err := z.fr.Read(p)
	if z.takeover && n > 0 {
		z.remember(p[:n])
	}
	if err == io.EOF {
		z.finish()
	} else if err != nil {
		if z.srcErr != nil {
			err = z.srcErr
		} else {
			err = protocolErrorf("invalid compressed data: %v", err)
		}
	}
	return n, err
}

// finish gives the flate reader back once the message is over.
func (z *inflater) finish() {
	if z.fr != nil {
		flateReaders.Put(z.fr)
		z.fr = nil
	}
}

// dict returns the window the next message may refer back into.
func (z *inflater) dict() []byte {
	return z.history[max(0, len(z.history)-z.window):]
}

// historySlack is the room the history has beyond the window.
const historySlack = 4096

// remember appends inflated bytes to the history.
func (z *inflater) remember(out []byte) {
	limit := z.window + historySlack
	if len(out) >= z.window {
		if cap(z.history) < z.window {
			z.history = make([]byte, 0, limit)
		}
		z.history = append(z.history[:0], out[len(out)-z.window:]...)
		return
	}
	if need := len(z.history) + len(out); need > cap(z.history) && cap(z.history) < limit {
		// Grow by doubling up to the limit, rather than taking it all
		// at once: a connection that has received a few small messages
		// keeps a history their size, not 36 KiB.
		grown := make([]byte, len(z.history), min(limit, max(need, 2*cap(z.history))))
		copy(grown, z.history)
		z.history = grown
	}
	if len(z.history)+len(out) > cap(z.history) {
		// Full: move the bytes still needed to the front. Keeping
		// cap-len(out) of them leaves at least a window once out is in.
		keep := cap(z.history) - len(out)
		z.history = append(z.history[:0], z.history[len(z.history)-keep:]...)
	}
	z.history = append(z.history, out...)
}

// Read hands the flate reader the compressed payload: the current frame's
// bytes, then those of the continuation frames (control frames between them
// are handled on the way), then inflateTail.
func (z *inflater) Read(p []byte) (int, error) {
	c := z.c
	for c.frameLeft == 0 {
		if !c.inMessage {
			if z.tailPos == len(inflateTail) {
				return 0, io.EOF
			}
			n := copy(p, inflateTail[z.tailPos:])
			z.tailPos += n
			return n, nil
		}
		if err := c.nextDataFrame(); err != nil {
			return 0, z.sourceFailed(err)
		}
	}
	if int64(len(p)) > c.frameLeft {
		p = p[:c.frameLeft]
	}
	n, err := c.readPayload(p)
	if err != nil {
		err = z.sourceFailed(err)
	}
	return n, err
}

// sourceFailed records why the compressed bytes stopped coming. The end of
// the connection's stream is not the end of the message, which only
// inflateTail marks: reported as io.EOF it would let flate, and then
// Reader, take a message cut short for a whole one.
func (z *inflater) sourceFailed(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	z.srcErr = err
	return err
}

// ReadByte is Read for one byte, with a fast path for a byte already in the
// connection's buffer: flate reads most of its input this way.
func (z *inflater) ReadByte() (byte, error) {
	c := z.c
	if c.frameLeft > 0 && c.rpos < c.rend {
		b := c.rbuf.bytes()[c.rpos]
		if c.frame.masked {
			b ^= byte(c.frameKey)
			c.frameKey = bits.RotateLeft32(c.frameKey, -8)
		}
		c.rpos++
		c.frameLeft--
		return b, nil
	}
	var one [1]byte
	for {
		n, err := z.Read(one[:])
		if n == 1 {
			return one[0], nil
		}
		if err != nil {
			return 0, err
		}
	}
}
