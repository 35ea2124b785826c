package bench

// Payload masking (RFC 6455 §5.3) alone: ours against gorilla/websocket's
// and gobwas/ws's, each called the way its library calls it, on the same
// buffers in the same process. Every size runs at each of the 8 offsets
// from an 8-byte boundary, because a payload sits wherever the frame header
// leaves it (2, 4, 8 or 14 bytes in, after the mask key or not), and
// word-at-a-time code can be sensitive to where the words start.
//
//	go test -run XXX -bench BenchmarkMask -count 5 | tee mask.txt
//	go run golang.org/x/perf/cmd/benchstat@latest mask.txt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	gobwas "github.com/gobwas/ws"
	"github.com/wirecraft/websocket/internal/wsmask"
)

// A masking implementation as the benchmark drives it: mask b with key
// (octet 0 first), b being the whole payload from its first byte.
type maskFunc func(key [4]byte, b []byte)

var maskLibs = []struct {
	name string
	fn   maskFunc
}{
	{"ours", func(key [4]byte, b []byte) {
		// The connection keeps the key as a little-endian uint32 (octet 0
		// in the low byte), converted once per frame.
		wsmask.Mask(binary.LittleEndian.Uint32(key[:]), b)
	}},
	{"gorilla", func(key [4]byte, b []byte) { gorillaMaskBytes(key, 0, b) }},
	{"gobwas", func(key [4]byte, b []byte) { gobwas.Cipher(b, key, 0) }},
}

var (
	maskSizes = []int{16, 128, 1 << 10, 16 << 10, 1 << 20}
	maskKey   = [4]byte{0x37, 0xfa, 0x21, 0x3d}
)

// Before timing anything, every implementation must produce the RFC's
// output at every size and alignment the benchmark uses, so the numbers
// compare code that does the same work.
func TestMaskLibsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, lib := range maskLibs {
		for _, size := range append(maskSizes, 0, 1, 7, 15, 17, 33, 1000) {
			for align := 0; align < 8; align++ {
				buf := make([]byte, align+size)
				for i := range buf {
					buf[i] = byte(rng.Uint32())
				}
				want := bytes.Clone(buf)
				for i := range want[align:] {
					want[align+i] ^= maskKey[i%4]
				}
				lib.fn(maskKey, buf[align:])
				if !bytes.Equal(buf, want) {
					t.Fatalf("%s: size %d align %d: wrong output", lib.name, size, align)
				}
			}
		}
	}
}

func BenchmarkMask(b *testing.B) {
	for _, size := range maskSizes {
		// Each size gets its own buffer, and the offsets count from a
		// cache-line boundary found from the buffer's address, so that
		// align=A means A bytes past an 8-byte (and 64-byte) boundary
		// whatever the allocator returned.
		buf := make([]byte, size+64+8)
		base := alignedStart(buf)
		for align := 0; align < 8; align++ {
			p := buf[base+align : base+align+size]
			// The libraries run one after the other for each row, so that
			// the figures peerratio divides are taken seconds apart, not
			// minutes: on a shared machine the speed drifts in between.
			for _, lib := range maskLibs {
				b.Run(fmt.Sprintf("size=%d/align=%d/%s", size, align, lib.name), func(b *testing.B) {
					b.SetBytes(int64(size))
					for b.Loop() {
						lib.fn(maskKey, p)
					}
				})
			}
		}
	}
}

// alignedStart returns the index of the first byte of buf that sits on a
// 64-byte (cache line) boundary. The bench module may use unsafe: only the
// address is read, to place the buffers; the code measured does not use it.
func alignedStart(buf []byte) int {
	return int(-uintptr(unsafe.Pointer(&buf[0])) & 63)
}
