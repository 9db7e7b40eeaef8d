package raftfsm_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/fsmtest"
	"github.com/planetary/planetary/raftfsm/state"
)

func testRaftConfig(t *testing.T) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = "s1"
	c.HeartbeatTimeout = 50 * time.Millisecond
	c.ElectionTimeout = 50 * time.Millisecond
	c.LeaderLeaseTimeout = 50 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: testWriter{t}})
	return c
}

func waitLeader(t *testing.T, r *raft.Raft) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.State() != raft.Leader {
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
		select {
		case <-r.LeaderCh():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestRealRaftSnapshotRestore runs a single-node raft with the FSM, applies
// generated commands through raft.Apply, snapshots to a FileSnapshotStore and
// starts a second raft instance that restores from it.
func TestRealRaftSnapshotRestore(t *testing.T) {
	dir := t.TempDir()
	snaps, err := raft.NewFileSnapshotStore(dir, 2, discard{})
	if err != nil {
		t.Fatal(err)
	}
	logs, stable := raft.NewInmemStore(), raft.NewInmemStore()
	_, trans := raft.NewInmemTransport("s1")
	conf := testRaftConfig(t)
	fsm1 := raftfsm.New(raftfsm.DefaultConfig())
	r1, err := raft.NewRaft(conf, fsm1, logs, stable, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	if err := r1.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: "s1", Address: trans.LocalAddr()}}}).Error(); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, r1)

	g := fsmtest.NewGen(21)
	apply := func(e []byte) *raftfsm.Response {
		fut := r1.Apply(e, 5*time.Second)
		if err := fut.Error(); err != nil {
			t.Fatal(err)
		}
		resp, _ := fut.Response().(*raftfsm.Response)
		return resp
	}
	apply(g.Mission())
	for i := 0; i < 300; i++ {
		var e []byte
		fsm1.Read(func(s *state.Store) { e = g.Next(s) })
		apply(e)
	}
	resp := apply(mustEncode(t, command.SubmitBatchType, &command.SubmitBatch{Time: 1, Jobs: []command.JobSubmit{{ID: "via-raft", Shard: "eu"}}}))
	if resp == nil || len(resp.Outcomes) != 1 || resp.Outcomes[0].Status != raftfsm.Applied {
		t.Fatalf("response through raft: %+v", resp)
	}
	if err := r1.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	// A few more entries after the snapshot, replayed from the log.
	for i := 0; i < 20; i++ {
		var e []byte
		fsm1.Read(func(s *state.Store) { e = g.Next(s) })
		apply(e)
	}
	if err := r1.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	last := fsm1.AppliedIndex()
	want := fsm1.Digest()
	if err := r1.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	metas, err := snaps.List()
	if err != nil || len(metas) != 1 {
		t.Fatalf("snapshots %v %v", metas, err)
	}

	// Restart on the same stores: raft restores the FSM from the file
	// snapshot, then replays the log tail.
	_, trans2 := raft.NewInmemTransport("s1")
	fsm2 := raftfsm.New(raftfsm.DefaultConfig())
	r2, err := raft.NewRaft(testRaftConfig(t), fsm2, logs, stable, snaps, trans2)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Shutdown()
	if fsm2.AppliedIndex() != metas[0].Index {
		t.Fatalf("restored index %d, snapshot %d", fsm2.AppliedIndex(), metas[0].Index)
	}
	waitLeader(t, r2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fsm2.WaitIndex(ctx, last); err != nil {
		t.Fatal(err)
	}
	if err := r2.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if fsm2.Digest() != want {
		t.Fatal("state after restore and replay differs")
	}
	fsm2.Read(func(s *state.Store) {
		if s.Job("via-raft") == nil {
			t.Fatal("job lost")
		}
		if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
			t.Fatal(bad)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

func mustEncode(t *testing.T, typ command.MessageType, m interface {
	MarshalMsg([]byte) ([]byte, error)
}) []byte {
	t.Helper()
	b, err := command.Encode(typ, m)
	if err != nil {
		t.Fatal(fmt.Errorf("encode: %w", err))
	}
	return b
}
