package fuzzer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestCatalogueCounts(t *testing.T) {
	want := map[string]int{"1": 16, "2": 11, "3": 7, "4": 10, "5": 20, "6": 145, "7": 37, "9": 54, "10": 1, "12": 90, "13": 126}
	got := map[string]int{}
	for _, c := range All() {
		got[c.Section()]++
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cases per section = %v, want %v", got, want)
	}
	if n := len(All()); n != 517 {
		t.Errorf("len(All()) = %d, want 517", n)
	}
	first, last := All()[0], All()[516]
	if first.ID != "1.1.1" || last.ID != "13.7.18" {
		t.Errorf("first/last = %s/%s", first.ID, last.ID)
	}
	for i, c := range All() {
		if c.Index != i+1 || c.Description == "" || c.Expectation == "" {
			t.Errorf("case %s: index %d, description %q, expectation %q", c.ID, c.Index, c.Description, c.Expectation)
		}
	}
}

// casesJSONPath is the machine-readable description of the original cases
// (CASES.md §6); the cross-check is skipped when it is not there.
func casesJSONPath() string {
	if p := os.Getenv("AUTOBAHN_CASES_JSON"); p != "" {
		return p
	}
	return "../../../shared/conformance/cases.json"
}

type jsonPayload struct {
	Hex        *string `json:"hex"`
	PatternHex *string `json:"pattern_hex"`
	Length     int     `json:"length"`
	SHA1       *string `json:"sha1"`
}

func (p *jsonPayload) bytes() []byte {
	switch {
	case p == nil:
		return nil
	case p.Hex != nil:
		b, _ := hex.DecodeString(*p.Hex)
		return b
	case p.PatternHex != nil:
		pat, _ := hex.DecodeString(*p.PatternHex)
		if p.Length == 0 {
			return []byte{}
		}
		return bytes.Repeat(pat, p.Length/len(pat)+1)[:p.Length]
	}
	return nil
}

type jsonAction struct {
	Action  string       `json:"action"`
	Opcode  int          `json:"opcode"`
	Fin     bool         `json:"fin"`
	Rsv     int          `json:"rsv"`
	Payload *jsonPayload `json:"payload"`
	Data    *jsonPayload `json:"data"`
	Reason  *jsonPayload `json:"reason"`
	Code    *int         `json:"code"`
	Write   *struct {
		Sync     bool `json:"sync"`
		Chopsize int  `json:"chopsize"`
	} `json:"write"`
	Binary         bool    `json:"binary"`
	FragmentSize   int     `json:"fragment_size"`
	DeclaredLength int     `json:"declared_length"`
	Seconds        float64 `json:"seconds"`
	Tag            *string `json:"tag"`
	Compressed     bool    `json:"compressed"`
}

type jsonEvent struct {
	Type    string       `json:"type"`
	Payload *jsonPayload `json:"payload"`
	Binary  bool         `json:"binary"`
	Tag     string       `json:"tag"`
}

type jsonCase struct {
	ID      string       `json:"id"`
	Index   int          `json:"index"`
	Sends   []jsonAction `json:"sends"`
	Expects struct {
		Judge  string                 `json:"judge"`
		Events map[string][]jsonEvent `json:"events"`
		Close  struct {
			CloseCode  []int `json:"closeCode"`
			ClosedByMe bool  `json:"closedByMe"`
			Clean      bool  `json:"requireClean"`
			Fatal      bool  `json:"closedByWrongEndpointIsFatal"`
		} `json:"close"`
		WrongCode bool `json:"wrongCodeFailsCase"`
		AutoClose bool `json:"autoCloseWhenMatched"`
	} `json:"expects"`
	Params map[string]any `json:"params"`
	Report struct {
		Time  bool `json:"reportTime"`
		Ratio bool `json:"reportCompressionRatio"`
	} `json:"report"`
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return fmt.Sprintf("%d:%x", len(b), s[:6])
}

// describeJSON renders a cases.json action in the same form as describe.
func describeJSON(a jsonAction) string {
	switch a.Action {
	case "frame":
		mode := ""
		if a.Write != nil {
			mode = fmt.Sprintf(" sync=%v chop=%d", a.Write.Sync, a.Write.Chopsize)
		}
		return fmt.Sprintf("frame op=%d fin=%v rsv=%d %s%s", a.Opcode, a.Fin, a.Rsv, digest(a.Payload.bytes()), mode)
	case "message":
		return fmt.Sprintf("message bin=%v frag=%d %s", a.Binary, a.FragmentSize, digest(a.Payload.bytes()))
	case "close":
		code := -1
		if a.Code != nil {
			code = *a.Code
		}
		return fmt.Sprintf("close code=%d reason=%s", code, digest(a.Reason.bytes()))
	case "frame_header_only":
		return fmt.Sprintf("header op=%d fin=%v len=%d", a.Opcode, a.Fin, a.DeclaredLength)
	case "frame_payload_chunk":
		return "chunk " + digest(a.Data.bytes())
	case "wait":
		tag := ""
		if a.Tag != nil {
			tag = *a.Tag
		}
		return fmt.Sprintf("wait %g %s", a.Seconds, tag)
	case "timer_fail":
		return fmt.Sprintf("fail@%g", a.Seconds)
	case "timer_close":
		return fmt.Sprintf("close@%g", a.Seconds)
	}
	return "?" + a.Action
}

