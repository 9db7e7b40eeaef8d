package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/server"
)

// apiCluster is three servers over TCP raft, each behind its API with
// forwarding on.
type apiCluster struct {
	servers []*server.Server
	urls    []string
}

func newAPICluster(t *testing.T) *apiCluster { return newAPIClusterWith(t, nil) }

// newAPIClusterWith lets tune adjust each server's config before it starts.
func newAPIClusterWith(t *testing.T, tune func(i int, cfg *server.Config)) *apiCluster {
	t.Helper()
	c := &apiCluster{}
	var peers []server.PeerAddr
	for i := range 3 {
		cfg := server.DefaultConfig()
		cfg.NodeID, cfg.DataDir, cfg.BindAddr = fmt.Sprintf("s%d", i), t.TempDir(), freeAddr(t)
		cfg.Logger = testLogger(t)
		cfg.RaftHeartbeatTimeout, cfg.RaftElectionTimeout = 200*time.Millisecond, 200*time.Millisecond
		if tune != nil {
			tune(i, &cfg)
		}
		s, err := server.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown() })
		c.servers = append(c.servers, s)
		peers = append(peers, server.PeerAddr{ID: cfg.NodeID, Address: s.LocalAddr()})
	}
	for _, s := range c.servers {
		acfg := api.DefaultConfig()
		acfg.Backend, acfg.Logger, acfg.DisableACL = s, testLogger(t), true
		acfg.LeaderAPI = s.LeaderHTTPAddr
		h, err := api.New(acfg)
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(h)
		t.Cleanup(hs.Close)
		c.urls = append(c.urls, hs.URL)
	}
	for _, s := range c.servers {
		for j, o := range c.servers {
			s.SetHTTPAddr(o.ID(), c.urls[j])
		}
		if err := s.BootstrapCluster(peers); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "a leader", func() bool { return c.leader() >= 0 })
	// Followers forward to the leader they have heard from; wait until every
	// server has (an election just won is not yet known to the others).
	eventually(t, 20*time.Second, "every server to know the leader", func() bool {
		for _, s := range c.servers {
			if s.LeaderHTTPAddr() == "" {
				return false
			}
		}
		return true
	})
	return c
}

func (c *apiCluster) leader() int {
	for i, s := range c.servers {
		if s.IsLeader() {
			return i
		}
	}
	return -1
}

// TestForwarding: every server answers writes and consistent reads by
// forwarding to the leader; ?stale=true reads are served locally.
func TestForwarding(t *testing.T) {
	c := newAPICluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := c.leader()
	for i, u := range c.urls {
		cl, _ := client.NewClient(client.ClientConfig{Address: u})
		name := fmt.Sprintf("shard-%d", i)
		if _, err := cl.RegisterShard(ctx, api.Shard{Name: name}); err != nil {
			t.Fatalf("write through server %d (leader %d): %v", i, l, err)
		}
		// A consistent read through any server sees the write at once.
		if _, err := cl.Shard(ctx, name); err != nil {
			t.Fatalf("read-your-write through server %d: %v", i, err)
		}
		stale, _ := client.NewClient(client.ClientConfig{Address: u, Stale: true})
		eventually(t, 5*time.Second, "stale read", func() bool { _, err := stale.Shard(ctx, name); return err == nil })
		self, err := cl.Self(ctx)
		if err != nil || self.ID != c.servers[i].ID() || self.Leader != (i == l) {
			t.Fatalf("self of %d: %+v %v", i, self, err)
		}
	}
	ms, err := func() ([]api.Member, error) {
		cl, _ := client.NewClient(client.ClientConfig{Address: c.urls[(l+1)%3]})
		return cl.Members(ctx)
	}()
	if err != nil || len(ms) != 3 {
		t.Fatalf("members: %v %v", ms, err)
	}
	leaders := 0
	for _, m := range ms {
		if m.Error != "" || m.AppliedIndex == 0 || !m.Voter {
			t.Fatalf("member %+v", m)
		}
		if m.Leader {
			leaders++
		}
	}
	if leaders != 1 {
		t.Fatalf("%d leaders in %+v", leaders, ms)
	}
	// Digests agree once replicas reach the same index.
	eventually(t, 10*time.Second, "equal digests", func() bool {
		var first api.Digest
		for i, u := range c.urls {
			cl, _ := client.NewClient(client.ClientConfig{Address: u})
			d, err := cl.Digest(ctx, true)
			if err != nil {
				return false
			}
			if i == 0 {
				first = d
			} else if d != first {
				return false
			}
		}
		return true
	})
	// Leadership transfer through a follower's API.
	cl, _ := client.NewClient(client.ClientConfig{Address: c.urls[(l+1)%3]})
	target := c.servers[(l+2)%3].ID()
	if _, err := cl.RaftTransferLeader(ctx, target); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "transfer", func() bool {
		_, id := c.servers[(l+1)%3].Leader()
		return c.leader() == (l+2)%3 && id == target
	})
	// Removing an unknown peer is a 404; removing the old leader works.
	var ae *api.Error
	if err := cl.RaftRemovePeer(ctx, "nope"); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("remove unknown: %v", err)
	}
	if err := cl.RaftRemovePeer(ctx, c.servers[l].ID()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "two peers", func() bool {
		ps, err := c.servers[(l+2)%3].Peers()
		return err == nil && len(ps) == 2
	})
}
