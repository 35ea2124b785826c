// Command wstest runs the WebSocket conformance cases of Autobahn|Testsuite
// (the Go rebuild in autobahn/fuzzer) against any RFC 6455 server or client.
// It needs neither Python nor Docker:
//
//	go run github.com/wirecraft/websocket/autobahn/cmd/wstest@latest -m fuzzingclient -url ws://127.0.0.1:9001/
//
// Like the original it has two modes:
//
//	wstest -m fuzzingclient -url ws://HOST:PORT/PATH   # the runner dials the server under test
//	wstest -m fuzzingserver -listen 127.0.0.1:9001     # the client under test dials the runner
//
// Spec files in the suite's JSON format work too (-s spec.json); flags
// given as well override them.
//
// While it runs it shows its progress: on a terminal one line rewritten in
// place, otherwise a plain line per finished section and at least every 20
// seconds. At the end it prints a per-section summary and writes the
// reports (index.html, index.json and one JSON and HTML file per case).
// The exit status is 0 when every selected case passes, 1 when some case
// misses the pass criterion and 2 when the run could not be done.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/wirecraft/websocket/autobahn/fuzzer"
)

const usageHead = `wstest runs the 517 WebSocket conformance cases of Autobahn|Testsuite
(RFC 6455 framing, pings, reserved bits, opcodes, fragmentation, UTF-8,
closing, limits, permessage-deflate) against a server or a client. It is a
Go rebuild of the suite's "wstest" command: same cases, same verdicts, same
report files; no Python or Docker needed.

Test a WebSocket SERVER (it must echo every message back with the same type):

  wstest -m fuzzingclient -url ws://127.0.0.1:9001/echo

  The runner opens one connection per case to that URL (ws:// only, no TLS).

Test a WebSocket CLIENT: start the runner, then run your client against it.

  wstest -m fuzzingserver -listen 127.0.0.1:9001 -exit-after-reports

  Your client, given the base URL ws://127.0.0.1:9001, opens WebSocket
  connections to:
    /getCaseCount                  reads one text message: the number of cases N
    /runCase?case=I&agent=NAME     for I = 1..N: echo every message back (same
                                   type) until the runner closes the connection
    /updateReports?agent=NAME      the runner writes the reports (and, with
                                   -exit-after-reports, prints the summary and exits)

Pass criterion: behavior OK (INFORMATIONAL is fine only for 7.1.6, 7.13.1 and
7.13.2) and behaviorClose OK or INFORMATIONAL. NON-STRICT and UNIMPLEMENTED
count as misses: a library without permessage-deflate should add
-exclude '12.*,13.*' (or -allow-unimplemented '12.*,13.*').

Output: progress while it runs (one line updated in place on a terminal,
plain lines otherwise), then a summary table per section. Reports go to
-outdir: open index.html in a browser; index.json and <agent>_case_<id>.json
are in the original suite's format.

Exit status: 0 every selected case passes; 1 some case misses the pass
criterion (the summary lists them); 2 usage error, or the run could not be
done (server unreachable, ...).

Flags:
`

func usage() {
	out := flag.CommandLine.Output()
	fmt.Fprint(out, usageHead)
	flag.PrintDefaults()
	fmt.Fprint(out, `
Examples:
  wstest -m fuzzingclient -url ws://127.0.0.1:9001/ -cases '1.*,2.*' -outdir /tmp/reports
  wstest -m fuzzingclient -url ws://127.0.0.1:9001/ -exclude '9.*,12.*,13.*'   # quick run
  wstest -m fuzzingserver -listen 127.0.0.1:0 -exit-after-reports   # port chosen and printed
`)
}

func main() { os.Exit(run()) }

// usageError reports a mistake in the command line: status 2, with a hint.
func usageError(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "wstest: "+format+"\n", args...)
	fmt.Fprintln(os.Stderr, "run 'wstest -h' for help")
	return 2
}

