package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary be the soak's server too: run starts the
// running executable again as the server, and here that is this binary.
func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) == "server" {
		os.Exit(runServer())
	}
	os.Exit(m.Run())
}

// TestSoak runs the soak for a few seconds with a few hundred connections,
// with both ways of broadcasting: every echo and every broadcast arrives,
// nothing fails, and the server comes back to its baseline.
func TestSoak(t *testing.T) {
	for _, broadcast := range []string{"rooms", "prepared"} {
		t.Run(broadcast, func(t *testing.T) {
			cfg := defaultConfig()
			cfg.Conns = 200
			cfg.Duration = 5 * time.Second
			if broadcast == "prepared" {
				cfg.Duration = 2 * time.Second
			}
			// Faster than the default, for enough echoes in a few seconds.
			cfg.EchoEvery = 200 * time.Millisecond
			cfg.BroadcastEvery = 250 * time.Millisecond
			cfg.Broadcast = broadcast
			cfg.Progress = 0
			var out strings.Builder
			rep, err := run(cfg, &out)
			t.Log("\n" + out.String())
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range rep.failures {
				t.Error(f)
			}
			// A soak that moved nothing would pass the checks above.
			if rep.dialed != cfg.Conns || rep.echoRecv == 0 || rep.bcastRecv == 0 {
				t.Errorf("%d connections, %d echoes and %d broadcasts received: the load did not run", rep.dialed, rep.echoRecv, rep.bcastRecv)
			}
		})
	}
}
