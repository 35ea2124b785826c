package fuzzer

import (
	"fmt"
	"unicode/utf8"
)

// Sections 12 and 13: permessage-deflate (CASES §3.10).

// deflateSizes is table B: message length, close@ seconds and the fuzzer's
// auto-fragment size (applied to the compressed bytes, 0 = off).
var deflateSizes = []struct {
	length, timeout, fragment int
}{
	{16, 60, 0}, {64, 60, 0}, {256, 120, 0}, {1024, 240, 0}, {4096, 480, 0},
	{8192, 480, 0}, {16384, 480, 0}, {32768, 480, 0}, {65536, 480, 0}, {131072, 480, 0},
	{8192, 480, 256}, {16384, 480, 256}, {32768, 480, 256}, {65536, 480, 256}, {131072, 480, 256},
	{131072, 480, 1024}, {131072, 480, 4096}, {131072, 480, 32768},
}

var deflateDatasets = []string{"json_data1", "lena512", "gutenberg_faust", "html_data1", "ooms"}

func deflateCases() []*Case {
	var cs []*Case
	add := func(id, dataset string, params *DeflateParams, row int) {
		sz := deflateSizes[row]
		ds := dataset
		frag := "each message in one frame"
		if sz.fragment > 0 {
			frag = fmt.Sprintf("compressed data split into frames of %d bytes", sz.fragment)
		}
		unit := "bytes"
		if ds == "json_data1" || ds == "html_data1" {
			unit = "code points"
		}
		cs = append(cs, &Case{
			ID: id,
			Description: fmt.Sprintf("permessage-deflate (parameter set %d): send 1000 messages of %d %s taken one after the other from the %s dataset (generated stand-in), %s.",
				params.Set, sz.length, unit, ds, frag),
			Expectation: "Every echo matches the message just sent (type, length, content); then a clean close with 1000.",
			Actions:     []Action{CloseTimer{float64(sz.timeout)}},
			Close:       fuzzerCloses(),
			NoWirelog:   true, ReportTime: true, ReportRatio: true,
			Deflate: params,
			NewDriver: func() Driver {
				return &deflateLoop{dataset: ds, length: sz.length, fragment: sz.fragment, count: 1000}
			},
		})
	}
	for j, ds := range deflateDatasets {
		for i := range deflateSizes {
			add(fmt.Sprintf("12.%d.%d", j+1, i+1), ds, deflateParamSets[0], i)
		}
	}
	for j, params := range deflateParamSets {
		for i := range deflateSizes {
			add(fmt.Sprintf("13.%d.%d", j+1, i+1), "json_data1", params, i)
		}
	}
	return cs
}

// deflateLoop is the echo loop of 12.x/13.x: one compressed message
// outstanding at a time, each echo compared with what was sent.
type deflateLoop struct {
	dataset  string
	length   int
	fragment int
	count    int

	ds            *Dataset
	sent          int
	last          []byte
	unimplemented bool
	done          bool
	failed        string
}

func (d *deflateLoop) Start(s *Session) {
	if !s.DeflateActive() {
		// CASES pitfall 23: no negotiation is UNIMPLEMENTED, not FAILED.
		d.unimplemented = true
		s.Close(1000)
		return
	}
	d.ds = DatasetByName(d.dataset)
	d.send(s)
}

func (d *deflateLoop) send(s *Session) {
	d.sent++
	d.last = d.ds.Window(d.sent, d.length)
	s.SendCompressed(d.last, d.ds.Binary, d.fragment)
}

func (d *deflateLoop) Message(s *Session, data []byte, binary bool) {
	if d.done || d.unimplemented {
		return
	}
	length := len(data)
	if !binary {
		length = utf8.RuneCount(data)
	}
	switch {
	case binary != d.ds.Binary || length != d.length || string(data) != string(d.last):
		d.done = true
		d.failed = fmt.Sprintf("Echo %d differs from the message sent (%s, %d units).", d.sent, kindName(binary), length)
		s.Close(1000)
	case d.sent < d.count:
		d.send(s)
	default:
		d.done = true
		s.Close(1000)
	}
}

func (d *deflateLoop) Verdict(*Session) (string, string) {
	switch {
	case d.unimplemented:
		return Unimplemented, "permessage-deflate was not negotiated."
	case d.failed != "":
		return Failed, d.failed
	case d.done:
		return OK, fmt.Sprintf("All %d compressed echoes matched.", d.count)
	}
	return Failed, fmt.Sprintf("Only %d of %d messages were sent before the case ended (timeout).", d.sent, d.count)
}
