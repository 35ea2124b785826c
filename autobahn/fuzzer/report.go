package fuzzer

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Report files in the suite's format (CASES §2).

// ReportFileBase is the per-case file name without extension: the agent
// lowercased, characters outside a–z0–9 turned into spaces, trimmed, spaces
// turned into "_" (runs kept), then "_case_" and the id with "_" for "."
// (CASES §2.1).
func ReportFileBase(agent, id string) string {
	b := []byte(strings.ToLower(agent))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = ' '
		}
	}
	name := strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "_")
	return name + "_case_" + strings.ReplaceAll(id, ".", "_")
}

// writeJSON writes v with sorted keys and 3-space indentation, like the
// original (json.Marshal sorts map keys).
func writeJSON(path string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "   ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	return os.WriteFile(path, bytes.TrimRight(buf.Bytes(), "\n"), 0o644)
}

func durationMS(r *Result) int64 { return int64(math.Round(float64(r.Duration.Microseconds()) / 1000)) }

// IndexEntry is one case of index.json.
type IndexEntry struct {
	Behavior        string `json:"behavior"`
	BehaviorClose   string `json:"behaviorClose"`
	Duration        int64  `json:"duration"`
	RemoteCloseCode *int   `json:"remoteCloseCode"`
	ReportFile      string `json:"reportfile"`
}

// Index is the content of index.json: agent → case id → entry.
type Index map[string]map[string]IndexEntry

func statsForm(m map[int]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[strconv.Itoa(k)] = v
	}
	return out
}

func expectedForm(c *Case) map[string]any {
	out := map[string]any{}
	for _, o := range c.Expected {
		out[o.Name] = eventsForm(o.Events)
	}
	return out
}

func expectedCloseForm(c *Case) map[string]any {
	m := map[string]any{"closedByMe": c.Close.ClosedByMe, "closeCode": c.Close.Codes, "requireClean": c.Close.Clean}
	if c.Close.WrongCloserFatal {
		m["closedByWrongEndpointIsFatal"] = true
	}
	return m
}

// caseReport is the per-case JSON object (CASES §2.2).
func caseReport(r *Result) map[string]any {
	c := r.Case
	traffic := any(nil)
	if r.TrafficStats != nil {
		traffic = r.TrafficStats
	}
	return map[string]any{
		"agent": r.Agent, "case": r.CaseNumber, "id": c.ID,
		"description": c.Description, "expectation": c.Expectation,
		"started":    r.Started.UTC().Format("2006-01-02T15:04:05.000Z"),
		"duration":   durationMS(r),
		"reportTime": c.ReportTime, "reportCompressionRatio": c.ReportRatio,
		"behavior": r.Behavior, "behaviorClose": r.BehaviorClose,
		"result": r.Text, "resultClose": r.TextClose,
		"expected": expectedForm(c), "expectedClose": expectedCloseForm(c),
		"received":   eventsForm(r.Received),
		"closedByMe": r.Conn.ClosedByMe, "failedByMe": r.Conn.FailedByMe,
		"droppedByMe": r.Conn.DroppedByMe, "wasClean": r.Conn.WasClean,
		"wasNotCleanReason":              r.Conn.WasNotCleanReason,
		"wasServerConnectionDropTimeout": r.Conn.WasServerConnectionDropTimeout,
		"wasOpenHandshakeTimeout":        r.Conn.WasOpenHandshakeTimeout,
		"wasCloseHandshakeTimeout":       r.Conn.WasCloseHandshakeTimeout,
		"localCloseCode":                 r.Conn.LocalCloseCode, "localCloseReason": r.Conn.LocalCloseReason,
		"remoteCloseCode": r.Conn.RemoteCloseCode, "remoteCloseReason": r.Conn.RemoteCloseReason,
		"isServer": r.IsServer, "createStats": true,
		"rxOctetStats": statsForm(r.RxOctets), "txOctetStats": statsForm(r.TxOctets),
		"rxFrameStats": statsForm(r.RxFrames), "txFrameStats": statsForm(r.TxFrames),
		"createWirelog": true, "wirelog": r.Wirelog,
		"httpRequest": r.HTTPRequest, "httpResponse": r.HTTPResponse,
		"trafficStats": traffic,
	}
}

// WriteReports writes index.json, one JSON file per result, index.html and
// one HTML details page per result into dir. results maps agent → results.
func WriteReports(dir string, results map[string][]*Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	index := Index{}
	for agent, rs := range results {
		entries := map[string]IndexEntry{}
		for _, r := range rs {
			base := ReportFileBase(agent, r.Case.ID)
			entries[r.Case.ID] = IndexEntry{
				Behavior: r.Behavior, BehaviorClose: r.BehaviorClose,
				Duration: durationMS(r), RemoteCloseCode: r.Conn.RemoteCloseCode,
				ReportFile: base + ".json",
			}
			if err := writeJSON(filepath.Join(dir, base+".json"), caseReport(r)); err != nil {
				return err
			}
			if err := writeCaseHTML(filepath.Join(dir, base+".html"), r); err != nil {
				return err
			}
		}
		index[agent] = entries
	}
	if err := writeJSON(filepath.Join(dir, "index.json"), index); err != nil {
		return err
	}
	return writeIndexHTML(filepath.Join(dir, "index.html"), results)
}

// ReadIndex loads an index.json.
func ReadIndex(path string) (Index, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var idx Index
	return idx, json.Unmarshal(data, &idx)
}
