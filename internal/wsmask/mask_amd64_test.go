//go:build !purego

package wsmask

import "testing"

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
