// Frame header encoding and decoding.
//
// RFC 6455 §5.2 (base framing protocol), §5.4 (fragmentation rules a single
// header can break), §5.5 (control frame limits), §5.8 (reserved bits and
// opcodes).

package websocket

import (
	"encoding/binary"
	"fmt"
)

// opcode is the 4-bit frame type of RFC 6455 §5.2.
type opcode byte

// Opcodes defined by RFC 6455 §5.2; 0x3–0x7 and 0xB–0xF are reserved.
const (
	opContinuation opcode = 0x0
	opText         opcode = 0x1
	opBinary       opcode = 0x2
	opClose        opcode = 0x8
	opPing         opcode = 0x9
	opPong         opcode = 0xA
)

// isControl reports whether op is a control opcode: RFC 6455 §5.5 "Control
// frames are identified by opcodes where the most significant bit of the
// opcode is 1."
func (op opcode) isControl() bool { return op&0x8 != 0 }

// isReserved reports whether op is one of the opcodes RFC 6455 §5.2 keeps for
// future use.
func (op opcode) isReserved() bool {
	switch op {
	case opContinuation, opText, opBinary, opClose, opPing, opPong:
		return false
	}
	return true
}

func (op opcode) String() string {
	switch op {
	case opContinuation:
		return "continuation"
	case opText:
		return "text"
	case opBinary:
		return "binary"
	case opClose:
		return "close"
	case opPing:
		return "ping"
	case opPong:
		return "pong"
	}
	return fmt.Sprintf("reserved opcode %#x", byte(op))
}

// Bits of the first two header bytes (RFC 6455 §5.2).
const (
	finBit   = 0x80 // byte 0: final fragment of a message
	rsv1Bit  = 0x40 // byte 0: reserved for extensions (permessage-deflate, RFC 7692)
	rsv2Bit  = 0x20 // byte 0: reserved for extensions
	rsv3Bit  = 0x10 // byte 0: reserved for extensions
	rsvBits  = rsv1Bit | rsv2Bit | rsv3Bit
	maskBit  = 0x80 // byte 1: the payload is masked and a 4-byte key follows
	len7Mask = 0x7f // byte 1: the 7-bit payload length
)

const (
	// maxFrameHeaderSize is 2 fixed bytes, 8 for the longest length form and 4
	// for the masking key.
	maxFrameHeaderSize = 14

	// maxControlPayload is RFC 6455 §5.5: "All control frames MUST have a
	// payload length of 125 bytes or less".
	maxControlPayload = 125
)

// frameHeader is one decoded frame header.
type frameHeader struct {
	fin    bool
	rsv    byte // the three RSV bits, in place (rsv1Bit|rsv2Bit|rsv3Bit)
	opcode opcode
	masked bool
	// maskKey holds the 4 key octets with octet 0 in the low byte, the
	// order mask() consumes them in.
	maskKey uint32
	length  int64
}

// frameHeaderSize returns how many bytes the header of a frame with this
// payload length takes: RFC 6455 §5.2 "the minimal number of bytes MUST be
// used to encode the length".
func frameHeaderSize(length int64, masked bool) int {
	n := 2
	switch {
	case length > 0xffff:
		n += 8
	case length > 125:
		n += 2
	}
	if masked {
		n += 4
	}
	return n
}

// putFrameHeader encodes h into the start of b, which must hold at least
// frameHeaderSize(h.length, h.masked) bytes, and returns the size used.
func putFrameHeader(b []byte, h frameHeader) int {
	b0 := h.rsv | byte(h.opcode)
	if h.fin {
		b0 |= finBit
	}
	b[0] = b0
	var b1 byte
	if h.masked {
		b1 = maskBit
	}
	n := 2
	switch {
	case h.length > 0xffff:
		b[1] = b1 | 127
		binary.BigEndian.PutUint64(b[2:], uint64(h.length))
		n += 8
	case h.length > 125:
		b[1] = b1 | 126
		binary.BigEndian.PutUint16(b[2:], uint16(h.length))
		n += 2
	default:
		b[1] = b1 | byte(h.length)
	}
	if h.masked {
		binary.LittleEndian.PutUint32(b[n:], h.maskKey)
		n += 4
	}
	return n
}

