//go:build goexperiment.simd && amd64

// Masking 32 bytes per instruction, where the toolchain and the CPU allow.
//
// Go has no portable vector type, and its compiler does not vectorize loops
// by itself. Go 1.26 added simd/archsimd, an experimental package of vector
// types whose methods compile to single AVX instructions; it exists only
// when the toolchain is built or run with GOEXPERIMENT=simd, so this file is
// compiled only then, and the 64-bit word loop of mask.go remains what every
// other build uses. It is plain Go: no assembly, no unsafe.

package wsmask

import "simd/archsimd"

// haveVectors is whether the CPU has AVX2, which 256-bit integer XOR needs.
var haveVectors = archsimd.X86.AVX2()

// maskVectors masks the longest prefix of b that is a multiple of 128 bytes
// with 256-bit vectors and returns the rest of b, which it leaves alone.
// key64 is the key repeated into a word, as in Mask. A vector of 32 bytes
// holds eight whole copies of the 4-byte key, so every vector meets the key
// at its octet 0 and the key stream is where Mask expects it afterwards.
//
// It only decides whether there is work, so that the compiler inlines it
// into Mask: a short payload, the common case, then costs a compare and no
// function call (a call costs about as much as masking 16 bytes). The loop
// is in maskVectorsLong.
func maskVectors(key64 uint64, b []byte) []byte {
	if !haveVectors || len(b) < 128 {
		return b
	}
	return maskVectorsLong(key64, b)
}

// maskVectorsLong is maskVectors for b of at least 128 bytes on a CPU with
// AVX2.
func maskVectorsLong(key64 uint64, b []byte) []byte {
	key := archsimd.BroadcastUint64x4(key64).AsUint8x32()
	// Four vectors per iteration, for the reason Mask unrolls its word
	// loop: the loop's own compare and branch then come once per 128
	// bytes. Each load and store is one unaligned 32-byte move (VMOVDQU).
	for len(b) >= 128 {
		archsimd.LoadUint8x32Slice(b[0:32]).Xor(key).StoreSlice(b[0:32])
		archsimd.LoadUint8x32Slice(b[32:64]).Xor(key).StoreSlice(b[32:64])
		archsimd.LoadUint8x32Slice(b[64:96]).Xor(key).StoreSlice(b[64:96])
		archsimd.LoadUint8x32Slice(b[96:128]).Xor(key).StoreSlice(b[96:128])
		b = b[128:]
	}
	// Code that runs after this may use the older SSE encodings, which on
	// some CPUs stall while the upper halves of the vector registers hold
	// data (see ClearAVXUpperBits).
	archsimd.ClearAVXUpperBits()
	return b
}
