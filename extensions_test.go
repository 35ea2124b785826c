package websocket

import (
	"net/http"
	"reflect"
	"testing"
)

func TestParseExtensions(t *testing.T) {
	tests := []struct {
		name   string
		fields []string
		want   []extension
		bad    bool
	}{
		{"one bare", []string{"permessage-deflate"}, []extension{{name: "permessage-deflate"}}, false},
		{"params and case", []string{"Permessage-Deflate; Client_Max_Window_Bits; server_max_window_bits=10"},
			[]extension{{name: "permessage-deflate", params: []extensionParam{{name: "client_max_window_bits"}, {name: "server_max_window_bits", value: "10", hasValue: true}}}}, false},
		{"several offers, spaces, tabs", []string{"permessage-deflate ;\tclient_no_context_takeover , x-webkit-deflate-frame"},
			[]extension{{name: "permessage-deflate", params: []extensionParam{{name: "client_no_context_takeover"}}}, {name: "x-webkit-deflate-frame"}}, false},
		{"quoted value", []string{`permessage-deflate; server_max_window_bits="10"`},
			[]extension{{name: "permessage-deflate", params: []extensionParam{{name: "server_max_window_bits", value: "10", hasValue: true}}}}, false},
		{"escaped quoted value", []string{`a; b="1\0"`},
			[]extension{{name: "a", params: []extensionParam{{name: "b", value: "10", hasValue: true}}}}, false},
		{"two header fields", []string{"a", "b; c"},
			[]extension{{name: "a"}, {name: "b", params: []extensionParam{{name: "c"}}}}, false},
		{"empty elements", []string{", a ,, b"}, []extension{{name: "a"}, {name: "b"}}, false},
		{"quoted value not a token", []string{`a; b="1 0"`}, nil, true},
		{"unterminated quote", []string{`a; b="10`}, nil, true},
		{"missing value", []string{"a; b="}, nil, true},
		{"missing name", []string{"; b"}, nil, true},
		{"missing param name", []string{"a; =1"}, nil, true},
		{"junk", []string{"a b"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Sec-Websocket-Extensions": tt.fields}
			got, err := parseExtensions(h)
			if tt.bad {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func parseOne(t *testing.T, value string) []extension {
	t.Helper()
	exts, err := parseExtensions(http.Header{"Sec-Websocket-Extensions": {value}})
	if err != nil {
		t.Fatal(err)
	}
	return exts
}

// The server's side of RFC 7692 §5 and §7.1, including the offers of
// Autobahn's section 13 (table C of its case catalogue).
func TestNegotiateDeflate(t *testing.T) {
	tests := []struct {
		name     string
		offer    string
		opts     CompressionOptions
		response string // "" when every offer is declined
		cfg      deflateConfig
	}{
		{"bare offer", "permessage-deflate", CompressionOptions{},
			"permessage-deflate", deflateConfig{level: 1, sendWindowBits: 15, sendTakeover: true, receiveWindowBits: 15, receiveTakeover: true}},
		{"Chromium's offer", "permessage-deflate; client_max_window_bits", CompressionOptions{},
			"permessage-deflate", deflateConfig{level: 1, sendWindowBits: 15, sendTakeover: true, receiveWindowBits: 15, receiveTakeover: true}},
		{"13.1 / 12.x", "permessage-deflate; client_no_context_takeover; client_max_window_bits", CompressionOptions{},
			"permessage-deflate; client_no_context_takeover", deflateConfig{level: 1, sendWindowBits: 15, sendTakeover: true, receiveWindowBits: 15}},
		{"13.2", "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover", CompressionOptions{},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover", deflateConfig{level: 1, sendWindowBits: 15, receiveWindowBits: 15}},
		{"13.3", "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=9", CompressionOptions{},
			"permessage-deflate; client_no_context_takeover; server_max_window_bits=9", deflateConfig{level: 1, sendWindowBits: 9, sendTakeover: true, receiveWindowBits: 15}},
		{"13.6", "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=15", CompressionOptions{},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15", deflateConfig{level: 1, sendWindowBits: 15, receiveWindowBits: 15}},
		{"client window with a value", "permessage-deflate; client_max_window_bits=10", CompressionOptions{},
			"permessage-deflate; client_max_window_bits=10", deflateConfig{level: 1, sendWindowBits: 15, sendTakeover: true, receiveWindowBits: 10, receiveTakeover: true}},
		{"server asks for small windows", "permessage-deflate; client_max_window_bits", CompressionOptions{ServerMaxWindowBits: 10, ClientMaxWindowBits: 9, Level: 5, Threshold: 64},
			"permessage-deflate; server_max_window_bits=10; client_max_window_bits=9", deflateConfig{level: 5, threshold: 64, sendWindowBits: 10, sendTakeover: true, receiveWindowBits: 9, receiveTakeover: true}},
		{"server wants a client limit it cannot state", "permessage-deflate", CompressionOptions{ClientMaxWindowBits: 9}, "", deflateConfig{}},
		{"server asks for no takeover", "permessage-deflate", CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover", deflateConfig{level: 1, sendWindowBits: 15, receiveWindowBits: 15}},
		{"first acceptable of three (13.7)", "permessage-deflate; server_max_window_bits=16, permessage-deflate; x=1, permessage-deflate; server_no_context_takeover", CompressionOptions{},
			"permessage-deflate; server_no_context_takeover", deflateConfig{level: 1, sendWindowBits: 15, receiveWindowBits: 15, receiveTakeover: true}},
		{"unknown extension only", "x-webkit-deflate-frame", CompressionOptions{}, "", deflateConfig{}},
		{"duplicated parameter", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", CompressionOptions{}, "", deflateConfig{}},
		{"value on a flag", "permessage-deflate; client_no_context_takeover=1", CompressionOptions{}, "", deflateConfig{}},
		{"window bits 7", "permessage-deflate; server_max_window_bits=7", CompressionOptions{}, "", deflateConfig{}},
		{"window bits 16", "permessage-deflate; client_max_window_bits=16", CompressionOptions{}, "", deflateConfig{}},
		{"window bits with a leading zero", "permessage-deflate; server_max_window_bits=09", CompressionOptions{}, "", deflateConfig{}},
		{"server window without a value", "permessage-deflate; server_max_window_bits", CompressionOptions{}, "", deflateConfig{}},
		{"unknown parameter", "permessage-deflate; mystery", CompressionOptions{}, "", deflateConfig{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, response, ok := negotiateDeflate(parseOne(t, tt.offer), &tt.opts)
			if ok != (tt.response != "") || response != tt.response {
				t.Fatalf("response %q (ok=%v), want %q", response, ok, tt.response)
			}
			if cfg != tt.cfg {
				t.Errorf("config %+v, want %+v", cfg, tt.cfg)
			}
		})
	}
}

// The client's check of the server's answer, including the answers of
// Autobahn's server role (rules 1–6 of its table C).
func TestAcceptDeflateResponse(t *testing.T) {
	tests := []struct {
		name     string
		opts     CompressionOptions
		response string
		ok       bool
		cfg      deflateConfig
		bad      bool
	}{
		{"declined", CompressionOptions{}, "", false, deflateConfig{}, false},
		{"plain accept", CompressionOptions{}, "permessage-deflate", true,
			deflateConfig{level: 1, sendWindowBits: 15, sendTakeover: true, receiveWindowBits: 15, receiveTakeover: true}, false},
		{"rule 2: client_no_context_takeover", CompressionOptions{}, "permessage-deflate; client_no_context_takeover", true,
			deflateConfig{level: 1, sendWindowBits: 15, receiveWindowBits: 15, receiveTakeover: true}, false},
		{"rule 3: client_max_window_bits=9", CompressionOptions{}, "permessage-deflate; client_max_window_bits=9", true,
			deflateConfig{level: 1, sendWindowBits: 9, sendTakeover: true, receiveWindowBits: 15, receiveTakeover: true}, false},
		{"rule 5", CompressionOptions{}, "permessage-deflate; client_no_context_takeover; client_max_window_bits=9", true,
			deflateConfig{level: 1, sendWindowBits: 9, receiveWindowBits: 15, receiveTakeover: true}, false},
		{"server limits itself unasked", CompressionOptions{}, "permessage-deflate; server_max_window_bits=10; server_no_context_takeover", true,
			deflateConfig{level: 1, sendWindowBits: 15, sendTakeover: true, receiveWindowBits: 10}, false},
		{"larger client window than offered binds nothing", CompressionOptions{ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits=12", true,
			deflateConfig{level: 1, sendWindowBits: 10, sendTakeover: true, receiveWindowBits: 15, receiveTakeover: true}, false},
		{"other extension", CompressionOptions{}, "x-webkit-deflate-frame", false, deflateConfig{}, true},
		{"two extensions", CompressionOptions{}, "permessage-deflate, permessage-deflate", false, deflateConfig{}, true},
		{"unknown parameter", CompressionOptions{}, "permessage-deflate; mystery", false, deflateConfig{}, true},
		{"client window without a value", CompressionOptions{}, "permessage-deflate; client_max_window_bits", false, deflateConfig{}, true},
		{"server window above the offer", CompressionOptions{ServerMaxWindowBits: 10}, "permessage-deflate; server_max_window_bits=11", false, deflateConfig{}, true},
		{"server window offer ignored", CompressionOptions{ServerMaxWindowBits: 10}, "permessage-deflate", false, deflateConfig{}, true},
		{"no-takeover request ignored", CompressionOptions{ServerNoContextTakeover: true}, "permessage-deflate", false, deflateConfig{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var exts []extension
			if tt.response != "" {
				exts = parseOne(t, tt.response)
			}
			cfg, ok, err := acceptDeflateResponse(exts, &tt.opts)
			if (err != nil) != tt.bad {
				t.Fatalf("err = %v, want bad=%v", err, tt.bad)
			}
			if ok != tt.ok || cfg != tt.cfg {
				t.Errorf("got %+v ok=%v, want %+v ok=%v", cfg, ok, tt.cfg, tt.ok)
			}
		})
	}
}

func TestDeflateOffer(t *testing.T) {
	tests := []struct {
		opts CompressionOptions
		want string
	}{
		{CompressionOptions{}, "permessage-deflate; client_max_window_bits"},
		{CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 9, ClientMaxWindowBits: 10},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10"},
	}
	for _, tt := range tests {
		if got := deflateOffer(&tt.opts).String(); got != tt.want {
			t.Errorf("offer %q, want %q", got, tt.want)
		}
	}
}

func FuzzParseExtensions(f *testing.F) {
	f.Add("permessage-deflate; client_max_window_bits")
	f.Add(`permessage-deflate; server_max_window_bits="10", x; y, z`)
	f.Add("permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=9")
	f.Fuzz(func(t *testing.T, value string) {
		exts, err := parseExtensions(http.Header{"Sec-Websocket-Extensions": {value}})
		if err != nil {
			return
		}
		opts := &CompressionOptions{}
		cfg, response, ok := negotiateDeflate(exts, opts)
		if !ok {
			return
		}
		// What the server answers must parse, and the client must accept
		// it as the answer to an offer with the same parameters.
		back, err := parseExtensions(http.Header{"Sec-Websocket-Extensions": {response}})
		if err != nil || len(back) != 1 {
			t.Fatalf("response %q does not parse: %v", response, err)
		}
		if _, err := parseDeflateParams(back[0].params, false); err != nil {
			t.Fatalf("response %q is invalid: %v", response, err)
		}
		for _, bits := range []int{cfg.sendWindowBits, cfg.receiveWindowBits} {
			if bits < 8 || bits > 15 {
				t.Fatalf("window bits %d out of range", bits)
			}
		}
	})
}
