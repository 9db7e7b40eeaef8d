package raftfsm_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

func checkInvariants(t *testing.T, a interface{ Read(func(*state.Store)) }) {
	t.Helper()
	a.Read(func(s *state.Store) {
		if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
			t.Fatalf("invariants: %v", bad)
		}
	})
}

// TestGCIdempotencyWindow: a collected job answers by its tomb, a resubmit of
// its key inside the window is a duplicate naming it, a live job is never
// collected, and once the window ends the key is free again (a resubmit is a
// new job, as docs/retention.md says).
func TestGCIdempotencyWindow(t *testing.T) {
	a := scenario(t)
	mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 10, Jobs: []command.JobSubmit{
		{ID: "done", Key: "k-done", Shard: "eu", ValueMu: 5}, {ID: "live", Key: "k-live", Shard: "eu", ValueMu: 7},
	}})
	mustApply(t, a, command.AssignBatchType, &command.AssignBatch{Time: 11, Assignments: []command.Assignment{{JobID: "done", Attempt: 1, Node: "b", QuoteMu: 300}}})
	mustApply(t, a, command.CompleteBatchType, &command.CompleteBatch{Time: 12, Results: []command.Result{{JobID: "done", Attempt: 1, OK: true}}})
	mustApply(t, a, command.ClockAdvanceType, &command.ClockAdvance{Time: 100})

	// A cut-off after the mission clock is refused as a whole.
	b, _ := command.Encode(command.JobGCType, &command.JobGC{Meta: command.Meta{Time: 100}, Before: 101, IDs: []string{"done"}})
	if r := a.Apply(b); r == nil || !errors.Is(r.Err, raftfsm.ErrInvalid) {
		t.Fatalf("before after the clock: %+v", r)
	}
	r := mustApply(t, a, command.JobGCType, &command.JobGC{Meta: command.Meta{Time: 100}, Before: 50, IDs: []string{"done", "live", "ghost"}})
	if got := statuses(r); fmt.Sprint(got) != "[applied rejected rejected]" {
		t.Fatalf("outcomes %v %+v", got, r.Outcomes)
	}
	checkInvariants(t, a.FSM)
	a.FSM.Read(func(s *state.Store) {
		if s.Job("done") != nil || s.JobByKey("k-done") != nil || s.Job("live") == nil {
			t.Fatal("wrong records after GC")
		}
		tb, ok := s.CollectedByID("done")
		if !ok || tb.CollectedAt != 100 || tb.State != state.JobCompleted {
			t.Fatalf("tomb %+v %v", tb, ok)
		}
		if g := s.Global(); g.N[state.JobCompleted] != 1 || s.PaymentTo("b") != 300 || s.LiveJobs() != 1 || s.NumJobs() != 2 {
			t.Fatalf("ledger changed: %v paid %d", g.N, s.PaymentTo("b"))
		}
	})
	// Collecting it again is a duplicate.
	r = mustApply(t, a, command.JobGCType, &command.JobGC{Meta: command.Meta{Time: 101}, Before: 50, IDs: []string{"done"}})
	if r.Outcomes[0].Status != raftfsm.Duplicate {
		t.Fatalf("%+v", r.Outcomes)
	}
	// Inside the window: the key and the id are still taken.
	r = mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 102, Jobs: []command.JobSubmit{
		{ID: "retry", Key: "k-done", Shard: "eu"}, {ID: "done", Shard: "eu"},
	}})
	if o := r.Outcomes; o[0].Status != raftfsm.Duplicate || o[0].ID != "done" || !strings.Contains(o[0].Reason, "collected at 100") ||
		o[1].Status != raftfsm.Rejected {
		t.Fatalf("inside the window: %+v", o)
	}
	// The window ends: the tomb is forgotten and the key is a new job.
	mustApply(t, a, command.ClockAdvanceType, &command.ClockAdvance{Time: 300})
	mustApply(t, a, command.JobGCType, &command.JobGC{Meta: command.Meta{Time: 300}, Before: 200, ForgetBefore: 250})
	r = mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 301, Jobs: []command.JobSubmit{{ID: "retry", Key: "k-done", Shard: "eu"}}})
	if o := r.Outcomes[0]; o.Status != raftfsm.Applied || o.ID != "retry" {
		t.Fatalf("outside the window: %+v", o)
	}
	a.FSM.Read(func(s *state.Store) {
		if _, ok := s.CollectedByID("done"); ok || s.Tombs() != 0 {
			t.Fatal("tomb kept after its window")
		}
	})
	checkInvariants(t, a.FSM)
}

// TestGCManyJobsIndexes collects a random half of thousands of jobs in
// batches; every remaining id and key is still found, and a snapshot round
// trip keeps the holes.
func TestGCManyJobsIndexes(t *testing.T) {
	a := scenario(t)
	const n = 5000
	var ids []string
	for b := 0; b < n/500; b++ {
		sb := &command.SubmitBatch{Time: 10}
		for i := 0; i < 500; i++ {
			id := fmt.Sprintf("j%05d", b*500+i)
			ids = append(ids, id)
			sb.Jobs = append(sb.Jobs, command.JobSubmit{ID: id, Key: "k" + id, Shard: "eu", ValueMu: int64(i)})
		}
		mustApply(t, a, command.SubmitBatchType, sb)
	}
	mustApply(t, a, command.JobCancelType, &command.JobCancel{Meta: command.Meta{Time: 20}, IDs: ids[:n-100]})
	mustApply(t, a, command.ClockAdvanceType, &command.ClockAdvance{Time: 30})
	rng := rand.New(rand.NewPCG(1, 2))
	gone := map[string]bool{}
	for round := 0; round < 4; round++ {
		m := &command.JobGC{Meta: command.Meta{Time: 30}, Before: 25}
		for _, id := range ids {
			if !gone[id] && rng.IntN(4) == 0 {
				m.IDs = append(m.IDs, id)
			}
		}
		r := mustApply(t, a, command.JobGCType, m)
		for _, o := range r.Outcomes {
			if o.Status == raftfsm.Applied {
				gone[o.ID] = true
			}
		}
		checkInvariants(t, a.FSM)
	}
	check := func(f *raftfsm.FSM) {
		f.Read(func(s *state.Store) {
			for i, id := range ids {
				j, k := s.Job(id), s.JobByKey("k"+id)
				_, tomb := s.CollectedByKey("k" + id)
				if gone[id] != (j == nil) || gone[id] != (k == nil) || gone[id] != tomb || (i >= n-100 && gone[id]) {
					t.Fatalf("%s: gone %v, job %v, key %v, tomb %v", id, gone[id], j != nil, k != nil, tomb)
				}
			}
			if s.LiveJobs() != n-len(gone) || s.NumJobs() != n {
				t.Fatalf("live %d of %d", s.LiveJobs(), s.NumJobs())
			}
		})
	}
	check(a.FSM)
	g := restore(t, persist(t, a.FSM))
	check(g)
	if g.Digest() != a.FSM.Digest() {
		t.Fatal("digest changed across restore")
	}
	checkInvariants(t, g)
}
