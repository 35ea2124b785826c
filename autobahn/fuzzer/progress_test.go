package fuzzer

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func selectOrFail(t *testing.T, patterns ...string) []*Case {
	t.Helper()
	cs, err := Select(patterns, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func okResult(c *Case) *Result {
	return &Result{Case: c, Behavior: OK, BehaviorClose: OK, Duration: time.Millisecond}
}

func TestProgressLogWritesALinePerSection(t *testing.T) {
	for _, overlap := range []bool{false, true} {
		t.Run(map[bool]string{false: "in turn", true: "overlapping"}[overlap], func(t *testing.T) {
			testProgressLog(t, overlap)
		})
	}
}

// testProgressLog runs 1.1.1–1.1.8 and 2.1; with overlap each case starts
// before the previous one has ended, as a fuzzingserver may see it.
func testProgressLog(t *testing.T, overlap bool) {
	cs := selectOrFail(t, "1.1.*", "2.1")
	var out bytes.Buffer
	p := NewProgress(&out, ProgressLog, cs)
	result := func(c *Case) *Result {
		r := okResult(c)
		if c.ID == "2.1" {
			r.Behavior = Failed
		}
		return r
	}
	for i, c := range cs {
		p.CaseStarted(c)
		if !overlap {
			p.CaseDone(result(c))
		} else if i > 0 {
			p.CaseDone(result(cs[i-1]))
		}
	}
	if overlap {
		p.CaseDone(result(cs[len(cs)-1]))
	}
	p.Finish()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per section, got %q", out.String())
	}
	if !strings.HasPrefix(lines[0], "section 1: 8 cases in ") || !strings.Contains(lines[0], "0 missed; 8 of 9 done") ||
		!strings.Contains(lines[0], " left") {
		t.Errorf("section 1 line: %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "section 2: 1 cases in ") || !strings.Contains(lines[1], "1 missed; 9 of 9 done") ||
		strings.Contains(lines[1], " left") {
		t.Errorf("section 2 line: %q", lines[1])
	}
}

func TestProgressLiveRewritesOneLine(t *testing.T) {
	cs := selectOrFail(t, "9.*")
	var out bytes.Buffer
	p := NewProgress(&out, ProgressLive, cs)
	p.CaseStarted(cs[0])
	p.CaseDone(okResult(cs[0]))
	p.CaseStarted(cs[1])
	p.Finish()
	s := out.String()
	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
		t.Fatalf("want the updates on one line ended by the only newline, got %q", s)
	}
	draws := strings.Split(strings.TrimSuffix(s, "\n"), "\r")[1:]
	if len(draws) < 3 {
		t.Fatalf("want a draw per event, got %q", s)
	}
	if want := "case 2 of 54 (9.1.2, section 9), "; !strings.HasPrefix(draws[2], want) {
		t.Errorf("draw %q does not start with %q", draws[2], want)
	}
	if !strings.Contains(draws[2], " left") {
		t.Errorf("no estimate after a finished case: %q", draws[2])
	}
	for _, d := range draws {
		if len(d) > 79 {
			t.Errorf("line of %d columns would wrap: %q", len(d), d)
		}
	}
}

func TestCaseCostOrdersTheSlowCases(t *testing.T) {
	cost := func(id string) float64 { return caseCost(ByID(id)) }
	less := [][2]string{
		{"1.1.1", "9.1.1"},
		{"9.1.1", "9.1.6"},
		{"9.5.6", "9.5.1"}, // more pieces
		{"9.7.1", "9.7.6"},
		{"12.1.1", "12.1.10"},
	}
	for _, l := range less {
		if cost(l[0]) >= cost(l[1]) {
			t.Errorf("cost of %s (%g s) not below %s (%g s)", l[0], cost(l[0]), l[1], cost(l[1]))
		}
	}
}

func TestEstimateScalesByMeasuredSpeed(t *testing.T) {
	cs := selectOrFail(t, "9.7.*")
	var e estimator
	e.init(cs)
	pending := map[string]int{}
	for _, c := range cs[1:] {
		pending[c.ID] = 1
	}
	// The testee took twice the model's cost for the first case: the rest
	// should be estimated at twice their cost as well.
	first := time.Duration(2 * caseCost(cs[0]) * float64(time.Second))
	e.observe(okResult(cs[0]), first)
	var want float64
	for _, c := range cs[1:] {
		want += 2 * caseCost(c)
	}
	got := e.left(pending, nil, 0).Seconds()
	if got < want*0.99 || got > want*1.01 {
		t.Errorf("left %.3f s, want %.3f s", got, want)
	}
}

func TestEstimateDropsCompressionWithoutDeflate(t *testing.T) {
	cs := selectOrFail(t, "12.1.*")
	var e estimator
	e.init(cs)
	pending := map[string]int{}
	for _, c := range cs[1:] {
		pending[c.ID] = 1
	}
	r := okResult(cs[0])
	r.Behavior = Unimplemented
	e.observe(r, 2*time.Millisecond)
	if left := e.left(pending, nil, 0); left > time.Second {
		t.Errorf("left %s for cases that end at once without permessage-deflate", left)
	}
}

func TestRoundDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                       "0.0s",
		1234 * time.Millisecond:                 "1.2s",
		65 * time.Second:                        "1m05s",
		11*time.Minute + 59700*time.Millisecond: "12m00s",
		2*time.Hour + 3*time.Minute:             "2h03m",
	} {
		if got := roundDuration(d); got != want {
			t.Errorf("roundDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
