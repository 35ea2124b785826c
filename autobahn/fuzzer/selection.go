package fuzzer

import (
	"fmt"
	"regexp"
	"strings"
)

// Case selection (CASES §1.4, pitfall 3).

// patternRegexp turns a case pattern into a regular expression: "." is
// literal and "*" matches any text. With anchorEnd false the pattern only
// has to match at the start of an id ("6.1*" also selects 6.10–6.19).
func patternRegexp(p string, anchorEnd bool) *regexp.Regexp {
	parts := strings.Split(p, "*")
	for i, s := range parts {
		parts[i] = regexp.QuoteMeta(s)
	}
	expr := "^" + strings.Join(parts, ".*")
	if anchorEnd {
		expr += "$"
	}
	return regexp.MustCompile(expr)
}

// matchAny reports which ids of all the patterns select. A pattern without
// "*" must name an existing id exactly.
func matchAny(all []*Case, patterns []string) (map[string]bool, error) {
	sel := map[string]bool{}
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.Contains(p, "*") {
			if ByID(p) == nil {
				return nil, fmt.Errorf("no case with id %q", p)
			}
			sel[p] = true
			continue
		}
		re := patternRegexp(p, false)
		for _, c := range all {
			if re.MatchString(c.ID) {
				sel[c.ID] = true
			}
		}
	}
	return sel, nil
}

// Select returns the configured list: cases matching include minus those
// matching exclude, in catalogue order (ids as integer tuples).
func Select(include, exclude []string) ([]*Case, error) {
	all := All()
	in, err := matchAny(all, include)
	if err != nil {
		return nil, err
	}
	out, err := matchAny(all, exclude)
	if err != nil {
		return nil, err
	}
	var cs []*Case
	for _, c := range all {
		if in[c.ID] && !out[c.ID] {
			cs = append(cs, c)
		}
	}
	return cs, nil
}

// AgentExcluder builds the exclude-agent-cases test: agent patterns map to
// case patterns, both anchored at start and end.
func AgentExcluder(m map[string][]string) func(agent, id string) bool {
	type rule struct {
		agent *regexp.Regexp
		cases []*regexp.Regexp
	}
	var rules []rule
	for a, ps := range m {
		r := rule{agent: patternRegexp(a, true)}
		for _, p := range ps {
			r.cases = append(r.cases, patternRegexp(p, true))
		}
		rules = append(rules, r)
	}
	return func(agent, id string) bool {
		for _, r := range rules {
			if !r.agent.MatchString(agent) {
				continue
			}
			for _, c := range r.cases {
				if c.MatchString(id) {
					return true
				}
			}
		}
		return false
	}
}

// SplitPatterns splits a comma-separated command-line pattern list.
func SplitPatterns(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
