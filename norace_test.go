//go:build !race

package websocket

// raceEnabled: see race_test.go.
const raceEnabled = false
