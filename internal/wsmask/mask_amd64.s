//go:build !purego

#include "textflag.h"

// func maskAsm(key64 uint64, b []byte) int
//
// With AVX2, masks the first n = len(b) &^ 3 bytes of b and returns n, or
// returns 0 without touching b when n < 64. With SSE2 only, masks the
// first len(b) &^ 15 bytes and returns that. Either way the length
// returned is a whole number of key lengths, so Mask goes on with key64 as
// it was.
TEXT ·maskAsm(SB), NOSPLIT, $0-40
	MOVQ key64+0(FP), AX
	MOVQ b_base+8(FP), DI
	MOVQ b_len+16(FP), DX
	MOVQ AX, X0
	CMPB ·useAVX2(SB), $0
	JEQ  sse2

	ANDQ $~3, DX
	CMPQ DX, $64
	JB   none
	MOVQ DX, ret+32(FP)
	VPBROADCASTQ X0, Y0 // the key, eight times over 32 bytes

	// The first and the last 32 bytes (head and tail) are loaded and
	// masked first and stored last. In between, the body runs from the
	// first 32-byte boundary after b's start, so that none of its stores
	// splits a cache line (unaligned, measured at 1 MiB: 0.99 of the
	// fastest peer's time; aligned: 0.75). The body covers [a, e) with
	// 1 <= a <= 32 and n-32 < e <= n, so head, body and tail together
	// cover [0, n). Where they overlap, a byte is masked twice, but each
	// time from its original value, since head and tail were loaded before
	// the body stored anything and the body loaded everything before head
	// and tail are stored: both store the same result.
	VPXOR (DI), Y0, Y1           // head
	VPXOR -32(DI)(DX*1), Y0, Y2  // tail: n-32 is a multiple of 4

	// a = 32 - b's address mod 32. The body starts a bytes into the key
	// stream, so it needs the key rotated right by a mod 4 octets.
	MOVQ DI, CX
	NEGQ CX
	ANDQ $31, CX
	JNZ  rotate
	MOVQ $32, CX
rotate:
	LEAQ (DI)(CX*1), SI          // SI: the body's first byte
	SHLQ $3, CX                  // RORL takes the count mod 32, so (a mod 4) * 8
	RORL CX, AX
	MOVL AX, AX
	MOVQ AX, CX
	SHLQ $32, CX
	ORQ  CX, AX
	MOVQ AX, X3
	VPBROADCASTQ X3, Y3

	LEAQ (DI)(DX*1), BX          // end of the n bytes
	LEAQ -128(BX), R8
	LEAQ -32(BX), R9
	// Four vectors per iteration, as long as 128 bytes remain.
	CMPQ SI, R8
	JA   body32
body128:
	VPXOR   (SI), Y3, Y4
	VPXOR   32(SI), Y3, Y5
	VPXOR   64(SI), Y3, Y6
	VPXOR   96(SI), Y3, Y7
	VMOVDQA Y4, (SI)
	VMOVDQA Y5, 32(SI)
	VMOVDQA Y6, 64(SI)
	VMOVDQA Y7, 96(SI)
	ADDQ    $128, SI
	CMPQ    SI, R8
	JBE     body128
body32:
	// Then one vector at a time, as long as 32 bytes remain.
	CMPQ    SI, R9
	JA      headTail
	VPXOR   (SI), Y3, Y4
	VMOVDQA Y4, (SI)
	ADDQ    $32, SI
	JMP     body32
headTail:
	VMOVDQU Y1, (DI)
	VMOVDQU Y2, -32(BX)
	VZEROUPPER
	RET

none:
	MOVQ $0, ret+32(FP)
	RET

sse2:
	// Without AVX2: 16 bytes at a time with SSE2, which every amd64 CPU
	// has, from b's start. Legacy SSE instructions want aligned memory
	// operands, so each block is loaded with MOVOU before the XOR.
	PUNPCKLQDQ X0, X0
	ANDQ $~15, DX
	MOVQ DX, ret+32(FP)
sse2Loop64:
	CMPQ  DX, $64
	JB    sse2Loop16
	MOVOU (DI), X1
	MOVOU 16(DI), X2
	MOVOU 32(DI), X3
	MOVOU 48(DI), X4
	PXOR  X0, X1
	PXOR  X0, X2
	PXOR  X0, X3
	PXOR  X0, X4
	MOVOU X1, (DI)
	MOVOU X2, 16(DI)
	MOVOU X3, 32(DI)
	MOVOU X4, 48(DI)
	ADDQ  $64, DI
	SUBQ  $64, DX
	JMP   sse2Loop64
sse2Loop16:
	TESTQ DX, DX
	JZ    sse2Done
	MOVOU (DI), X1
	PXOR  X0, X1
	MOVOU X1, (DI)
	ADDQ  $16, DI
	SUBQ  $16, DX
	JMP   sse2Loop16
sse2Done:
	RET

// func cpuid(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL subleaf+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET
