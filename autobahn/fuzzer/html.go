package fuzzer

import (
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"sort"
	"strings"
)

// Human-readable reports: index.html with per-section totals and a row per
// case, and one details page per case. Plain html/template, no external
// assets.

// pageStyle is shared by both pages. Descriptions of 6.x carry invalid
// UTF-8 payloads as hex strings of up to 126 characters without a space:
// the index's description cells may break anywhere (overflow-wrap), or the
// case table runs past a 1280-px window (1388 px wide for sections 1 and 6).
const pageStyle = `<style>
body{font-family:sans-serif;font-size:14px;margin:1.5em}
table{border-collapse:collapse;margin-bottom:1.5em}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#eee}
.OK{background:#8d8}.NON-STRICT{background:#ee8}.INFORMATIONAL{background:#9cf}
.UNIMPLEMENTED{background:#ccc}.FAILED,.UNCLEAN,.WRONG-CODE,.FAILED-BY-CLIENT{background:#e88}
pre{margin:0;white-space:pre-wrap;word-break:break-all}
td.n{text-align:right;font-variant-numeric:tabular-nums}td.z{color:#bbb}
td.id{white-space:nowrap}tr.total td{font-weight:bold;border-top:2px solid #888}
td.text{overflow-wrap:anywhere}
.verdict{display:inline-block;padding:4px 12px;font-weight:bold;font-size:16px}
.note{color:#555}
</style>`

// verdictClass turns a verdict into a CSS class name.
func verdictClass(v string) string {
	out := []byte(v)
	for i, c := range out {
		if c == ' ' {
			out[i] = '-'
		}
	}
	return string(out)
}

var funcs = template.FuncMap{"cls": verdictClass}

var indexTmpl = template.Must(template.New("index").Funcs(funcs).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>WebSocket conformance report</title>` + pageStyle + `</head><body>
<h1>WebSocket conformance report</h1>
<p class="note">Produced by the Go rebuild of the Autobahn|Testsuite fuzzer. A case passes when behavior is OK
(INFORMATIONAL only for 7.1.6, 7.13.1, 7.13.2) and behaviorClose is OK or INFORMATIONAL.
Sections 12/13 use generated stand-in datasets.</p>
{{define "num"}}<td class="n{{if eq . 0}} z{{end}}">{{.}}</td>{{end}}
{{define "sectionRow"}}<td class="n{{if eq .Failed 0}} z{{end}}">{{.Failed}}</td><td class="n {{if eq .Pass .Cases}}OK{{else}}FAILED{{end}}">{{.Pass}}</td>{{end}}
{{range .Agents}}
<h2>{{.Name}}</h2>
<p><span class="verdict {{if eq .Total.Pass .Total.Cases}}OK{{else}}FAILED{{end}}">{{.Total.Pass}} of {{.Total.Cases}} cases pass</span></p>
<table><tr><th>section</th><th>cases</th><th>OK</th><th>NON-STRICT</th><th>INFORMATIONAL</th><th>UNIMPLEMENTED</th><th>FAILED</th><th>pass</th></tr>
{{range .Sections}}<tr><td><a href="#{{.First}}">{{.Section}}</a></td>{{template "num" .Cases}}{{template "num" .OK}}{{template "num" .NonStrict}}{{template "num" .Informational}}{{template "num" .Unimplemented}}{{template "sectionRow" .SectionRow}}</tr>
{{end}}{{with .Total}}<tr class="total"><td>total</td>{{template "num" .Cases}}{{template "num" .OK}}{{template "num" .NonStrict}}{{template "num" .Informational}}{{template "num" .Unimplemented}}{{template "sectionRow" .}}</tr>{{end}}
</table>
<table><tr><th>case</th><th>behavior</th><th>behaviorClose</th><th>close code</th><th>ms</th><th>description</th></tr>
{{range .Rows}}<tr id="{{.ID}}"><td class="id"><a href="{{.HTML}}">{{.ID}}</a> <a href="{{.JSON}}">json</a></td><td class="{{cls .Behavior}}">{{.Behavior}}</td><td class="{{cls .BehaviorClose}}">{{.BehaviorClose}}</td><td class="n">{{.Code}}</td><td class="n">{{.Ms}}</td><td class="text">{{.Description}}</td></tr>
{{end}}</table>
{{end}}
</body></html>`))

var caseTmpl = template.Must(template.New("case").Funcs(funcs).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Case {{.R.Case.ID}}</title>` + pageStyle + `</head><body>
<p><a href="index.html">back to the index</a> · <a href="{{.JSON}}">this case as JSON</a></p>
<h1>Case {{.R.Case.ID}} — {{.R.Agent}}</h1>
<table>
<tr><th>description</th><td>{{.R.Case.Description}}</td></tr>
<tr><th>expectation</th><td>{{.R.Case.Expectation}}</td></tr>
<tr><th>behavior</th><td class="{{cls .R.Behavior}}">{{.R.Behavior}} — {{.R.Text}}</td></tr>
<tr><th>behaviorClose</th><td class="{{cls .R.BehaviorClose}}">{{.R.BehaviorClose}} — {{.R.TextClose}}</td></tr>
<tr><th>duration</th><td>{{.Ms}} ms (started {{.Started}})</td></tr>
</table>
<h2>Events</h2>
<table><tr><th>expected</th><td><pre>{{.Expected}}</pre></td></tr>
<tr><th>received</th><td><pre>{{.Received}}</pre></td></tr></table>
<h2>Close</h2>
<table>{{range .Close}}<tr><th>{{.K}}</th><td>{{.V}}</td></tr>{{end}}</table>
<h2>Opening handshake</h2>
<table><tr><th>request</th><td><pre>{{.R.HTTPRequest}}</pre></td></tr><tr><th>response</th><td><pre>{{.R.HTTPResponse}}</pre></td></tr></table>
<h2>Wire log</h2>
<p class="note">TO/RO: octets written/read; TF/RF: frames written/read (payload, opcode, fin, rsv, mask…);
KL/KLE fail timer armed/fired; TI/TIE close timer armed/fired; CT/CTE delayed step armed/run.</p>
<table>{{range .Wire}}<tr><td>{{index . 0}}</td><td><pre>{{index . 1}}</pre></td></tr>{{end}}</table>
</body></html>`))

