package fuzzer

import (
	"encoding/json"
	"os"
)

// Spec is a spec file in the suite's JSON format (CASES §1.2, §1.3).
type Spec struct {
	// fuzzingserver: the URL to listen on (default ws://127.0.0.1:9001).
	URL string `json:"url,omitempty"`
	// fuzzingclient: the testee servers, run in list order.
	Servers []SpecServer `json:"servers,omitempty"`
	// OutDir is where the reports go (defaults ./reports/servers for
	// fuzzingclient and ./reports/clients for fuzzingserver).
	OutDir            string              `json:"outdir,omitempty"`
	Cases             []string            `json:"cases"`
	ExcludeCases      []string            `json:"exclude-cases"`
	ExcludeAgentCases map[string][]string `json:"exclude-agent-cases"`
	// Options are accepted for compatibility; the runner implements the
	// suite's defaults only (failByDrop false etc., CASES §1.5).
	Options map[string]any `json:"options,omitempty"`
}

// SpecServer is one entry of "servers".
type SpecServer struct {
	URL       string         `json:"url"`
	Agent     string         `json:"agent,omitempty"`
	Origin    string         `json:"origin,omitempty"`
	Protocols []string       `json:"protocols,omitempty"`
	Options   map[string]any `json:"options,omitempty"`
}

// ReadSpec loads a spec file; a missing "cases" means all cases.
func ReadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	if s.Cases == nil {
		s.Cases = []string{"*"}
	}
	return &s, nil
}
