package exec

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/sdktest"
)

func payload(t testing.TB, p Payload) []byte {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantError(sub string) func(sdk.Result) error {
	return func(r sdk.Result) error {
		if r.OK || !strings.Contains(r.Error, sub) {
			return errors.New("want a failure mentioning " + strconv.Quote(sub))
		}
		return nil
	}
}

func TestConformance(t *testing.T) {
	sdktest.Run(t, New, sdktest.Options{
		Config: map[string]any{"enabled": true, "allow": []string{"sh", "false"}},
		Tasks: []sdktest.Case{
			{Name: "echo", Task: sdk.Task{JobID: "echo", Payload: payload(t, Payload{Command: "sh", Args: []string{"-c", "echo hi $X; pwd"}, Env: map[string]string{"X": "there"}})},
				Expect: func(r sdk.Result) error {
					if !r.OK || !strings.Contains(r.Output, "hi there") || !strings.Contains(r.Output, "/exec/echo-1") {
						return errors.New("want OK with output and the working dir")
					}
					return nil
				}},
			{Name: "exit code", Task: sdk.Task{JobID: "false", Payload: payload(t, Payload{Command: "false"})},
				Expect: func(r sdk.Result) error {
					if r.OK || r.ExitCode != 1 {
						return errors.New("want exit code 1")
					}
					return nil
				}},
			{Name: "not allowed", Task: sdk.Task{JobID: "ls", Payload: payload(t, Payload{Command: "ls"})}, Expect: wantError("allow list")},
			{Name: "path not allowed", Task: sdk.Task{JobID: "binsh", Payload: payload(t, Payload{Command: "/bin/sh"})}, Expect: wantError("allow list")},
			{Name: "dir escape", Task: sdk.Task{JobID: "esc", Payload: payload(t, Payload{Command: "sh", Args: []string{"-c", "true"}, Dir: "../x"})}, Expect: wantError("relative path")},
			{Name: "timeout", Task: sdk.Task{JobID: "slow", Payload: payload(t, Payload{Command: "sh", Args: []string{"-c", "sleep 30"}, TimeoutMS: 50})}, Expect: wantError("timed out")},
		},
		Cancel: &sdk.Task{JobID: "long", Payload: payload(t, Payload{Command: "sh", Args: []string{"-c", "sleep 60"}})},
	})
}

func TestDisabledByDefault(t *testing.T) {
	sdktest.Run(t, New, sdktest.Options{
		Config: map[string]any{"allow": []string{"sh"}},
		Tasks: []sdktest.Case{{Name: "refused", Task: sdk.Task{JobID: "j", Payload: payload(t, Payload{Command: "sh", Args: []string{"-c", "true"}})},
			Expect: wantError("disabled")}},
	})
}

func configured(t *testing.T, allow ...string) *Agent {
	t.Helper()
	a := New().(*Agent)
	err := a.Configure(context.Background(), sdk.Config{Node: sdk.NodeInfo{DataDir: t.TempDir()},
		Values: map[string]any{"enabled": true, "allow": allow}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestOutputBounded(t *testing.T) {
	a := configured(t, "sh")
	res, err := a.Execute(context.Background(), sdk.Task{JobID: "big", Attempt: 1,
		Payload: payload(t, Payload{Command: "sh", Args: []string{"-c", "head -c 200000 /dev/zero"}})})
	if err != nil || !res.OK {
		t.Fatalf("res %+v err %v", res.Error, err)
	}
	if len(res.Output) > MaxOutput+100 || !strings.Contains(res.Output, "output truncated: 134464 more bytes") {
		t.Fatalf("output is %d bytes, tail %q", len(res.Output), res.Output[len(res.Output)-60:])
	}
}

// Cancelling a task kills its whole process group, not just the shell.
func TestCancelKillsProcessGroup(t *testing.T) {
	a := configured(t, "sh")
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := a.Execute(ctx, sdk.Task{JobID: "grp", Attempt: 1,
			Payload: payload(t, Payload{Command: "sh", Args: []string{"-c", "sleep 60 & echo $! > " + pidFile + "; wait"}})})
		done <- err
	}()
	var pid int
	deadline := time.Now().Add(10 * time.Second)
	for pid == 0 {
		if time.Now().After(deadline) {
			t.Fatal("child never started")
		}
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d survived cancellation", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		allow   []string
		cmd     string
		wantErr error
	}{
		{"bare name allowed", []string{"sh"}, "sh", nil},
		{"bare name refused", []string{"sh"}, "ls", ErrNotAllowed},
		{"path must be listed exactly", []string{"sh"}, "/bin/sh", ErrNotAllowed},
		{"path listed", []string{"/bin/sh"}, "/bin/sh", nil},
		{"relative path refused", []string{"./sh"}, "./sh", ErrNotAllowed},
		{"empty", []string{"sh"}, "", ErrBadPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolve(tt.allow, tt.cmd)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
