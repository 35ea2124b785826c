//go:build !purego

package wsmask

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// maskPaths are the paths maskAsm can take on this CPU, each with the value
// of useAVX2 that selects it: AVX2 where the CPU has it, and SSE2 always.
func maskPaths() []struct {
	name string
	avx2 bool
} {
	paths := []struct {
		name string
		avx2 bool
	}{{"sse2", false}}
	if hasAVX2() {
		paths = append([]struct {
			name string
			avx2 bool
		}{{"avx2", true}}, paths...)
	}
	return paths
}

// forEachMaskPath runs f as a subtest for each of maskPaths, switching
// useAVX2 for its duration.
func forEachMaskPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	defer func(saved bool) { useAVX2 = saved }(useAVX2)
	for _, path := range maskPaths() {
		useAVX2 = path.avx2
		t.Run(path.name, f)
	}
}

func forEachMaskPathB(b *testing.B, f func(b *testing.B)) {
	defer func(saved bool) { useAVX2 = saved }(useAVX2)
	for _, path := range maskPaths() {
		useAVX2 = path.avx2
		b.Run(path.name, f)
	}
}

// maskAsm by itself, for lengths that Mask gives to the word loop too: it
// must mask exactly the prefix its contract says, as the definition does,
// and touch nothing else.
func TestMaskAsmMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var lengths []int
	for n := 0; n <= 300; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 4096+7, 65536+2)
	forEachMaskPath(t, func(t *testing.T) {
		for _, n := range lengths {
			payload := make([]byte, n)
			for i := range payload {
				payload[i] = byte(rng.Uint32())
			}
			wantDone := 0
			if !useAVX2 {
				wantDone = n &^ 15
			} else if n&^3 >= 64 {
				wantDone = n &^ 3
			}
			for rot := 0; rot < 4; rot++ {
				key := rotatedKey(testKey, rot)
				want := bytes.Clone(payload)
				maskDefinition(testKey, rot, want[:wantDone])
				for offset := 0; offset < 64; offset++ {
					buf := make([]byte, offset+n+64)
					copy(buf[offset:], payload)
					done := maskAsm(uint64(key)<<32|uint64(key), buf[offset:offset+n])
					if done != wantDone {
						t.Fatalf("length %d offset %d: masked %d bytes, want %d", n, offset, done, wantDone)
					}
					if !bytes.Equal(buf[offset:offset+n], want) ||
						bytes.Count(buf[:offset], []byte{0}) != offset ||
						bytes.Count(buf[offset+n:], []byte{0}) != 64 {
						t.Fatalf("length %d offset %d rotation %d: wrong bytes", n, offset, rot)
					}
				}
			}
		}
	})
}
