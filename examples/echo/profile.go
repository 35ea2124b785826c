package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

var cpuProfile = flag.String("cpuprofile", "", "write a CPU profile to this file, from start until SIGINT or SIGTERM")

// startProfile starts the CPU profile asked for with -cpuprofile. It is
// written when the server is stopped with SIGINT or SIGTERM, the way
// benchmark harnesses stop servers, so a measured run can be profiled
// as it is:
//
//	go run ./examples/echo -cpuprofile cpu.prof
//	go tool pprof -top cpu.prof
func startProfile() {
	if *cpuProfile == "" {
		return
	}
	f, err := os.Create(*cpuProfile)
	if err != nil {
		log.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Fatal(err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-stop
		pprof.StopCPUProfile()
		f.Close()
		os.Exit(0)
	}()
}
