package fuzzer

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// permessage-deflate (RFC 7692) for the cases 12.x and 13.x.

// DeflateOffer is one permessage-deflate offer as the fuzzer sends it in
// the client role (CASES §3.10 table C).
type DeflateOffer struct {
	ServerNoContextTakeover bool
	ServerMaxWindowBits     int // 0 = parameter absent
	ClientNoContextTakeover bool
	ClientMaxWindowBits     bool // advertised without a value
}

// String renders the offer as a Sec-WebSocket-Extensions element.
func (o DeflateOffer) String() string {
	s := "permessage-deflate"
	if o.ClientNoContextTakeover {
		s += "; client_no_context_takeover"
	}
	if o.ClientMaxWindowBits {
		s += "; client_max_window_bits"
	}
	if o.ServerNoContextTakeover {
		s += "; server_no_context_takeover"
	}
	if o.ServerMaxWindowBits != 0 {
		s += fmt.Sprintf("; server_max_window_bits=%d", o.ServerMaxWindowBits)
	}
	return s
}

// acceptRule is how the fuzzer, as server, answers a client's offer.
type acceptRule struct {
	needClientMaxWindowBits bool // decline offers without client_max_window_bits
	clientNoContextTakeover bool // request client_no_context_takeover
	clientMaxWindowBits     int  // request client_max_window_bits=N (0 = no)
}

// DeflateParams is one parameter set of table C: the offers of the client
// role and the accept rules of the server role (tried in order).
type DeflateParams struct {
	Set    int
	Offers []DeflateOffer
	rules  []acceptRule
}

// OfferHeader is the Sec-WebSocket-Extensions value of the client role.
func (p *DeflateParams) OfferHeader() string {
	var parts []string
	for _, o := range p.Offers {
		parts = append(parts, o.String())
	}
	return strings.Join(parts, ", ")
}

var deflateParamSets = func() []*DeflateParams {
	base := DeflateOffer{ClientNoContextTakeover: true, ClientMaxWindowBits: true}
	with := func(snct bool, smwb int) DeflateOffer {
		o := base
		o.ServerNoContextTakeover, o.ServerMaxWindowBits = snct, smwb
		return o
	}
	r1 := acceptRule{}
	r2 := acceptRule{clientNoContextTakeover: true}
	r5 := acceptRule{needClientMaxWindowBits: true, clientNoContextTakeover: true, clientMaxWindowBits: 9}
	return []*DeflateParams{
		{Set: 1, Offers: []DeflateOffer{base}, rules: []acceptRule{r1}},
		{Set: 2, Offers: []DeflateOffer{with(true, 0)}, rules: []acceptRule{r2}},
		{Set: 3, Offers: []DeflateOffer{with(false, 9)}, rules: []acceptRule{{needClientMaxWindowBits: true, clientMaxWindowBits: 9}}},
		{Set: 4, Offers: []DeflateOffer{with(false, 15)}, rules: []acceptRule{{needClientMaxWindowBits: true, clientMaxWindowBits: 15}}},
		{Set: 5, Offers: []DeflateOffer{with(true, 9)}, rules: []acceptRule{r5}},
		{Set: 6, Offers: []DeflateOffer{with(true, 15)}, rules: []acceptRule{{needClientMaxWindowBits: true, clientNoContextTakeover: true, clientMaxWindowBits: 15}}},
		{Set: 7, Offers: []DeflateOffer{with(true, 9), with(true, 0), base}, rules: []acceptRule{r5, r2, r1}},
	}
}()

// extension is one parsed element of a Sec-WebSocket-Extensions header.
type extension struct {
	name   string
	params map[string]string // value "" for parameters without value
	order  []string
}

// parseExtensions splits a Sec-WebSocket-Extensions value (RFC 6455 §9.1).
// Repeated parameters are reported as an error.
func parseExtensions(v string) ([]extension, error) {
	var out []extension
	for _, elem := range strings.Split(v, ",") {
		elem = strings.TrimSpace(elem)
		if elem == "" {
			continue
		}
		parts := strings.Split(elem, ";")
		e := extension{name: strings.TrimSpace(parts[0]), params: map[string]string{}}
		for _, p := range parts[1:] {
			k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			k = strings.TrimSpace(k)
			val = strings.Trim(strings.TrimSpace(val), `"`)
			if _, dup := e.params[k]; dup {
				return nil, fmt.Errorf("parameter %s repeated in %q", k, elem)
			}
			e.params[k] = val
			e.order = append(e.order, k)
		}
		out = append(out, e)
	}
	return out, nil
}

// pmdParams are the validated parameters of one permessage-deflate element.
type pmdParams struct {
	serverNoContext, clientNoContext bool
	serverMaxWindow                  int  // 0 = absent
	clientMaxWindow                  int  // 0 = absent, -1 = without value
	hasClientMaxWindow               bool // present at all
}

// validatePMD checks the parameters of a permessage-deflate element the way
// CASES §3.10 describes: unknown or out-of-range parameters, values on the
// no_context_takeover flags and server_max_window_bits without a value are
// errors. inResponse is true for a server's answer, where
// client_max_window_bits needs a value.
func validatePMD(e extension, inResponse bool) (pmdParams, error) {
	var p pmdParams
	bits := func(v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 8 || n > 15 {
			return 0, fmt.Errorf("window bits %q out of range 8..15", v)
		}
		return n, nil
	}
	for _, k := range e.order {
		v := e.params[k]
		var err error
		switch k {
		case "server_no_context_takeover", "client_no_context_takeover":
			if v != "" {
				return p, fmt.Errorf("%s takes no value", k)
			}
			if k == "server_no_context_takeover" {
				p.serverNoContext = true
			} else {
				p.clientNoContext = true
			}
		case "server_max_window_bits":
			if p.serverMaxWindow, err = bits(v); err != nil {
				return p, err
			}
		case "client_max_window_bits":
			p.hasClientMaxWindow = true
			if v == "" && !inResponse {
				p.clientMaxWindow = -1
			} else if p.clientMaxWindow, err = bits(v); err != nil {
				return p, err
			}
		default:
			return p, fmt.Errorf("unknown permessage-deflate parameter %q", k)
		}
	}
	return p, nil
}

