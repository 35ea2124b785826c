//go:build race

package main

// raceDetector reports whether the test binary was built with -race (make
// test does so): the slowdown then calls for a smaller section 9.
const raceDetector = true
