package main

// The table: one row per figure, each server's value (the median of its
// runs), ours ÷ the best peer, the target and whether ours meets it, the
// lowest and highest of ours's runs, and the errors of each server's runs.

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

type target struct {
	text     string
	ratioMax float64  // ours ÷ best peer at most this (0: no ratio target)
	absMax   float64  // ours at most this (0: none)
	of       []string // the ratio is against these peers only (all must be beaten)
	change   bool     // the row is a change in percent; absMax applies to it
	info     bool     // context only: no ratio (higher is not worse)
}

type row struct {
	label string
	vals  map[string]float64   // servers with a value: the median of their runs
	runs  map[string][]float64 // the values of each run, for the range
	cells map[string]string    // servers without one: "n/a", "FAIL"
	errs  map[string]int
	tgt   target
}

func printTable(w io.Writer, o options, points []point, runs map[string]map[string][]*run) {
	var rows []row
	var notes []string
	for _, p := range points {
		mk := func(label string, tgt target, f func(x *result) float64) row {
			return makeRow(o.servers, runs[p.key], label, tgt, f)
		}
		size := p.sizeLabel()
		ratio1 := target{text: "≤1.0× best", ratioMax: 1}
		switch p.scenario {
		case "idle":
			switch {
			case p.deflate:
				rows = append(rows, mk("idle "+size+", deflate+takeover: KiB/conn", target{text: "≤0.5× coder, gws", ratioMax: 0.5, of: []string{"coder", "gws"}},
					func(x *result) float64 { return x.KiBPerConn }))
			case p.asked >= 100000 || p.n >= 100000:
				rows = append(rows, mk("idle "+size+": KiB/conn", target{text: "≤1.0× best, ≤6 KiB", ratioMax: 1, absMax: 6},
					func(x *result) float64 { return x.KiBPerConn }))
			default:
				rows = append(rows, mk("idle "+size+": KiB/conn", ratio1, func(x *result) float64 { return x.KiBPerConn }))
			}
		case "broadcast":
			name := "broadcast " + size
			if p.slowEach == 0 {
				rows = append(rows,
					mk(name+": p50 latency ms", ratio1, func(x *result) float64 { return x.P50ms }),
					mk(name+": p99 latency ms", ratio1, func(x *result) float64 { return x.P99ms }),
					mk(name+": max latency ms", ratio1, func(x *result) float64 { return x.MaxMs }),
					mk(name+": server µs/delivery", ratio1, func(x *result) float64 { return x.CPUusPerMsg }),
					mk(name+": messages sent (more is better)", target{info: true}, func(x *result) float64 { return float64(x.Sent) }))
				break
			}
			name += fmt.Sprintf(", 1 slow in %d", p.slowEach)
			rows = append(rows,
				mk(name+": others' p99 ms", target{}, func(x *result) float64 { return x.P99ms }),
				mk(name+": slow clients dropped", target{info: true}, func(x *result) float64 { return float64(x.SlowClosed) }))
			normal, ok := runs[strings.TrimSuffix(p.key, "-slow")]
			if !ok {
				break
			}
			rw := mk(name+": p99 change vs normal %", target{text: "≤+10%", absMax: 10, change: true},
				func(x *result) float64 { return x.P99ms })
			// The change of the medians: each run's own change would
			// pair runs that have nothing to do with each other.
			base := makeRow(o.servers, normal, "", target{}, func(x *result) float64 { return x.P99ms })
			for s, v := range rw.vals {
				b, ok := base.vals[s]
				if !ok || b <= 0 {
					delete(rw.vals, s)
					rw.cells[s] = "-"
					continue
				}
				rw.vals[s] = (v/b - 1) * 100
				rw.errs[s] += base.errs[s]
			}
			rw.runs = nil // a range of changes would need pairs of runs
			rows = append(rows, rw)
		case "storm":
			rows = append(rows,
				mk("storm "+size+": s until all open+echoed", ratio1, func(x *result) float64 { return x.AllOpenSec }),
				mk("storm "+size+": server peak RSS MiB", ratio1, func(x *result) float64 { return float64(x.HWMKiB) / 1024 }))
		case "active":
			rows = append(rows,
				mk("active "+size+": server µs/msg", ratio1, func(x *result) float64 { return x.CPUusPerMsg }),
				mk("active "+size+": p99 round trip ms", ratio1, func(x *result) float64 { return x.RTTp99ms }))
		}
		for _, s := range o.servers {
			naNoted := false // the same reason every run: noted once
			for i, r := range runs[p.key][s] {
				at := fmt.Sprintf("%s %s (run %d)", p.key, s, i+1)
				switch {
				case r.Failure != "":
					notes = append(notes, fmt.Sprintf("%s: FAIL: %s", at, r.Failure))
				case r.Res.NA != "" && !naNoted:
					notes = append(notes, fmt.Sprintf("%s %s: n/a: %s", p.key, s, r.Res.NA))
					naNoted = true
				}
				if r.Res.Errors > 0 {
					notes = append(notes, fmt.Sprintf("%s: %d errors %v, e.g. %q", at, r.Res.Errors, r.Res.ErrKinds, r.Res.ErrSample))
				}
				if r.Failure == "" && r.Res.NA == "" && r.Res.Open < p.n {
					notes = append(notes, fmt.Sprintf("%s: only %d of %d connections opened", at, r.Res.Open, p.n))
				}
			}
		}
		if p.asked > p.n {
			notes = append(notes, fmt.Sprintf("%s: %d connections asked, %d run: the open-file limit allows no more per process", p.key, p.asked, p.n))
		}
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.Debug)
	hdr := append([]string{"figure (lower is better)"}, o.servers...)
	hdr = append(hdr, "ours÷best peer", "target", "ours", "ours range", "errors "+strings.Join(initials(o.servers), "/"))
	fmt.Fprintln(tw, strings.Join(hdr, "\t")+"\t")
	for _, rw := range rows {
		cells := []string{rw.label}
		for _, s := range o.servers {
			c, ok := rw.cells[s]
			if !ok {
				c = num(rw.vals[s], rw.tgt.change)
			}
			if rw.errs[s] > 0 {
				c += "!"
			}
			cells = append(cells, c)
		}
		ratio, verdict := judge(rw)
		cells = append(cells, ratio, orDash(rw.tgt.text), verdict, spread(rw.runs["ours"], rw.tgt.change))
		var es []string
		for _, s := range o.servers {
			es = append(es, fmt.Sprint(rw.errs[s]))
		}
		cells = append(cells, strings.Join(es, "/"))
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()
	fmt.Fprintln(w, "\n! = that server's runs had errors (their sum is in the last column, in server order)")
	for _, n := range notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// makeRow makes the row of figure f for servers, over their runs in
// byServer: each server's value is the median of its runs.
func makeRow(servers []string, byServer map[string][]*run, label string, tgt target, f func(x *result) float64) row {
	rw := row{label: label, vals: map[string]float64{}, runs: map[string][]float64{}, cells: map[string]string{}, errs: map[string]int{}, tgt: tgt}
	for _, s := range servers {
		cell, vs := "", []float64(nil)
		for _, r := range byServer[s] {
			rw.errs[s] += r.errors()
			switch {
			case r.Failure != "":
				cell = "FAIL"
			case r.Res.NA != "":
				cell = cmp.Or(cell, "n/a")
			default:
				if v := f(&r.Res); v >= 0 && !math.IsNaN(v) {
					vs = append(vs, v)
				} else {
					cell = cmp.Or(cell, "-")
				}
			}
		}
		if cell != "" {
			rw.cells[s] = cell
		} else {
			rw.vals[s], rw.runs[s] = median(vs), vs
		}
	}
	return rw
}

// judge returns the ratio cell and whether ours meets the target.
func judge(rw row) (ratioCell, verdict string) {
	ours, ok := rw.vals["ours"]
	if rw.tgt.info {
		return "-", "-"
	}
	if rw.tgt.change {
		if !ok {
			return "-", "?"
		}
		return "-", metText(ours <= rw.tgt.absMax)
	}
	peers := rw.tgt.of
	if peers == nil {
		for s := range rw.vals {
			if !strings.HasPrefix(s, "ours") {
				peers = append(peers, s)
			}
		}
	}
	best, bestName := math.Inf(1), ""
	slices.Sort(peers)
	for _, s := range peers {
		if v, ok := rw.vals[s]; ok && v < best {
			best, bestName = v, s
		}
	}
	if !ok || bestName == "" {
		return "-", orQ(rw.tgt.text)
	}
	r := ours / best
	ratioCell = fmt.Sprintf("%.2f× %s", r, bestName)
	if best == 0 {
		ratioCell = "- (best 0)"
	}
	if rw.tgt.text == "" {
		return ratioCell, "-"
	}
	met := true
	if rw.tgt.ratioMax > 0 {
		met = met && ours <= rw.tgt.ratioMax*best
	}
	if rw.tgt.absMax > 0 {
		met = met && ours <= rw.tgt.absMax
	}
	return ratioCell, metText(met)
}

// median is the middle value of vs, or the mean of the two middle ones;
// vs is never empty (a server with no run has no value, the caller says
// why in its cell).
func median(vs []float64) float64 {
	s := slices.Sorted(slices.Values(vs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// spread is the range cell: the lowest and highest of the runs, when
// there is more than one.
func spread(vs []float64, signed bool) string {
	if len(vs) < 2 {
		return "-"
	}
	return num(slices.Min(vs), signed) + "–" + num(slices.Max(vs), signed)
}

func metText(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orQ(s string) string {
	if s == "" {
		return "-"
	}
	return "?"
}

func num(v float64, signed bool) string {
	a := math.Abs(v)
	var s string
	switch {
	case a >= 100:
		s = fmt.Sprintf("%.0f", v)
	case a >= 10:
		s = fmt.Sprintf("%.1f", v)
	default:
		s = fmt.Sprintf("%.2f", v)
	}
	if signed && v >= 0 {
		s = "+" + s
	}
	return s
}

func initials(servers []string) []string {
	m := map[string]string{"ours": "o", "ours-http": "h", "gorilla": "g", "coder": "c", "gobwas": "b", "gws": "w"}
	var out []string
	for _, s := range servers {
		if i, ok := m[s]; ok {
			out = append(out, i)
		} else {
			out = append(out, s)
		}
	}
	return out
}
