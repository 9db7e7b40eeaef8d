package scheduler_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/planetary/planetary/core/router"
	"github.com/planetary/planetary/core/scheduler"
	"github.com/planetary/planetary/core/scheduler/schedtest"
	"github.com/planetary/planetary/raftfsm/state"
)

// The FSM's Store and the test fabric both satisfy the views.
var (
	_ scheduler.View = (*state.Store)(nil)
	_ router.View    = (*state.Store)(nil)
	_ scheduler.View = (*schedtest.Fabric)(nil)
)

// storeOf loads a fixture into the FSM's real Store (fresh copies of every
// record; completions become completed jobs on their node).
func storeOf(f *schedtest.Fabric) *state.Store {
	c := f.Clone()
	st := state.NewStore()
	for _, s := range c.ShardList {
		st.PutShard(s)
	}
	for _, n := range c.NodeList {
		st.PutNode(n)
	}
	for _, j := range c.Jobs {
		j.Seq = 0
		st.PutJob(j)
	}
	for _, n := range c.NodeList {
		for i := int64(0); i < c.Completed[n.ID]; i++ {
			st.PutJob(&state.Job{ID: fmt.Sprintf("done-%s-%d", n.ID, i), Shard: n.Shard, Home: n.Shard,
				State: state.JobCompleted, Node: n.ID, Attempt: 1})
		}
	}
	st.SetPolicy(c.Pol)
	m := st.Meta()
	m.Clock = c.Now
	st.SetMeta(m)
	return st
}

// TestPlanOnStore: the fixture and the FSM's Store give the same decisions.
func TestPlanOnStore(t *testing.T) {
	s := scheduler.New(scheduler.Config{MaxPerRound: 200})
	for seed := uint64(0); seed < 300; seed++ {
		f := randomFabric(seed)
		want := s.Plan(f, seed)
		if got := s.Plan(storeOf(f), seed); !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: store decisions differ:\n got %+v\nwant %+v", seed, got, want)
		}
	}
}
