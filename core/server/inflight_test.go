package server

import (
	"reflect"
	"testing"

	"github.com/planetary/planetary/core/scheduler"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

func TestInflightOverlay(t *testing.T) {
	st := state.NewStore()
	st.PutShard(&state.Shard{Name: "eu"})
	st.PutNode(&state.Node{ID: "n1", Shard: "eu", Capacity: 4, Status: state.NodeUp})
	for _, id := range []string{"a", "b", "c", "d"} {
		st.PutJob(&state.Job{ID: id, Shard: "eu", State: state.JobQueued})
	}
	queue := func(v scheduler.View) []string {
		var ids []string
		v.Queue("eu", func(j *state.Job) bool { ids = append(ids, j.ID); return true })
		return ids
	}
	f := newInflightRounds()
	if v := f.view(st); v != scheduler.View(st) {
		t.Fatal("with nothing in flight the view is not the store itself")
	}
	r1 := f.add(st, &scheduler.Decisions{Assign: []command.Assignment{{JobID: "a", Attempt: 1, Node: "n1"}},
		Park: []command.Park{{JobID: "c", Reason: "x"}}})
	r2 := f.add(st, &scheduler.Decisions{Assign: []command.Assignment{{JobID: "b", Attempt: 1, Node: "n1"}}})
	v := f.view(st)
	if got := queue(v); !reflect.DeepEqual(got, []string{"d"}) {
		t.Fatalf("queue with two rounds in flight: %v", got)
	}
	if v.QueueLen("eu") != 1 || v.ActiveCount("n1") != 2 {
		t.Fatalf("queue len %d, active %d", v.QueueLen("eu"), v.ActiveCount("n1"))
	}
	f.remove(r1)
	v = f.view(st)
	if got := queue(v); !reflect.DeepEqual(got, []string{"a", "c", "d"}) || v.ActiveCount("n1") != 1 || v.QueueLen("eu") != 3 {
		t.Fatalf("after the first round settled: queue %v, active %d, len %d", got, v.ActiveCount("n1"), v.QueueLen("eu"))
	}
	f.remove(r2)
	if v := f.view(st); v != scheduler.View(st) {
		t.Fatal("settled rounds left something in flight")
	}
}
