package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wirecraft/websocket/autobahn/fuzzer"
)

// This test is a check of the conformance runner, not of the package: it
// runs the runner (in-process, through the fuzzer package) against the
// deliberately faulty fixture of faulty.go, once without faults and once per
// planted fault, and requires that the cases missing the pass criterion are
// exactly the ones derived below from shared/conformance/CASES.md ("CASES
// §x"), each with the verdicts the original suite gives.
//
// Pass criterion (CASES §1.12, fuzzer.Passed): behavior OK (INFORMATIONAL
// only for 7.1.6, 7.13.1, 7.13.2) and behaviorClose OK or INFORMATIONAL.

// The selection: sections 1–7, 9 and 10, without 9.5.1–9.5.4 and 9.6.1–9.6.4.
// Those eight cases differ from the 9.5.5/9.5.6/9.6.5/9.6.6 that do run only
// in the size of the runner's write pieces (64…512 bytes with a pause after
// each, CASES §3.8) and spend about 36 s waiting; the fixture's reader is
// indifferent to how bytes arrive, and `make autobahn` runs them against the
// real testee.
var (
	faultySelection = []string{"1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*"}
	faultyExcluded  = []string{"9.5.1", "9.5.2", "9.5.3", "9.5.4", "9.6.1", "9.6.2", "9.6.3", "9.6.4"}

	// raceExcluded is left out as well under the race detector (make test),
	// which makes the byte loops over section 9's 4–16 MiB messages (masking,
	// UTF-8 checks, in the runner and in the fixture) too slow for six
	// concurrent runs; 9.1.1, 9.2.1 (64 KiB) and the round trips of 9.7/9.8
	// still run. `go test` without -race runs the whole selection above.
	raceExcluded = []string{"9.1.2", "9.1.3", "9.1.4", "9.1.5", "9.1.6", "9.2.2", "9.2.3", "9.2.4", "9.2.5", "9.2.6",
		"9.3.*", "9.4.*", "9.5.*", "9.6.*"}
)

// Verdict values (CASES §1.10).
const (
	ok        = "OK"
	failed    = "FAILED"
	unclean   = "UNCLEAN"
	wrongCode = "WRONG CODE"
)

// remoteCode expectations: a close code, or one of these.
const (
	noCode  = 0  // no close frame with a code reached the runner
	anyCode = -1 // not checked
)

// missGroup is a set of cases that must miss the pass criterion with exactly
// these verdicts, for one reason.
type missGroup struct {
	ids                     []string
	behavior, behaviorClose string
	remoteCode              int
	why                     string
}

// span returns prefix+from … prefix+to.
func span(prefix string, from, to int) []string {
	var ids []string
	for i := from; i <= to; i++ {
		ids = append(ids, fmt.Sprintf("%s%d", prefix, i))
	}
	return ids
}

