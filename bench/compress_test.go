package bench

// Speed and ratio of permessage-deflate (RFC 7692) in our package, in
// gorilla/websocket and in coder/websocket, measured the same way for all
// three: a client echoes messages off a server of the same library over a
// loopback TCP connection.

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirecraft/websocket/autobahn/fuzzer"
)

// Payloads come from the conformance runner's deterministic stand-ins for
// Autobahn's datasets (fixed seeds, identical on every run and for every
// library). A benchmark cycles through several distinct messages rather
// than repeating one: with context takeover a message identical to the
// previous one compresses to a single back-reference, which would measure
// nothing but that degenerate case.
var (
	payloadsOnce sync.Once
	json1K       [][]byte // 64 consecutive 1 KiB windows of json_data1
	text64K      [][]byte // 16 consecutive 64 KiB windows of gutenberg_faust (English-like prose)
)

func payloads() {
	payloadsOnce.Do(func() {
		js := fuzzer.DatasetByName("json_data1")
		for k := 1; k <= 64; k++ {
			json1K = append(json1K, js.Window(k, 1024)) // ASCII: 1024 code points are 1024 bytes
		}
		prose := fuzzer.DatasetByName("gutenberg_faust")
		for k := 1; k <= 16; k++ {
			text64K = append(text64K, prose.Window(k, 64<<10))
		}
	})
}

// BenchmarkEcho measures one round trip per op: the client compresses and
// sends a message, the server inflates it, compresses it again and sends
// it back, the client inflates it. Both ends run in this process, so
// ns/op, B/op and allocs/op cover both; MB/s counts the payload once.
// wire/payload is the bytes that crossed the TCP connection, both
// directions, frame headers included, per payload byte sent or received.
func BenchmarkEcho(b *testing.B) {
	payloads()
	for _, p := range []struct {
		name string
		msgs [][]byte
	}{{"json1KiB", json1K}, {"text64KiB", text64K}} {
		for _, im := range impls() {
			b.Run(p.name+"/"+im.name(), func(b *testing.B) { benchEcho(b, im, p.msgs) })
		}
	}
}

func benchEcho(b *testing.B, im impl, msgs [][]byte) {
	if im.dial == nil {
		b.Skip("n/a: gorilla/websocket only negotiates no_context_takeover")
	}
	srv := startServer(b, im, echo)
	defer srv.close(b)
	var k counter
	ctx, cancel := dialCtx()
	defer cancel()
	c, err := im.dial(ctx, srv.url, k.dialer())
	if err != nil {
		b.Fatal(err)
	}
	defer c.closeNow()
	defer watchdog(b, 5*time.Minute, func() { c.closeNow(); srv.close(b) })()

	bg := context.Background()
	b.SetBytes(int64(len(msgs[0])))
	b.ReportAllocs()
	rx0, tx0 := k.rx.Load(), k.tx.Load()
	var payload int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := msgs[i%len(msgs)]
		if err := c.write(bg, m); err != nil {
			b.Fatal(err)
		}
		got, err := c.read(bg)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != len(m) {
			b.Fatalf("echo of %d bytes came back with %d", len(m), len(got))
		}
		payload += int64(len(m))
	}
	b.StopTimer()
	wire := k.rx.Load() - rx0 + k.tx.Load() - tx0
	b.ReportMetric(float64(wire)/float64(2*payload), "wire/payload")
}

// ratioMessages is the Autobahn 12.1.4 sequence: 1000 messages of 1024
// code points taken one after the other from json_data1.
const ratioMessages = 1000

// TestCompressionRatio sends the 12.1.4 sequence through every library
// and mode and logs the bytes on the wire per payload byte, each
// direction apart: client→server is the client's compressor (frames
// masked, 4 bytes more each), server→client the server's. Every echo is
// checked against what was sent. The numbers are deterministic.
func TestCompressionRatio(t *testing.T) {
	js := fuzzer.DatasetByName("json_data1")
	msgs := make([][]byte, ratioMessages)
	var payload int64
	for i := range msgs {
		msgs[i] = js.Window(i+1, 1024)
		payload += int64(len(msgs[i]))
	}

	var table strings.Builder
	fmt.Fprintf(&table, "\n%d messages of 1 KiB from json_data1 (Autobahn 12.1.4), %d payload bytes each way\n", ratioMessages, payload)
	fmt.Fprintf(&table, "%-20s %14s %14s %10s %10s\n", "library/mode", "client→server", "server→client", "c→s ratio", "s→c ratio")
	for _, im := range impls() {
		if im.dial == nil {
			fmt.Fprintf(&table, "%-20s %14s %14s %10s %10s\n", im.name(), "n/a", "n/a", "n/a", "n/a")
			continue
		}
		tx, rx := ratioRun(t, im, msgs)
		fmt.Fprintf(&table, "%-20s %14d %14d %10.4f %10.4f\n", im.name(), tx, rx,
			float64(tx)/float64(payload), float64(rx)/float64(payload))
		if im.mode != modeNone && (tx >= payload/2 || rx >= payload/2) {
			t.Errorf("%s: %d and %d bytes on the wire for %d: was compression negotiated?", im.name(), tx, rx, payload)
		}
	}
	t.Log(table.String())
}

// ratioRun echoes msgs over one connection and returns the bytes the
// client sent and received after the handshake.
func ratioRun(t *testing.T, im impl, msgs [][]byte) (tx, rx int64) {
	srv := startServer(t, im, echo)
	defer srv.close(t)
	var k counter
	ctx, cancel := dialCtx()
	defer cancel()
	c, err := im.dial(ctx, srv.url, k.dialer())
	if err != nil {
		t.Fatalf("%s: %v", im.name(), err)
	}
	defer c.closeNow()
	defer watchdog(t, 2*time.Minute, func() { c.closeNow(); srv.close(t) })()
	rx0, tx0 := k.rx.Load(), k.tx.Load()
	bg := context.Background()
	for i, m := range msgs {
		if err := c.write(bg, m); err != nil {
			t.Fatalf("%s: message %d: %v", im.name(), i+1, err)
		}
		got, err := c.read(bg)
		if err != nil {
			t.Fatalf("%s: message %d: %v", im.name(), i+1, err)
		}
		if !bytes.Equal(got, m) {
			t.Fatalf("%s: message %d came back different", im.name(), i+1)
		}
	}
	return k.tx.Load() - tx0, k.rx.Load() - rx0
}
