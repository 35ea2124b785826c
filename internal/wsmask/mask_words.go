//go:build !amd64 || purego

package wsmask

// maskVectors has nothing to do without the assembly of mask_amd64.s (other
// architectures, or the purego build tag): b is masked word by word by Mask.
func maskVectors(key64 uint64, b []byte) []byte { return b }
