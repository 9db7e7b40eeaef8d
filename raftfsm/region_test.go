package raftfsm_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/fsmtest"
	"github.com/planetary/planetary/raftfsm/state"
)

// checkpoint is a region's checkpoint at idx whose totals grow with idx.
func checkpoint(region string, idx uint64) state.RegionCheckpoint {
	cp := state.RegionCheckpoint{Region: region, RaftIndex: idx, EventCount: idx * 2,
		ChainHead: state.ChainHead{Seq: idx * 2, Hash: [32]byte{byte(idx)}}, MissionTimeNs: int64(idx) * 1_000_000_000,
		Payments: state.RegionPayments{Count: 1, AmountMu: int64(idx) * 10}, Shards: []string{region, region + "-b"}}
	cp.Totals.Counts.N[state.JobCompleted] = int64(idx)
	cp.Totals.Counts.ValueMu[state.JobCompleted] = int64(idx) * 100
	cp.Totals.ValueMu, cp.Totals.PaidMu = int64(idx)*100, int64(idx)*10
	return cp
}

// checkpointEntry is the entry storing cp, stamped at stampOf(cp); the
// StoredAtNs cp arrives with is not the FSM's to keep.
func checkpointEntry(t *testing.T, cp state.RegionCheckpoint) []byte {
	stamp := stampOf(cp)
	cp.StoredAtNs = 7
	return entry(t, command.RegionCheckpointType, &command.RegionCheckpoint{Meta: command.Meta{Time: stamp, Actor: "region:" + cp.Region}, Checkpoint: cp})
}

// stampOf is the leader's stamp on the entry storing cp.
func stampOf(cp state.RegionCheckpoint) int64 { return 1_000 + int64(cp.RaftIndex) }

// stored is cp as the FSM stores it from checkpointEntry: with the entry's
// stamp.
func stored(cp state.RegionCheckpoint) state.RegionCheckpoint {
	cp.StoredAtNs = stampOf(cp)
	return cp
}

// TestRegionCheckpointLatestWins applies checkpoints out of order and
// twice: the FSM keeps each region's one at the highest raft index, answers
// an older or equal one as a duplicate, emits no event and changes no job
// or ledger table, whatever the order.
func TestRegionCheckpointLatestWins(t *testing.T) {
	cases := []struct {
		name   string
		order  []state.RegionCheckpoint
		status []raftfsm.OutcomeStatus
	}{
		{"in-order", []state.RegionCheckpoint{checkpoint("helios", 5), checkpoint("helios", 9), checkpoint("earth", 3)},
			[]raftfsm.OutcomeStatus{raftfsm.Applied, raftfsm.Applied, raftfsm.Applied}},
		{"out-of-order", []state.RegionCheckpoint{checkpoint("helios", 9), checkpoint("earth", 3), checkpoint("helios", 5)},
			[]raftfsm.OutcomeStatus{raftfsm.Applied, raftfsm.Applied, raftfsm.Duplicate}},
		{"redelivered", []state.RegionCheckpoint{checkpoint("earth", 3), checkpoint("helios", 9), checkpoint("helios", 9), checkpoint("earth", 3)},
			[]raftfsm.OutcomeStatus{raftfsm.Applied, raftfsm.Applied, raftfsm.Duplicate, raftfsm.Duplicate}},
	}
	want := []state.RegionCheckpoint{stored(checkpoint("earth", 3)), stored(checkpoint("helios", 9))}
	var digests [][32]byte
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			entries, base := fsmtest.Log(11, 200, nil)
			var before state.StoreMeta
			var global state.Counts
			var generated []state.RegionCheckpoint // luna's and mars's, from the log
			base.Read(func(s *state.Store) { before, global, generated = s.Meta(), s.Global(), s.RegionCheckpoints() })
			f := fsmtest.Replay(raftfsm.DefaultConfig(), entries)
			for i, cp := range c.order {
				r := applyNext(t, f, checkpointEntry(t, cp))
				if r.Err != nil || len(r.Outcomes) != 1 || r.Outcomes[0].Status != c.status[i] || r.Outcomes[0].ID != cp.Region {
					t.Fatalf("checkpoint %d (%s at %d): %+v", i, cp.Region, cp.RaftIndex, r)
				}
			}
			f.Read(func(s *state.Store) {
				all := append(append([]state.RegionCheckpoint{}, want...), generated...)
				if got := s.RegionCheckpoints(); !reflect.DeepEqual(got, all) {
					t.Fatalf("stored %+v, want %+v", got, all)
				}
				m := s.Meta()
				if m.Head != before.Head || m.Events != before.Events {
					t.Fatalf("the chain moved: %+v -> %+v", before.Head, m.Head)
				}
				if s.Global() != global {
					t.Fatal("the ledger's counts changed")
				}
				if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
					t.Fatal(bad)
				}
			})
			digests = append(digests, f.Digest())
		})
	}
	// The index of the last entry differs between cases of different
	// lengths, so compare the two cases of three entries.
	if len(digests) == 3 && digests[0] != digests[1] {
		t.Fatal("the same checkpoints applied in another order give another state")
	}
}

// applyNext applies one entry at the index after the FSM's applied one.
func applyNext(t *testing.T, f *raftfsm.FSM, data []byte) *raftfsm.Response {
	t.Helper()
	r, _ := f.Apply(&raft.Log{Index: f.AppliedIndex() + 1, Term: 1, Type: raft.LogCommand, Data: data}).(*raftfsm.Response)
	if r == nil {
		t.Fatal("no response")
	}
	return r
}

