package fuzzer

import (
	"encoding/binary"
	"fmt"
)

// Reading and checking what the testee sends (RFC 6455 §5, CASES §1.5).

// reader is the incremental frame parser state of a session.
type reader struct {
	buf []byte // received bytes not yet consumed

	// the frame being read (valid while inFrame)
	inFrame          bool
	fin, masked      bool
	rsv, opcode      byte
	length, got      uint64
	mask             [4]byte
	frameData        []byte // payload kept for the wire log / control frames
	frameDataDropped bool

	// the message being assembled
	inMessage  bool
	binary     bool
	compressed bool
	message    []byte
	validate   bool
	validator  utf8Validator
}

// validCloseCode reports whether a testee may send code (RFC 6455 §7.4,
// as the fuzzer checks it: 1000–1003, 1007–1011, 3000–4999).
func validCloseCode(code int) bool {
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999)
}

// onData consumes bytes from the socket.
func (s *Session) onData(data []byte) {
	s.rxOctets[len(data)]++
	s.log.rxOctets(data)
	if s.state == stateClosed {
		return
	}
	r := &s.incoming
	r.buf = append(r.buf, data...)
	for s.state != stateClosed && s.processFrame() {
	}
	if len(r.buf) == 0 {
		r.buf = nil // do not keep a large backing array alive
	}
}

// processFrame reads as much of the current frame as is buffered. It
// returns true when a frame was completed and more may follow.
func (s *Session) processFrame() bool {
	r := &s.incoming
	if !r.inFrame {
		if !s.parseHeader() {
			return false
		}
	}
	// Payload: hand over what is there. Each piece is processed at once,
	// as the original does, so UTF-8 errors are found mid-frame.
	take := min(r.length-r.got, uint64(len(r.buf)))
	if take > 0 || r.length == 0 {
		chunk := r.buf[:take]
		r.buf = r.buf[take:]
		if r.masked {
			chunk = append([]byte(nil), chunk...)
			maskBytes(r.mask, int(r.got&3), chunk)
		}
		r.got += take
		s.onFrameData(chunk)
		if s.state == stateClosed {
			return false
		}
	}
	if r.got < r.length {
		return false
	}
	r.inFrame = false
	s.onFrameEnd()
	return len(r.buf) > 0
}

// parseHeader parses a frame header if it is complete, applying every
// check of CASES §1.5. A violation fails the connection but parsing goes
// on, so the frame is skipped and the testee's close reply can be read.
func (s *Session) parseHeader() bool {
	r := &s.incoming
	if len(r.buf) < 2 {
		return false
	}
	b0, b1 := r.buf[0], r.buf[1]
	fin := b0&0x80 != 0
	rsv := b0 >> 4 & 7
	op := b0 & 0x0f
	masked := b1&0x80 != 0
	len7 := b1 & 0x7f
	hlen := 2
	switch len7 {
	case 126:
		hlen += 2
	case 127:
		hlen += 8
	}
	if masked {
		hlen += 4
	}
	if len(r.buf) < hlen {
		return false
	}

	if rsv != 0 && !(s.deflate != nil && rsv == 4) {
		s.protocolViolation(fmt.Sprintf("RSV = %d and no extension negotiated", rsv))
	}
	if s.isServer && !masked {
		s.protocolViolation("unmasked client-to-server frame")
	}
	if !s.isServer && masked {
		s.protocolViolation("masked server-to-client frame")
	}
	if op > 7 {
		if !fin {
			s.protocolViolation("fragmented control frame")
		}
		if len7 > 125 {
			s.protocolViolation("control frame with payload length > 125 octets")
		}
		if op != OpClose && op != OpPing && op != OpPong {
			s.protocolViolation(fmt.Sprintf("control frame using reserved opcode %d", op))
		}
		if op == OpClose && len7 == 1 {
			s.protocolViolation("close frame with a 1-byte payload")
		}
		if s.deflate != nil && rsv == 4 {
			s.protocolViolation("compressed control frame")
		}
	} else {
		if op > OpBinary {
			s.protocolViolation(fmt.Sprintf("data frame using reserved opcode %d", op))
		}
		if !r.inMessage && op == OpCont {
			s.protocolViolation("continuation frame outside a fragmented message")
		}
		if r.inMessage && op != OpCont {
			s.protocolViolation("new data frame inside a fragmented message")
		}
		if s.deflate != nil && rsv == 4 && r.inMessage {
			s.protocolViolation("continuation frame with the compressed bit set")
		}
	}
	if s.state == stateClosed {
		return false
	}

	var length uint64
	switch len7 {
	case 126:
		length = uint64(binary.BigEndian.Uint16(r.buf[2:]))
		if length < 126 {
			s.protocolViolation("frame length not minimally encoded (16-bit length < 126)")
		}
	case 127:
		length = binary.BigEndian.Uint64(r.buf[2:])
		if length>>63 != 0 {
			s.protocolViolation("frame length with the most significant bit set")
		}
		if length < 1<<16 {
			s.protocolViolation("frame length not minimally encoded (64-bit length < 65536)")
		}
	default:
		length = uint64(len7)
	}
	if s.state == stateClosed {
		return false
	}
	if masked {
		copy(r.mask[:], r.buf[hlen-4:hlen])
	}
	r.buf = r.buf[hlen:]
	r.inFrame, r.fin, r.rsv, r.opcode, r.masked = true, fin, rsv, op, masked
	r.length, r.got = length, 0
	r.frameData, r.frameDataDropped = nil, false
	s.rxFrames[int(op)]++
	s.onFrameBegin()
	return true
}

