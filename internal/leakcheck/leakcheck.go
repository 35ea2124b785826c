// Package leakcheck finds goroutines a test left running.
//
// A test takes a snapshot of the goroutines before it starts anything, and
// at its end waits until every goroutine that was not in the snapshot has
// returned. Goroutines end some time after the code that stopped them
// returns (a connection's reader notices the close a moment later, a
// handler returns after the server hung up), so the check polls for up to
// a bound instead of looking once; only what is still running then is a
// leak, reported with its stack.
//
//	func TestSomething(t *testing.T) {
//		defer leakcheck.Check(t)()
//		...
//	}
//
// Goroutine IDs are never reused by the runtime, so a goroutine is known
// by its ID: one that was in the snapshot is not a leak however long it
// runs, and a new one with an old ID cannot exist.
package leakcheck

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DefaultTimeout is how long Check and Verify wait for new goroutines to
// end before they report them.
const DefaultTimeout = 10 * time.Second

// Snapshot is the set of goroutines running at one moment.
type Snapshot struct {
	ids map[uint64]bool
}

// Take records the goroutines running now.
func Take() Snapshot {
	s := Snapshot{ids: make(map[uint64]bool)}
	for _, g := range goroutines() {
		s.ids[g.id] = true
	}
	return s
}

// Check takes a snapshot and returns the function that verifies it, for
// use as defer leakcheck.Check(t)().
func Check(tb testing.TB) func() {
	before := Take()
	return func() {
		tb.Helper()
		Verify(tb, before)
	}
}

// Verify waits up to DefaultTimeout for the goroutines started since
// before was taken to end, and fails tb with the stacks of those that do
// not.
func Verify(tb testing.TB, before Snapshot) {
	tb.Helper()
	VerifyWithin(tb, before, DefaultTimeout)
}

// VerifyWithin is Verify with a wait of its own.
func VerifyWithin(tb testing.TB, before Snapshot, timeout time.Duration) {
	tb.Helper()
	if leaked := before.Leaked(timeout); len(leaked) > 0 {
		tb.Errorf("leakcheck: %d goroutine(s) still running after %v:\n\n%s",
			len(leaked), timeout, strings.Join(leaked, "\n\n"))
	}
}

// Leaked waits up to timeout for the goroutines started since s was taken
// to end, and returns the stacks of those still running then, or nil if
// none is. Goroutines of the test framework and of the runtime are not
// counted (see ignored), nor is the calling goroutine.
func (s Snapshot) Leaked(timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	self := currentID()
	// Start with short waits, since most goroutines end within a few
	// milliseconds of being told to, and back off so that a long wait
	// does not keep taking stacks of every goroutine.
	wait := time.Millisecond
	for {
		var leaked []string
		for _, g := range goroutines() {
			if !s.ids[g.id] && g.id != self && !ignored(g.stack) {
				leaked = append(leaked, g.stack)
			}
		}
		if len(leaked) == 0 {
			return nil
		}
		if !time.Now().Before(deadline) {
			return leaked
		}
		if afterPoll != nil {
			afterPoll()
		}
		time.Sleep(min(wait, time.Until(deadline)))
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// afterPoll, if set, runs after each look that found goroutines still
// running: a test uses it to end a goroutine while the check waits.
var afterPoll func()

// goroutine is one entry of a full goroutine dump.
type goroutine struct {
	id    uint64
	stack string // the whole entry, from its "goroutine N [state]:" line
}

// goroutines returns every goroutine's stack, as runtime.Stack writes
// them: entries separated by a blank line, each starting with
// "goroutine N [state]:".
func goroutines() []goroutine {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		// Truncated: a cut-off entry would be misread, so take it again
		// with room to spare.
		buf = make([]byte, 2*len(buf))
	}
	var gs []goroutine
	for _, entry := range bytes.Split(buf, []byte("\n\n")) {
		id, ok := parseID(entry)
		if !ok {
			continue
		}
		gs = append(gs, goroutine{id: id, stack: string(bytes.TrimSpace(entry))})
	}
	return gs
}

// parseID reads N from an entry's first line, "goroutine N [state]:".
func parseID(entry []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(entry, []byte("goroutine "))
	if !ok {
		return 0, false
	}
	idText, _, ok := bytes.Cut(rest, []byte(" "))
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseUint(string(idText), 10, 64)
	return id, err == nil
}

// currentID returns the calling goroutine's ID, from its own stack.
func currentID() uint64 {
	var buf [64]byte
	id, ok := parseID(buf[:runtime.Stack(buf[:], false)])
	if !ok {
		panic("leakcheck: cannot read the goroutine ID from runtime.Stack")
	}
	return id
}

// ignoredEntries are the functions that start goroutines a test does not
// own. A goroutine is known by the function it was started with, which is
// the last function of its stack (above the "created by" line):
//
//   - testing.tRunner runs a test. A new one is another test, or a subtest
//     running in parallel with this one: its goroutines are its own
//     business, and its own check finds its leaks.
//   - os/signal.loop is started, once per process, by the first
//     signal.Notify, and runs for the life of the process.
//   - runtime functions (the finalizer and cleanup goroutines among them,
//     in dumps with GOTRACEBACK=system) belong to the runtime.
var ignoredEntries = []string{
	"testing.tRunner(",
	"testing.runFuzzing(",
	"os/signal.loop(",
	"runtime.",
}

// ignored reports whether the goroutine with this stack entry was started
// by one of ignoredEntries.
func ignored(stack string) bool {
	entry := entryFunction(stack)
	for _, prefix := range ignoredEntries {
		if strings.HasPrefix(entry, prefix) {
			return true
		}
	}
	return false
}

// entryFunction returns the line of the function a goroutine was started
// with: the last function line of its stack, before the "created by" line
// if there is one. Lines alternate between a function call and its file
// and line (indented with a tab), after the first "goroutine N" line.
func entryFunction(stack string) string {
	lines := strings.Split(stack, "\n")
	entry := ""
	for _, line := range lines[1:] {
		switch {
		case strings.HasPrefix(line, "created by "):
			return entry
		case strings.HasPrefix(line, "\t"), line == "":
			// A file:line line, or the "...additional frames elided..."
			// marker's neighbours.
		case strings.HasPrefix(line, "..."):
			// Frames were elided from the middle of a deep stack; the
			// entry function is still the last one.
		default:
			entry = line
		}
	}
	return entry
}