// parseFrameHeader decodes the header at the start of b. It returns the
// header and its size, or n == 0 when b does not yet hold the whole header.
// The only errors are the length encodings RFC 6455 §5.2 forbids; what the
// header means for the connection is checked by checkFrameHeader.
func parseFrameHeader(b []byte) (h frameHeader, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	h.fin = b[0]&finBit != 0
	h.rsv = b[0] & rsvBits
	h.opcode = opcode(b[0] & 0x0f)
	h.masked = b[1]&maskBit != 0

	n = 2
	switch l7 := b[1] & len7Mask; l7 {
	case 126:
		if len(b) < n+2 {
			return h, 0, nil
		}
		h.length = int64(binary.BigEndian.Uint16(b[n:]))
		n += 2
		if h.length < 126 {
			return h, 0, protocolErrorf("length %d not in its minimal form (16-bit)", h.length)
		}
	case 127:
		if len(b) < n+8 {
			return h, 0, nil
		}
		l64 := binary.BigEndian.Uint64(b[n:])
		n += 8
		// RFC 6455 §5.2: "the most significant bit MUST be 0".
		if l64>>63 != 0 {
			return h, 0, protocolErrorf("64-bit length has its most significant bit set")
		}
		h.length = int64(l64)
		if h.length <= 0xffff {
			return h, 0, protocolErrorf("length %d not in its minimal form (64-bit)", h.length)
		}
	default:
		h.length = int64(l7)
	}
	if h.masked {
		if len(b) < n+4 {
			return h, 0, nil
		}
		h.maskKey = binary.LittleEndian.Uint32(b[n:])
		n += 4
	}
	return h, n, nil
}

// frameRules is what a receiving endpoint allows in the next frame header.
type frameRules struct {
	// wantMasked is true on a server: RFC 6455 §5.1 "a client MUST mask
	// all frames that it sends to the server" and "A server MUST NOT mask
	// any frames that it sends to the client"; the receiver MUST close the
	// connection on either violation.
	wantMasked bool
	// dataRSV are the RSV bits a negotiated extension gives meaning to on
	// the first frame of a data message (RSV1 for permessage-deflate).
	dataRSV byte
	// inMessage is true while a fragmented message awaits its final frame.
	inMessage bool
}

// checkFrameHeader applies the per-frame rules of RFC 6455 §5 to h. It is a
// pure function so that every rule can be tested on its own; a non-nil
// result is a protocol error, answered with close code 1002.
func checkFrameHeader(h frameHeader, rules frameRules) error {
	if h.masked != rules.wantMasked {
		if rules.wantMasked {
			return protocolErrorf("unmasked frame from a client (RFC 6455 §5.1)")
		}
		return protocolErrorf("masked frame from a server (RFC 6455 §5.1)")
	}
	// RFC 6455 §5.8: "Opcodes 0x3-0x7 and 0xB-0xF are reserved for further
	// non-control frames / control frames" and §5.2: "If an unknown opcode
	// is received, the receiving endpoint MUST _Fail the WebSocket
	// Connection_."
	if h.opcode.isReserved() {
		return protocolErrorf("%v", h.opcode)
	}
	// RFC 6455 §5.2: RSV bits "MUST be 0 unless an extension is negotiated
	// that defines meanings for non-zero values". The extensions this
	// package knows set them only on the first frame of a data message.
	allowedRSV := byte(0)
	if h.opcode == opText || h.opcode == opBinary {
		allowedRSV = rules.dataRSV
	}
	if h.rsv&^allowedRSV != 0 {
		return protocolErrorf("reserved bits %#x set on a %v frame", h.rsv, h.opcode)
	}
	if h.opcode.isControl() {
		// RFC 6455 §5.5: "All control frames MUST have a payload length of
		// 125 bytes or less and MUST NOT be fragmented."
		if h.length > maxControlPayload {
			return protocolErrorf("%v frame with a %d-byte payload (at most 125)", h.opcode, h.length)
		}
		if !h.fin {
			return protocolErrorf("fragmented %v frame", h.opcode)
		}
		return nil
	}
	// RFC 6455 §5.4: a continuation frame only continues a started
	// message, and a new message cannot start before the last one ended.
	if h.opcode == opContinuation && !rules.inMessage {
		return protocolErrorf("continuation frame outside a fragmented message")
	}
	if h.opcode != opContinuation && rules.inMessage {
		return protocolErrorf("new %v message inside a fragmented message", h.opcode)
	}
	return nil
}
