package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/host"
	"github.com/planetary/planetary/sdk/sdktest"
)

// buildExample builds the example third-party agent.
func buildExample(t *testing.T) (path, sum string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "echo-reverse")
	if out, err := exec.Command("go", "build", "-o", path, "../../examples/agent-plugin").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return path, hex.EncodeToString(s[:])
}

func writeFile(t *testing.T, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCatalog(t *testing.T) {
	bin, sum := buildExample(t)
	// The planetary binary stand-in: serves the agent only when asked as a
	// built-in ("plugin serve echo").
	self := writeFile(t, "planetary", "#!/bin/sh\n[ \"$1 $2 $3\" = \"plugin serve echo\" ] || exit 9\nexec "+bin+"\n", 0o755)
	cfg := DefaultConfig()
	cfg.Logger = sdktest.NewLogger(t)
	cfg.SelfPath = self
	cfg.MinBackoff = 20 * time.Millisecond
	cfg.Poll = 10 * time.Millisecond
	cfg.Plugins = []Spec{
		{Name: "good", Path: bin, SHA256: sum, Config: map[string]any{"uppercase": true}},
		{Name: "builtin", Builtin: true, Kind: "echo"},
		{Name: "crashy", Path: bin, SHA256: sum},
		{Name: "pinned-wrong", Block: `plugin "echo" in agent.hcl`, Path: bin, SHA256: strings.Repeat("0", 64)},
		{Name: "not-exec", Path: writeFile(t, "agent", "#!/bin/sh\n", 0o644)},
		{Name: "garbage", Path: writeFile(t, "noisy", "#!/bin/sh\necho this is not a handshake\nsleep 1\n", 0o755)},
		{Name: "bad-config", Path: bin, SHA256: sum, Config: map[string]any{"nope": 1}},
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	startErr := c.Start(ctx)

	refused := []struct {
		name  string
		want  error
		text  string
		state string // "" for either starting or backing_off (retried)
	}{
		{"pinned-wrong", host.ErrChecksum, bin, StateRefused},
		{"not-exec", host.ErrNotExecutable, "agent", StateRefused},
		{"garbage", host.ErrStart, "this is not a handshake", ""},
		{"bad-config", ErrConfigInvalid, "nope", StateRefused},
	}
	for _, tt := range refused {
		t.Run("refused/"+tt.name, func(t *testing.T) {
			if !errors.Is(startErr, tt.want) || !strings.Contains(startErr.Error(), tt.name) {
				t.Fatalf("start error %v does not report %s with %v", startErr, tt.name, tt.want)
			}
			_, err := c.Get(tt.name)
			if !errors.Is(err, ErrNotRunning) || !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("Get: %v, want %v mentioning %q", err, tt.want, tt.text)
			}
			st, _ := c.State(tt.name)
			switch {
			case tt.state != "" && st.State != tt.state:
				t.Fatalf("state %+v, want %s", st, tt.state)
			case tt.state == "" && st.State != StateBackingOff && st.State != StateStarting:
				t.Fatalf("state %+v, want backing_off or starting", st)
			case st.Reason == "" || !strings.Contains(st.Reason, "(node "+tt.name+")"):
				t.Fatalf("reason %q does not name the node", st.Reason)
			}
		})
	}
	t.Run("sha256 reason", func(t *testing.T) {
		st, _ := c.State("pinned-wrong")
		want := `plugin "echo" in agent.hcl (node pinned-wrong): ` + bin + " does not match its sha256 pin: pinned " +
			strings.Repeat("0", 64) + ", actual " + sum
		if st.Reason != want {
			t.Fatalf("reason\n %q\nwant\n %q", st.Reason, want)
		}
	})

	serving := func(t *testing.T, name, in, want string) {
		t.Helper()
		p, err := c.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := p.Exec(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Send(sdk.Task{JobID: "j", Attempt: 1, Payload: []byte(in)}); err != nil {
			t.Fatal(err)
		}
		r := <-s.Results()
		if r.Err != nil || r.Result.Output != want {
			t.Fatalf("result %+v", r)
		}
	}
	t.Run("serving", func(t *testing.T) {
		serving(t, "good", "abc", "CBA")
		serving(t, "builtin", "abc", "cba")
	})

	t.Run("crash restarts", func(t *testing.T) {
		p, err := c.Get("crashy")
		if err != nil {
			t.Fatal(err)
		}
		old := p.Pid()
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "restart", func() bool {
			p, err := c.Get("crashy")
			return err == nil && p.Pid() != old
		})
		serving(t, "crashy", "xy", "yx")
		for _, s := range c.Status() {
			if s.Name == "crashy" && (s.Restarts < 1 || s.Crashes != 1 || s.State != StateUp || s.Reason != "") {
				t.Fatalf("status %+v", s)
			}
		}
		serving(t, "good", "ok", "KO")
	})

	t.Run("update fixes a pin", func(t *testing.T) {
		spec, _ := c.Spec("pinned-wrong")
		spec.SHA256 = sum
		relaunched, err := c.Update(ctx, spec)
		if err != nil || !relaunched {
			t.Fatalf("Update: relaunched %v, err %v", relaunched, err)
		}
		if st, _ := c.State("pinned-wrong"); st.State != StateUp || !st.Running || st.Reason != "" {
			t.Fatalf("after update: %+v", st)
		}
		serving(t, "pinned-wrong", "pin", "nip")
		p, _ := c.Get("pinned-wrong")
		if relaunched, err := c.Update(ctx, spec); relaunched || err != nil {
			t.Fatalf("same spec again: relaunched %v, err %v", relaunched, err)
		}
		if q, _ := c.Get("pinned-wrong"); q.Pid() != p.Pid() {
			t.Fatalf("an identical spec restarted the plugin (pid %d -> %d)", p.Pid(), q.Pid())
		}
	})

	t.Run("close kills all", func(t *testing.T) {
		var pids []int
		for _, s := range c.Status() {
			if s.Running {
				pids = append(pids, s.Pid)
			}
		}
		if len(pids) != 4 {
			t.Fatalf("running %v", c.Status())
		}
		c.Close()
		for _, s := range c.Status() {
			if s.Running {
				t.Fatalf("still running after close: %+v", s)
			}
		}
		if _, err := c.Get("good"); !errors.Is(err, ErrNotRunning) {
			t.Fatalf("Get after close: %v", err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no name", Config{Plugins: []Spec{{Path: "/x"}}}},
		{"duplicate", Config{Plugins: []Spec{{Name: "a", Path: "/x"}, {Name: "a", Path: "/y"}}}},
		{"builtin without self", Config{Plugins: []Spec{{Name: "sim", Builtin: true}}}},
		{"external without path", Config{Plugins: []Spec{{Name: "geo"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
