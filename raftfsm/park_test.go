package raftfsm_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// A park decided before a topology change (a node came up, capabilities
// were published) is stale: the job stays queued for the next round, so it
// is never parked for good after the change that would let it run.
func TestParkFromStaleTopologyRejected(t *testing.T) {
	a := scenario(t)
	mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 3, Jobs: []command.JobSubmit{
		{ID: "q1", Shard: "eu", Capabilities: []string{"quantum"}},
		{ID: "q2", Shard: "eu", Capabilities: []string{"quantum"}},
	}})
	var topo uint64
	a.FSM.Read(func(s *state.Store) { topo = s.Meta().Topology })

	// Current view: the park applies.
	r := mustApply(t, a, command.ParkBatchType, &command.ParkBatch{Time: 4, Topology: topo,
		Parks: []command.Park{{JobID: "q1", Reason: "no node has quantum"}}})
	if got := statuses(r); !reflect.DeepEqual(got, []raftfsm.OutcomeStatus{raftfsm.Applied}) {
		t.Fatalf("park on the current topology: %v", r.Outcomes)
	}

	// A node registers (topology changes, q1 is unparked); a park decided
	// on the old view is rejected.
	mustApply(t, a, command.NodeRegisterType, &command.NodeRegister{Meta: command.Meta{Time: 5},
		Node: state.Node{ID: "qpu", Shard: "eu", Client: "c", Capacity: 1, Capabilities: []string{"quantum"}}})
	r = mustApply(t, a, command.ParkBatchType, &command.ParkBatch{Time: 6, Topology: topo,
		Parks: []command.Park{{JobID: "q1", Reason: "stale"}, {JobID: "q2", Reason: "stale"}}})
	if got := statuses(r); !reflect.DeepEqual(got, []raftfsm.OutcomeStatus{raftfsm.Rejected, raftfsm.Rejected}) {
		t.Fatalf("park on a stale topology: %v", r.Outcomes)
	}
	a.FSM.Read(func(s *state.Store) {
		if s.Meta().Topology <= topo {
			t.Errorf("topology count %d did not move past %d", s.Meta().Topology, topo)
		}
		for _, id := range []string{"q1", "q2"} {
			if st := s.Job(id).State; st != state.JobQueued {
				t.Errorf("%s is %s, want queued", id, st)
			}
		}
		if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
			t.Fatal(bad)
		}
	})
}

// A topology change writes one jobs.unparked event per shard that held
// parked jobs, with their count and value, whatever their number; every
// unparked job is queued again and names that event.
func TestUnparkOneEventPerShard(t *testing.T) {
	sink := &recordingSink{}
	a := scenario(t)
	a.FSM = raftfsm.New(raftfsm.Config{Events: sink})
	mustApply(t, a, command.MissionApplyType, &command.MissionApply{Meta: command.Meta{Time: 1}, Name: "m", Digest: "d",
		Shards: []state.Shard{{Name: "eu"}, {Name: "us"}},
		Nodes:  []state.Node{{ID: "a", Shard: "eu", Capacity: 1}, {ID: "u", Shard: "us", Capacity: 1}}})
	var jobs []command.JobSubmit
	var parks []command.Park
	for i := range 300 {
		sh := "eu"
		if i%3 == 0 {
			sh = "us"
		}
		id := fmt.Sprintf("q%03d", i)
		jobs = append(jobs, command.JobSubmit{ID: id, Shard: sh, ValueMu: int64(i), Capabilities: []string{"quantum"}})
		parks = append(parks, command.Park{JobID: id, Reason: "no node has quantum"})
	}
	mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 2, Jobs: jobs})
	var topo uint64
	a.FSM.Read(func(s *state.Store) { topo = s.Meta().Topology })
	mustApply(t, a, command.ParkBatchType, &command.ParkBatch{Time: 3, Topology: topo, Parks: parks})

	before := len(sink.evs)
	mustApply(t, a, command.NodeRegisterType, &command.NodeRegister{Meta: command.Meta{Time: 4},
		Node: state.Node{ID: "qpu", Shard: "eu", Client: "c", Capacity: 1, Capabilities: []string{"quantum"}}})
	evs := sink.evs[before:]
	var types []string
	for _, e := range evs {
		types = append(types, e.Type+" "+e.Shard)
	}
	want := []string{"node.registered eu", "jobs.unparked eu", "jobs.unparked us"}
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("the registration wrote %v, want %v", types, want)
	}
	var sum [2]int64
	for i := range 300 {
		sum[min(i%3, 1)] += int64(i)
	}
	us, eu := evs[2], evs[1]
	if eu.Detail != fmt.Sprintf("200 jobs unparked, topology %d", topo+1) || eu.ValueMu != sum[1] ||
		us.Detail != fmt.Sprintf("100 jobs unparked, topology %d", topo+1) || us.ValueMu != sum[0] {
		t.Fatalf("events %+v and %+v", eu, us)
	}
	a.FSM.Read(func(s *state.Store) {
		for i := range 300 {
			j := s.Job(fmt.Sprintf("q%03d", i))
			seq := eu.Seq
			if j.Shard == "us" {
				seq = us.Seq
			}
			if j.State != state.JobQueued || j.UnparkedSeq != seq || j.ParkedReason != "" {
				t.Fatalf("job %s is %s unparked by %d, want queued by %d", j.ID, j.State, j.UnparkedSeq, seq)
			}
		}
		if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
			t.Fatal(bad)
		}
	})
}