// run does the work of main and returns the exit status, so deferred
// cleanup (the CPU profile) happens before exiting.
func run() int {
	flag.Usage = usage
	mode := flag.String("m", "fuzzingclient", "`mode` to run in: fuzzingclient (test a server: the runner dials -url) or fuzzingserver (test a client: the client dials the runner)")
	target := flag.String("url", "", "fuzzingclient: `URL` of the server under test, ws://HOST:PORT/PATH. fuzzingserver: the same as -listen HOST:PORT")
	listen := flag.String("listen", "", "fuzzingserver: `address` to listen on, HOST:PORT (default 127.0.0.1:9001; port 0 picks a free one)")
	agent := flag.String("agent", "", "fuzzingclient: `name` of the server under test in the reports (default: its Server header)")
	outdir := flag.String("outdir", "", "report `directory` (default ./reports/servers for fuzzingclient, ./reports/clients for fuzzingserver)")
	cases := flag.String("cases", "", "comma-separated case `patterns` to run, e.g. '1.*,2.*' or '5.1,6.4.*' (default all 517)")
	exclude := flag.String("exclude", "", "comma-separated case `patterns` to leave out, e.g. '9.*,12.*,13.*'")
	specPath := flag.String("s", "", "spec `file` in the original suite's JSON format (flags given as well override it)")
	strict := flag.Bool("strict", true, "exit with status 1 when a selected case misses the pass criterion (-strict=false: only when the run fails)")
	allow := flag.String("allow-unimplemented", "", "case `patterns` whose misses do not make the exit status 1, e.g. '12.*,13.*'")
	exitAfter := flag.Bool("exit-after-reports", false, "fuzzingserver: print the summary and exit after the first /updateReports (as shutdownOnComplete=true does)")
	quiet := flag.Bool("q", false, "no progress output, only the summary")
	verbose := flag.Bool("v", false, "one line per finished case instead of the progress display")
	list := flag.Bool("list", false, "print the ids of the selected cases, one per line, and exit")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the runner to `file`")
	flag.Parse()
	if flag.NArg() > 0 {
		return usageError("unexpected argument %q (flags come as -name value)", flag.Arg(0))
	}

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return fail(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	spec := &fuzzer.Spec{Cases: []string{"*"}}
	if *specPath != "" {
		var err error
		if spec, err = fuzzer.ReadSpec(*specPath); err != nil {
			return fail(err)
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
		return usageError("%v", err)
	}
	if len(selected) == 0 {
		return usageError("no case selected (-cases %q, -exclude %q)", strings.Join(spec.Cases, ","), strings.Join(spec.ExcludeCases, ","))
	}
	if *list {
		for _, c := range selected {
			fmt.Println(c.ID)
		}
		return 0
	}
	excl := fuzzer.AgentExcluder(spec.ExcludeAgentCases)
	start := time.Now()

	switch *mode {
	case "fuzzingclient":
		if *target != "" {
			spec.Servers = []fuzzer.SpecServer{{URL: *target, Agent: *agent}}
		}
		if len(spec.Servers) == 0 {
			return usageError("-m fuzzingclient needs -url ws://HOST:PORT/PATH of the server to test")
		}
		for _, s := range spec.Servers {
			if err := checkServerURL(s.URL); err != nil {
				return usageError("%v", err)
			}
		}
		if spec.OutDir == "" {
			spec.OutDir = "./reports/servers"
		}
		progress := newReporter(*quiet, *verbose, selected, len(spec.Servers))
		all := map[string][]*fuzzer.Result{}
		failed := false
		for _, s := range spec.Servers {
			rs, err := fuzzer.RunClient(fuzzer.Target{URL: s.URL, Agent: s.Agent, Origin: s.Origin, Protocols: s.Protocols}, selected, excl, progress)
			if err != nil {
				progress.Notef("wstest: %s: %v (remaining cases of this server skipped)", s.URL, err)
				failed = true
			}
			for _, r := range rs {
				all[r.Agent] = append(all[r.Agent], r)
			}
		}
		progress.Finish()
		if len(all) == 0 {
			fmt.Fprintln(os.Stderr, "wstest: no case could be run")
			return 2
		}
		if err := fuzzer.WriteReports(spec.OutDir, all); err != nil {
			return fail(err)
		}
		status := summary(spec.OutDir, start, *strict, *allow)
		if failed {
			return 2
		}
		return status
	case "fuzzingserver":
		addr := *listen
		if addr == "" && *target != "" {
			spec.URL = *target
		}
		if addr == "" && spec.URL != "" {
			u, err := url.Parse(spec.URL)
			if err != nil || u.Scheme != "ws" || u.Port() == "" {
				return usageError("fuzzingserver: -url %q is not ws://HOST:PORT (or use -listen HOST:PORT)", spec.URL)
			}
			addr = u.Host
		}
		if addr == "" {
			addr = "127.0.0.1:9001"
		}
		if spec.OutDir == "" {
			spec.OutDir = "./reports/clients"
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fail(err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		progress := newReporter(*quiet, *verbose, selected, 1)
		srv := &fuzzer.Server{Cases: selected, Port: port, OutDir: spec.OutDir, Exclude: excl,
			Progress: progress, ShutdownOnComplete: *exitAfter}
		// Ctrl-C or SIGTERM ends the server by closing its listener; the
		// cases run so far are then reported as if the client had asked
		// for /updateReports.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		interrupted := make(chan struct{})
		go func() {
			<-sig
			close(interrupted)
			ln.Close()
		}()
		fmt.Printf("fuzzingserver listening on ws://%s with %d cases\n", ln.Addr(), len(selected))
		err = srv.Serve(ln)
		signal.Stop(sig)
		progress.Finish()
		select {
		case <-interrupted:
			results := srv.Results()
			if len(results) == 0 {
				fmt.Fprintln(os.Stderr, "wstest: interrupted before any case was run")
				return 2
			}
			if err := fuzzer.WriteReports(spec.OutDir, results); err != nil {
				return fail(err)
			}
		default:
			if err != nil {
				return fail(err)
			}
		}
		return summary(spec.OutDir, start, *strict, *allow)
	default:
		return usageError("unknown mode -m %q: fuzzingclient (test a server) or fuzzingserver (test a client)", *mode)
	}
}

// checkServerURL accepts the URLs the runner can dial.
func checkServerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch {
	case u.Scheme == "wss":
		return fmt.Errorf("%s: wss:// is not supported (the runner speaks plain TCP); test the server on a ws:// port", s)
	case u.Scheme != "ws" || u.Host == "":
		return fmt.Errorf("%s: want ws://HOST:PORT/PATH", s)
	}
	return nil
}

// newReporter picks the progress output: nothing (-q), a line per case
// (-v), or the progress display, live when stdout is a terminal.
func newReporter(quiet, verbose bool, cases []*fuzzer.Case, rounds int) *fuzzer.Progress {
	var planned []*fuzzer.Case
	for range rounds {
		planned = append(planned, cases...)
	}
	switch {
	case quiet:
		return fuzzer.NewProgress(nil, fuzzer.ProgressOff, planned)
	case verbose:
		return fuzzer.NewProgress(os.Stdout, fuzzer.ProgressCaseLines, planned)
	case isTerminal(os.Stdout):
		return fuzzer.NewProgress(os.Stdout, fuzzer.ProgressLive, planned)
	}
	return fuzzer.NewProgress(os.Stdout, fuzzer.ProgressLog, planned)
}

// isTerminal reports whether f is a character device such as a terminal,
// as opposed to a pipe or a file (a CI log). TERM=dumb terminals cannot
// move the cursor back, so they count as logs.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// summary prints the report location and the per-section tables and
// returns the exit status that -strict and -allow-unimplemented ask for.
func summary(outdir string, start time.Time, strict bool, allow string) int {
	idx, err := fuzzer.ReadIndex(filepath.Join(outdir, "index.json"))
	if err != nil {
		return fail(err)
	}
	fmt.Printf("\nreports in %s (open index.html; wall time %s)\n", outdir, time.Since(start).Round(time.Millisecond))
	fuzzer.PrintSummary(os.Stdout, idx)
	allowed := fuzzer.SplitPatterns(allow)
	missed := false
	for agentName, entries := range idx {
		if misses := fuzzer.Misses(entries, allowed); len(misses) > 0 {
			missed = true
			fmt.Printf("agent %s: %d case(s) miss the pass criterion: %s\n", agentName, len(misses), strings.Join(misses, " "))
		}
	}
	if missed && strict {
		return 1
	}
	return 0
}

// fail reports an error that stops the run: status 2.
func fail(err error) int {
	fmt.Fprintln(os.Stderr, "wstest:", err)
	return 2
}
