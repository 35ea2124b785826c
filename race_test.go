//go:build race

package websocket

// raceEnabled is true under the race detector, which makes sync.Pool drop
// a random share of what is put back: allocation counts mean nothing then.
const raceEnabled = true