// TestRegionCheckpointRefusesInvalid: a checkpoint without a region or
// with a negative total is refused with ErrInvalid naming the field, and
// stores nothing.
func TestRegionCheckpointRefusesInvalid(t *testing.T) {
	negative := checkpoint("earth", 4)
	negative.Totals.PaidMu = -1
	negCount := checkpoint("earth", 4)
	negCount.Totals.Counts.N[state.JobFailed] = -2
	cases := []struct {
		name string
		cp   state.RegionCheckpoint
		want string
	}{
		{"no-region", checkpoint("", 4), "region: empty"},
		{"negative-paid", negative, "region earth: totals.paid_mu: negative"},
		{"negative-count", negCount, "region earth: totals.counts.failed: negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := raftfsm.New(raftfsm.DefaultConfig())
			r := applyNext(t, f, checkpointEntry(t, c.cp))
			if !errors.Is(r.Err, raftfsm.ErrInvalid) || !strings.Contains(r.Err.Error(), c.want) {
				t.Fatalf("err %v, want one naming %q", r.Err, c.want)
			}
			f.Read(func(s *state.Store) {
				if n := len(s.RegionCheckpoints()); n != 0 {
					t.Fatalf("%d checkpoints stored", n)
				}
			})
		})
	}
}

// TestRegionCheckpointsSurviveRestore: the stored checkpoints go through a
// snapshot and come back equal, the restored FSM has the same digest and
// still refuses an older checkpoint as a duplicate.
func TestRegionCheckpointsSurviveRestore(t *testing.T) {
	_, f := fsmtest.Log(5, 300, nil)
	applyNext(t, f, checkpointEntry(t, checkpoint("earth", 40)))
	applyNext(t, f, checkpointEntry(t, checkpoint("helios", 7)))
	var before []state.RegionCheckpoint
	f.Read(func(s *state.Store) { before = s.RegionCheckpoints() })
	if len(before) < 2 {
		t.Fatalf("only %d regions stored: the round trip would not cover them", len(before))
	}
	g := restore(t, persist(t, f))
	if f.Digest() != g.Digest() {
		t.Fatal("digest changed across restore")
	}
	g.Read(func(s *state.Store) {
		if got := s.RegionCheckpoints(); !reflect.DeepEqual(got, before) {
			t.Fatalf("restored %+v, want %+v", got, before)
		}
	})
	if r := applyNext(t, g, checkpointEntry(t, checkpoint("earth", 39))); len(r.Outcomes) != 1 || r.Outcomes[0].Status != raftfsm.Duplicate {
		t.Fatalf("older checkpoint after restore: %+v", r)
	}
	// A stream without checkpoints stays at format version 2.
	empty := raftfsm.New(raftfsm.DefaultConfig())
	if b := persist(t, empty); !bytes.Equal(b[8:10], []byte{0, 2}) {
		t.Fatalf("an image without region checkpoints is written as version %v", b[8:10])
	}
}

// TestCheckpointOfStore: the local checkpoint built from a store reports
// what its ledger view does, and two replicas of one log build the same.
func TestCheckpointOfStore(t *testing.T) {
	entries, f := fsmtest.Log(3, 600, nil)
	g := fsmtest.Replay(raftfsm.DefaultConfig(), entries)
	var a, b state.RegionCheckpoint
	f.Read(func(s *state.Store) {
		a = s.Checkpoint("earth")
		var paid int64
		for _, p := range s.Payments() {
			paid += p.AmountMu
		}
		total, _ := s.ValueTotal()
		var flowJobs int64
		for _, fl := range s.Flows() {
			flowJobs += fl.Jobs
		}
		switch {
		case a.Region != "earth" || a.RaftIndex != s.AppliedIndex() || a.ChainHead != s.Head() || a.EventCount != s.Meta().Events:
			t.Fatalf("identity: %+v", a)
		case a.MissionTimeNs != s.Clock():
			t.Fatalf("mission time %d, clock %d", a.MissionTimeNs, s.Clock())
		case a.Totals.Counts != s.Global() || a.Totals.ValueMu != total:
			t.Fatal("counts or value differ from the ledger's")
		case a.Totals.PaidMu != paid || a.Payments.AmountMu != paid || a.Payments.Count != int64(len(s.Payments())):
			t.Fatalf("payments %+v, paid %d", a.Payments, paid)
		case !reflect.DeepEqual(a.Totals.Flows, s.Flows()) || a.Totals.FlowJobs != flowJobs || a.Totals.FlowValueMu != s.FlowTotal():
			t.Fatal("flows differ from the ledger's")
		case len(a.Shards) == 0 || len(a.Shards) != len(s.Shards()) || a.Shards[0] != s.Shards()[0].Name || a.StoredAtNs != 0:
			t.Fatalf("shards %v, stored at %d", a.Shards, a.StoredAtNs)
		case paid == 0 || flowJobs == 0:
			t.Fatal("the log paid nothing or moved nothing: the test would not check those totals")
		}
	})
	g.Read(func(s *state.Store) { b = s.Checkpoint("earth") })
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two replicas of one log build different checkpoints")
	}
}
