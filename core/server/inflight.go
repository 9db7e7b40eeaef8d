package server

import (
	"sync"

	"github.com/planetary/planetary/core/scheduler"
	"github.com/planetary/planetary/raftfsm/state"
)

// inflightRounds holds the decisions of scheduler rounds proposed but not
// yet known to be applied, so the next round can be planned while earlier
// ones commit: their jobs are no longer in a queue and their assignments
// hold slots. A round is forgotten once its entries are applied (or fail);
// until then a decision the store already reflects is counted twice, which
// only leaves a slot idle for a round. The FSM still rejects any decision
// that became stale, so the overlay affects speed, never correctness.
type inflightRounds struct {
	mu      sync.Mutex
	jobs    map[string]struct{}
	byNode  map[string]int
	byShard map[string]int
}

// inflightRound is what one proposed round holds.
type inflightRound struct {
	jobs   []string
	nodes  map[string]int
	shards map[string]int
}

func newInflightRounds() *inflightRounds {
	return &inflightRounds{jobs: map[string]struct{}{}, byNode: map[string]int{}, byShard: map[string]int{}}
}

// add records d (planned over st) and returns it for remove.
func (f *inflightRounds) add(st *state.Store, d *scheduler.Decisions) *inflightRound {
	r := &inflightRound{nodes: map[string]int{}, shards: map[string]int{}}
	queued := func(id string) {
		r.jobs = append(r.jobs, id)
		if j := st.Job(id); j != nil {
			r.shards[j.Shard]++
		}
	}
	for _, a := range d.Assign {
		queued(a.JobID)
		r.nodes[a.Node]++
	}
	for _, sp := range d.Spill {
		queued(sp.JobID)
	}
	for _, p := range d.Park {
		queued(p.JobID)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range r.jobs {
		f.jobs[id] = struct{}{}
	}
	for n, c := range r.nodes {
		f.byNode[n] += c
	}
	for s, c := range r.shards {
		f.byShard[s] += c
	}
	return r
}

func (f *inflightRounds) remove(r *inflightRound) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range r.jobs {
		delete(f.jobs, id)
	}
	for n, c := range r.nodes {
		if f.byNode[n] -= c; f.byNode[n] <= 0 {
			delete(f.byNode, n)
		}
	}
	for s, c := range r.shards {
		if f.byShard[s] -= c; f.byShard[s] <= 0 {
			delete(f.byShard, s)
		}
	}
}

// view returns st as the scheduler sees it with the rounds in flight
// applied; call it with the FSM read lock held, and use the result only
// under that lock. With nothing in flight it is st itself.
func (f *inflightRounds) view(st *state.Store) scheduler.View {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.jobs) == 0 {
		return st
	}
	v := &overlayView{Store: st, jobs: make(map[string]struct{}, len(f.jobs)),
		byNode: make(map[string]int, len(f.byNode)), byShard: make(map[string]int, len(f.byShard))}
	for id := range f.jobs {
		v.jobs[id] = struct{}{}
	}
	for n, c := range f.byNode {
		v.byNode[n] = c
	}
	for s, c := range f.byShard {
		v.byShard[s] = c
	}
	return v
}

// overlayView is a store with in-flight decisions applied on top.
type overlayView struct {
	*state.Store
	jobs    map[string]struct{}
	byNode  map[string]int
	byShard map[string]int
}

func (v *overlayView) Queue(shard string, fn func(*state.Job) bool) {
	v.Store.Queue(shard, func(j *state.Job) bool {
		if _, ok := v.jobs[j.ID]; ok {
			return true
		}
		return fn(j)
	})
}

func (v *overlayView) QueueLen(shard string) int {
	return max(v.Store.QueueLen(shard)-v.byShard[shard], 0)
}

func (v *overlayView) Parked(fn func(*state.Job) bool) {
	v.Store.Parked(func(j *state.Job) bool {
		if _, ok := v.jobs[j.ID]; ok {
			return true
		}
		return fn(j)
	})
}

func (v *overlayView) ActiveCount(node string) int {
	return v.Store.ActiveCount(node) + v.byNode[node]
}
