//go:build !purego

// Masking with vector instructions on amd64, in assembly (mask_amd64.s).
//
// Go's compiler does not vectorize loops, and the 64-bit word loop in
// Mask is bound by one 8-byte store per word. With 32-byte AVX2 stores the
// same work takes a quarter of the stores. Measured on the development
// machine (AMD EPYC, Zen 5), interleaved with the peers in bench/, the word
// loop took 1.6-1.7 times as long as the fastest peer's masking (gobwas/ws,
// AVX2 assembly) at 1 KiB, 2.0-2.1 times at 16 KiB and 1 MiB; this file's
// loop takes 0.80-0.84, 0.64-0.67 and 0.75-0.94 times as long (the
// whole comparison is in the commit that added this file).
//
// Go 1.26's experimental simd/archsimd package (GOEXPERIMENT=simd) reaches
// the same instructions without assembly, but only in builds that set the
// experiment, so the default build, the one every user gets, would keep
// the word loop; the assembly serves every amd64 build alike, the simd one
// included. The purego build tag selects the word loop instead, as does any
// other architecture (mask_words.go).
//
// The assembly is short and does one thing, XOR with a broadcast key; the
// standard library uses assembly in the same way for crypto/subtle's XOR.

package wsmask

// useAVX2 is whether maskAsm may use 256-bit vectors: the CPU must have
// AVX2 and the operating system must save the YMM registers on a context
// switch. Otherwise it uses SSE2, which every amd64 CPU has.
var useAVX2 = hasAVX2()

// maskVectors masks as much of b as maskAsm does in vectors and returns
// the rest (at most 15 bytes), which Mask finishes word by word.
//
// Below vectorMin bytes it leaves b to the word loop, which is as fast
// there: a call to the assembly and its setup cost about as much as 16
// words. The check is all there is to maskVectors, so that the compiler
// inlines it into Mask and a short payload, the common case, costs a
// compare and no call.
func maskVectors(key64 uint64, b []byte) []byte {
	if len(b) < vectorMin {
		return b
	}
	return b[maskAsm(key64, b):]
}

// vectorMin is the shortest payload worth the call to maskAsm. Measured
// with this package's BenchmarkMask (fastest of five runs, vectorMin set
// low for the purpose), maskAsm took 1.04-1.33 times as long as the word
// loop at 128 bytes, 0.82-0.96 at 192, 0.80 at 256 and 0.58-0.66 at 1 KiB.
const vectorMin = 256

// maskAsm XORs a prefix of b with key64 repeated and returns its length,
// always a multiple of 4, so the key stream after it starts at the key's
// octet 0 again: with AVX2, the first len(b) &^ 3 bytes when there are at
// least 64 of them (else none); with SSE2 only, the first len(b) &^ 15.
//
//go:noescape
func maskAsm(key64 uint64, b []byte) int

// cpuid executes the CPUID instruction for the given leaf and subleaf.
func cpuid(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)

// xgetbv returns extended control register 0 (XCR0), which says which
// register states the operating system saves. Only call it when CPUID says
// OSXSAVE.
func xgetbv() (eax, edx uint32)

func hasAVX2() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	// Leaf 1, ECX: bit 27 OSXSAVE (XGETBV is usable), bit 28 AVX.
	_, _, ecx1, _ := cpuid(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if ecx1&(osxsave|avx) != osxsave|avx {
		return false
	}
	// XCR0 bit 1: XMM state, bit 2: the upper halves of the YMM registers.
	if xcr0, _ := xgetbv(); xcr0&(1<<1|1<<2) != 1<<1|1<<2 {
		return false
	}
	// Leaf 7, subleaf 0, EBX bit 5: AVX2.
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}
