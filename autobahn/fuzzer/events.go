package fuzzer

import (
	"encoding/hex"
	"unicode/utf8"
)

// Report encodings of events and the wire log (CASES §2.2).

// shortLimit and shortKeep: payloads longer than 60 bytes are shown by
// their first 64 bytes plus " ..." (CASES §2.2).
const (
	shortLimit = 60
	shortKeep  = 64
)

// displayData renders a payload for reports: text when it is UTF-8,
// otherwise "0x" + hex, shortened for readability.
func displayData(b []byte) string {
	cut := b
	suffix := ""
	if len(b) > shortLimit {
		cut, suffix = b[:min(len(b), shortKeep)], " ..."
	}
	if utf8.Valid(cut) {
		return string(cut) + suffix
	}
	return "0x" + hex.EncodeToString(cut) + suffix
}

// hexString is the plain hex form of b (used for 7.5.1's invalid reason).
func hexString(b []byte) string { return hex.EncodeToString(b) }

// shortHex is the wire-log form of raw octets: hex of at most 64 bytes.
func shortHex(b []byte) string {
	if len(b) > shortKeep {
		return hex.EncodeToString(b[:shortKeep]) + " ..."
	}
	return hex.EncodeToString(b)
}

// reportForm encodes an event as the array form of the reports:
// ["message", data, isBinary], ["pong", data] or ["timeout", tag].
func (e Event) reportForm() []any {
	switch e.Kind {
	case "message":
		return []any{"message", displayData(e.Data), e.Binary}
	case "pong":
		return []any{"pong", displayData(e.Data)}
	}
	return []any{"timeout", e.Tag}
}

func eventsForm(es []Event) []any {
	out := make([]any, 0, len(es))
	for _, e := range es {
		out = append(out, e.reportForm())
	}
	return out
}

// wireLog records the rows of the report's "wirelog" (CASES §2.2). It can
// be switched off while bulk data flows (9.x, 12.x, 13.x).
type wireLog struct {
	rows []any
	on   bool
}

func newWireLog() *wireLog { return &wireLog{on: true, rows: []any{}} }

func (l *wireLog) add(row ...any) {
	if l.on {
		l.rows = append(l.rows, row)
	}
}

// timer records a timer row; these are kept even while the bulk data is
// not logged, as in the original's 9.x reports.
func (l *wireLog) timer(row ...any) { l.rows = append(l.rows, row) }

func (l *wireLog) enable(on bool) { l.on = on }

func (l *wireLog) txOctets(b []byte, sync bool) {
	l.add("TO", []any{len(b), shortHex(b)}, sync)
}

func (l *wireLog) rxOctets(b []byte) { l.add("RO", []any{len(b), shortHex(b)}) }

func maskForm(mask *[4]byte) any {
	if mask == nil {
		return nil
	}
	return hex.EncodeToString(mask[:])
}

func (l *wireLog) txFrame(f SendFrame, payload []byte, mask *[4]byte) {
	data := payload
	var repeat, chop any
	if f.Payload.Repeat > 0 {
		data, repeat = f.Payload.Data, f.Payload.Repeat
	}
	if f.Write.Chop > 0 {
		chop = f.Write.Chop
	}
	l.add("TF", []any{len(data), displayData(data)}, int(f.Opcode), f.Fin, int(f.Rsv), maskForm(mask), repeat, chop, f.Write.Sync)
}

func (l *wireLog) rxFrame(r *reader) {
	n := int(r.length)
	if r.frameDataDropped || r.opcode > 7 {
		n = len(r.frameData)
	}
	var mask *[4]byte
	if r.masked {
		mask = &r.mask
	}
	l.add("RF", []any{n, displayData(r.frameData)}, int(r.opcode), r.fin, int(r.rsv), r.masked, maskForm(mask))
}
