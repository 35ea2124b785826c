package fuzzer

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Progress output while a run goes on. A full run takes minutes (sections
// 9, 12 and 13 send gigabytes in total), so the runner says where it is
// and roughly how long the rest will take.

// Reporter is told when a case starts and when it has ended. RunClient
// calls it from one goroutine; a Server calls it from the goroutine of each
// case, so an implementation must be safe for concurrent use.
type Reporter interface {
	CaseStarted(c *Case)
	CaseDone(r *Result)
	// Notef shows a message about the run (an error writing reports, say)
	// without garbling the progress display.
	Notef(format string, args ...any)
}

// ProgressMode selects what a Progress writes.
type ProgressMode int

const (
	// ProgressOff writes nothing.
	ProgressOff ProgressMode = iota
	// ProgressCaseLines writes one line per finished case: id, verdicts
	// and duration.
	ProgressCaseLines
	// ProgressLive is for a terminal: one status line (case n of N, its
	// section, elapsed time, an estimate of the time left) rewritten in
	// place every second.
	ProgressLive
	// ProgressLog is for logs that cannot rewrite a line (CI): a line when
	// a section is finished and, during long sections, a status line every
	// LogInterval.
	ProgressLog
)

// Intervals of the progress display.
const (
	LiveInterval = time.Second      // redraw of the terminal line, so the clocks move during long cases
	LogInterval  = 20 * time.Second // longest silence in a log while cases run
)

// Progress is the Reporter of the wstest command.
type Progress struct {
	out  io.Writer
	mode ProgressMode

	mu      sync.Mutex
	start   time.Time
	total   int            // planned cases
	pending map[string]int // planned cases not yet ended, by id
	done    int
	missed  int // ended cases that miss the pass criterion
	running *Case
	runFrom time.Time            // when the running case started
	began   map[string]time.Time // start of each case not yet ended
	est     estimator

	// log mode: the sections begun and not yet logged, in order, and the
	// time of the last line
	sections []*sectionTally
	lastLine time.Time
	// live mode: the length of the line on screen, to blank it when shorter
	shown int

	stop chan struct{}
	wg   sync.WaitGroup
}

// NewProgress starts the display for the planned cases (in the order they
// are expected to run; a case may appear more than once, for several
// testee servers). Finish ends it.
func NewProgress(out io.Writer, mode ProgressMode, planned []*Case) *Progress {
	now := time.Now()
	p := &Progress{out: out, mode: mode, start: now, lastLine: now, began: map[string]time.Time{},
		total: len(planned), pending: map[string]int{}, stop: make(chan struct{})}
	if out == nil {
		p.mode = ProgressOff
	}
	for _, c := range planned {
		p.pending[c.ID]++
	}
	p.est.init(planned)
	if p.mode == ProgressLive || p.mode == ProgressLog {
		every := LiveInterval
		if p.mode == ProgressLog {
			every = time.Second // checks; a line is due only after LogInterval of silence
		}
		p.wg.Add(1)
		go p.tick(every)
	}
	return p
}

func (p *Progress) tick(every time.Duration) {
	defer p.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			switch p.mode {
			case ProgressLive:
				p.drawLive()
			case ProgressLog:
				if time.Since(p.lastLine) >= LogInterval {
					p.logLine("  " + p.status(time.Now()))
				}
			}
			p.mu.Unlock()
		}
	}
}

// CaseStarted implements Reporter.
func (p *Progress) CaseStarted(c *Case) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.running, p.runFrom = c, now
	p.began[c.ID] = now
	switch p.mode {
	case ProgressLive:
		p.drawLive()
	case ProgressLog:
		p.tally(c.Section(), now).running++
		p.logSections(now, false)
	}
}

// CaseDone implements Reporter.
func (p *Progress) CaseDone(r *Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	// The case's wall time counts from the connection's start, so that it includes the opening
	// handshake (r.Duration does not) but not the time a testee client
	// takes before it asks for the next case.
	if began, ok := p.began[r.Case.ID]; ok {
		p.est.observe(r, now.Sub(began))
		delete(p.began, r.Case.ID)
	}
	if p.running == r.Case {
		p.running = nil
	}
	if p.pending[r.Case.ID] > 0 {
		p.pending[r.Case.ID]--
	}
	p.done++
	pass := Passed(r.Case.ID, r.Behavior, r.BehaviorClose)
	if !pass {
		p.missed++
	}
	switch p.mode {
	case ProgressCaseLines:
		fmt.Fprintf(p.out, "%-8s %-14s %-14s %5dms\n", r.Case.ID, r.Behavior, r.BehaviorClose, r.Duration.Milliseconds())
	case ProgressLive:
		p.drawLive()
	case ProgressLog:
		t := p.tally(r.Case.Section(), now)
		t.running--
		t.cases++
		if !pass {
			t.missed++
		}
		t.end = now
		p.logSections(now, false)
	}
}

