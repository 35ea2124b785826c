// Payload masking.
//
// RFC 6455 §5.3: every frame a client sends is masked with a fresh 32-bit
// key, and octet i of the payload is XORed with octet i MOD 4 of the key.
// §10.3 explains why: the key must be unpredictable ("derived from a strong
// source of entropy") so a script cannot choose the bytes that reach a
// proxy. Masking is its own inverse, so one function masks and unmasks.

package websocket

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"sync"

	"github.com/wirecraft/websocket/internal/wsmask"
)

// mask XORs b with the key and returns the key rotated so that a following
// call continues the key stream where this one stopped. key holds octet 0 of
// the masking key in its low byte.
//
// The loop lives in internal/wsmask, where the comparison benchmarks in
// bench/ can reach it; this wrapper is inlined, so calling it costs nothing.
func mask(key uint32, b []byte) uint32 { return wsmask.Mask(key, b) }

// maskKeySource hands out masking keys from crypto/rand. Reading the
// operating system's generator for every 4-byte key would cost a system
// call per frame, so keys are read 512 bytes at a time.
type maskKeySource struct {
	mu   sync.Mutex
	rand io.Reader
	buf  [512]byte
	pos  int
}

var defaultMaskKeys = &maskKeySource{rand: rand.Reader, pos: 512}

// next returns a new masking key. A failure of the system's random source
// is not something a connection can recover from; it is returned so the
// write fails rather than sending a predictable key.
func (s *maskKeySource) next() (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pos+4 > len(s.buf) {
		if _, err := io.ReadFull(s.rand, s.buf[:]); err != nil {
			return 0, err
		}
		s.pos = 0
	}
	key := binary.LittleEndian.Uint32(s.buf[s.pos:])
	s.pos += 4
	return key, nil
}
