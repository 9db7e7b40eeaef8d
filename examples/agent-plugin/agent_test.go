package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/sdktest"
)

func want(out string) func(sdk.Result) error {
	return func(r sdk.Result) error {
		if !r.OK || r.Output != out {
			return fmt.Errorf("output %q, want %q", r.Output, out)
		}
		return nil
	}
}

func options() sdktest.Options {
	return sdktest.Options{
		Config: map[string]any{"uppercase": true},
		Tasks: []sdktest.Case{
			{Name: "reverse", Task: sdk.Task{JobID: "a", Payload: []byte("planet")}, Expect: want("TENALP")},
			{Name: "empty", Task: sdk.Task{JobID: "b"}, Expect: sdktest.Failed},
		},
	}
}

// The agent in-process, over real gRPC.
func TestConformance(t *testing.T) {
	sdktest.Run(t, func() sdk.Agent { return &reverser{} }, options())
}

// The built binary, launched the way planetary launches it.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "echo-reverse")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sdktest.RunBinary(t, bin, options())
}
