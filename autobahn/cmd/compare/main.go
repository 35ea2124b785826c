// Command compare checks a runner's index.json against a reference
// index.json of the original suite, case by case, on the fields that carry
// the verdict: behavior, behaviorClose and remoteCloseCode.
//
//	compare -ref reference/server-gorilla-echo/index.json -got reports/index.json [-agent-ref A] [-agent-got B]
//
// It prints "N/M identical" (M = cases in the reference) and one line per
// difference, and exits 1 when there is any difference.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/wirecraft/websocket/autobahn/fuzzer"
)

func main() {
	refPath := flag.String("ref", "", "reference index.json")
	gotPath := flag.String("got", "", "index.json of the runner")
	refAgent := flag.String("agent-ref", "", "agent in the reference (default: the only one)")
	gotAgent := flag.String("agent-got", "", "agent in the runner's index (default: the only one)")
	label := flag.String("label", "", "name printed before the result")
	flag.Parse()

	ref := load(*refPath, *refAgent)
	got := load(*gotPath, *gotAgent)
	ids := make([]string, 0, len(ref))
	for id := range ref {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return fuzzer.CompareIDs(ids[i], ids[j]) < 0 })

	same := 0
	var diffs []string
	for _, id := range ids {
		r := ref[id]
		g, ok := got[id]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%-8s missing in the runner's report (reference %s)", id, show(r)))
		case r.Behavior == g.Behavior && r.BehaviorClose == g.BehaviorClose && code(r.RemoteCloseCode) == code(g.RemoteCloseCode):
			same++
		default:
			diffs = append(diffs, fmt.Sprintf("%-8s reference %-40s runner %s", id, show(r), show(g)))
		}
	}
	for id := range got {
		if _, ok := ref[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("%-8s only in the runner's report", id))
		}
	}
	if *label != "" {
		fmt.Printf("%s: ", *label)
	}
	fmt.Printf("%d/%d identical\n", same, len(ref))
	for _, d := range diffs {
		fmt.Println("  " + d)
	}
	if len(diffs) > 0 {
		os.Exit(1)
	}
}

func load(path, agent string) map[string]fuzzer.IndexEntry {
	idx, err := fuzzer.ReadIndex(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(2)
	}
	if agent != "" {
		if e, ok := idx[agent]; ok {
			return e
		}
		fmt.Fprintf(os.Stderr, "compare: agent %q not in %s\n", agent, path)
		os.Exit(2)
	}
	if len(idx) != 1 {
		fmt.Fprintf(os.Stderr, "compare: %s holds %d agents, pick one with -agent-*\n", path, len(idx))
		os.Exit(2)
	}
	for _, e := range idx {
		return e
	}
	return nil
}

func code(c *int) string {
	if c == nil {
		return "null"
	}
	return fmt.Sprint(*c)
}

func show(e fuzzer.IndexEntry) string {
	return fmt.Sprintf("%s/%s/%s", e.Behavior, e.BehaviorClose, code(e.RemoteCloseCode))
}
