package fuzzer

import (
	"strings"
	"testing"
)

func ids(cs []*Case) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return strings.Join(out, " ")
}

func TestCompareIDs(t *testing.T) {
	ordered := []string{"1.1.1", "1.1.10", "2.1", "2.9", "2.10", "6.9.4", "6.10.1", "7.9.9", "7.13.1", "9.8.6", "10.1.1", "12.1.1", "13.7.18"}
	for i := 0; i+1 < len(ordered); i++ {
		if CompareIDs(ordered[i], ordered[i+1]) >= 0 || CompareIDs(ordered[i+1], ordered[i]) <= 0 {
			t.Errorf("%s should sort before %s", ordered[i], ordered[i+1])
		}
	}
}

func TestSelect(t *testing.T) {
	tests := []struct {
		include, exclude []string
		count            int
		first, last      string
	}{
		{[]string{"*"}, nil, 517, "1.1.1", "13.7.18"},
		{[]string{"*"}, []string{"9.*", "12.*", "13.*"}, 247, "1.1.1", "10.1.1"},
		// Prefix matching: "6.1*" also selects 6.10–6.19.
		{[]string{"6.1*"}, nil, 3 + 3 + 5 + 8 + 5 + 10 + 1 + 3 + 5 + 5 + 5, "6.1.1", "6.19.5"},
		{[]string{"2.1"}, nil, 1, "2.1", "2.1"},
		{[]string{"7.*"}, []string{"7.1.*", "7.13.*"}, 37 - 6 - 2, "7.3.1", "7.9.9"},
		{[]string{"1.1.1", "12.1.1"}, nil, 2, "1.1.1", "12.1.1"},
	}
	for _, tt := range tests {
		cs, err := Select(tt.include, tt.exclude)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != tt.count || cs[0].ID != tt.first || cs[len(cs)-1].ID != tt.last {
			t.Errorf("Select(%v, %v): %d cases %s..%s, want %d %s..%s", tt.include, tt.exclude,
				len(cs), cs[0].ID, cs[len(cs)-1].ID, tt.count, tt.first, tt.last)
		}
	}
	if _, err := Select([]string{"2.12"}, nil); err == nil {
		t.Error("a pattern without * must name an existing case")
	}
	// "5.1*" selects 5.1 and 5.10–5.19; excluding "5.1" leaves the others.
	if got := ids(mustSelect(t, []string{"5.1*"}, []string{"5.1"})); got != "5.10 5.11 5.12 5.13 5.14 5.15 5.16 5.17 5.18 5.19" {
		t.Errorf("got %s", got)
	}
}

func mustSelect(t *testing.T, in, ex []string) []*Case {
	t.Helper()
	cs, err := Select(in, ex)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestAgentExcluder(t *testing.T) {
	ex := AgentExcluder(map[string][]string{"gorilla*": {"12.*", "6.4.1"}})
	tests := []struct {
		agent, id string
		want      bool
	}{
		{"gorilla-1.5", "12.1.1", true},
		{"gorilla-1.5", "6.4.1", true},
		{"gorilla-1.5", "6.4.10", false}, // anchored at the end
		{"other", "12.1.1", false},
		{"xgorilla", "12.1.1", false}, // anchored at the start
	}
	for _, tt := range tests {
		if got := ex(tt.agent, tt.id); got != tt.want {
			t.Errorf("exclude(%s, %s) = %v", tt.agent, tt.id, got)
		}
	}
}

func TestReportFileBase(t *testing.T) {
	tests := map[[2]string]string{
		{"AutobahnPython/0.10.9", "6.4.1"}: "autobahnpython_0_10_9_case_6_4_1",
		{"gorilla-1.5.3-faulty", "2.3"}:    "gorilla_1_5_3_faulty_case_2_3",
		{" My  Lib ", "12.1.10"}:           "my__lib_case_12_1_10",
	}
	for in, want := range tests {
		if got := ReportFileBase(in[0], in[1]); got != want {
			t.Errorf("ReportFileBase(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}
