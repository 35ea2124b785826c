package rooms

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wirecraft/websocket"
)

// What marshal encodes, unmarshalEnvelope decodes to the same envelope.
func TestEnvelopeRoundTrip(t *testing.T) {
	for _, e := range []envelope{
		{origin: "a1b2", kind: toRoom, to: "lobby", typ: websocket.MessageText, data: []byte("hello")},
		{origin: "a1b2", kind: toUser, to: "zoë", typ: websocket.MessageBinary, data: []byte{0, 1, 2}},
		{origin: "a1b2", kind: toAll, typ: websocket.MessageText},
		{origin: strings.Repeat("o", 300), kind: toRoom, to: strings.Repeat("r", 200), typ: websocket.MessageText, data: bytes.Repeat([]byte("d"), 70000)},
	} {
		got, err := unmarshalEnvelope(e.marshal())
		if err != nil {
			t.Errorf("%+.40v: %v", e, err)
			continue
		}
		if got.origin != e.origin || got.kind != e.kind || got.to != e.to || got.typ != e.typ || !bytes.Equal(got.data, e.data) {
			t.Errorf("decoded %+.40v, want %+.40v", got, e)
		}
	}
}

// A message that marshal cannot have made is refused, not misread.
func TestEnvelopeMalformed(t *testing.T) {
	good := (&envelope{origin: "ab", kind: toRoom, to: "lobby", typ: websocket.MessageText, data: []byte("hi")}).marshal()
	with := func(i int, b byte) []byte {
		m := bytes.Clone(good)
		m[i] = b
		return m
	}
	for _, tt := range []struct {
		name string
		msg  []byte
	}{
		{"empty", nil},
		{"header only", good[:3]},
		{"other version", with(0, envelopeVersion+1)},
		{"target 0", with(1, 0)},
		{"target past the last", with(1, byte(toAll)+1)},
		{"origin longer than the message", with(3, 200)},
		{"cut inside the origin", good[:5]},
		{"cut before the room", good[:6]},
		{"length overflowing", append([]byte{envelopeVersion, byte(toAll), byte(websocket.MessageText)}, bytes.Repeat([]byte{0xff}, 11)...)},
	} {
		if e, err := unmarshalEnvelope(tt.msg); err == nil {
			t.Errorf("%s: decoded as %+v", tt.name, e)
		}
	}
}
