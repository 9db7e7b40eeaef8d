package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	api "github.com/planetary/planetary/core/api/client"
)

// ErrChildExited means the child agent exited before it was ready.
var ErrChildExited = errors.New("runner: child agent exited")

// Child is a `planetary agent -dev` child process on fixed loopback ports,
// so it can be killed and restarted on the same data dir.
type Child struct {
	Binary  string
	Config  string
	DataDir string
	// LogDir receives agent-<n>.log for each start (default DataDir).
	LogDir string
	// Args are more agent flags (e.g. -regions).
	Args []string

	httpAddr string
	bindAddr string
	cmd      *exec.Cmd
	done     chan struct{}
	starts   int
}

// FreePort returns a loopback address with a port free right now.
func FreePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("runner: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Start launches the child and waits until its API answers as leader with
// the management token written; it returns a client for it.
func (c *Child) Start(ctx context.Context) (*api.Client, error) {
	if c.httpAddr == "" {
		var err error
		if c.httpAddr, err = FreePort(); err != nil {
			return nil, err
		}
		if c.bindAddr, err = FreePort(); err != nil {
			return nil, err
		}
	}
	c.starts++
	logDir := c.LogDir
	if logDir == "" {
		logDir = c.DataDir
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("runner: log dir: %w", err)
	}
	logf, err := os.Create(filepath.Join(logDir, fmt.Sprintf("agent-%d.log", c.starts)))
	if err != nil {
		return nil, fmt.Errorf("runner: agent log: %w", err)
	}
	args := []string{"agent", "-dev", "-data-dir", c.DataDir, "-http-addr", c.httpAddr, "-bind", c.bindAddr, "-log-level", "warn"}
	if c.Config != "" {
		args = append(args, "-config", c.Config)
	}
	args = append(args, c.Args...)
	cmd := exec.Command(c.Binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "PLANETARY_TOKEN=")
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("runner: start agent: %w", err)
	}
	c.cmd, c.done = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(c.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-c.done:
			return nil, fmt.Errorf("%w: see %s", ErrChildExited, logf.Name())
		case <-ctx.Done():
			c.Kill()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.Kill()
			return nil, fmt.Errorf("runner: agent not ready after 60s: see %s", logf.Name())
		}
		tok, err := os.ReadFile(filepath.Join(c.DataDir, "management.token"))
		if err != nil {
			continue
		}
		cl, err := api.NewClient(api.ClientConfig{Address: c.httpAddr, Token: strings.TrimSpace(string(tok))})
		if err != nil {
			return nil, err
		}
		h, err := cl.Health(ctx)
		if err != nil || !h.Leader {
			continue
		}
		if m, err := cl.Mission(ctx); err != nil || m.Name == "" {
			continue
		}
		return cl, nil
	}
}

// Kill SIGKILLs the child and waits for it to exit.
func (c *Child) Kill() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// Stop asks the child to shut down (SIGTERM) and waits up to 20s, then
// kills it.
func (c *Child) Stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		c.Kill()
	}
}