// Notef implements Reporter.
func (p *Progress) Notef(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLive()
	msg := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	fmt.Fprint(os.Stderr, msg)
	if p.mode == ProgressLive {
		p.drawLive()
	}
}

// Finish ends the display; the terminal line stays as the last word.
func (p *Progress) Finish() {
	close(p.stop)
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.mode {
	case ProgressLive:
		p.running = nil
		p.drawLive()
		fmt.Fprintln(p.out)
		p.shown = 0
	case ProgressLog:
		p.logSections(time.Now(), true)
	}
}

// sectionTally counts the cases of one section in log mode.
type sectionTally struct {
	name                   string
	cases, missed, running int // ended, of those missing the criterion, started and not ended
	start, end             time.Time
}

// tally returns the tally of a section, beginning it if needed.
func (p *Progress) tally(name string, now time.Time) *sectionTally {
	for _, t := range p.sections {
		if t.name == name {
			return t
		}
	}
	t := &sectionTally{name: name, start: now, end: now}
	p.sections = append(p.sections, t)
	return t
}

// logSections writes the line of each finished section: one that a later
// section has followed and that has no case running. In the fuzzingserver
// role the client may already start the next case while the runner is
// finishing the previous one, so "a later case started" is not enough.
// all logs every section, at the end of the run.
func (p *Progress) logSections(now time.Time, all bool) {
	for len(p.sections) > 0 {
		t := p.sections[0]
		if !all && (len(p.sections) == 1 || t.running > 0) {
			return
		}
		p.sections = p.sections[1:]
		if t.cases == 0 {
			continue
		}
		line := fmt.Sprintf("section %s: %d cases in %s, %d missed; %d of %d done, %s elapsed",
			t.name, t.cases, roundDuration(t.end.Sub(t.start)), t.missed,
			p.done, p.total, roundDuration(now.Sub(p.start)))
		if left, ok := p.left(now); ok {
			line += fmt.Sprintf(", ~%s left", roundDuration(left))
		}
		p.logLine(line)
	}
}

func (p *Progress) logLine(s string) {
	fmt.Fprintln(p.out, s)
	p.lastLine = time.Now()
}

// status describes where the run is: case n of N, the running case and
// its section, elapsed time, the estimate of the time left, misses.
func (p *Progress) status(now time.Time) string {
	var b strings.Builder
	n := p.done
	if p.running != nil {
		n++ // the case being run is "case n of N"
	}
	fmt.Fprintf(&b, "case %d of %d", min(n, p.total), p.total)
	if c := p.running; c != nil {
		fmt.Fprintf(&b, " (%s, section %s)", c.ID, c.Section())
	}
	fmt.Fprintf(&b, ", %s elapsed", roundDuration(now.Sub(p.start)))
	if left, ok := p.left(now); ok {
		fmt.Fprintf(&b, ", ~%s left", roundDuration(left))
	}
	if p.missed > 0 {
		fmt.Fprintf(&b, ", %d missed", p.missed)
	}
	return b.String()
}

// left estimates the time the planned cases not yet ended will take.
func (p *Progress) left(now time.Time) (time.Duration, bool) {
	if p.done == 0 || p.done >= p.total {
		return 0, false // nothing to go by, or nothing left
	}
	var running *Case
	var spent time.Duration
	if p.running != nil {
		running, spent = p.running, now.Sub(p.runFrom)
	}
	return p.est.left(p.pending, running, spent), true
}

func (p *Progress) drawLive() {
	line := p.status(time.Now())
	// A line longer than the terminal would wrap, and \r only returns to
	// the start of the last screen row: keep it within 79 columns.
	if len(line) > 79 {
		line = line[:79]
	}
	pad := ""
	if n := len(line); n < p.shown {
		pad = strings.Repeat(" ", p.shown-n)
	}
	// \r returns to the start of the line; the padding blanks what a
	// longer previous line left behind.
	fmt.Fprint(p.out, "\r"+line+pad)
	p.shown = len(line)
}

// clearLive blanks the live line so that other output starts on a clean
// line; the next draw puts it back.
func (p *Progress) clearLive() {
	if p.mode == ProgressLive && p.shown > 0 {
		fmt.Fprint(p.out, "\r"+strings.Repeat(" ", p.shown)+"\r")
		p.shown = 0
	}
}

// roundDuration shortens a duration for display: 9.4s, 1m05s, 1h02m.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}
