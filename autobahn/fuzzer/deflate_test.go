package fuzzer

import (
	"bytes"
	"testing"
)

func TestServerDeflateRules(t *testing.T) {
	offer := func(h string) []extension {
		e, err := parseExtensions(h)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		set    int
		offer  string
		want   string // "" = declined
		window int
	}{
		{1, "permessage-deflate", "permessage-deflate", 15},
		{1, "permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover", 15},
		{2, "permessage-deflate; client_max_window_bits", "permessage-deflate; client_no_context_takeover", 15},
		{3, "permessage-deflate", "", 0}, // no client_max_window_bits: declined
		{3, "permessage-deflate; client_max_window_bits; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9", 10},
		{5, "permessage-deflate; client_max_window_bits", "permessage-deflate; client_no_context_takeover; client_max_window_bits=9", 15},
		{7, "permessage-deflate", "permessage-deflate; client_no_context_takeover", 15},
	}
	for _, tt := range tests {
		d, err := serverDeflate(deflateParamSets[tt.set-1], offer(tt.offer))
		if err != nil {
			t.Fatalf("set %d %q: %v", tt.set, tt.offer, err)
		}
		switch {
		case tt.want == "" && d != nil:
			t.Errorf("set %d %q: accepted %q, want declined", tt.set, tt.offer, d.response)
		case tt.want != "" && (d == nil || d.response != tt.want || d.sendWindowBits != tt.window):
			t.Errorf("set %d %q: got %+v, want %q window %d", tt.set, tt.offer, d, tt.want, tt.window)
		}
	}
	for _, bad := range []string{
		"permessage-deflate; server_max_window_bits",
		"permessage-deflate; client_max_window_bits=7",
		"permessage-deflate; server_no_context_takeover=1",
		"permessage-deflate; foo",
	} {
		if _, err := serverDeflate(deflateParamSets[0], offer(bad)); err == nil {
			t.Errorf("%q: accepted an invalid offer", bad)
		}
	}
	if _, err := parseExtensions("permessage-deflate; client_max_window_bits; client_max_window_bits"); err == nil {
		t.Error("repeated parameter accepted")
	}
}

func TestDeflateRoundTrip(t *testing.T) {
	ds := DatasetByName("html_data1")
	for _, tt := range []struct{ noContext, limited bool }{{false, false}, {true, false}, {false, true}} {
		tx := &deflateState{sendNoContext: tt.noContext, sendWindowBits: 15}
		if tt.limited {
			tx.sendWindowBits = 9
		}
		rx := &deflateState{recvNoContext: tt.noContext}
		for k := 1; k <= 5; k++ {
			msg := ds.Window(k, 4096)
			out, err := rx.decompress(tx.compress(msg))
			if err != nil || !bytes.Equal(out, msg) {
				t.Fatalf("%+v message %d: err %v, equal %v", tt, k, err, bytes.Equal(out, msg))
			}
		}
	}
}

func TestDatasets(t *testing.T) {
	for name, want := range map[string]int{"json_data1": 194056, "lena512": 263222, "gutenberg_faust": 222218, "html_data1": 263620, "ooms": 1042328} {
		if got := DatasetByName(name).Units(); got != want {
			t.Errorf("%s: %d units, want %d", name, got, want)
		}
	}
	html := DatasetByName("html_data1")
	if n := len(html.bytes) - html.Units(); n <= 0 {
		t.Errorf("html_data1 has no multi-byte characters")
	}
	// Windows wrap around the end and count code points.
	w := html.Window(3, 131072)
	if got := len([]rune(string(w))); got != 131072 {
		t.Errorf("window has %d code points", got)
	}
}
