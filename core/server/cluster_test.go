package server

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// TestClusterFailover runs three in-memory servers, places a job, stops the
// leader and checks that a new leader takes over: its loops run, the node
// keeps its Up status through the grace period while its client heartbeats
// the new leader, and replicas agree by digest.
func TestClusterFailover(t *testing.T) {
	var servers []*Server
	for i := range 3 {
		cfg := clusterConfig(t, t.TempDir())
		cfg.InMemory = true
		cfg.NodeID = fmt.Sprintf("s%d", i)
		cfg.Bootstrap = i == 0
		cfg.HeartbeatTTL = 400 * time.Millisecond
		cfg.HeartbeatGrace = 2 * time.Second
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown() })
		servers = append(servers, s)
	}
	for _, a := range servers {
		for _, b := range servers {
			if a != b {
				a.trans.(*raft.InmemTransport).Connect(b.trans.LocalAddr(), b.trans)
			}
		}
	}
	s0 := servers[0]
	waitFor(t, 10*time.Second, "bootstrap leader", func() bool { return s0.IsLeader() && s0.leading.Load() })
	for _, s := range servers[1:] {
		if err := s0.AddVoter(ctxT(t), s.cfg.NodeID, s.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	registerShard(t, s0, "eu")
	if _, err := s0.RegisterClient(ctxT(t), "c1", []state.Node{{ID: "n1", Shard: "eu", PluginKind: "sim", Capacity: 2, Client: "c1"}}, []string{"sim"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s0.Submit(ctxT(t), []command.JobSubmit{{ID: "j1", Shard: "eu", Kind: "sim"}}, "me"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "placement", func() bool { j := job(t, s0, "j1"); return j.State == state.JobAssigned })

	if err := s0.Shutdown(); err != nil {
		t.Fatal(err)
	}
	findLeader := func() *Server {
		var leader *Server
		waitFor(t, 10*time.Second, "new leader", func() bool {
			for _, s := range servers[1:] {
				if s.IsLeader() && s.leading.Load() {
					leader = s
					return true
				}
			}
			return false
		})
		return leader
	}
	leader := findLeader()
	// The client keeps heartbeating whichever server leads: within the
	// grace period and after it the node stays up.
	beat := time.NewTicker(100 * time.Millisecond) // the client's heartbeat period
	defer beat.Stop()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		err := leader.Heartbeat("c1", []NodeBeat{{ID: "n1", Healthy: true}})
		if errors.Is(err, ErrNotLeader) {
			leader = findLeader() // leadership moved again; the client follows
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var st state.NodeStatus
		leader.Read(func(x *state.Store) { st = x.Node("n1").Status })
		if st != state.NodeUp {
			t.Fatalf("node %v after failover", st)
		}
		<-beat.C
	}
	leader = findLeader()
	if j := job(t, leader, "j1"); j.State != state.JobAssigned || j.Attempt != 1 {
		t.Fatalf("job after failover %v attempt %d", j.State, j.Attempt)
	}
	// The new leader commits; both replicas converge.
	for {
		_, err := leader.Submit(ctxT(t), []command.JobSubmit{{ID: "j2", Shard: "eu"}}, "me")
		if errors.Is(err, ErrNotLeader) {
			leader = findLeader()
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	other := servers[1]
	if other == leader {
		other = servers[2]
	}
	waitFor(t, 5*time.Second, "replication", func() bool { return other.AppliedIndex() >= leader.AppliedIndex() })
	if err := leader.raft.Barrier(time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "digest match", func() bool {
		return other.AppliedIndex() == leader.AppliedIndex() && other.fsm.Digest() == leader.fsm.Digest()
	})
}
