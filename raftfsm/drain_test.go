package raftfsm_test

import (
	"reflect"
	"testing"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// A draining node takes no new assignment, keeps the jobs it has until the
// drain is forced (which requeues them, not counting against their
// attempts), and takes work again once the drain is disabled.
func TestNodeDrain(t *testing.T) {
	a := scenario(t)
	mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 3, Jobs: []command.JobSubmit{
		{ID: "j1", Shard: "eu"}, {ID: "j2", Shard: "eu"}, {ID: "j3", Shard: "eu"},
	}})
	mustApply(t, a, command.AssignBatchType, &command.AssignBatch{Time: 4, Assignments: []command.Assignment{
		{JobID: "j1", Attempt: 1, Node: "b"}}})

	mustApply(t, a, command.NodeDrainType, &command.NodeDrain{Meta: command.Meta{Time: 10, Actor: "mgmt", Reason: "swap"}, ID: "b", DeadlineMs: 5})
	a.FSM.Read(func(s *state.Store) {
		n := s.Node("b")
		if !n.Draining() || n.Schedulable() || n.Hold() != 0 || n.DrainSince != 10 || n.DrainDeadline != 10+5_000_000 || n.DrainReason != "swap" {
			t.Fatalf("node after drain: %+v (schedulable %v, hold %d)", n, n.Schedulable(), n.Hold())
		}
		conds := n.Conditions()
		if len(conds) != 2 || conds[1].Type != "draining" || conds[1].Until != n.DrainDeadline {
			t.Errorf("conditions %+v", conds)
		}
		if j := s.Job("j1"); j.State != state.JobAssigned || j.Node != "b" {
			t.Errorf("j1 %s on %s: a drain lets active jobs finish", j.State, j.Node)
		}
	})
	r := mustApply(t, a, command.AssignBatchType, &command.AssignBatch{Time: 11, Assignments: []command.Assignment{
		{JobID: "j2", Attempt: 1, Node: "b"}, {JobID: "j3", Attempt: 1, Node: "a"}}})
	if got := statuses(r); !reflect.DeepEqual(got, []raftfsm.OutcomeStatus{raftfsm.Rejected, raftfsm.Applied}) {
		t.Fatalf("assignments during the drain: %v", r.Outcomes)
	}

	mustApply(t, a, command.NodeDrainType, &command.NodeDrain{Meta: command.Meta{Time: 20, Actor: "system", Reason: "drain deadline passed"}, ID: "b", Force: true})
	a.FSM.Read(func(s *state.Store) {
		j := s.Job("j1")
		if j.State != state.JobQueued || j.Node != "" {
			t.Errorf("j1 %s on %q after the forced drain, want queued", j.State, j.Node)
		}
		if s.ActiveCount("b") != 0 {
			t.Errorf("b holds %d jobs after the forced drain", s.ActiveCount("b"))
		}
	})

	mustApply(t, a, command.NodeDrainType, &command.NodeDrain{Meta: command.Meta{Time: 30, Actor: "mgmt"}, ID: "b", Disable: true})
	a.FSM.Read(func(s *state.Store) {
		if n := s.Node("b"); n.Draining() || !n.Schedulable() || n.DrainDeadline != 0 {
			t.Fatalf("node after the drain ended: %+v", n)
		}
		if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
			t.Fatal(bad)
		}
	})
	r = mustApply(t, a, command.AssignBatchType, &command.AssignBatch{Time: 31, Assignments: []command.Assignment{
		{JobID: "j2", Attempt: 1, Node: "b"}}})
	if got := statuses(r); !reflect.DeepEqual(got, []raftfsm.OutcomeStatus{raftfsm.Applied}) {
		t.Fatalf("assignment after the drain: %v", r.Outcomes)
	}
}
