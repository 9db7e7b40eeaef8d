package exec

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/planetary/planetary/sdk"
)

// Shells, interpreters and programs that run their arguments are refused
// in allow, by name or through a link, unless allow_interpreters is set.
func TestAllowRefusesInterpreters(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "harmless")
	if sh, err := filepath.EvalSymlinks("/bin/sh"); err == nil {
		if err := os.Symlink(sh, link); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		allow  []string
		unsafe bool
		want   error
	}{
		{"plain commands", []string{"echo", "true", "printenv", "/bin/true"}, false, nil},
		{"sh", []string{"echo", "sh"}, false, ErrInterpreter},
		{"bash path", []string{"/bin/bash"}, false, ErrInterpreter},
		{"versioned python", []string{"python3.11"}, false, ErrInterpreter},
		{"perl", []string{"perl"}, false, ErrInterpreter},
		{"env runs its arguments", []string{"env"}, false, ErrInterpreter},
		{"xargs runs its input", []string{"/usr/bin/xargs"}, false, ErrInterpreter},
		{"a link to a shell", []string{link}, false, ErrInterpreter},
		{"explicit opt-in", []string{"sh", "python3"}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if slices.Contains(tt.allow, link) {
				if _, err := os.Lstat(link); err != nil {
					t.Skip("no /bin/sh to link to")
				}
			}
			a := New().(*Agent)
			err := a.Configure(context.Background(), sdk.Config{Node: sdk.NodeInfo{DataDir: t.TempDir()},
				Values: map[string]any{"enabled": true, "allow": tt.allow, "allow_interpreters": tt.unsafe}})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Configure = %v, want %v", err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), "allow_interpreters = true") {
				t.Fatalf("error %q does not say how to opt in", err)
			}
		})
	}
}

// A command inherits only HostEnv from the agent and the job's env minus
// loader and interpreter hooks: LD_PRELOAD and LD_DEBUG set in the agent's
// environment or by the job never reach it.
func TestChildEnvFiltered(t *testing.T) {
	t.Setenv("LD_PRELOAD", "/nonexistent/preload.so")
	t.Setenv("LD_DEBUG", "all")
	t.Setenv("PLANETARY_TOKEN", "secret-of-the-agent")
	t.Setenv("TZ", "UTC")
	a := New().(*Agent)
	if err := a.Configure(context.Background(), sdk.Config{Node: sdk.NodeInfo{DataDir: t.TempDir()},
		Values: map[string]any{"enabled": true, "allow": []string{"printenv"}}}); err != nil {
		t.Fatal(err)
	}
	res, err := a.Execute(context.Background(), sdk.Task{JobID: "env", Attempt: 1, Payload: payload(t, Payload{
		Command: "printenv",
		Env: map[string]string{"GREETING": "hi", "LD_PRELOAD": "/tmp/evil.so", "LD_DEBUG": "libs",
			"BASH_ENV": "/tmp/evil.sh", "PYTHONPATH": "/tmp", "GCONV_PATH": "/tmp", "BAD-NAME": "x"},
	})})
	if err != nil || !res.OK {
		t.Fatalf("res %+v err %v", res, err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(res.Output), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	for k := range got {
		if !slices.Contains(HostEnv, k) && k != "GREETING" {
			t.Errorf("the command saw %s=%q", k, got[k])
		}
	}
	if got["GREETING"] != "hi" || got["TZ"] != "UTC" || got["PATH"] == "" {
		t.Errorf("env %v lacks GREETING=hi, TZ=UTC or PATH", got)
	}
}

func TestJobEnvAllowed(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"GREETING", true}, {"HOME", true}, {"_x1", true}, {"LD_PRELOAD", false}, {"LD_LIBRARY_PATH", false},
		{"DYLD_INSERT_LIBRARIES", false}, {"BASH_FUNC_f%%", false}, {"GLIBC_TUNABLES", false},
		{"NODE_OPTIONS", false}, {"PERL5OPT", false}, {"1X", false}, {"A=B", false}, {"", false},
	}
	for _, tt := range tests {
		if got := jobEnvAllowed(tt.name); got != tt.ok {
			t.Errorf("jobEnvAllowed(%q) = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

// A job's timeout_ms above max_timeout_ms, or negative, is refused with
// the field named; the config's own timeout must fit under the cap.
func TestTimeoutCapped(t *testing.T) {
	a := New().(*Agent)
	if err := a.Configure(context.Background(), sdk.Config{Node: sdk.NodeInfo{DataDir: t.TempDir()},
		Values: map[string]any{"enabled": true, "allow": []string{"true"}, "max_timeout_ms": 1000.0, "timeout_ms": 500.0}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		timeout int64
		ok      bool
		errSub  string
	}{
		{"default", 0, true, ""},
		{"at the cap", 1000, true, ""},
		{"above the cap", 1001, false, "timeout_ms 1001 exceeds the agent's max_timeout_ms 1000"},
		{"negative", -5, false, "timeout_ms -5 is negative"},
		{"below the cap", 999, true, ""},
		{"int64 maximum", math.MaxInt64, false, "exceeds the agent's max_timeout_ms 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := a.Execute(context.Background(), sdk.Task{JobID: "t", Attempt: 1,
				Payload: payload(t, Payload{Command: "true", TimeoutMS: tt.timeout})})
			if err != nil || res.OK != tt.ok || !strings.Contains(res.Error, tt.errSub) {
				t.Fatalf("res %+v err %v", res, err)
			}
		})
	}
	for _, vals := range []map[string]any{
		{"enabled": true, "max_timeout_ms": 1000.0, "timeout_ms": 2000.0},
		{"enabled": true, "max_timeout_ms": float64(MaxTimeoutLimit.Milliseconds() + 1)},
	} {
		err := New().Configure(context.Background(), sdk.Config{Node: sdk.NodeInfo{DataDir: t.TempDir()}, Values: vals})
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("Configure(%v) = %v, want ErrTimeout", vals, err)
		}
	}
	atLimit := map[string]any{"enabled": true, "max_timeout_ms": float64(MaxTimeoutLimit.Milliseconds())}
	if err := New().Configure(context.Background(), sdk.Config{Node: sdk.NodeInfo{DataDir: t.TempDir()}, Values: atLimit}); err != nil {
		t.Errorf("Configure(%v) = %v, want the limit itself accepted", atLimit, err)
	}
}
