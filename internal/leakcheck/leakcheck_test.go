package leakcheck

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTB records what a check reports instead of failing the test that
// runs it. Embedding testing.TB gives it the interface's unexported method;
// a method Verify is not expected to call panics on the nil embedded value.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) reported() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.errors
}

// leakyWorker blocks until release is closed. Its name is what the test
// looks for in the reported stacks.
func leakyWorker(release <-chan struct{}) { <-release }

func TestLeakIsReported(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})

	before := Take()
	go func() {
		close(started)
		leakyWorker(release)
	}()
	<-started

	// Leaked is Verify with a short wait: the goroutine blocks until the
	// test ends, so no wait would see it go.
	leaked := before.Leaked(50 * time.Millisecond)
	if len(leaked) != 1 {
		t.Fatalf("Leaked found %d goroutines, want 1:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
	}
	if !strings.Contains(leaked[0], "leakcheck.leakyWorker(") {
		t.Errorf("the reported stack does not show the leaking function:\n%s", leaked[0])
	}
}

func TestVerifyReportsLeakThroughTB(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})

	fake := &fakeTB{}
	before := Take()
	go func() {
		close(started)
		leakyWorker(release)
	}()
	<-started
	VerifyWithin(fake, before, 50*time.Millisecond)

	errs := fake.reported()
	if len(errs) != 1 {
		t.Fatalf("Verify reported %d errors, want 1: %q", len(errs), errs)
	}
	if !strings.Contains(errs[0], "1 goroutine(s) still running") || !strings.Contains(errs[0], "leakcheck.leakyWorker(") {
		t.Errorf("the report does not name the leaked goroutine:\n%s", errs[0])
	}
}

func TestCheckPassesWithoutLeak(t *testing.T) {
	fake := &fakeTB{}
	check := Check(fake)
	done := make(chan struct{})
	go close(done)
	<-done
	check()
	if errs := fake.reported(); len(errs) > 0 {
		t.Errorf("Check reported a goroutine that had ended: %q", errs)
	}
}

func TestGoroutineThatEndsWhileCheckWaitsIsNotALeak(t *testing.T) {
	release := make(chan struct{})
	done := make(chan struct{})
	polls := 0
	// The goroutine is released only once the check has looked and found
	// it running, so the check must wait for it rather than look once.
	afterPoll = func() {
		polls++
		if polls == 1 {
			close(release)
		}
	}
	defer func() { afterPoll = nil }()

	fake := &fakeTB{}
	before := Take()
	go func() {
		defer close(done)
		leakyWorker(release)
	}()
	VerifyWithin(fake, before, DefaultTimeout)
	<-done
	if polls == 0 {
		t.Fatal("the check never saw the goroutine running")
	}
	if errs := fake.reported(); len(errs) > 0 {
		t.Errorf("a goroutine that ended within the wait was reported: %q", errs)
	}
}

func TestGoroutinesFromBeforeAreNotLeaks(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	go func() {
		close(started)
		leakyWorker(release)
	}()
	<-started
	defer close(release)

	fake := &fakeTB{}
	Check(fake)()
	if errs := fake.reported(); len(errs) > 0 {
		t.Errorf("a goroutine started before the snapshot was reported: %q", errs)
	}
}

func TestParallelTestsAreNotLeaks(t *testing.T) {
	fake := &fakeTB{}
	check := Check(fake)
	// A parallel subtest is a goroutine started by testing.tRunner, as a
	// test running in parallel with the checked one is: not the checked
	// test's to wait for. This one is paused in t.Parallel until its
	// parent returns, so it is certainly running during the check.
	release := make(chan struct{})
	t.Run("blocked", func(t *testing.T) {
		t.Parallel()
		<-release
	})
	check()
	close(release)
	if errs := fake.reported(); len(errs) > 0 {
		t.Errorf("a parallel subtest was reported as a leak: %q", errs)
	}
}

func TestEntryFunction(t *testing.T) {
	for _, tc := range []struct {
		name, stack, want string
	}{
		{
			name: "created",
			stack: "goroutine 7 [chan receive]:\n" +
				"example.com/p.wait(...)\n\t/src/p/p.go:10\n" +
				"example.com/p.Start.func1()\n\t/src/p/p.go:20 +0x1d\n" +
				"created by example.com/p.Start in goroutine 6\n\t/src/p/p.go:19 +0x65",
			want: "example.com/p.Start.func1()",
		},
		{
			name: "main goroutine",
			stack: "goroutine 1 [running]:\n" +
				"main.main()\n\t/src/main.go:5 +0x25",
			want: "main.main()",
		},
		{
			name: "elided frames",
			stack: "goroutine 9 [running]:\n" +
				"example.com/p.deep(0x1)\n\t/src/p/p.go:3 +0x1\n" +
				"...additional frames elided...\n" +
				"example.com/p.run()\n\t/src/p/p.go:9 +0x1\n" +
				"created by example.com/p.Go in goroutine 1\n\t/src/p/p.go:8 +0x1",
			want: "example.com/p.run()",
		},
	} {
		if got := entryFunction(tc.stack); got != tc.want {
			t.Errorf("%s: entryFunction = %q, want %q", tc.name, got, tc.want)
		}
	}
}
