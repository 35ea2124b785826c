// Negotiating extensions, and permessage-deflate's parameters.
//
// RFC 6455 §9.1 (the Sec-WebSocket-Extensions grammar), RFC 7692 §5
// (permessage-deflate's negotiation) and §7.1 (its four parameters).

package websocket

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// extension is one entry of a Sec-WebSocket-Extensions list: a name and its
// parameters, in order (RFC 6455 §9.1).
type extension struct {
	name   string
	params []extensionParam
}

type extensionParam struct {
	name     string
	value    string
	hasValue bool
}

// parseExtensions parses every Sec-WebSocket-Extensions field of h:
//
//	extension-list = 1#extension
//	extension      = extension-token *( ";" extension-param )
//	extension-param = token [ "=" (token | quoted-string) ]
//
// RFC 6455 §9.1: "When using the quoted-string syntax variant, the value
// after quoted-string unescaping MUST conform to the 'token' ABNF." Names
// are compared case-insensitively and returned in lower case.
func parseExtensions(h http.Header) ([]extension, error) {
	var list []extension
	for _, field := range h.Values("Sec-WebSocket-Extensions") {
		p := extensionParser{s: field}
		for {
			p.skipSpace()
			if p.done() {
				break
			}
			if p.peek() == ',' { // empty list elements are allowed (RFC 9110 §5.6.1)
				p.pos++
				continue
			}
			ext, err := p.extension()
			if err != nil {
				return nil, fmt.Errorf("websocket: Sec-WebSocket-Extensions %q: %w", field, err)
			}
			list = append(list, ext)
		}
	}
	return list, nil
}

type extensionParser struct {
	s   string
	pos int
}

func (p *extensionParser) done() bool { return p.pos >= len(p.s) }
func (p *extensionParser) peek() byte { return p.s[p.pos] }

func (p *extensionParser) skipSpace() {
	for !p.done() && (p.peek() == ' ' || p.peek() == '\t') {
		p.pos++
	}
}

// extension parses one list element, up to and including the comma after
// it.
func (p *extensionParser) extension() (extension, error) {
	name := p.token()
	if name == "" {
		return extension{}, errors.New("missing extension name")
	}
	ext := extension{name: strings.ToLower(name)}
	for {
		p.skipSpace()
		if p.done() {
			return ext, nil
		}
		switch p.peek() {
		case ',':
			p.pos++
			return ext, nil
		case ';':
			p.pos++
		default:
			return extension{}, fmt.Errorf("unexpected %q after %s", p.peek(), ext.name)
		}
		p.skipSpace()
		param := extensionParam{name: strings.ToLower(p.token())}
		if param.name == "" {
			return extension{}, errors.New("missing parameter name")
		}
		p.skipSpace()
		if !p.done() && p.peek() == '=' {
			p.pos++
			p.skipSpace()
			value, err := p.value()
			if err != nil {
				return extension{}, err
			}
			param.value, param.hasValue = value, true
		}
		ext.params = append(ext.params, param)
	}
}

// value parses a token or a quoted-string whose content is a token.
func (p *extensionParser) value() (string, error) {
	if p.done() || p.peek() != '"' {
		if v := p.token(); v != "" {
			return v, nil
		}
		return "", errors.New("missing parameter value")
	}
	p.pos++
	var b strings.Builder
	for {
		if p.done() {
			return "", errors.New("unterminated quoted string")
		}
		c := p.peek()
		p.pos++
		switch c {
		case '"':
			v := b.String()
			if v == "" || strings.IndexFunc(v, func(r rune) bool { return r > 0x7e || !isTokenChar(byte(r)) }) >= 0 {
				return "", fmt.Errorf("quoted value %q is not a token", v)
			}
			return v, nil
		case '\\':
			if p.done() {
				return "", errors.New("unterminated quoted string")
			}
			b.WriteByte(p.peek())
			p.pos++
		default:
			b.WriteByte(c)
		}
	}
}

// token reads the longest run of token characters (RFC 9110 §5.6.2).
func (p *extensionParser) token() string {
	start := p.pos
	for !p.done() && isTokenChar(p.peek()) {
		p.pos++
	}
	return p.s[start:p.pos]
}

func isTokenChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	return !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, rune(c))
}

// deflateParams are the parameters of a permessage-deflate offer or
// response (RFC 7692 §7.1). A window size of 0 means the parameter is
// absent; clientMaxWindowBits is -1 for the offer's value-less form.
type deflateParams struct {
	serverNoContextTakeover bool
	clientNoContextTakeover bool
	serverMaxWindowBits     int
	clientMaxWindowBits     int
}

