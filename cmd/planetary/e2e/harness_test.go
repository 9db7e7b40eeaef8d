// Package e2e holds process tests: they start the real planetary binary the
// way users do and check what survives crashes and restarts.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/testport"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// planetaryBin returns the binary under test: $PLANETARY_BIN (set by the
// GNUmakefile, which builds it once per run) or a fresh build.
func planetaryBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PLANETARY_BIN"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "planetary-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "planetary")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/planetary/planetary/cmd/planetary").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) string {
	t.Helper()
	return testport.Addr(t)
}

// agentProc is a planetary agent child process.
type agentProc struct {
	t       *testing.T
	cmd     *exec.Cmd
	out     *bytes.Buffer
	addr    string
	dataDir string
	token   string
}

// startAgent starts `planetary agent` with args plus its data dir and
// addresses, and waits until its API answers.
func startAgent(t *testing.T, dataDir, httpAddr, bind string, args ...string) *agentProc {
	t.Helper()
	all := append([]string{"agent"}, absConfig(t, args)...)
	all = append(all, "-data-dir", dataDir, "-http-addr", httpAddr, "-bind", bind, "-log-level", "warn")
	cmd := newAgentCmd(t, dataDir, all)
	out := cmd.Stdout.(*syncWriter).w
	p := &agentProc{t: t, cmd: cmd, out: out, addr: "http://" + httpAddr, dataDir: dataDir}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		// The banner is printed once Start has finished (mission applied).
		ready := strings.Contains(p.output(), "planetary agent (")
		if b, err := os.ReadFile(filepath.Join(dataDir, "management.token")); ready && err == nil && len(b) > 0 {
			p.token = strings.TrimSpace(string(b))
			c := p.client()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := c.Nodes(ctx)
			cancel()
			if err == nil {
				return p
			}
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("agent did not come up:\n%s", out.String())
	return nil
}

// newAgentCmd starts the planetary binary with args in dataDir (relative
// mission paths such as checkpoints/ and reports/ resolve under the test's
// own directory, never in the source tree), in its own process group, its
// stdout and stderr in one buffer.
func newAgentCmd(t *testing.T, dataDir string, args []string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(planetaryBin(t), args...)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd.Dir = dataDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &syncWriter{w: &out}, &syncWriter{w: &out}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// absConfig returns args with a relative -config path made absolute, so the
// agent can run in its own directory.
func absConfig(t testing.TB, args []string) []string {
	args = append([]string(nil), args...)
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-config" && !filepath.IsAbs(args[i+1]) {
			abs, err := filepath.Abs(args[i+1])
			if err != nil {
				t.Fatal(err)
			}
			args[i+1] = abs
		}
	}
	return args
}

func (p *agentProc) output() string {
	w := p.cmd.Stdout.(*syncWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.String()
}

func (p *agentProc) client() *api.Client {
	cc := api.DefaultClientConfig()
	cc.Address = p.addr
	cc.Token = p.token
	c, err := api.NewClient(cc)
	if err != nil {
		p.t.Fatal(err)
	}
	return c
}

// kill SIGKILLs the agent's whole process group (agent and plugins) and
// reaps it.
func (p *agentProc) kill() {
	if p.cmd.Process == nil || p.cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.cmd.Wait()
}

// crash SIGKILLs only the agent process, as a crash would; its plugins must
// notice and exit on their own.
func (p *agentProc) crash() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}