// deflateState holds the negotiated parameters and the compression
// contexts of one connection.
type deflateState struct {
	response string // the agreed extension as the server states it

	sendNoContext  bool // reset the compressor before every message
	sendWindowBits int  // the peer's limit for what we send (15 = none)
	recvNoContext  bool // the peer resets its compressor: so do we

	w    *flate.Writer
	wbuf bytes.Buffer
	r    io.ReadCloser
	hist []byte // last 32 KiB of inflated data, the dictionary of the next message

	// traffic counters for the report's trafficStats
	inWire, inApp, outWire, outApp int64
}

// clientDeflate applies a server's response in the client role. The
// client's own sending direction is limited by client_* parameters.
func clientDeflate(e extension) (*deflateState, error) {
	p, err := validatePMD(e, true)
	if err != nil {
		return nil, err
	}
	d := &deflateState{sendNoContext: p.clientNoContext, recvNoContext: p.serverNoContext, sendWindowBits: 15}
	if p.clientMaxWindow > 0 {
		d.sendWindowBits = p.clientMaxWindow
	}
	d.response = renderResponse(p)
	return d, nil
}

// serverDeflate picks an offer by the case's rules in the server role and
// returns the state plus the response header value; nil when declined.
func serverDeflate(params *DeflateParams, offers []extension) (*deflateState, error) {
	var pmds []pmdParams
	for _, e := range offers {
		if e.name != "permessage-deflate" {
			continue
		}
		p, err := validatePMD(e, false)
		if err != nil {
			return nil, err
		}
		pmds = append(pmds, p)
	}
	for _, rule := range params.rules {
		for _, offer := range pmds {
			if rule.needClientMaxWindowBits && !offer.hasClientMaxWindow {
				continue
			}
			resp := pmdParams{serverNoContext: offer.serverNoContext, serverMaxWindow: offer.serverMaxWindow,
				clientNoContext: rule.clientNoContextTakeover, clientMaxWindow: rule.clientMaxWindowBits}
			d := &deflateState{sendNoContext: offer.serverNoContext, recvNoContext: rule.clientNoContextTakeover, sendWindowBits: 15}
			if offer.serverMaxWindow > 0 {
				d.sendWindowBits = offer.serverMaxWindow
			}
			d.response = renderResponse(resp)
			return d, nil
		}
	}
	return nil, nil
}

func renderResponse(p pmdParams) string {
	s := "permessage-deflate"
	if p.serverNoContext {
		s += "; server_no_context_takeover"
	}
	if p.serverMaxWindow > 0 {
		s += fmt.Sprintf("; server_max_window_bits=%d", p.serverMaxWindow)
	}
	if p.clientNoContext {
		s += "; client_no_context_takeover"
	}
	if p.clientMaxWindow > 0 {
		s += fmt.Sprintf("; client_max_window_bits=%d", p.clientMaxWindow)
	}
	return s
}

// deflateTail is what a sync flush ends with; RFC 7692 §7.2.1 strips it.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// compress deflates one whole message.
func (d *deflateState) compress(msg []byte) []byte {
	if d.w == nil || d.sendNoContext {
		d.wbuf.Reset()
		// The original uses zlib's default level. Any valid DEFLATE stream
		// must be accepted by the testee, so the level cannot change a
		// verdict; BestSpeed keeps the 128 KiB × 1000 cases fast.
		level := flate.BestSpeed
		if d.sendWindowBits < 15 {
			// compress/flate always uses a 32 KiB window. When the peer
			// limited our window (max_window_bits < 15), Huffman-only
			// coding emits no back-references at all, which is valid for
			// any window size (CASES pitfall 28).
			level = flate.HuffmanOnly
		}
		if d.w == nil {
			d.w, _ = flate.NewWriter(&d.wbuf, level)
		} else {
			d.w.Reset(&d.wbuf)
		}
	}
	d.wbuf.Reset()
	d.w.Write(msg)
	d.w.Flush()
	out := bytes.Clone(bytes.TrimSuffix(d.wbuf.Bytes(), deflateTail))
	d.outApp += int64(len(msg))
	d.outWire += int64(len(out))
	return out
}

// decompress inflates one whole message (RFC 7692 §7.2.2): the stripped
// tail is appended back, plus an empty final stored block so the reader
// ends cleanly. Context takeover is emulated by passing the last 32 KiB
// of output as the dictionary, which is exactly the window the peer's
// compressor may refer to.
func (d *deflateState) decompress(msg []byte) ([]byte, error) {
	in := io.MultiReader(bytes.NewReader(msg), bytes.NewReader([]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}))
	if d.recvNoContext {
		d.hist = nil
	}
	if d.r == nil {
		d.r = flate.NewReaderDict(in, d.hist)
	} else {
		d.r.(flate.Resetter).Reset(in, d.hist)
	}
	out, err := io.ReadAll(d.r)
	if err != nil {
		return nil, err
	}
	if !d.recvNoContext {
		d.hist = append(d.hist, out...)
		if len(d.hist) > 32768 {
			d.hist = bytes.Clone(d.hist[len(d.hist)-32768:])
		}
	}
	d.inWire += int64(len(msg))
	d.inApp += int64(len(out))
	return out, nil
}