func join(lists ...[]string) []string {
	var all []string
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

// generatedUTF8 lists the generated groups 6.5–6.23: number of vectors
// (CASES §3.6) and the invalid ones (CASES §4.2, column "valid").
var generatedUTF8 = []struct {
	group   string
	n       int
	invalid []int
}{
	{"6.5", 5, nil}, {"6.6", 11, []int{1, 3, 4, 6, 8, 10}}, {"6.7", 4, nil},
	{"6.8", 2, []int{1, 2}}, {"6.9", 4, nil}, {"6.10", 3, []int{1, 2, 3}},
	{"6.11", 5, []int{5}}, {"6.12", 8, []int{1, 2, 3, 4, 5, 6, 7, 8}},
	{"6.13", 5, []int{1, 2, 3, 4, 5}}, {"6.14", 10, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
	{"6.15", 1, []int{1}}, {"6.16", 3, []int{1, 2, 3}}, {"6.17", 5, []int{1, 2, 3, 4, 5}},
	{"6.18", 5, []int{1, 2, 3, 4, 5}}, {"6.19", 5, []int{1, 2, 3, 4, 5}},
	{"6.20", 7, []int{1, 2, 3, 4, 5, 6, 7}}, {"6.21", 8, []int{1, 2, 3, 4, 5, 6, 7, 8}},
	{"6.22", 34, nil}, {"6.23", 7, nil},
}

// truncatedUTF8 are the invalid vectors that are only a valid beginning cut
// inside the last character (CASES §4.2: the prefixes of "kosme" in 6.6, and
// 6.14.6 `df`, 6.14.7 `efbf`): an incremental validator finds them invalid
// only at the end of the message, all other invalid vectors inside it.
var truncatedUTF8 = []string{"6.6.1", "6.6.3", "6.6.4", "6.6.6", "6.6.8", "6.6.10", "6.14.6", "6.14.7"}

// utf8Vectors returns the valid and the invalid generated vectors.
func utf8Vectors() (valid, invalid []string) {
	for _, g := range generatedUTF8 {
		bad := map[int]bool{}
		for _, n := range g.invalid {
			bad[n] = true
		}
		for n := 1; n <= g.n; n++ {
			id := fmt.Sprintf("%s.%d", g.group, n)
			if bad[n] {
				invalid = append(invalid, id)
			} else {
				valid = append(valid, id)
			}
		}
	}
	return valid, invalid
}

func without(ids []string, drop ...string) []string {
	var out []string
next:
	for _, id := range ids {
		for _, d := range drop {
			if id == d {
				continue next
			}
		}
		out = append(out, id)
	}
	return out
}

// fuzzerClosesClean are the selected cases in which the runner starts the
// close handshake of a healthy connection with a close frame and requires a
// clean close (CASES §3.1–§3.9, column "close verdict wants": "fuzzer closes
// … clean"): the auto-close 1000 after the expected echo/pong, the explicit
// closes of 2.7/2.8 and section 7, and the 1000 close of section 9's echo
// checks. Not here: testee-closes cases, 7.3.2/7.3.6/7.5.1/7.9.x (clean not
// required, and the fixture fails them itself), 7.1.6/7.13.x (INFORMATIONAL).
func fuzzerClosesClean(sel []*fuzzer.Case) (nonSeven, seven []string) {
	valid, _ := utf8Vectors()
	all := join(
		span("1.1.", 1, 8), span("1.2.", 1, 8),
		span("2.", 1, 4), span("2.", 6, 11),
		span("5.", 3, 8), span("5.", 19, 20),
		span("6.1.", 1, 3), span("6.2.", 1, 4), valid,
	)
	for _, c := range sel {
		if c.Section() == "9" || c.Section() == "10" {
			all = append(all, c.ID) // every 9.x and 10.1.1 ends with the runner's close 1000
		}
	}
	seven = join(span("7.1.", 1, 5), []string{"7.3.1", "7.3.3", "7.3.4", "7.3.5"}, span("7.7.", 1, 13))
	return all, seven
}

// expectedMisses derives, per fault, the cases that must miss and how.
func expectedMisses(sel []*fuzzer.Case) map[string][]missGroup {
	_, invalid := utf8Vectors()
	fc, fc7 := fuzzerClosesClean(sel)
	pingCases := join(span("2.", 1, 4), []string{"2.6"}, span("2.", 9, 11), span("5.", 6, 8), span("5.", 19, 20))
	return map[string][]missGroup{
		"none": nil,
		"utf8": {
			{
				ids:      join([]string{"6.3.1", "6.3.2"}, span("6.4.", 1, 4), without(invalid, truncatedUTF8...)),
				behavior: failed, behaviorClose: failed, remoteCode: noCode,
				why: "invalid text is echoed; the runner finds the bad byte inside the echo frame, fails " +
					"with 1007 (closedByMe) and, failing again at the end of that message while closing, drops " +
					"TCP (CASES §1.5), so no close code comes back. The testee was to close: wrong closer " +
					"⇒ behavior FAILED (§1.10 behavior step 3, §3.6) and behaviorClose FAILED (rule 1). " +
					"6.4.x record both timeouts first (NON-STRICT list), then the same happens.",
			},
			{
				ids:      truncatedUTF8,
				behavior: failed, behaviorClose: failed, remoteCode: 1007,
				why: "the echo merely ends inside a character: the runner fails once, at the end of " +
					"the message, with 1007, the fixture answers 1007; still the wrong closer (§1.10, §3.6)",
			},
			{
				ids:      []string{"7.5.1"},
				behavior: failed, behaviorClose: wrongCode, remoteCode: 1000,
				why: "the close reason with a surrogate is not checked, so the close is answered with " +
					"its own code 1000; 7.5.1 accepts 1002/1007 only ⇒ WRONG CODE ⇒ FAILED (§1.10 step 4, §3.7)",
			},
		},
		"rsv": {
			{
				ids:      span("3.", 1, 6),
				behavior: failed, behaviorClose: failed, remoteCode: 1001,
				why: "the frame with RSV bits is echoed (3.2–3.4 also the valid text and a pong for the " +
					"trailing ping), which matches neither ∅ nor the NON-STRICT list; the testee never " +
					"closes, fail@1s closes with 1001 (echoed by the fixture) ⇒ wrong closer (§3.3, §1.6, §1.10)",
			},
			// 3.7 is NOT a miss: the fixture takes CLOSE(rsv=7) for an empty
			// close and answers with an empty close. The runner sent that
			// frame as a raw frame, so for it the testee started the close;
			// nothing was received (∅ = OK), closedByMe is false as wanted,
			// clean is not required and an empty close carries no code,
			// which is never a WRONG CODE (§1.10 rules 1–3, §3.3).
		},
		"ping": {
			{
				ids:      pingCases,
				behavior: failed, behaviorClose: ok, remoteCode: noCode,
				why: "the pong payload differs, so the received list never equals the expected one " +
					"(§1.10 step 2) and there is no auto-close (§1.9); close@T then sends an empty close, " +
					"answered with an empty close: the runner closed as wanted, cleanly, no code ⇒ OK",
			},
		},
		"close-code": {
			{
				ids:      fc,
				behavior: ok, behaviorClose: wrongCode, remoteCode: 1011,
				why: "the runner's close (1000, or the empty close of close@T) is answered with 1011, " +
					"not in the accepted list {1000} ⇒ WRONG CODE (§1.10 rule 3); behavior stays OK outside section 7",
			},
			{
				ids:      without(fc7, "7.7.9"),
				behavior: failed, behaviorClose: wrongCode, remoteCode: 1011,
				why: "same, and in 7.1.1–7.1.5, 7.3.x, 7.7.x WRONG CODE turns behavior into FAILED " +
					"(§1.10 step 4). 7.7.9 sends 1011 itself, so the reply 1011 is accepted (§3.7 table). " +
					"7.3.2, 7.3.6, 7.5.1 and 7.9.x are failed by the fixture with 1002/1007 (not an " +
					"answer), which is accepted",
			},
		},
		"drop": {
			{
				ids:      join(fc, fc7),
				behavior: ok, behaviorClose: unclean, remoteCode: noCode,
				why: "the runner's close is not answered, the fixture drops TCP: a clean close was " +
					"required and no close frame came ⇒ UNCLEAN (§1.10 rule 2); UNCLEAN is not WRONG CODE, " +
					"so section 7 keeps behavior OK (§1.10 step 4). Where no clean close is required " +
					"the fixture fails (1002/1007) instead of answering",
			},
		},
	}
}

func TestFaultFlag(t *testing.T) {
	var f faultFlag
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(&f, "fault", "")
	if err := fs.Parse([]string{"-fault", "utf8,close-code", "-fault", "drop"}); err != nil {
		t.Fatal(err)
	}
	if want := (faults{utf8: true, closeCode: true, drop: true}); !f.set || f.enabled != want {
		t.Errorf("got %+v, want set with %+v", f, want)
	}
	if err := fs.Parse([]string{"-fault", "pong"}); err == nil {
		t.Error("unknown fault accepted")
	}
}

func TestUTF8Stream(t *testing.T) {
	for _, tc := range []struct {
		pieces   []string
		okUntil  int // pieces accepted before the first rejection (len = all)
		complete bool
	}{
		{[]string{"\xce\xba\xe1", "\xbd\xb9"}, 2, true},
		{[]string{"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4", "\x90", "\x80\x80edited"}, 1, false}, // 6.4.2
		{[]string{"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", "\xf4\x90\x80\x80", "edited"}, 1, false}, // 6.4.1
		{[]string{"\xed", "\xa0\x80"}, 1, false},                                                           // surrogate
		{[]string{"\xef\xbf"}, 1, false},                                                                   // 6.14.7: only the end tells
		{[]string{"\xc0"}, 0, false},
	} {
		var u utf8Stream
		n := 0
		for _, p := range tc.pieces {
			if !u.write([]byte(p)) {
				break
			}
			n++
		}
		if n != tc.okUntil || (n == len(tc.pieces) && u.complete() != tc.complete) {
			t.Errorf("%q: accepted %d pieces (complete %v), want %d (complete %v)", tc.pieces, n, u.complete(), tc.okUntil, tc.complete)
		}
	}
}

// TestRunnerCatchesPlantedFaults is the check described at the top of the
// file. The six runs are started together (not with t.Parallel, which is
// limited to GOMAXPROCS): they mostly wait for the runner's timers (about
// 10 s of CPU for 100 s of wall time when run one after the other), and the
// fixture answers in microseconds, far inside the 0.5–1 s timers the
// verdicts depend on.
func TestRunnerCatchesPlantedFaults(t *testing.T) {
	excluded := faultyExcluded
	if raceDetector {
		excluded = append(excluded, raceExcluded...)
		t.Logf("race detector on: section 9 reduced to 9.1.1, 9.2.1, 9.7.x, 9.8.x")
	}
	sel, err := fuzzer.Select(faultySelection, excluded)
	if err != nil {
		t.Fatal(err)
	}
	inSel := map[string]bool{}
	for _, c := range sel {
		inSel[c.ID] = true
	}
	t.Logf("%d cases (sections 1–7, 9, 10 without %s)", len(sel), strings.Join(excluded, " "))
	expected := expectedMisses(sel)
	deadline := time.Now().Add(runTimeout)
	runs := map[string]<-chan runOutcome{}
	for _, name := range faultNames {
		var ff faultFlag
		if err := ff.Set(name); err != nil {
			t.Fatal(err)
		}
		runs[name] = startFixtureRun(t, ff.enabled, name, sel)
	}
	for _, name := range faultNames {
		groups, found := expected[name]
		if !found {
			t.Fatalf("no expectation for fault %q", name)
		}
		t.Run(name, func(t *testing.T) {
			want := map[string]missGroup{}
			for _, g := range groups {
				for _, id := range g.ids {
					if !inSel[id] {
						t.Fatalf("expected miss %s is not in the selection", id)
					}
					if _, dup := want[id]; dup {
						t.Fatalf("%s is expected in two groups", id)
					}
					want[id] = g
				}
			}
			results := waitFixtureRun(t, runs[name], deadline)
			if len(results) != len(sel) {
				t.Fatalf("%d results for %d cases", len(results), len(sel))
			}
			misses := 0
			for _, r := range results {
				id := r.Case.ID
				g, wantMiss := want[id]
				missed := !fuzzer.Passed(id, r.Behavior, r.BehaviorClose)
				if missed {
					misses++
				}
				code := noCode
				if r.Conn.RemoteCloseCode != nil {
					code = *r.Conn.RemoteCloseCode
				}
				switch {
				case !wantMiss && missed:
					t.Errorf("%s: %s / %s (remote code %d), want a pass — %s / %s", id, r.Behavior, r.BehaviorClose, code, r.Text, r.TextClose)
				case wantMiss && (r.Behavior != g.behavior || r.BehaviorClose != g.behaviorClose):
					t.Errorf("%s: %s / %s, want %s / %s because %s — runner: %s / %s", id, r.Behavior, r.BehaviorClose,
						g.behavior, g.behaviorClose, g.why, r.Text, r.TextClose)
				case wantMiss && g.remoteCode != anyCode && code != g.remoteCode:
					t.Errorf("%s: remote close code %d, want %d because %s", id, code, g.remoteCode, g.why)
				}
			}
			t.Logf("%d of %d cases miss, %d expected", misses, len(results), len(want))
		})
	}
}

// runOutcome is what one run of the runner against the fixture produced.
type runOutcome struct {
	results []*fuzzer.Result
	err     error
	took    time.Duration
}

// startFixtureRun serves the fixture with the given faults on a loopback
// port and starts the runner on the selection against it. The fixture's
// server is closed when the test ends (hijacked connections end with their
// case).
func startFixtureRun(t *testing.T, f faults, name string, sel []*fuzzer.Case) <-chan runOutcome {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: faultyHandler(f), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	var progress fuzzer.Reporter
	if testing.Verbose() && os.Getenv("FAULTY_PROGRESS") != "" {
		progress = fuzzer.NewProgress(os.Stderr, fuzzer.ProgressCaseLines, sel)
	}
	done := make(chan runOutcome, 1)
	go func() {
		start := time.Now()
		rs, err := fuzzer.RunClient(fuzzer.Target{URL: "ws://" + ln.Addr().String(), Agent: "faulty-" + name}, sel, nil, progress)
		done <- runOutcome{rs, err, time.Since(start)}
	}()
	return done
}

// runTimeout bounds all runs together; they take 30–60 s.
const runTimeout = 4 * time.Minute

// waitFixtureRun waits until deadline for a run started by startFixtureRun.
func waitFixtureRun(t *testing.T, done <-chan runOutcome, deadline time.Time) []*fuzzer.Result {
	t.Helper()
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatal(o.err)
		}
		t.Logf("run took %s", o.took.Round(time.Millisecond))
		return o.results
	case <-time.After(time.Until(deadline)):
		t.Fatalf("the run did not end within %s", runTimeout)
		return nil
	}
}