type indexRow struct {
	ID, HTML, JSON, Behavior, BehaviorClose, Code, Description string
	Ms                                                         int64
}

// sectionLink is a summary row with the id of the section's first case,
// so the section name can link to its rows.
type sectionLink struct {
	SectionRow
	First string
}

type agentPage struct {
	Name     string
	Sections []sectionLink
	Total    SectionRow // sums over the sections, for the total row and the headline
	Rows     []indexRow
}

func writeIndexHTML(path string, results map[string][]*Result) error {
	var agents []agentPage
	for name, rs := range results {
		entries := map[string]IndexEntry{}
		page := agentPage{Name: name}
		for _, r := range rs {
			base := ReportFileBase(name, r.Case.ID)
			code := ""
			if r.Conn.RemoteCloseCode != nil {
				code = fmt.Sprint(*r.Conn.RemoteCloseCode)
			}
			page.Rows = append(page.Rows, indexRow{ID: r.Case.ID, HTML: base + ".html", JSON: base + ".json",
				Behavior: r.Behavior, BehaviorClose: r.BehaviorClose, Code: code,
				Description: r.Case.Description, Ms: durationMS(r)})
			entries[r.Case.ID] = IndexEntry{Behavior: r.Behavior, BehaviorClose: r.BehaviorClose}
		}
		sort.Slice(page.Rows, func(i, j int) bool { return CompareIDs(page.Rows[i].ID, page.Rows[j].ID) < 0 })
		for _, sec := range Summarize(entries) {
			first := ""
			for _, row := range page.Rows { // sorted: the first match is the section's first case
				if row.ID == sec.Section || strings.HasPrefix(row.ID, sec.Section+".") {
					first = row.ID
					break
				}
			}
			page.Sections = append(page.Sections, sectionLink{SectionRow: sec, First: first})
			t := &page.Total
			t.Cases += sec.Cases
			t.OK += sec.OK
			t.NonStrict += sec.NonStrict
			t.Informational += sec.Informational
			t.Unimplemented += sec.Unimplemented
			t.Failed += sec.Failed
			t.Pass += sec.Pass
		}
		agents = append(agents, page)
	}
	sort.Slice(agents, func(i, j int) bool { return agents[i].Name < agents[j].Name })
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return indexTmpl.Execute(f, map[string]any{"Agents": agents})
}

type kv struct{ K, V string }

func writeCaseHTML(path string, r *Result) error {
	show := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	lines := func(v []any) string {
		s := ""
		for _, e := range v {
			s += show(e) + "\n"
		}
		if s == "" {
			s = "(nothing)"
		}
		return s
	}
	var expected string
	for _, o := range r.Case.Expected {
		expected += o.Name + ":\n" + lines(eventsForm(o.Events))
	}
	if expected == "" {
		expected = "(judged by the case's own echo check, see behavior)"
	}
	c := r.Conn
	closeRows := []kv{
		{"expected", show(expectedCloseForm(r.Case))},
		{"closedByMe", show(c.ClosedByMe)}, {"failedByMe", show(c.FailedByMe)},
		{"droppedByMe", show(c.DroppedByMe)}, {"wasClean", show(c.WasClean)},
		{"wasNotCleanReason", show(c.WasNotCleanReason)},
		{"wasCloseHandshakeTimeout", show(c.WasCloseHandshakeTimeout)},
		{"wasServerConnectionDropTimeout", show(c.WasServerConnectionDropTimeout)},
		{"localCloseCode / reason", show(c.LocalCloseCode) + " " + show(c.LocalCloseReason)},
		{"remoteCloseCode / reason", show(c.RemoteCloseCode) + " " + show(c.RemoteCloseReason)},
	}
	var wire [][2]string
	for _, row := range r.Wirelog {
		cols := row.([]any)
		wire = append(wire, [2]string{fmt.Sprint(cols[0]), show(cols[1:])})
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	base := ReportFileBase(r.Agent, r.Case.ID)
	return caseTmpl.Execute(f, map[string]any{
		"R": r, "JSON": base + ".json", "Ms": durationMS(r),
		"Started":  r.Started.UTC().Format("2006-01-02T15:04:05.000Z"),
		"Expected": expected, "Received": lines(eventsForm(r.Received)),
		"Close": closeRows, "Wire": wire,
	})
}
