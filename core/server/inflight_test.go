package server

import (
	"reflect"
	"testing"

	"github.com/planetary/planetary/core/scheduler"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// TestPendingWorkView: decisions and results in flight count only while the
// store does not reflect them, so nothing is counted twice once they apply.
func TestPendingWorkView(t *testing.T) {
	st := state.NewStore()
	st.PutShard(&state.Shard{Name: "eu"})
	st.PutNode(&state.Node{ID: "n1", Shard: "eu", Capacity: 4, Status: state.NodeUp})
	for _, id := range []string{"a", "b", "c", "d"} {
		st.PutJob(&state.Job{ID: id, Shard: "eu", State: state.JobQueued})
	}
	run := st.Job("d").Clone()
	run.State, run.Node, run.Attempt = state.JobRunning, "n1", 1
	st.PutJob(run)
	queue := func(v scheduler.View) []string {
		var ids []string
		v.Queue("eu", func(j *state.Job) bool { ids = append(ids, j.ID); return true })
		return ids
	}
	f := newPendingWork()
	if v := f.view(st); v != scheduler.View(st) {
		t.Fatal("with nothing in flight the view is not the store itself")
	}
	r1 := f.addRound(st, &scheduler.Decisions{Assign: []command.Assignment{{JobID: "a", Attempt: 1, Node: "n1"}},
		Park: []command.Park{{JobID: "c", Reason: "x"}}})
	r2 := f.addRound(st, &scheduler.Decisions{Assign: []command.Assignment{{JobID: "b", Attempt: 1, Node: "n1"}}})
	v := f.view(st)
	if got := queue(v); len(got) != 0 || v.QueueLen("eu") != 0 || v.ActiveCount("n1") != 3 {
		t.Fatalf("two rounds in flight: queue %v, len %d, active %d", got, v.QueueLen("eu"), v.ActiveCount("n1"))
	}
	// The first round applies: the store shows a assigned and c parked;
	// the overlay must not count them again.
	a := st.Job("a").Clone()
	a.State, a.Node, a.Attempt = state.JobAssigned, "n1", 1
	st.PutJob(a)
	c := st.Job("c").Clone()
	c.State = state.JobParked
	st.PutJob(c)
	v = f.view(st)
	if v.ActiveCount("n1") != 3 || v.QueueLen("eu") != 0 {
		t.Fatalf("after the store applied round 1: active %d, len %d", v.ActiveCount("n1"), v.QueueLen("eu"))
	}
	f.removeRound(r1)
	// A result in flight for d frees its slot; a stale one frees nothing.
	set := f.addResults([]command.Result{{JobID: "d", Attempt: 1, OK: true}, {JobID: "a", Attempt: 7}})
	if v := f.view(st); v.ActiveCount("n1") != 2 {
		t.Fatalf("with d's result in flight: active %d, want 2", v.ActiveCount("n1"))
	}
	done := st.Job("d").Clone()
	done.State = state.JobCompleted
	st.PutJob(done)
	if v := f.view(st); v.ActiveCount("n1") != 2 {
		t.Fatalf("after d's result applied: active %d, want 2", v.ActiveCount("n1"))
	}
	f.removeResults(set)
	f.removeRound(r2)
	v = f.view(st)
	if v != scheduler.View(st) || !reflect.DeepEqual(queue(v), []string{"b"}) {
		t.Fatalf("settled work left something in flight: queue %v", queue(v))
	}
}
