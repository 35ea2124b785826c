package fuzzer

// utf8Validator checks UTF-8 incrementally, byte by byte, and rejects at the
// first byte that cannot continue any valid sequence (RFC 3629 §4): the
// "fail fast" behaviour the 6.4.x cases measure and that the fuzzer itself
// applies to what the testee sends (CASES §1.5). Once it rejected it stays
// rejected.
type utf8Validator struct {
	need   int  // continuation bytes still expected
	lo, hi byte // allowed range of the next continuation byte
	index  int  // bytes consumed so far (the failing byte's offset once rejected)
	bad    bool
}

// validate feeds b. It returns false once the input is invalid.
func (v *utf8Validator) validate(b []byte) bool {
	if v.bad {
		return false
	}
	for _, c := range b {
		if v.need > 0 {
			if c < v.lo || c > v.hi {
				v.bad = true
				return false
			}
			v.lo, v.hi = 0x80, 0xbf
			v.need--
			v.index++
			continue
		}
		v.lo, v.hi = 0x80, 0xbf
		switch {
		case c < 0x80:
		case c >= 0xc2 && c <= 0xdf:
			v.need = 1
		case c == 0xe0:
			v.need, v.lo = 2, 0xa0 // no overlong 3-byte forms
		case c == 0xed:
			v.need, v.hi = 2, 0x9f // no surrogates
		case c >= 0xe1 && c <= 0xef:
			v.need = 2
		case c == 0xf0:
			v.need, v.lo = 3, 0x90 // no overlong 4-byte forms
		case c >= 0xf1 && c <= 0xf3:
			v.need = 3
		case c == 0xf4:
			v.need, v.hi = 3, 0x8f // nothing above U+10FFFF
		default:
			v.bad = true
			return false
		}
		v.index++
	}
	return true
}

// complete reports whether the input so far is valid and ends on a
// character boundary.
func (v *utf8Validator) complete() bool { return !v.bad && v.need == 0 }

// validUTF8 checks a whole byte string with the same rules.
func validUTF8(b []byte) bool {
	var v utf8Validator
	return v.validate(b) && v.complete()
}
