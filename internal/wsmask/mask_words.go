//go:build !(goexperiment.simd && amd64)

package wsmask

// maskVectors has nothing to do where simd/archsimd is not available (see
// mask_vector.go): b is masked word by word by Mask.
func maskVectors(key64 uint64, b []byte) []byte { return b }
