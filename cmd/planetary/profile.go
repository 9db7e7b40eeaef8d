package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// startProfiles starts a CPU profile and an execution trace of this process
// when their paths are set; the returned stop writes and closes them.
func startProfiles(cpuPath, tracePath string) (stop func(), err error) {
	var closers []func()
	stop = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return stop, fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return stop, fmt.Errorf("cpu profile: %w", err)
		}
		closers = append(closers, func() { pprof.StopCPUProfile(); _ = f.Close() })
	}
	if tracePath != "" {
		f, err := os.Create(tracePath)
		if err != nil {
			stop()
			return func() {}, fmt.Errorf("execution trace: %w", err)
		}
		if err := trace.Start(f); err != nil {
			_ = f.Close()
			stop()
			return func() {}, fmt.Errorf("execution trace: %w", err)
		}
		closers = append(closers, func() { trace.Stop(); _ = f.Close() })
	}
	return stop, nil
}