// describe renders one of our actions for the comparison.
func describe(a Action) string {
	switch a := a.(type) {
	case SendFrame:
		mode := ""
		if a.Write != (WriteMode{}) {
			mode = fmt.Sprintf(" sync=%v chop=%d", a.Write.Sync, a.Write.Chop)
		}
		return fmt.Sprintf("frame op=%d fin=%v rsv=%d %s%s", a.Opcode, a.Fin, a.Rsv, digest(a.Payload.Bytes()), mode)
	case SendMessage:
		return fmt.Sprintf("message bin=%v frag=%d %s", a.Binary, a.FragmentSize, digest(a.Payload.Bytes()))
	case SendClose:
		code := -1
		if a.HasCode {
			code = a.Code
		}
		return fmt.Sprintf("close code=%d reason=%s", code, digest(a.Reason))
	case SendHeader:
		return fmt.Sprintf("header op=%d fin=%v len=%d", a.Opcode, a.Fin, a.Length)
	case SendChunk:
		return "chunk " + digest(a.Data)
	case Wait:
		return fmt.Sprintf("wait %g %s", a.Seconds, a.Tag)
	case FailTimer:
		return fmt.Sprintf("fail@%g", a.Seconds)
	case CloseTimer:
		return fmt.Sprintf("close@%g", a.Seconds)
	}
	return "?"
}

// TestCatalogueMatchesCasesJSON compares every case with the project's
// machine-readable description of the original: what is sent (bytes,
// flags, write mode, timers), what is expected and how the close is judged.
func TestCatalogueMatchesCasesJSON(t *testing.T) {
	data, err := os.ReadFile(casesJSONPath())
	if err != nil {
		t.Skipf("cases.json not available: %v", err)
	}
	var doc struct {
		Cases []jsonCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cases) != len(All()) {
		t.Fatalf("cases.json has %d cases, catalogue %d", len(doc.Cases), len(All()))
	}
	for i, jc := range doc.Cases {
		c := All()[i]
		if c.ID != jc.ID || c.Index != jc.Index {
			t.Errorf("position %d: catalogue %s (%d), cases.json %s (%d)", i, c.ID, c.Index, jc.ID, jc.Index)
			continue
		}
		var want, got []string
		for _, a := range jc.Sends {
			// Frames and messages of driver cases are sent by the driver.
			if c.NewDriver != nil && (a.Action == "frame" || a.Action == "message") && (c.Section() != "9" || strings.HasPrefix(c.ID, "9.7") || strings.HasPrefix(c.ID, "9.8")) {
				continue
			}
			want = append(want, describeJSON(a))
		}
		for _, a := range c.Actions {
			got = append(got, describe(a))
		}
		if c.AutoFragment > 0 {
			// 10.1.1: cases.json records the fragment size on the message.
			got[0] = strings.Replace(got[0], "frag=0", fmt.Sprintf("frag=%d", c.AutoFragment), 1)
		}
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			t.Errorf("%s sends:\n got  %s\n want %s", c.ID, strings.Join(got, "\n      "), strings.Join(want, "\n      "))
		}

		e := jc.Expects
		close := ExpectedClose{ClosedByMe: e.Close.ClosedByMe, Codes: e.Close.CloseCode, Clean: e.Close.Clean, WrongCloserFatal: e.Close.Fatal}
		if !reflect.DeepEqual(close, c.Close) {
			t.Errorf("%s close: got %+v, want %+v", c.ID, c.Close, close)
		}
		if e.WrongCode != c.WrongCodeFails || (e.Judge == "informational") != c.Informational {
			t.Errorf("%s: wrongCodeFails %v/%v informational %v/%v", c.ID, c.WrongCodeFails, e.WrongCode, c.Informational, e.Judge)
		}
		autoClose := c.Close.ClosedByMe && !c.SuppressClose && len(c.Expected) == 1 && len(c.Expected[0].Events) > 0
		if autoClose != e.AutoClose {
			t.Errorf("%s: auto close %v, want %v", c.ID, autoClose, e.AutoClose)
		}
		if c.ReportTime != jc.Report.Time || c.ReportRatio != jc.Report.Ratio {
			t.Errorf("%s: report flags differ", c.ID)
		}
		if e.Judge != "events" && e.Judge != "informational" {
			continue
		}
		wantEv := map[string][]string{}
		for name, evs := range e.Events {
			wantEv[name] = []string{}
			for _, ev := range evs {
				wantEv[name] = append(wantEv[name], fmt.Sprintf("%s %v %s %s", ev.Type, ev.Binary, ev.Tag, digest(ev.Payload.bytes())))
			}
		}
		gotEv := map[string][]string{}
		for _, o := range c.Expected {
			gotEv[o.Name] = []string{}
			for _, ev := range o.Events {
				data := ev.Data
				if ev.Kind == "timeout" {
					data = nil
				}
				gotEv[o.Name] = append(gotEv[o.Name], fmt.Sprintf("%s %v %s %s", ev.Kind, ev.Binary, ev.Tag, digest(data)))
			}
		}
		if !reflect.DeepEqual(wantEv, gotEv) {
			t.Errorf("%s expected events:\n got  %v\n want %v", c.ID, gotEv, wantEv)
		}
	}
}

func TestDeflateCatalogueMatchesCasesJSON(t *testing.T) {
	data, err := os.ReadFile(casesJSONPath())
	if err != nil {
		t.Skipf("cases.json not available: %v", err)
	}
	var doc struct {
		Cases []jsonCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for i, jc := range doc.Cases {
		c := All()[i]
		if c.Deflate == nil {
			continue
		}
		if got, want := c.Deflate.OfferHeader(), jc.Params["client_offer_header"]; got != want {
			t.Errorf("%s offer %q, want %q", c.ID, got, want)
		}
		d := c.NewDriver().(*deflateLoop)
		if float64(d.length) != jc.Params["message_len"] || float64(d.fragment) != jc.Params["auto_fragment_size"] || d.dataset != jc.Params["dataset"] {
			t.Errorf("%s: driver %+v, params %v", c.ID, d, jc.Params)
		}
	}
}
