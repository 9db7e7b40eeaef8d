package raftfsm_test

import (
	"strings"
	"testing"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/fsmtest"
	"github.com/planetary/planetary/raftfsm/state"
)

// Retries end: a job's MaxAttempts caps retryable failures and attempts
// lost with their node (a job that kills its plugin cannot cycle for
// ever); a drain, move or retirement does not count; a job without the
// field (submitted before it existed) keeps CompleteBatch's cap and
// uncapped requeues.
func TestMaxAttemptsEndsRetries(t *testing.T) {
	retryable := func(a *fsmtest.Applier, att uint32) {
		mustApply(t, a, command.CompleteBatchType, &command.CompleteBatch{Time: 10, MaxAttempts: 100, Results: []command.Result{
			{JobID: "j", Attempt: att, Retryable: true, Error: "boom " + string(rune('0'+att))}}})
	}
	nodeDown := func(a *fsmtest.Applier, _ uint32) {
		mustApply(t, a, command.NodeStatusType, &command.NodeStatusChange{Meta: command.Meta{Time: 10}, ID: "b", Status: state.NodeDown})
		mustApply(t, a, command.NodeStatusType, &command.NodeStatusChange{Meta: command.Meta{Time: 11}, ID: "b", Status: state.NodeUp})
	}
	lost := func(a *fsmtest.Applier, att uint32) {
		mustApply(t, a, command.RequeueBatchType, &command.RequeueBatch{Time: 10, Jobs: []command.Requeue{{JobID: "j", Attempt: att, Reason: "lost"}}})
	}
	retired := func(a *fsmtest.Applier, _ uint32) {
		mustApply(t, a, command.NodeRetireType, &command.NodeRetire{Meta: command.Meta{Time: 10}, ID: "b", Requeue: true})
	}
	tests := []struct {
		name      string
		max       uint32
		fail      func(*fsmtest.Applier, uint32)
		rounds    uint32
		want      state.JobState
		wantError string
	}{
		{"retryable failures stop at the job's cap", 3, retryable, 3, state.JobFailed, "boom 3"},
		{"below the cap the job is queued again", 3, retryable, 2, state.JobQueued, ""},
		{"node down counts", 2, nodeDown, 2, state.JobFailed, "attempts exhausted (2 of 2): node down"},
		{"lost attempts count", 1, lost, 1, state.JobFailed, "attempts exhausted (1 of 1): lost"},
		{"retirement does not count", 1, retired, 1, state.JobQueued, ""},
		{"no per-job cap: CompleteBatch's", 0, retryable, 6, state.JobQueued, ""},
		{"no per-job cap: requeues uncapped", 0, nodeDown, 6, state.JobQueued, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := scenario(t)
			mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 3, Jobs: []command.JobSubmit{
				{ID: "j", Shard: "eu", ValueMu: 10, MaxAttempts: tt.max}}})
			for att := uint32(1); att <= tt.rounds; att++ {
				r := mustApply(t, a, command.AssignBatchType, &command.AssignBatch{Time: 4, Assignments: []command.Assignment{
					{JobID: "j", Attempt: att, Node: "b", QuoteMu: 1}}})
				if r.Outcomes[0].Status != raftfsm.Applied {
					t.Fatalf("attempt %d not assigned: %+v", att, r.Outcomes)
				}
				tt.fail(a, att)
			}
			a.FSM.Read(func(s *state.Store) {
				j := s.Job("j")
				if j.State != tt.want {
					t.Fatalf("job %s after %d rounds, want %s", j.State, tt.rounds, tt.want)
				}
				if tt.wantError != "" && !strings.Contains(j.Error, tt.wantError) {
					t.Fatalf("error %q, want it to say %q", j.Error, tt.wantError)
				}
				if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
					t.Fatal(bad)
				}
			})
		})
	}
}
