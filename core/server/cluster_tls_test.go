package server

import (
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/planetary/planetary/core/tlsutil"
)

// TestRaftTLS: raft traffic between servers whose certificates come from
// the same CA replicates; a server with a certificate from another CA is
// added to the configuration but never receives an entry.
func TestRaftTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlsutil.NewTestCA(dir, "planetary")
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := tlsutil.NewTestCA(dir, "foreign")
	if err != nil {
		t.Fatal(err)
	}
	load := func(ca *tlsutil.TestCA, name string) *tls.Config {
		f, err := ca.Issue(name)
		if err != nil {
			t.Fatal(err)
		}
		c, err := tlsutil.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var servers []*Server
	for i, c := range []*tlsutil.TestCA{ca, ca, foreign} {
		cfg := clusterConfig(t, t.TempDir())
		cfg.NodeID = fmt.Sprintf("s%d", i)
		cfg.Bootstrap = i == 0
		cfg.RaftTLS = load(c, cfg.NodeID)
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown() })
		servers = append(servers, s)
	}
	s0 := servers[0]
	waitFor(t, 10*time.Second, "leader", func() bool { return s0.IsLeader() && s0.leading.Load() })
	if err := s0.AddVoter(ctxT(t), "s1", servers[1].LocalAddr()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "s1 caught up", func() bool { return servers[1].AppliedIndex() >= s0.AppliedIndex() })
	// s2 can never answer, so the configuration change rests on s0 and s1
	// alone; on a loaded machine the leader may lose its lease meanwhile
	// ("leadership lost"): ask whoever leads again.
	var err2 error
	for try := 0; try < 5; try++ {
		var leader *Server
		waitFor(t, 30*time.Second, "a leader among s0 and s1", func() bool {
			for _, s := range servers[:2] {
				if s.IsLeader() && s.leading.Load() {
					leader = s
					return true
				}
			}
			return false
		})
		if err2 = leader.AddVoter(ctxT(t), "s2", servers[2].LocalAddr()); err2 == nil {
			s0 = leader
			break
		}
		t.Logf("add voter s2 (try %d): %v", try+1, err2)
	}
	if err2 != nil {
		t.Fatal(err2)
	}
	registerShard(t, s0, "eu")
	waitFor(t, 30*time.Second, "s0 and s1 replicate over TLS", func() bool {
		return servers[0].AppliedIndex() == servers[1].AppliedIndex() && servers[1].AppliedIndex() >= s0.AppliedIndex()
	})
	if got := servers[2].AppliedIndex(); got != 0 {
		t.Fatalf("a server with a foreign-CA certificate applied index %d", got)
	}
	if a, _ := servers[2].Leader(); a != "" {
		t.Fatalf("a server with a foreign-CA certificate follows %s", a)
	}
}
