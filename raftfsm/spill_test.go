package raftfsm_test

import (
	"reflect"
	"testing"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// A spill is an assignment to a node of a declared target: the job runs
// there with its origin recorded, the flow and a job.spilled event carrying
// the rule and estimates are recorded, and when the attempt ends without a
// result (node down) the job goes back to its origin's queue. A target the
// shard does not declare is refused.
func TestSpillAssignmentAndReturnHome(t *testing.T) {
	sink := &recordingSink{}
	a := scenario(t)
	a.FSM = raftfsm.New(raftfsm.Config{Events: sink})
	mustApply(t, a, command.MissionApplyType, &command.MissionApply{Meta: command.Meta{Time: 1}, Name: "m", Digest: "d",
		Shards: []state.Shard{{Name: "eu", SpilloverTargets: []string{"us"}}, {Name: "us"}, {Name: "ap"}},
		Nodes:  []state.Node{{ID: "a", Shard: "eu", Capacity: 1}, {ID: "u", Shard: "us", Capacity: 5}, {ID: "p", Shard: "ap", Capacity: 5}}})
	mustApply(t, a, command.NodeClaimType, &command.NodeClaim{Meta: command.Meta{Time: 2}, Client: "c", Nodes: []string{"a", "u", "p"}})
	mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 3, Jobs: []command.JobSubmit{
		{ID: "j1", Shard: "eu", ValueMu: 7}, {ID: "j2", Shard: "eu"}, {ID: "j3", Shard: "eu"}}})

	r := mustApply(t, a, command.AssignBatchType, &command.AssignBatch{Time: 4, Assignments: []command.Assignment{
		{JobID: "j1", Attempt: 1, Node: "u", From: "eu", Rule: "latency budget", HomeEstMs: 900, BudgetMs: 200},
		{JobID: "j2", Attempt: 1, Node: "p", From: "eu", Rule: "latency budget"}, // ap is not a target of eu
		{JobID: "j3", Attempt: 1, Node: "u"},                                     // no From: not a spill
	}})
	if got := statuses(r); !reflect.DeepEqual(got, []raftfsm.OutcomeStatus{raftfsm.Applied, raftfsm.Rejected, raftfsm.Rejected}) {
		t.Fatalf("outcomes %v", r.Outcomes)
	}
	a.FSM.Read(func(s *state.Store) {
		j := s.Job("j1")
		if j.State != state.JobAssigned || j.Shard != "us" || j.Origin != "eu" || j.Home != "eu" || j.Hops != 1 {
			t.Fatalf("spilled job %+v", j)
		}
		if fl := s.Flows(); len(fl) != 1 || fl[0].From != "eu" || fl[0].To != "us" || fl[0].Jobs != 1 || fl[0].ValueMu != 7 {
			t.Fatalf("flows %+v", fl)
		}
	})
	var spilled []state.Event
	for _, e := range sink.evs {
		if e.Type == state.EvJobSpilled {
			spilled = append(spilled, e)
		}
	}
	if len(spilled) != 1 || spilled[0].From != "eu" || spilled[0].To != "us" || spilled[0].Reason != "latency budget" ||
		spilled[0].Detail != "home wait 900ms; budget 200ms; target 0ms" {
		t.Fatalf("spill events %+v", spilled)
	}

	// u goes down: j1 returns to eu's queue, not us's.
	mustApply(t, a, command.NodeStatusType, &command.NodeStatusChange{Meta: command.Meta{Time: 5}, ID: "u", Status: state.NodeDown})
	a.FSM.Read(func(s *state.Store) {
		j := s.Job("j1")
		if j.State != state.JobQueued || j.Shard != "eu" || j.Origin != "" || s.QueueLen("us") != 0 {
			t.Fatalf("after the target's node went down: %+v", j)
		}
		if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
			t.Fatal(bad)
		}
	})
	last := sink.evs[len(sink.evs)-1]
	if last.Type != state.EvJobRequeued || last.Shard != "eu" || last.From != "us" {
		t.Fatalf("requeue event %+v", last)
	}
}

// Results feed the shard's recent mean service time (assignment to result,
// leader-stamped), which the router's wait estimate reads; a mission
// re-apply keeps it.
func TestServiceMean(t *testing.T) {
	a := scenario(t)
	mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 3, Jobs: []command.JobSubmit{
		{ID: "j1", Shard: "eu"}, {ID: "j2", Shard: "eu"}}})
	mustApply(t, a, command.AssignBatchType, &command.AssignBatch{Time: 1000, Assignments: []command.Assignment{
		{JobID: "j1", Attempt: 1, Node: "b"}, {JobID: "j2", Attempt: 1, Node: "b"}}})
	mustApply(t, a, command.CompleteBatchType, &command.CompleteBatch{Time: 1800, Results: []command.Result{{JobID: "j1", Attempt: 1, OK: true}}})
	mustApply(t, a, command.CompleteBatchType, &command.CompleteBatch{Time: 2600, Results: []command.Result{{JobID: "j2", Attempt: 1, OK: true}}})
	a.FSM.Read(func(s *state.Store) {
		// 800, then 800 + (1600-800)/8 = 900.
		if sh := s.Shard("eu"); sh.ServiceMeanNs != 900 || sh.ServiceSamples != 2 {
			t.Fatalf("service mean %d over %d samples, want 900 over 2", sh.ServiceMeanNs, sh.ServiceSamples)
		}
	})
	mustApply(t, a, command.MissionApplyType, &command.MissionApply{Meta: command.Meta{Time: 3000}, Name: "m", Digest: "d2",
		Shards: []state.Shard{{Name: "eu", LatencyBudgetMs: 50}, {Name: "us"}}})
	a.FSM.Read(func(s *state.Store) {
		if sh := s.Shard("eu"); sh.ServiceMeanNs != 900 || sh.LatencyBudgetMs != 50 {
			t.Fatalf("after a mission re-apply: %+v", sh)
		}
	})
}
