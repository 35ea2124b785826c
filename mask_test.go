package websocket

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// mask must agree with the RFC's one-octet-at-a-time definition for every
// length and starting offset, and continue the key stream across calls.
func TestMaskMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keyBytes := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	key := binary.LittleEndian.Uint32(keyBytes[:])
	for length := 0; length < 300; length++ {
		for offset := 0; offset < 8; offset++ {
			payload := make([]byte, offset+length)
			for i := range payload {
				payload[i] = byte(rng.Uint32())
			}
			want := bytes.Clone(payload)
			maskSlow(keyBytes, 0, want[offset:])
			got := bytes.Clone(payload)
			mask(key, got[offset:])
			if !bytes.Equal(got, want) {
				t.Fatalf("length %d offset %d: mask differs from the definition", length, offset)
			}
		}
	}
}

func TestMaskContinuesAcrossChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	keyBytes := [4]byte{1, 2, 3, 4}
	for trial := 0; trial < 200; trial++ {
		payload := make([]byte, rng.IntN(2000))
		for i := range payload {
			payload[i] = byte(rng.Uint32())
		}
		want := bytes.Clone(payload)
		maskSlow(keyBytes, 0, want)

		got := bytes.Clone(payload)
		key := binary.LittleEndian.Uint32(keyBytes[:])
		for rest := got; len(rest) > 0; {
			n := min(len(rest), rng.IntN(40))
			key = mask(key, rest[:n])
			rest = rest[n:]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("trial %d: chunked masking differs", trial)
		}
	}
}

func TestMaskKeysComeFromTheSource(t *testing.T) {
	src := &maskKeySource{rand: bytes.NewReader(bytes.Repeat([]byte{1, 2, 3, 4}, 256)), pos: 512}
	for i := 0; i < 200; i++ { // past one refill of the 512-byte buffer
		key, err := src.next()
		if err != nil || key != 0x04030201 {
			t.Fatalf("key %d = %#x, %v", i, key, err)
		}
	}
	empty := &maskKeySource{rand: bytes.NewReader(nil), pos: 512}
	if _, err := empty.next(); err == nil {
		t.Fatal("a failing random source must fail the key")
	}
}

func BenchmarkMask(b *testing.B) {
	for _, size := range []int{16, 128, 1024, 16 << 10, 1 << 20} {
		buf := make([]byte, size+8)
		for align := 0; align < 8; align += 7 {
			b.Run(fmt.Sprintf("size=%d/align=%d", size, align), func(b *testing.B) {
				p := buf[align : align+size]
				b.SetBytes(int64(size))
				for i := 0; i < b.N; i++ {
					mask(0x12345678, p)
				}
			})
		}
	}
}

// maskSlow is the definition from RFC 6455 §5.3, one octet at a time. It is
// the reference the tests compare mask against.
func maskSlow(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[(pos+i)%4]
	}
	return (pos + len(b)) % 4
}