// onFrameBegin starts a message on its first data frame.
func (s *Session) onFrameBegin() {
	r := &s.incoming
	if r.opcode > 7 || r.inMessage {
		return
	}
	r.inMessage = true
	r.binary = r.opcode == OpBinary
	r.compressed = s.deflate != nil && r.rsv == 4
	r.message = r.message[:0]
	r.validate = r.opcode == OpText
	r.validator = utf8Validator{}
}

// onFrameData processes one piece of payload.
func (s *Session) onFrameData(p []byte) {
	r := &s.incoming
	if r.opcode > 7 {
		r.frameData = append(r.frameData, p...)
		return
	}
	// Compressed messages are validated after inflating, at their end.
	if r.validate && !r.compressed && !r.validator.validate(p) {
		s.invalidPayload(fmt.Sprintf("invalid UTF-8 in text message at byte %d", r.validator.index))
	}
	// After failing, data is discarded (CASES pitfall 19).
	if s.failedByMe {
		r.frameDataDropped = true
		return
	}
	r.message = append(r.message, p...)
	if s.log.on {
		r.frameData = append(r.frameData, p[:min(len(p), 64-min(64, len(r.frameData)))]...)
	}
}

// onFrameEnd completes a frame: control frames are acted on, a final data
// frame completes the message.
func (s *Session) onFrameEnd() {
	r := &s.incoming
	if s.log.on {
		s.log.rxFrame(r)
	}
	if r.opcode > 7 {
		s.onControlFrame(r.opcode, r.frameData)
		return
	}
	if !r.fin {
		return
	}
	r.inMessage = false
	msg := r.message
	if r.compressed && !s.failedByMe {
		out, err := s.deflate.decompress(msg)
		if err != nil {
			s.protocolViolation("invalid compressed message: " + err.Error())
			return
		}
		msg = out
		if r.validate && !r.validator.validate(msg) {
			s.invalidPayload(fmt.Sprintf("invalid UTF-8 in text message at byte %d", r.validator.index))
		}
	}
	if r.validate && !r.validator.complete() {
		s.invalidPayload(fmt.Sprintf("text message ended inside a UTF-8 sequence at byte %d", r.validator.index))
	}
	if s.failedByMe {
		return
	}
	data := append([]byte(nil), msg...)
	if len(r.message) > 1<<20 {
		r.message = nil
	}
	if s.driver != nil {
		s.driver.Message(s, data, r.binary)
		return
	}
	s.record(Message(data, r.binary))
}

// onControlFrame handles close, ping and pong from the testee.
func (s *Session) onControlFrame(op byte, payload []byte) {
	switch op {
	case OpPing:
		// Answered automatically while open and never recorded (CASES §1.8).
		if s.state == stateOpen {
			s.SendFrame(SendFrame{Opcode: OpPong, Fin: true, Payload: Payload{Data: append([]byte(nil), payload...)}})
		}
	case OpPong:
		// Every pong is recorded, even after failing (CASES §1.8).
		s.record(Pong(append([]byte(nil), payload...)))
	case OpClose:
		s.onClose(payload)
	}
}

// onClose implements the closing handshake rules of CASES §1.10.
func (s *Session) onClose(payload []byte) {
	if len(payload) >= 2 {
		code := int(binary.BigEndian.Uint16(payload))
		s.remoteCloseCode = &code // recorded even when invalid
		if !validCloseCode(code) {
			s.protocolViolation(fmt.Sprintf("invalid close code %d", code))
		}
		if len(payload) > 2 {
			if reason := payload[2:]; validUTF8(reason) {
				str := string(reason)
				s.remoteCloseReason = &str
			} else {
				s.invalidPayload("close reason is not valid UTF-8")
			}
		}
	}
	switch s.state {
	case stateClosing:
		// The reply to our close (possibly the one we just sent because
		// the testee's close was invalid).
		if s.closeTimer != nil {
			s.closeTimer.Stop()
		}
		s.wasClean = true
		if s.isServer {
			s.dropConnection(false)
		} else {
			s.after(serverDropTimeout.Seconds(), func() {
				if s.state != stateClosed {
					s.wasServerDropTimeout = true
					s.wasClean = false
					s.setNotClean("server did not drop TCP connection (in time)")
					s.dropConnection(true)
				}
			})
		}
	case stateOpen:
		// The testee started the close: answer with 1000, never echoing
		// its code (CASES pitfall 17).
		s.wasClean = true
		code := 1000
		s.sendClose(&code, nil, false, true)
		if s.isServer {
			s.dropConnection(false)
		}
	}
}
