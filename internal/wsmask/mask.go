// Package wsmask XORs WebSocket payloads with their masking key (RFC 6455
// §5.3).
//
// It is the implementation behind the websocket package's masking, kept in a
// package of its own for one reason: so that the comparison module in
// bench/ (module path github.com/wirecraft/websocket/bench, which the
// internal-import rule lets in because its import path lies under
// github.com/wirecraft/websocket) can benchmark exactly the code the
// connection runs, side by side with other libraries' masking, without
// adding anything to the websocket package's public API. It is internal so
// that nobody else can come to depend on it.
package wsmask

import (
	"encoding/binary"
	"math/bits"
)

// Mask XORs b with the key and returns the key rotated so that a following
// call continues the key stream where this one stopped. key holds octet 0 of
// the masking key in its low byte. Masking is its own inverse, so Mask also
// unmasks.
//
// On amd64, payloads of 256 bytes or more are masked by vector assembly
// (mask_amd64.go). Everything else, and everything with the purego build
// tag or on other architectures, goes through 8-byte words: the key is
// repeated into a 64-bit word and every group of 8 payload bytes is loaded,
// XORed and stored once; the bytes after the last whole word go one at a
// time. Because 8 is a multiple of the key's 4 octets, every word meets the
// key in the same position, whatever the word's address, so there is no
// head to peel off before the words start: pure Go cannot see the address
// without unsafe, and on the targets that matter (amd64, arm64) an
// unaligned 8-byte load or store costs the same as an aligned one except
// across a cache line, which the measurements in bench/mask_test.go show
// to be a small effect.
func Mask(key uint32, b []byte) uint32 {
	key64 := uint64(key)<<32 | uint64(key)
	// On amd64, payloads of 256 bytes or more go to vector assembly
	// (mask_amd64.go), which leaves at most a few bytes for the loops
	// below; with the purego build tag or on other architectures this
	// returns b as is (mask_words.go).
	b = maskVectors(key64, b)
	// Eight words per iteration. The loop is bound by one store per word
	// either way; unrolling removes the loop's own instructions (compare,
	// branch, advancing b) from seven words out of eight, which measured
	// about a third faster than four words per iteration from 1 KiB up.
	// w := b[:64:64] gives the compiler a slice whose length is a constant,
	// so none of the sixteen accesses below needs a bounds check.
	for len(b) >= 64 {
		w := b[:64:64]
		binary.LittleEndian.PutUint64(w[0:], binary.LittleEndian.Uint64(w[0:])^key64)
		binary.LittleEndian.PutUint64(w[8:], binary.LittleEndian.Uint64(w[8:])^key64)
		binary.LittleEndian.PutUint64(w[16:], binary.LittleEndian.Uint64(w[16:])^key64)
		binary.LittleEndian.PutUint64(w[24:], binary.LittleEndian.Uint64(w[24:])^key64)
		binary.LittleEndian.PutUint64(w[32:], binary.LittleEndian.Uint64(w[32:])^key64)
		binary.LittleEndian.PutUint64(w[40:], binary.LittleEndian.Uint64(w[40:])^key64)
		binary.LittleEndian.PutUint64(w[48:], binary.LittleEndian.Uint64(w[48:])^key64)
		binary.LittleEndian.PutUint64(w[56:], binary.LittleEndian.Uint64(w[56:])^key64)
		b = b[64:]
	}
	// Up to seven words left.
	for len(b) >= 8 {
		w := b[:8:8]
		binary.LittleEndian.PutUint64(w, binary.LittleEndian.Uint64(w)^key64)
		b = b[8:]
	}
	// A multiple of 4 bytes leaves the key where it started; each further
	// byte moves the stream on by one key octet.
	for i := range b {
		b[i] ^= byte(key)
		key = bits.RotateLeft32(key, -8)
	}
	return key
}
