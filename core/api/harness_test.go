package api_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/server"
)

var _ api.Backend = (*server.Server)(nil)

// agent is a real single-node server (in-memory raft, event log in a temp
// dir) behind the real HTTP API on loopback.
type agent struct {
	srv   *server.Server
	http  *httptest.Server
	root  string // an allowed root
	mgmt  *client.Client
	anon  *client.Client
	token api.Token // the management token
}

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Error, Output: hclog.DefaultOutput})
}

func newAgent(t testing.TB, mutate func(*api.Config)) *agent {
	t.Helper()
	return newAgentWith(t, nil, mutate)
}

// newAgentWith is newAgent with the server config changed by smut first.
func newAgentWith(t testing.TB, smut func(*server.Config), mutate func(*api.Config)) *agent {
	t.Helper()
	root := t.TempDir()
	cfg := server.DefaultConfig()
	cfg.NodeID = "s1"
	cfg.DataDir = t.TempDir()
	cfg.InMemory = true
	cfg.Bootstrap = true
	cfg.Logger = testLogger(t)
	cfg.AllowedRoots = []string{root}
	cfg.HeartbeatTTL = 5 * time.Second
	if smut != nil {
		smut(&cfg)
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
	acfg := api.DefaultConfig()
	acfg.Backend = srv
	acfg.Logger = cfg.Logger
	if mutate != nil {
		mutate(&acfg)
	}
	h, err := api.New(acfg)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	a := &agent{srv: srv, http: hs, root: root}
	a.anon = a.client(t, "")
	if !acfg.DisableACL {
		tok, err := a.anon.ACLBootstrap(ctx)
		if err != nil {
			t.Fatalf("ACLBootstrap: %v", err)
		}
		a.token = tok
	}
	a.mgmt = a.client(t, a.token.SecretID)
	return a
}

func (a *agent) client(t testing.TB, token string) *client.Client {
	t.Helper()
	c, err := client.NewClient(client.ClientConfig{Address: a.http.URL, Token: token})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if token == "" {
		c.SetToken("")
	}
	return c
}

// tokenClient creates a token of typ and returns a client using it.
func (a *agent) tokenClient(t *testing.T, typ string) *client.Client {
	t.Helper()
	tok, err := a.mgmt.CreateToken(context.Background(), typ+"-test", typ)
	if err != nil {
		t.Fatalf("CreateToken %s: %v", typ, err)
	}
	return a.client(t, tok.SecretID)
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
