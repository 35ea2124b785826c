//go:build !unix

package main

import "testing"

// needFiles: systems other than Unix have no RLIMIT_NOFILE to raise.
func needFiles(*testing.T, uint64) {}
