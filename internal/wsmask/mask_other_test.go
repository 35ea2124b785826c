//go:build !amd64 || purego

package wsmask

import "testing"

// forEachMaskPath runs f once: this build has only the word loop.
func forEachMaskPath(t *testing.T, f func(t *testing.T)) { t.Helper(); t.Run("words", f) }

func forEachMaskPathB(b *testing.B, f func(b *testing.B)) { b.Run("words", f) }
