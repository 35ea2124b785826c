//go:build unix

package main

import (
	"syscall"
	"testing"
)

// needFiles makes sure the process may open n files: each client of the
// test is two sockets in this process (its end and the server's). Go
// raises the soft limit to the hard one at start on Linux, and macOS'
// default hard limit is unlimited, so this only raises the soft limit where
// something lowered it again; past the hard limit, only an administrator
// can help (ulimit -Hn).
func needFiles(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		t.Fatalf("the test needs %d open files and the hard limit is %d: raise it (ulimit -Hn) or run with -dashboard.clients=%d", n, lim.Max, (lim.Max-100)/2)
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("setrlimit to %d open files: %v", n, err)
	}
}
