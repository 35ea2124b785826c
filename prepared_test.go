package websocket

import (
	"bytes"
	"sync"
	"testing"
)

func TestWritePrepared(t *testing.T) {
	payload := bytes.Repeat([]byte("broadcast "), 50) // 500 B: a 16-bit length
	m, err := NewPreparedMessage(MessageText, payload)
	if err != nil {
		t.Fatal(err)
	}
	payload[0] = 'X' // the prepared message keeps its own copy
	want := bytes.Repeat([]byte("broadcast "), 50)

	for _, server := range []bool{true, false} {
		t.Run(roleName(server), func(t *testing.T) {
			c, peer := newPair(t, server, nil)
			for i := 0; i < 2; i++ { // a prepared message can be sent again
				if err := c.WritePrepared(bg, m); err != nil {
					t.Fatal(err)
				}
				h, p := peer.next()
				if !h.fin || h.opcode != opText || h.masked == server || !bytes.Equal(p, want) {
					t.Fatalf("frame fin=%v op=%v masked=%v payload %q", h.fin, h.opcode, h.masked, p)
				}
			}
		})
	}

	t.Run("deflate", func(t *testing.T) {
		// With permessage-deflate the message is compressed for this
		// connection, as Write would: the peer sees RSV1.
		c, peer := newPairDeflate(t, true, nil, &fullDeflate)
		if err := c.WritePrepared(bg, m); err != nil {
			t.Fatal(err)
		}
		if h, p := peer.next(); h.rsv != rsv1Bit || len(p) >= len(want) {
			t.Fatalf("rsv %#x, %d bytes: not compressed", h.rsv, len(p))
		}
	})

	if _, err := NewPreparedMessage(MessageType(opPing), nil); err == nil {
		t.Error("NewPreparedMessage accepted a control opcode")
	}
}

// Many goroutines broadcasting to one connection: every message arrives
// whole, none interleaved.
func TestWritePreparedConcurrent(t *testing.T) {
	c, peer := newPair(t, true, nil)
	const writers, each = 8, 50
	msgs := make([]*PreparedMessage, writers)
	for i := range msgs {
		msgs[i], _ = NewPreparedMessage(MessageBinary, bytes.Repeat([]byte{byte(i)}, 3000+i))
	}
	var wg sync.WaitGroup
	for i := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				if err := c.WritePrepared(bg, msgs[i]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for k := 0; k < writers*each; k++ {
		_, p := peer.next()
		i := len(p) - 3000
		if i < 0 || i >= writers || !bytes.Equal(p, bytes.Repeat([]byte{byte(i)}, len(p))) {
			t.Fatalf("message %d: %d bytes, not one writer's message", k, len(p))
		}
	}
	wg.Wait()
}

func TestWritePreparedAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector (make test runs this test without it)")
	}
	c, peer := newPair(t, true, nil)
	go func() { // drain
		buf := make([]byte, 64<<10)
		for {
			if _, err := peer.conn.Read(buf); err != nil {
				return
			}
		}
	}()
	m, _ := NewPreparedMessage(MessageText, []byte("tick"))
	if allocs := testing.AllocsPerRun(200, func() {
		if err := c.WritePrepared(bg, m); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("%v allocations per WritePrepared, want 0", allocs)
	}
}
