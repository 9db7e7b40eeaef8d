package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
		Config: map[string]any{"enabled": true, "allow": []string{"sh", "false"}, "allow_interpreters": true},
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
		Config: map[string]any{"allow": []string{"true"}},
		Tasks: []sdktest.Case{{Name: "refused", Task: sdk.Task{JobID: "j", Payload: payload(t, Payload{Command: "true"})},
			Expect: wantError("disabled")}},
	})
}

func configured(t *testing.T, allow ...string) *Agent {
	t.Helper()
	a := New().(*Agent)
	err := a.Configure(context.Background(), sdk.Config{Node: sdk.NodeInfo{DataDir: t.TempDir()},
		Values: map[string]any{"enabled": true, "allow": allow, "allow_interpreters": true}})
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
		name         string
		allow        []string
		cmd          string
		interpreters bool
		wantErr      error
	}{
		{"bare name allowed", []string{"sh"}, "sh", true, nil},
		{"bare name refused", []string{"sh"}, "ls", true, ErrNotAllowed},
		{"path must be listed exactly", []string{"sh"}, "/bin/sh", true, ErrNotAllowed},
		{"path listed", []string{"/bin/sh"}, "/bin/sh", true, nil},
		{"relative path refused", []string{"./sh"}, "./sh", true, ErrNotAllowed},
		{"empty", []string{"sh"}, "", true, ErrBadPayload},
		{"interpreter refused at run time", []string{"sh"}, "sh", false, ErrInterpreter},
		{"plain command", []string{"echo"}, "echo", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolve(tt.allow, tt.cmd, tt.interpreters)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestRunOutcomes(t *testing.T) {
	a := configured(t, "sh")
	tests := []struct {
		name     string
		script   string
		env      map[string]string
		ok       bool
		exitCode int64
		output   string // substring
		errSub   string // substring of Result.Error
	}{
		{"stdout and stderr share the output", "echo out; echo err >&2", nil, true, 0, "out\nerr\n", ""},
		{"exit status", "exit 7", nil, false, 7, "", "exit status 7"},
		{"killed by a signal", "kill -9 $$", nil, false, -1, "", "exit status -1"},
		{"env overrides the agent's", `echo "home=$HOME"`, map[string]string{"HOME": "/nowhere"}, true, 0, "home=/nowhere\n", ""},
		{"stdin is empty", "cat; echo done", nil, true, 0, "done\n", ""},
		{"output closed early", "exec >/dev/null 2>&1; sleep 0.05", nil, true, 0, "", ""},
		{"background job with its own output", "sleep 5 >/dev/null 2>&1 & echo started", nil, true, 0, "started\n", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := a.Execute(context.Background(), sdk.Task{JobID: "run" + strconv.Itoa(i), Attempt: 1,
				Payload: payload(t, Payload{Command: "sh", Args: []string{"-c", tt.script}, Env: tt.env})})
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != tt.ok || res.ExitCode != tt.exitCode || !strings.Contains(res.Output, tt.output) || !strings.Contains(res.Error, tt.errSub) {
				t.Fatalf("got ok=%v exit=%d output=%q error=%q", res.OK, res.ExitCode, res.Output, res.Error)
			}
			if strings.Count(res.Output, "home=") > 1 {
				t.Fatalf("variable set twice: %q", res.Output)
			}
		})
	}
}

// A command that exits while a process it started still holds its output
// fails after the wait delay instead of hanging the task.
func TestOutputHeldAfterExit(t *testing.T) {
	a := configured(t, "sh")
	start := time.Now()
	res, err := a.Execute(context.Background(), sdk.Task{JobID: "held", Attempt: 1,
		Payload: payload(t, Payload{Command: "sh", Args: []string{"-c", "sleep 10 & echo parent"}})})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || !strings.Contains(res.Error, "still open") || !strings.Contains(res.Output, "parent") {
		t.Fatalf("res %+v", res)
	}
	if d := time.Since(start); d > waitDelay+3*time.Second {
		t.Fatalf("took %s", d)
	}
}

func threads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatal("no Threads line")
	return 0
}

// Waiting for many running commands holds no OS thread per command, and
// the start gate lets long commands through after the grace period.
func TestManyRunningCommands(t *testing.T) {
	const n = 96
	a := configured(t, "sleep")
	before := threads(t)
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := a.Execute(context.Background(), sdk.Task{JobID: "sleep" + strconv.Itoa(i), Attempt: 1,
				Payload: payload(t, Payload{Command: "sleep", Args: []string{"2"}})})
			if err != nil || !res.OK {
				errs <- fmt.Sprintf("%v %s", err, res.Error)
			}
		}()
	}
	peak, live := 0, 0
	for deadline := time.Now().Add(5 * time.Second); live < n && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		peak, live = max(peak, threads(t)), max(live, countChildren(t))
	}
	if live < n {
		t.Errorf("at most %d of %d commands ran at once", live, n)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if peak-before >= n/2 {
		t.Errorf("threads grew from %d to %d for %d running commands", before, peak, n)
	}
}

// countChildren counts this process's live children.
func countChildren(t *testing.T) int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil || len(tasks) == 0 {
		t.Skip("no /proc children lists")
	}
	n := 0
	for _, f := range tasks {
		// A thread may exit between the listing and the read.
		if b, err := os.ReadFile(f); err == nil {
			n += len(strings.Fields(string(b)))
		}
	}
	return n
}
