package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/core/testport"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	return testport.Addr(t)
}

// TestFollowerRefusesWrites runs a two-server cluster over TCP raft with
// forwarding off: the follower serves stale reads and answers writes and
// consistent reads with 503 naming the leader, without proposing anything.
func TestFollowerRefusesWrites(t *testing.T) {
	newServer := func(id string, bootstrap bool) (*server.Server, string) {
		cfg := server.DefaultConfig()
		cfg.NodeID, cfg.DataDir, cfg.BindAddr, cfg.Bootstrap = id, t.TempDir(), freeAddr(t), bootstrap
		cfg.Logger = testLogger(t)
		s, err := server.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown() })
		return s, cfg.BindAddr
	}
	s1, _ := newServer("s1", true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s1.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	s2, addr2 := newServer("s2", false)
	if err := s1.AddVoter(ctx, "s2", addr2); err != nil {
		t.Fatal(err)
	}
	serve := func(s *server.Server) *httptest.Server {
		cfg := api.DefaultConfig()
		cfg.Backend, cfg.Logger = s, testLogger(t)
		h, err := api.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(h)
		t.Cleanup(hs.Close)
		return hs
	}
	h1, h2 := serve(s1), serve(s2)
	boot, _ := client.NewClient(client.ClientConfig{Address: h1.URL})
	boot.SetToken("")
	tok, err := boot.ACLBootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "follower caught up", func() bool { return s2.AppliedIndex() >= s1.AppliedIndex() })
	stale, _ := client.NewClient(client.ClientConfig{Address: h2.URL, Token: tok.SecretID, Stale: true})
	if _, err := stale.Shards(ctx); err != nil {
		t.Fatalf("follower stale read: %v", err)
	}
	follower, _ := client.NewClient(client.ClientConfig{Address: h2.URL, Token: tok.SecretID})
	var ae *api.Error
	if _, err := follower.Shards(ctx); !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
		t.Fatalf("follower consistent read without forwarding: %v", err)
	}
	leaderAddr, _ := s1.Leader()
	last := s2.LastIndex()
	_, err = follower.RegisterShard(ctx, api.Shard{Name: "earth"})
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.Leader != leaderAddr || ae.Leader == "" {
		t.Fatalf("follower write: %v (leader %q)", err, leaderAddr)
	}
	if s2.LastIndex() != last || s1.LastIndex() != last {
		t.Fatalf("a refused write proposed")
	}
}