// parseDeflateParams reads permessage-deflate's parameters. It rejects
// what RFC 7692 §7.1 says makes an offer or a response invalid: an unknown
// parameter, a repeated one, a value where none is allowed, and a window
// size that is not a decimal from 8 to 15 without leading zeros. Only an
// offer may name client_max_window_bits without a value.
func parseDeflateParams(params []extensionParam, offer bool) (deflateParams, error) {
	var d deflateParams
	seen := map[string]bool{}
	for _, p := range params {
		if seen[p.name] {
			return d, fmt.Errorf("parameter %s repeated", p.name)
		}
		seen[p.name] = true
		switch p.name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if p.hasValue {
				return d, fmt.Errorf("parameter %s takes no value", p.name)
			}
			if p.name == "server_no_context_takeover" {
				d.serverNoContextTakeover = true
			} else {
				d.clientNoContextTakeover = true
			}
		case "server_max_window_bits":
			bits, err := parseWindowBits(p)
			if err != nil {
				return d, err
			}
			d.serverMaxWindowBits = bits
		case "client_max_window_bits":
			if !p.hasValue && offer {
				d.clientMaxWindowBits = -1
				continue
			}
			bits, err := parseWindowBits(p)
			if err != nil {
				return d, err
			}
			d.clientMaxWindowBits = bits
		default:
			return d, fmt.Errorf("unknown parameter %s", p.name)
		}
	}
	return d, nil
}

func parseWindowBits(p extensionParam) (int, error) {
	// RFC 7692 §7.1.2.1: "a decimal integer value without leading zeroes
	// between 8 to 15, inclusive".
	if !p.hasValue || len(p.value) > 2 || p.value[0] == '0' {
		return 0, fmt.Errorf("parameter %s needs a value from 8 to 15", p.name)
	}
	bits, err := strconv.Atoi(p.value)
	if err != nil || bits < 8 || bits > 15 {
		return 0, fmt.Errorf("parameter %s needs a value from 8 to 15", p.name)
	}
	return bits, nil
}

// CompressionOptions turns on permessage-deflate (RFC 7692) and tunes it.
// AcceptOptions and DialOptions take one; nil leaves compression off.
// Browsers, Node's ws and Python's websockets all offer it.
type CompressionOptions struct {
	// Level is the compression level, from 1 (fastest) to 9 (smallest);
	// 0 means 1.
	Level int

	// Threshold is the size under which messages are sent uncompressed:
	// compressing a few bytes costs CPU and rarely saves any. 0 compresses
	// every message.
	Threshold int

	// ServerNoContextTakeover and ClientNoContextTakeover make that side
	// compress each message on its own instead of referring back to earlier
	// ones (RFC 7692 §7.1.1). A connection then keeps no compression
	// history for that direction between messages, at some cost in ratio
	// for repetitive traffic. A server grants a client's request for
	// either, and may ask for them itself.
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool

	// ServerMaxWindowBits and ClientMaxWindowBits limit the LZ77 window of
	// each side's compressor to 2^bits bytes, 8 to 15 (RFC 7692 §7.1.2);
	// 0 means 15 (32 KiB). A smaller window means less history to keep
	// per connection, and less compression.
	ServerMaxWindowBits int
	ClientMaxWindowBits int
}

// deflateConfig is what was agreed for one connection, from its own
// point of view: how it compresses what it sends, and what it must be
// ready to decompress.
type deflateConfig struct {
	level             int
	threshold         int
	sendWindowBits    int
	sendTakeover      bool // keep the compression context between messages
	receiveWindowBits int
	receiveTakeover   bool
}

func (o *CompressionOptions) windowBits(server bool) int {
	bits := o.ClientMaxWindowBits
	if server {
		bits = o.ServerMaxWindowBits
	}
	if bits < 8 || bits > 15 {
		return 15
	}
	return bits
}

func (o *CompressionOptions) level() int {
	if o.Level < 1 || o.Level > 9 {
		return 1
	}
	return o.Level
}

// negotiateDeflate is the server's side of RFC 7692 §5: take the first
// permessage-deflate offer it can honour and return the response's
// extension value. Offers it cannot honour are declined, not failed: the
// connection then runs without compression.
func negotiateDeflate(offers []extension, opts *CompressionOptions) (deflateConfig, string, bool) {
	for _, offer := range offers {
		if offer.name != "permessage-deflate" {
			continue
		}
		p, err := parseDeflateParams(offer.params, true)
		if err != nil {
			continue
		}
		var resp deflateParams

		// The server's compressor. §7.1.1.1: a server accepts
		// server_no_context_takeover by including it; it may also use it
		// on its own.
		resp.serverNoContextTakeover = p.serverNoContextTakeover || opts.ServerNoContextTakeover
		serverBits := opts.windowBits(true)
		if p.serverMaxWindowBits != 0 {
			// §7.1.2.1: accepted "with the same or smaller value".
			serverBits = min(serverBits, p.serverMaxWindowBits)
		}
		if serverBits < 15 || p.serverMaxWindowBits != 0 {
			resp.serverMaxWindowBits = serverBits
		}

		// The client's compressor. §7.1.1.2: the server may ask for
		// client_no_context_takeover whether or not it was offered.
		resp.clientNoContextTakeover = p.clientNoContextTakeover || opts.ClientNoContextTakeover
		clientBits := 15
		switch {
		case p.clientMaxWindowBits == 0:
			// §7.1.2.2: "If a received extension negotiation offer doesn't
			// have the client_max_window_bits extension parameter, the
			// corresponding extension negotiation response to the offer
			// MUST NOT include the client_max_window_bits extension
			// parameter." The client then uses up to 15.
			if opts.windowBits(false) < 15 {
				continue // a limit the server wants cannot be stated
			}
		case p.clientMaxWindowBits < 0:
			clientBits = opts.windowBits(false)
			if clientBits < 15 {
				resp.clientMaxWindowBits = clientBits
			}
		default:
			clientBits = min(p.clientMaxWindowBits, opts.windowBits(false))
			resp.clientMaxWindowBits = clientBits
		}

		cfg := deflateConfig{
			level:             opts.level(),
			threshold:         opts.Threshold,
			sendWindowBits:    serverBits,
			sendTakeover:      !resp.serverNoContextTakeover,
			receiveWindowBits: clientBits,
			receiveTakeover:   !resp.clientNoContextTakeover,
		}
		return cfg, resp.String(), true
	}
	return deflateConfig{}, "", false
}

