package wsmask

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"testing"
)

var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// maskDefinition is RFC 6455 §5.3 one octet at a time: octet i of b is
// XORed with octet (rot+i) MOD 4 of the key.
func maskDefinition(key [4]byte, rot int, b []byte) {
	for i := range b {
		b[i] ^= key[(rot+i)%4]
	}
}

// rotatedKey is the key as Mask takes and returns it after rot octets of
// the stream: octet rot of the key in the low byte.
func rotatedKey(key [4]byte, rot int) uint32 {
	return bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*(rot%4))
}

// checkMask masks payload placed offset bytes into a buffer with guard
// bytes on both sides, starting at key octet rot, and fails t unless the
// result is want (the definition's output), the guards are untouched and
// the returned key continues the stream.
func checkMask(t *testing.T, payload, want []byte, offset, rot int) {
	t.Helper()
	const guard = 64
	buf := make([]byte, offset+len(payload)+guard)
	for i := range buf[:offset] {
		buf[i] = 0xa5
	}
	copy(buf[offset:], payload)
	for i := range buf[offset+len(payload):] {
		buf[offset+len(payload)+i] = 0x5a
	}

	got := Mask(rotatedKey(testKey, rot), buf[offset:offset+len(payload)])
	end := offset + len(payload)
	if !bytes.Equal(buf[offset:end], want) ||
		bytes.Count(buf[:offset], []byte{0xa5}) != offset ||
		bytes.Count(buf[end:], []byte{0x5a}) != guard {
		for i, c := range buf {
			wantc := byte(0xa5)
			if i >= end {
				wantc = 0x5a
			} else if i >= offset {
				wantc = want[i-offset]
			}
			if c != wantc {
				t.Fatalf("length %d offset %d rotation %d: byte %d of the buffer is %#x, want %#x",
					len(payload), offset, rot, i-offset, c, wantc)
			}
		}
	}
	if wantKey := rotatedKey(testKey, rot+len(payload)); got != wantKey {
		t.Fatalf("length %d offset %d rotation %d: returned key %#x, want %#x",
			len(payload), offset, rot, got, wantKey)
	}
}

// Every length from 0 to 300 at every offset 0-63 from wherever the
// allocator put the buffer (so every alignment modulo 16, 32 and 64 occurs
// whatever that address is), some large lengths at offsets 0-15, each at
// every key rotation, on every masking path this build and CPU have.
func TestMaskMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var lengths []int
	for n := 0; n <= 300; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 1000, 1<<10, 4095, 4096+17, 16<<10-1, 65536+5, 1<<20+3)
	forEachMaskPath(t, func(t *testing.T) {
		for _, n := range lengths {
			offsets := 64
			if n > 300 {
				offsets = 16
			}
			payload := make([]byte, n)
			for i := range payload {
				payload[i] = byte(rng.Uint32())
			}
			for rot := 0; rot < 4; rot++ {
				want := bytes.Clone(payload)
				maskDefinition(testKey, rot, want)
				for offset := 0; offset < offsets; offset++ {
					checkMask(t, payload, want, offset, rot)
				}
			}
		}
	})
}

// Masking a payload in chunks of any sizes must give the same bytes as
// masking it at once: each call continues the key stream where the last
// one stopped.
func TestMaskContinuesAcrossChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	forEachMaskPath(t, func(t *testing.T) {
		for trial := 0; trial < 300; trial++ {
			payload := make([]byte, rng.IntN(5000))
			for i := range payload {
				payload[i] = byte(rng.Uint32())
			}
			want := bytes.Clone(payload)
			maskDefinition(testKey, 0, want)
			key := rotatedKey(testKey, 0)
			for rest := payload; len(rest) > 0; {
				n := min(len(rest), rng.IntN(300))
				key = Mask(key, rest[:n])
				rest = rest[n:]
			}
			if !bytes.Equal(payload, want) {
				t.Fatalf("trial %d: chunked masking differs from the definition", trial)
			}
		}
	})
}

func FuzzMask(f *testing.F) {
	f.Add([]byte("hello, world"), uint32(0x3d21fa37), uint8(3))
	f.Add(make([]byte, 300), uint32(0x01020304), uint8(31))
	f.Fuzz(func(t *testing.T, payload []byte, key uint32, offset uint8) {
		var keyBytes [4]byte
		binary.LittleEndian.PutUint32(keyBytes[:], key)
		want := bytes.Clone(payload)
		maskDefinition(keyBytes, 0, want)
		wantKey := bits.RotateLeft32(key, -8*(len(payload)%4))
		forEachMaskPath(t, func(t *testing.T) {
			buf := make([]byte, int(offset%64)+len(payload))
			got := buf[offset%64:]
			copy(got, payload)
			if k := Mask(key, got); k != wantKey {
				t.Fatalf("returned key %#x, want %#x", k, wantKey)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("mask differs from the definition")
			}
		})
	})
}

func BenchmarkMask(b *testing.B) {
	for _, size := range []int{16, 128, 256, 1 << 10, 16 << 10, 1 << 20} {
		buf := make([]byte, size+64)
		for _, offset := range []int{0, 3} {
			p := buf[offset : offset+size]
			b.Run(fmt.Sprintf("size=%d/offset=%d", size, offset), func(b *testing.B) {
				forEachMaskPathB(b, func(b *testing.B) {
					b.SetBytes(int64(size))
					for b.Loop() {
						Mask(0x12345678, p)
					}
				})
			})
		}
	}
}
