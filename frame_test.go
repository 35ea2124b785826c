package websocket

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// Byte-exact headers, written out by hand from RFC 6455 §5.2 and the
// examples of §5.7.
func TestFrameHeaderEncoding(t *testing.T) {
	tests := []struct {
		name string
		h    frameHeader
		hex  string
	}{
		{"§5.7 unmasked text Hello", frameHeader{fin: true, opcode: opText, length: 5}, "8105"},
		{"§5.7 masked text Hello", frameHeader{fin: true, opcode: opText, masked: true, maskKey: 0x7dcd4e37, length: 5}, "8185374ecd7d"},
		{"§5.7 first fragment", frameHeader{opcode: opText, length: 3}, "0103"},
		{"§5.7 last fragment", frameHeader{fin: true, opcode: opContinuation, length: 2}, "8002"},
		{"§5.7 ping", frameHeader{fin: true, opcode: opPing, length: 5}, "8905"},
		{"§5.7 256-byte binary", frameHeader{fin: true, opcode: opBinary, length: 256}, "827e0100"},
		{"§5.7 64 KiB binary", frameHeader{fin: true, opcode: opBinary, length: 65536}, "827f0000000000010000"},
		{"empty close", frameHeader{fin: true, opcode: opClose}, "8800"},
		{"125 fits 7 bits", frameHeader{fin: true, opcode: opBinary, length: 125}, "827d"},
		{"126 needs 16 bits", frameHeader{fin: true, opcode: opBinary, length: 126}, "827e007e"},
		{"127 needs 16 bits", frameHeader{fin: true, opcode: opBinary, length: 127}, "827e007f"},
		{"65535 is the largest 16-bit", frameHeader{fin: true, opcode: opBinary, length: 65535}, "827effff"},
		{"RSV1 set", frameHeader{fin: true, rsv: rsv1Bit, opcode: opText, length: 0}, "c100"},
		{"masked 64-bit", frameHeader{fin: false, opcode: opBinary, masked: true, maskKey: 0x04030201, length: 1 << 32}, "02ff000000010000000001020304"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, _ := hex.DecodeString(tt.hex)
			if n := frameHeaderSize(tt.h.length, tt.h.masked); n != len(want) {
				t.Errorf("frameHeaderSize = %d, want %d", n, len(want))
			}
			buf := make([]byte, maxFrameHeaderSize)
			n := putFrameHeader(buf, tt.h)
			if !bytes.Equal(buf[:n], want) {
				t.Errorf("putFrameHeader = %x, want %x", buf[:n], want)
			}
			// Decoding gives back the header, and needs every byte of it.
			for cut := 0; cut < len(want); cut++ {
				if _, n, err := parseFrameHeader(want[:cut]); n != 0 || err != nil {
					t.Fatalf("parseFrameHeader of %d of %d bytes = (%d, %v), want (0, nil)", cut, len(want), n, err)
				}
			}
			got, n, err := parseFrameHeader(append(want, 0xAA)) // a payload byte follows
			if err != nil || n != len(want) || got != tt.h {
				t.Errorf("parseFrameHeader = %+v, %d, %v; want %+v, %d", got, n, err, tt.h, len(want))
			}
		})
	}
}

func TestFrameHeaderLengthErrors(t *testing.T) {
	tests := []struct {
		name, hex, wantErr string
	}{
		{"16-bit form for 125", "827e007d", "minimal"},
		{"16-bit form for 0", "827e0000", "minimal"},
		{"64-bit form for 65535", "827f000000000000ffff", "minimal"},
		{"64-bit form for 1", "827f0000000000000001", "minimal"},
		{"64-bit with the top bit", "827f8000000000000000", "most significant bit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := hex.DecodeString(tt.hex)
			_, _, err := parseFrameHeader(b)
			if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want ErrProtocol mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestCheckFrameHeader(t *testing.T) {
	server := frameRules{wantMasked: true}
	client := frameRules{wantMasked: false}
	inMessage := frameRules{wantMasked: true, inMessage: true}
	deflate := frameRules{wantMasked: true, dataRSV: rsv1Bit}
	data := func(op opcode, fin bool) frameHeader {
		return frameHeader{fin: fin, opcode: op, masked: true}
	}
	tests := []struct {
		name  string
		h     frameHeader
		rules frameRules
		ok    bool
	}{
		{"masked text to a server", data(opText, true), server, true},
		{"unmasked text to a server", frameHeader{fin: true, opcode: opText}, server, false},
		{"unmasked text to a client", frameHeader{fin: true, opcode: opText}, client, true},
		{"masked text to a client", data(opText, true), client, false},
		{"reserved opcode 3", data(3, true), server, false},
		{"reserved opcode 7", data(7, true), server, false},
		{"reserved opcode 0xB", data(0xB, true), server, false},
		{"reserved opcode 0xF", data(0xF, true), server, false},
		{"RSV1 without extension", frameHeader{fin: true, rsv: rsv1Bit, opcode: opText, masked: true}, server, false},
		{"RSV2 without extension", frameHeader{fin: true, rsv: rsv2Bit, opcode: opBinary, masked: true}, server, false},
		{"RSV3 without extension", frameHeader{fin: true, rsv: rsv3Bit, opcode: opPing, masked: true}, server, false},
		{"RSV1 with deflate on text", frameHeader{fin: true, rsv: rsv1Bit, opcode: opText, masked: true}, deflate, true},
		{"RSV2 with deflate on text", frameHeader{fin: true, rsv: rsv2Bit, opcode: opText, masked: true}, deflate, false},
		{"RSV1 with deflate on a ping", frameHeader{fin: true, rsv: rsv1Bit, opcode: opPing, masked: true}, deflate, false},
		{"RSV1 with deflate on a continuation", frameHeader{fin: true, rsv: rsv1Bit, opcode: opContinuation, masked: true}, frameRules{wantMasked: true, dataRSV: rsv1Bit, inMessage: true}, false},
		{"ping with 125 bytes", frameHeader{fin: true, opcode: opPing, masked: true, length: 125}, server, true},
		{"ping with 126 bytes", frameHeader{fin: true, opcode: opPing, masked: true, length: 126}, server, false},
		{"close with 126 bytes", frameHeader{fin: true, opcode: opClose, masked: true, length: 126}, server, false},
		{"fragmented ping", data(opPing, false), server, false},
		{"fragmented pong", data(opPong, false), server, false},
		{"fragmented close", data(opClose, false), server, false},
		{"ping inside a message", data(opPing, true), inMessage, true},
		{"continuation without a message", data(opContinuation, true), server, false},
		{"continuation inside a message", data(opContinuation, false), inMessage, true},
		{"text inside a message", data(opText, true), inMessage, false},
		{"binary inside a message", data(opBinary, false), inMessage, false},
		{"first fragment", data(opBinary, false), server, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkFrameHeader(tt.h, tt.rules)
			if tt.ok && err != nil {
				t.Errorf("unexpected error %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrProtocol) {
				t.Errorf("err = %v, want ErrProtocol", err)
			}
		})
	}
}