// String formats the parameters as a permessage-deflate extension value.
func (d deflateParams) String() string {
	s := "permessage-deflate"
	if d.serverNoContextTakeover {
		s += "; server_no_context_takeover"
	}
	if d.clientNoContextTakeover {
		s += "; client_no_context_takeover"
	}
	if d.serverMaxWindowBits > 0 {
		s += "; server_max_window_bits=" + strconv.Itoa(d.serverMaxWindowBits)
	}
	switch {
	case d.clientMaxWindowBits > 0:
		s += "; client_max_window_bits=" + strconv.Itoa(d.clientMaxWindowBits)
	case d.clientMaxWindowBits < 0:
		s += "; client_max_window_bits"
	}
	return s
}

// deflateOffer is the client's offer for opts. It always names
// client_max_window_bits, with a value if a limit was asked for: RFC 7692
// §7.1.2.2 lets a server limit the client's window only if the offer does.
func deflateOffer(opts *CompressionOptions) deflateParams {
	offer := deflateParams{
		serverNoContextTakeover: opts.ServerNoContextTakeover,
		clientNoContextTakeover: opts.ClientNoContextTakeover,
		clientMaxWindowBits:     -1,
	}
	if bits := opts.windowBits(true); bits < 15 {
		offer.serverMaxWindowBits = bits
	}
	if bits := opts.windowBits(false); bits < 15 {
		offer.clientMaxWindowBits = bits
	}
	return offer
}

// acceptDeflateResponse is the client's check of the server's answer
// (RFC 7692 §5: "If the server's response ... is not valid, the client
// MUST _Fail the WebSocket Connection_"). It returns the agreed settings.
func acceptDeflateResponse(exts []extension, opts *CompressionOptions) (deflateConfig, bool, error) {
	if len(exts) == 0 {
		return deflateConfig{}, false, nil // declined: no compression
	}
	if len(exts) > 1 || exts[0].name != "permessage-deflate" {
		return deflateConfig{}, false, fmt.Errorf("server selected extensions %q, which were not offered", extensionNames(exts))
	}
	resp, err := parseDeflateParams(exts[0].params, false)
	if err != nil {
		return deflateConfig{}, false, fmt.Errorf("server's permessage-deflate response: %v", err)
	}
	offer := deflateOffer(opts)
	if offer.serverNoContextTakeover && !resp.serverNoContextTakeover {
		return deflateConfig{}, false, errors.New("server did not accept server_no_context_takeover")
	}
	serverBits := 15
	if resp.serverMaxWindowBits != 0 {
		if offer.serverMaxWindowBits != 0 && resp.serverMaxWindowBits > offer.serverMaxWindowBits {
			return deflateConfig{}, false, errors.New("server_max_window_bits larger than offered")
		}
		serverBits = resp.serverMaxWindowBits
	} else if offer.serverMaxWindowBits != 0 {
		// §7.1.2.1: a server accepts the parameter by including it.
		return deflateConfig{}, false, errors.New("server did not accept server_max_window_bits")
	}
	// §7.1.2.2: a value offered for client_max_window_bits binds the client
	// whatever the response says; a smaller value in the response binds it
	// further.
	clientBits := opts.windowBits(false)
	if resp.clientMaxWindowBits != 0 {
		clientBits = min(clientBits, resp.clientMaxWindowBits)
	}
	return deflateConfig{
		level:             opts.level(),
		threshold:         opts.Threshold,
		sendWindowBits:    clientBits,
		sendTakeover:      !(resp.clientNoContextTakeover || opts.ClientNoContextTakeover),
		receiveWindowBits: serverBits,
		receiveTakeover:   !resp.serverNoContextTakeover,
	}, true, nil
}

func extensionNames(exts []extension) []string {
	names := make([]string, len(exts))
	for i, e := range exts {
		names[i] = e.name
	}
	return names
}
