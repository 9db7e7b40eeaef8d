package raftfsm_test

import (
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
