package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/go-hclog"

	httpapi "github.com/planetary/planetary/core/api"
	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/server"
)

// testAgent is a real single-server fabric: raft on raft-boltdb in a temp
// dir over loopback TCP, behind the real HTTP API on httptest, with ACL
// bootstrapped.
type testAgent struct {
	srv    *server.Server
	url    string
	root   string // an allowed root
	secret string // the management token
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func startAgent(t *testing.T) *testAgent {
	t.Helper()
	return startAgentWith(t, nil)
}

// startAgentWith is startAgent with the server config changed by mutate.
func startAgentWith(t *testing.T, mutate func(*server.Config)) *testAgent {
	t.Helper()
	root := t.TempDir()
	logger := hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Error, Output: testWriter{t}})
	cfg := server.DefaultConfig()
	cfg.NodeID = "s1"
	cfg.DataDir = t.TempDir()
	cfg.BindAddr = "127.0.0.1:0"
	cfg.InMemory = false
	cfg.Bootstrap = true
	cfg.Logger = logger
	cfg.AllowedRoots = []string{root}
	cfg.SchedulerTick = 50 * time.Millisecond
	cfg.RaftHeartbeatTimeout = 100 * time.Millisecond
	cfg.RaftElectionTimeout = 100 * time.Millisecond
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Shutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.WaitLeader(ctx); err != nil {
		t.Fatalf("WaitLeader: %v", err)
	}
	acfg := httpapi.DefaultConfig()
	acfg.Backend = srv
	acfg.Logger = logger
	h, err := httpapi.New(acfg)
	if err != nil {
		t.Fatalf("httpapi.New: %v", err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	a := &testAgent{srv: srv, url: hs.URL, root: root}
	eventually(t, 10*time.Second, "ACL bootstrap", func() bool {
		c, err := api.NewClient(api.ClientConfig{Address: hs.URL})
		if err != nil {
			t.Fatalf("NewClient: %v", err)
		}
		tok, err := c.ACLBootstrap(ctx)
		a.secret = tok.SecretID
		return err == nil
	})
	return a
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// result is what one command run printed.
type result struct {
	code     int
	out, err string
}

// runCmd runs the command registered under key with args and returns its
// exit code and output.
func runCmd(t *testing.T, key string, args ...string) result {
	t.Helper()
	ui := cli.NewMockUi()
	f, ok := Commands(ui)[key]
	if !ok {
		t.Fatalf("no command %q", key)
	}
	c, err := f()
	if err != nil {
		t.Fatalf("factory %q: %v", key, err)
	}
	code := c.Run(args)
	return result{code: code, out: ui.OutputWriter.String(), err: ui.ErrorWriter.String()}
}

// apiArgs prefixes args with the agent's address and token.
func (a *testAgent) apiArgs(token string, args ...string) []string {
	return append([]string{"-address", a.url, "-token", token}, args...)
}

// writeFile writes body to name under dir and returns its path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.TrimLeft(body, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
