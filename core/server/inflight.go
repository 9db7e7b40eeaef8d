package server

import (
	"sync"

	"github.com/planetary/planetary/core/scheduler"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// pendingWork holds what the leader has proposed and not yet seen applied, so
// the scheduler can plan the next round without waiting for earlier entries
// to reach the disk:
//
//   - the decisions of rounds still committing: their jobs are out of their
//     queue and their assignments hold slots;
//   - results still committing: each frees the slot of an attempt that is
//     still active, because its entry is already in the log ahead of any
//     assignment planned from here on.
//
// The view is exact: an item counts only while the store does not reflect it
// yet (a decided job still queued in its shard at the attempt planned from,
// a result's attempt still active), so nothing is counted twice around the
// moment an entry applies. The FSM still rejects any decision that became
// stale, so the view affects speed, never correctness.
type pendingWork struct {
	mu      sync.Mutex
	rounds  map[string]decided                // job → its decision in flight
	results map[command.JobAttempt]*resultSet // attempt → the batch reporting it
}

// decided is a decision in flight: the job left shard's queue at attempt
// (assignments name the node and hold a slot there).
type decided struct {
	from    *inflightRound
	shard   string
	attempt uint32
	node    string
}

// inflightRound is one proposed round, removed when its entries settle.
type inflightRound struct{ jobs []string }

// resultSet is one proposed result batch, removed when it settles.
type resultSet struct{ keys []command.JobAttempt }

func newPendingWork() *pendingWork {
	return &pendingWork{rounds: map[string]decided{}, results: map[command.JobAttempt]*resultSet{}}
}

// addRound records d, planned over st, and returns the handle for
// removeRound.
func (f *pendingWork) addRound(st *state.Store, d *scheduler.Decisions) *inflightRound {
	r := &inflightRound{}
	f.mu.Lock()
	defer f.mu.Unlock()
	put := func(id, node string) {
		j := st.Job(id)
		if j == nil {
			return
		}
		r.jobs = append(r.jobs, id)
		f.rounds[id] = decided{from: r, shard: j.Shard, attempt: j.Attempt, node: node}
	}
	for _, a := range d.Assign {
		put(a.JobID, a.Node)
	}
	for _, p := range d.Park {
		put(p.JobID, "")
	}
	return r
}

func (f *pendingWork) removeRound(r *inflightRound) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range r.jobs {
		if f.rounds[id].from == r {
			delete(f.rounds, id)
		}
	}
}

// addResults records results proposed in one entry.
func (f *pendingWork) addResults(rs []command.Result) *resultSet {
	set := &resultSet{keys: make([]command.JobAttempt, len(rs))}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range rs {
		k := command.JobAttempt{JobID: r.JobID, Attempt: r.Attempt}
		set.keys[i] = k
		f.results[k] = set
	}
	return set
}

func (f *pendingWork) removeResults(set *resultSet) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range set.keys {
		if f.results[k] == set {
			delete(f.results, k)
		}
	}
}

// view returns st as the scheduler sees it with what is in flight laid on
// top; call it with the FSM read lock held and use the result only under
// that lock. With nothing in flight it is st itself.
func (f *pendingWork) view(st *state.Store) scheduler.View {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.rounds) == 0 && len(f.results) == 0 {
		return st
	}
	v := &overlayView{Store: st, skip: map[string]map[string]struct{}{}, byNode: map[string]int{}, byShard: map[string]int{}}
	for id, d := range f.rounds {
		j := st.Job(id)
		if j == nil || j.State != state.JobQueued || j.Shard != d.shard || j.Attempt != d.attempt {
			continue // applied, or overtaken by another change
		}
		if v.skip[d.shard] == nil {
			v.skip[d.shard] = map[string]struct{}{}
		}
		v.skip[d.shard][id] = struct{}{}
		v.byShard[d.shard]++
		if d.node != "" {
			v.byNode[d.node]++
		}
	}
	for k := range f.results {
		j := st.Job(k.JobID)
		if j == nil || j.Attempt != k.Attempt || (j.State != state.JobAssigned && j.State != state.JobRunning) {
			continue // applied, stale or overtaken
		}
		v.byNode[j.Node]--
	}
	return v
}

// overlayView is a store with in-flight entries laid on top.
type overlayView struct {
	*state.Store
	skip    map[string]map[string]struct{} // by shard
	byNode  map[string]int
	byShard map[string]int
}

func (v *overlayView) Queue(shard string, fn func(*state.Job) bool) {
	skip := v.skip[shard]
	if len(skip) == 0 {
		v.Store.Queue(shard, fn)
		return
	}
	v.Store.Queue(shard, func(j *state.Job) bool {
		if _, ok := skip[j.ID]; ok {
			return true
		}
		return fn(j)
	})
}

func (v *overlayView) QueueLen(shard string) int {
	return max(v.Store.QueueLen(shard)-v.byShard[shard], 0)
}

func (v *overlayView) ActiveCount(node string) int {
	return max(v.Store.ActiveCount(node)+v.byNode[node], 0)
}
