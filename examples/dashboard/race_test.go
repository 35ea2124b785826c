//go:build race

package main

// defaultClients is how many clients TestUpdatesAndNotifications connects
// under the race detector: 200. The detector makes every goroutine several
// times slower and bigger, and a thousand clients with their server (about
// 3,000 goroutines) take too long on a two-core machine; the full thousand
// run without -race (make e2e-dashboard runs both).
const defaultClients = 200
