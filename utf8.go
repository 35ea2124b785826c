// Incremental UTF-8 validation.
//
// RFC 6455 §5.6: a text message's payload "is text data encoded as UTF-8",
// and §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but
// finds that the byte stream is not, in fact, a valid UTF-8 stream, that
// endpoint MUST _Fail the WebSocket Connection_." A message can arrive in
// many fragments and a character can be split between them, so the
// validator keeps the state of the character in progress between calls and
// rejects a byte as soon as no valid text can contain it (fail fast).

package websocket

import "encoding/binary"

// utf8Validator checks a byte stream against RFC 3629 §4, the grammar
// unicode/utf8 also implements: no overlong forms, no surrogates
// (U+D800–U+DFFF), nothing above U+10FFFF.
type utf8Validator struct {
	need   uint8 // continuation bytes still expected for the current character (0 to 3)
	lo, hi byte  // the range the next continuation byte must fall in
}

// write checks the next bytes of the stream. It returns false as soon as a
// byte cannot continue any valid UTF-8 text; the validator is then no
// longer meaningful until reset.
func (v *utf8Validator) write(p []byte) bool {
	i := 0
	for i < len(p) {
		if v.need > 0 {
			if b := p[i]; b < v.lo || b > v.hi {
				return false
			}
			v.need--
			v.lo, v.hi = 0x80, 0xbf
			i++
			continue
		}
		// ASCII runs are the common case: skip 8 bytes at a time while no
		// byte has its top bit set.
		for i+8 <= len(p) && binary.LittleEndian.Uint64(p[i:])&0x8080808080808080 == 0 {
			i += 8
		}
		if i == len(p) {
			break
		}
		b := p[i]
		i++
		// The lead byte fixes the character's length and, for the lead
		// bytes next to a forbidden area, a narrower range for the second
		// byte (RFC 3629 §4, the UTF8-2/3/4 rules).
		v.lo, v.hi = 0x80, 0xbf
		switch {
		case b < 0x80:
			continue
		case b < 0xc2: // a continuation byte, or an overlong 2-byte form
			return false
		case b < 0xe0:
			v.need = 1
		case b == 0xe0: // excludes overlong 3-byte forms
			v.need, v.lo = 2, 0xa0
		case b == 0xed: // excludes the surrogates U+D800–U+DFFF
			v.need, v.hi = 2, 0x9f
		case b < 0xf0:
			v.need = 2
		case b == 0xf0: // excludes overlong 4-byte forms
			v.need, v.lo = 3, 0x90
		case b < 0xf4:
			v.need = 3
		case b == 0xf4: // excludes code points above U+10FFFF
			v.need, v.hi = 3, 0x8f
		default:
			return false
		}
	}
	return true
}

// complete reports whether the bytes written so far end on a character
// boundary: a message must not stop inside a character.
func (v *utf8Validator) complete() bool { return v.need == 0 }

// reset prepares the validator for a new message.
func (v *utf8Validator) reset() { *v = utf8Validator{} }
