// Command wstest runs the Go rebuild of the Autobahn|Testsuite fuzzer.
//
// Like the original it has two modes:
//
//	wstest -m fuzzingclient -s spec.json   # the runner dials testee servers
//	wstest -m fuzzingserver -s spec.json   # testee clients dial the runner
//
// Spec files use the suite's JSON format. Without -s the flags describe a
// one-target run, convenient in a Makefile:
//
//	wstest -m fuzzingclient -url ws://127.0.0.1:9001 -agent mylib -outdir reports/servers -cases '*' -exclude '12.*,13.*'
//	wstest -m fuzzingserver -url ws://127.0.0.1:9001 -outdir reports/clients -exit-after-reports
//
// At the end a per-section summary is printed. With -strict the command
// exits with status 1 when a selected case misses the pass criterion
// (behavior OK, INFORMATIONAL only for 7.1.6/7.13.x, and behaviorClose OK
// or INFORMATIONAL), except the cases listed in -allow-unimplemented.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/wirecraft/websocket/autobahn/fuzzer"
)

func main() { os.Exit(run()) }

// run does the work of main and returns the exit status, so deferred
// cleanup (the CPU profile) happens before exiting.
func run() int {
	mode := flag.String("m", "fuzzingclient", "mode: fuzzingclient (runner dials testee servers) or fuzzingserver (testee clients dial the runner)")
	specPath := flag.String("s", "", "spec file in the suite's JSON format")
	target := flag.String("url", "", "fuzzingclient: testee server URL; fuzzingserver: URL to listen on (default ws://127.0.0.1:9001)")
	agent := flag.String("agent", "", "fuzzingclient: agent name of the testee (default: its Server header)")
	outdir := flag.String("outdir", "", "report directory (default ./reports/servers or ./reports/clients)")
	cases := flag.String("cases", "", "comma-separated case patterns, e.g. '1.*,2.*' (default all)")
	exclude := flag.String("exclude", "", "comma-separated case patterns to leave out, e.g. '12.*,13.*'")
	strict := flag.Bool("strict", false, "exit 1 when a selected case misses the pass criterion")
	allow := flag.String("allow-unimplemented", "", "with -strict: comma-separated case patterns whose misses are tolerated, e.g. '12.*,13.*'")
	exitAfter := flag.Bool("exit-after-reports", false, "fuzzingserver: stop after the first /updateReports (like shutdownOnComplete)")
	quiet := flag.Bool("q", false, "no per-case progress lines")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the runner to this file")
	flag.Parse()

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	spec := &fuzzer.Spec{Cases: []string{"*"}}
	if *specPath != "" {
		var err error
		if spec, err = fuzzer.ReadSpec(*specPath); err != nil {
			fatal(err)
		}
	}
	if *cases != "" {
		spec.Cases = fuzzer.SplitPatterns(*cases)
	}
	if *exclude != "" {
		spec.ExcludeCases = append(spec.ExcludeCases, fuzzer.SplitPatterns(*exclude)...)
	}
	if *outdir != "" {
		spec.OutDir = *outdir
	}
	selected, err := fuzzer.Select(spec.Cases, spec.ExcludeCases)
	if err != nil {
		fatal(err)
	}
	var progress io.Writer = os.Stdout
	if *quiet {
		progress = nil
	}
	excl := fuzzer.AgentExcluder(spec.ExcludeAgentCases)
	start := time.Now()

	switch *mode {
	case "fuzzingclient":
		if *target != "" {
			spec.Servers = []fuzzer.SpecServer{{URL: *target, Agent: *agent}}
		}
		if len(spec.Servers) == 0 {
			fatal(fmt.Errorf("fuzzingclient needs -url or a spec with servers"))
		}
		if spec.OutDir == "" {
			spec.OutDir = "./reports/servers"
		}
		all := map[string][]*fuzzer.Result{}
		for _, s := range spec.Servers {
			rs, err := fuzzer.RunClient(fuzzer.Target{URL: s.URL, Agent: s.Agent, Origin: s.Origin, Protocols: s.Protocols}, selected, excl, progress)
			if err != nil {
				fmt.Fprintf(os.Stderr, "wstest: %s: %v (remaining cases of this server skipped)\n", s.URL, err)
			}
			for _, r := range rs {
				all[r.Agent] = append(all[r.Agent], r)
			}
		}
		if err := fuzzer.WriteReports(spec.OutDir, all); err != nil {
			fatal(err)
		}
	case "fuzzingserver":
		if *target != "" {
			spec.URL = *target
		}
		if spec.URL == "" {
			spec.URL = "ws://127.0.0.1:9001"
		}
		if spec.OutDir == "" {
			spec.OutDir = "./reports/clients"
		}
		u, err := url.Parse(spec.URL)
		if err != nil {
			fatal(err)
		}
		port := u.Port()
		if port == "" {
			port = "80"
		}
		host := u.Hostname()
		if host != "127.0.0.1" && host != "localhost" {
			fmt.Fprintf(os.Stderr, "wstest: listening on 127.0.0.1 instead of %s\n", host)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			fatal(err)
		}
		srv := &fuzzer.Server{Cases: selected, Port: port, OutDir: spec.OutDir, Exclude: excl,
			Progress: progress, ShutdownOnComplete: *exitAfter}
		fmt.Printf("fuzzingserver listening on ws://127.0.0.1:%s with %d cases\n", port, len(selected))
		if err := srv.Serve(ln); err != nil {
			fatal(err)
		}
	default:
		fatal(fmt.Errorf("unknown mode %q", *mode))
	}

	idx, err := fuzzer.ReadIndex(filepath.Join(spec.OutDir, "index.json"))
	if err != nil {
		fatal(err)
	}
	fmt.Printf("\nreports in %s (wall time %s)\n", spec.OutDir, time.Since(start).Round(time.Millisecond))
	fuzzer.PrintSummary(os.Stdout, idx)
	if *strict {
		allowed := fuzzer.SplitPatterns(*allow)
		failed := false
		for agentName, entries := range idx {
			if misses := fuzzer.Misses(entries, allowed); len(misses) > 0 {
				failed = true
				fmt.Printf("agent %s: %d case(s) miss the pass criterion: %s\n", agentName, len(misses), strings.Join(misses, " "))
			}
		}
		if failed {
			return 1
		}
	}
	return 0
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "wstest:", err)
	os.Exit(2)
}
