//go:build !race

package main

// defaultClients is how many clients TestUpdatesAndNotifications connects
// without the race detector (see race_test.go for the count under it).
const defaultClients = 1000
