package websocket

import (
	"testing"
	"unicode/utf8"
)

var utf8Cases = []struct {
	name  string
	input string
	valid bool
}{
	{"empty", "", true},
	{"ASCII", "Hello, world", true},
	{"long ASCII", "abcdefghijklmnopqrstuvwxyz0123456789", true},
	{"2-byte é", "h\u00e9llo", true},
	{"3-byte check mark", "\u2713", true},
	{"4-byte G clef", "\U0001D11E", true},
	{"Autobahn 6.2.1 text", "\u03ba\u1f79\u03c3\u03bc\u03b5@\u0394\u0439", true},
	{"largest code point", "\U0010FFFF", true},
	{"last before surrogates", "\uD7FF", true},
	{"first after surrogates", "\uE000", true},
	{"lone continuation", "\x80", false},
	{"overlong slash (2 bytes)", "\xc0\xaf", false},
	{"overlong C1", "\xc1\xbf", false},
	{"overlong 3 bytes", "\xe0\x80\xaf", false},
	{"overlong 4 bytes", "\xf0\x80\x80\xaf", false},
	{"surrogate D800", "\xed\xa0\x80", false},
	{"surrogate DFFF", "\xed\xbf\xbf", false},
	{"above U+10FFFF", "\xf4\x90\x80\x80", false},
	{"F5 lead", "\xf5\x80\x80\x80", false},
	{"FF byte", "\xff", false},
	{"truncated 2-byte", "\xc3", false},
	{"truncated 4-byte", "\xf0\x9d\x84", false},
	{"missing continuation", "\xe2\x9c(", false},
	{"invalid after long ASCII", "abcdefghijklmnop\xff", false},
}

func TestUTF8Validator(t *testing.T) {
	for _, tt := range utf8Cases {
		t.Run(tt.name, func(t *testing.T) {
			if utf8.ValidString(tt.input) != tt.valid {
				t.Fatalf("test table disagrees with unicode/utf8")
			}
			var v utf8Validator
			got := v.write([]byte(tt.input)) && v.complete()
			if got != tt.valid {
				t.Errorf("valid = %v, want %v", got, tt.valid)
			}
			// Split at every position, as fragments would split it: the
			// verdict must not depend on where the splits fall.
			for cut := 0; cut <= len(tt.input); cut++ {
				var v utf8Validator
				got := v.write([]byte(tt.input[:cut])) && v.write([]byte(tt.input[cut:])) && v.complete()
				if got != tt.valid {
					t.Errorf("split at %d: valid = %v, want %v", cut, got, tt.valid)
				}
			}
		})
	}
}

// The validator fails on the first byte no valid text can contain, not at
// the end of the message (Autobahn 6.4: "fail fast").
func TestUTF8ValidatorFailsFast(t *testing.T) {
	var v utf8Validator
	// "κόσμε" followed by the start of a 4-byte sequence whose second byte
	// puts it above U+10FFFF: the input cannot become valid.
	if !v.write([]byte("\u03ba\u1f79\u03c3\u03bc\u03b5")) {
		t.Fatal("valid prefix rejected")
	}
	if v.write([]byte("\xf4\x90")) {
		t.Fatal("\\xf4\\x90 accepted: it can only start a code point above U+10FFFF")
	}
	v.reset()
	if !v.write([]byte("\xf4\x8f")) || v.complete() {
		t.Fatal("\\xf4\\x8f is a valid incomplete prefix")
	}
}

func FuzzUTF8Validator(f *testing.F) {
	for _, tt := range utf8Cases {
		f.Add([]byte(tt.input), 0)
	}
	f.Fuzz(func(t *testing.T, input []byte, cut int) {
		var v utf8Validator
		got := v.write(input) && v.complete()
		if want := utf8.Valid(input); got != want {
			t.Fatalf("validator says %v, unicode/utf8 says %v for %x", got, want, input)
		}
		if cut < 0 || cut > len(input) {
			return
		}
		v.reset()
		got = v.write(input[:cut]) && v.write(input[cut:]) && v.complete()
		if want := utf8.Valid(input); got != want {
			t.Fatalf("split at %d: validator says %v, unicode/utf8 says %v for %x", cut, got, want, input)
		}
	})
}

func BenchmarkUTF8Validator(b *testing.B) {
	text := []byte("The quick brown fox jumps over the lazy dog; κόσμε; ✓ 𝄞. ")
	for len(text) < 64<<10 {
		text = append(text, text...)
	}
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		var v utf8Validator
		if !v.write(text) {
			b.Fatal("invalid")
		}
	}
}
