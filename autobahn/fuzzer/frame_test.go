package fuzzer

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
)

func TestAppendHeader(t *testing.T) {
	key := &[4]byte{1, 2, 3, 4}
	tests := []struct {
		op     byte
		fin    bool
		rsv    byte
		length int
		mask   *[4]byte
		want   string
	}{
		{OpText, true, 0, 0, nil, "8100"},
		{OpText, true, 1, 13, nil, "910d"}, // rsv=1 is the RSV3 bit (CASES pitfall 4)
		{OpText, true, 4, 13, nil, "c10d"}, // rsv=4 is RSV1
		{OpClose, true, 7, 0, nil, "f800"},
		{OpBinary, false, 0, 125, nil, "027d"},
		{OpPing, true, 0, 126, nil, "897e007e"}, // 2.5: 16-bit length on a control frame
		{OpText, true, 0, 65535, nil, "817effff"},
		{OpText, true, 0, 65536, nil, "817f0000000000010000"},
		{OpText, true, 0, 5, key, "818501020304"},
	}
	for _, tt := range tests {
		got := hex.EncodeToString(appendHeader(nil, tt.op, tt.fin, tt.rsv, tt.length, tt.mask))
		if got != tt.want {
			t.Errorf("header(op=%d fin=%v rsv=%d len=%d) = %s, want %s", tt.op, tt.fin, tt.rsv, tt.length, got, tt.want)
		}
	}
}

func TestMasking(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	// RFC 6455 §5.7: a masked "Hello".
	f := appendFrame(nil, OpText, true, 0, []byte("Hello"), &key)
	if got := hex.EncodeToString(f); got != "818537fa213d7f9f4d5158" {
		t.Errorf("masked Hello = %s", got)
	}
	// One key stream across pieces equals masking in one go (6.4.3/6.4.4),
	// for short pieces and the word-wise fast path.
	data := bytes.Repeat([]byte("0123456789abcdef"), 9)
	whole := append([]byte(nil), data...)
	maskBytes(key, 0, whole)
	pieces := append([]byte(nil), data...)
	pos := 0
	for _, n := range []int{3, 1, 40, 7, 33, 60} {
		pos = maskBytes(key, pos, pieces[pos:pos+n])
	}
	if !bytes.Equal(whole, pieces) {
		t.Error("piecewise masking differs from masking in one go")
	}
}

func TestFragmentSizes(t *testing.T) {
	tests := []struct {
		n, frag int
		want    []int
	}{
		{10, 0, []int{10}},
		{10, 10, []int{10}},                       // not longer than the fragment size: one frame
		{29, 1, append(ones(29), 0)},              // 6.2.3: exact multiple → extra empty frame
		{65536, 1300, append(rep(1300, 50), 536)}, // 10.1.1
		{4 << 20, 1 << 20, []int{1 << 20, 1 << 20, 1 << 20, 1 << 20, 0}},
		{0, 5, []int{0}},
	}
	for _, tt := range tests {
		if got := fragmentSizes(tt.n, tt.frag); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("fragmentSizes(%d, %d) = %v, want %v", tt.n, tt.frag, got, tt.want)
		}
	}
}

func ones(n int) []int { return rep(1, n) }

func rep(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestPayload(t *testing.T) {
	if got := string(Repeat("BAsd7&jh23", 16).Bytes()); got != "BAsd7&jh23BAsd7&" {
		t.Errorf("pattern cut = %q", got)
	}
	if n := len(Repeat("*", 0).Bytes()); n != 0 {
		t.Errorf("empty repeat has %d bytes", n)
	}
}

func TestUTF8Validator(t *testing.T) {
	for _, g := range utf8Groups() {
		for _, v := range g.vectors {
			var whole utf8Validator
			okWhole := whole.validate(v) && whole.complete()
			var parts utf8Validator
			okParts := true
			for i := range v {
				okParts = parts.validate(v[i:i+1]) && okParts
			}
			okParts = okParts && parts.complete()
			if okWhole != okParts || okWhole != validUTF8(v) {
				t.Errorf("%x: whole %v, byte-wise %v", v, okWhole, okParts)
			}
		}
	}
	// Fail fast: the error is found at the first impossible byte.
	for _, tt := range []struct {
		in    string
		index int
	}{
		{"cebae1bdb9cf83cebcceb5f4908080", 12}, // 6.4.1: F4 90 is beyond U+10FFFF
		{"eda080", 1},                          // surrogate
		{"c0af", 0},                            // overlong lead byte
		{"f888808080", 0},                      // 5-byte form
	} {
		var v utf8Validator
		b, _ := hex.DecodeString(tt.in)
		if v.validate(b) || v.index != tt.index {
			t.Errorf("%s: rejected at %d (bad=%v), want %d", tt.in, v.index, v.bad, tt.index)
		}
	}
	var v utf8Validator
	if !v.validate([]byte{0xce}) || v.complete() {
		t.Error("a truncated sequence is valid so far but not complete")
	}
}
