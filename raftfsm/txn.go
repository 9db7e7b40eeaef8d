package raftfsm

import (
	"fmt"
	"sort"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
	"github.com/tinylib/msgp/msgp"
)

// maxOutput bounds the result text stored in a job.
const maxOutput = 4096

// txn is the context of one command being applied.
type txn struct {
	f     *FSM
	s     *state.Store
	index uint64
	time  int64
	actor string
	// asActor, when set, replaces the actor of owner commands (schedule fires).
	asActor string
}

// decode decodes a command body; an undecodable entry means a corrupt log or
// a code bug, so it panics.
func decode[T any, PT interface {
	*T
	msgp.Unmarshaler
}](c *txn, body []byte) *T {
	var v T
	if _, err := PT(&v).UnmarshalMsg(body); err != nil {
		panic(fmt.Sprintf("raftfsm: undecodable %T at index %d: %v", v, c.index, err))
	}
	return &v
}

func (c *txn) meta(m command.Meta) {
	if m.Time != 0 || c.asActor == "" {
		c.time = m.Time
	}
	c.actor = m.Actor
	if c.asActor != "" {
		c.actor = c.asActor
	}
}

// emit seals an event with the chain and queues it for the sink.
func (c *txn) emit(e state.Event) {
	e.Index = c.index
	if e.Time == 0 {
		e.Time = c.time
	}
	if e.Actor == "" {
		e.Actor = c.actor
	}
	m := c.s.Meta()
	prevHex := ""
	if m.Head == c.f.lastHead {
		prevHex = c.f.lastHex
	}
	m.Head = e.SealAfter(m.Head, prevHex)
	c.f.lastHead, c.f.lastHex = m.Head, e.Hash
	m.Events++
	c.s.SetMeta(m)
	c.f.pending = append(c.f.pending, e)
}

// owner counts an applied owner command.
func (c *txn) owner() {
	p := c.s.Policy()
	p.OwnerCommands++
	c.s.SetPolicy(p)
}

func bound(s string) string {
	if len(s) > maxOutput {
		return s[:maxOutput]
	}
	return s
}

// queueJob returns j queued in shard with no node.
func queueJob(j *state.Job, shard string) *state.Job {
	n := j.Clone()
	n.State = state.JobQueued
	n.Shard = shard
	n.Node = ""
	n.QuoteMu = 0
	n.AssignedAt = 0
	n.ParkedReason = ""
	return n
}

// requeue puts an assigned or running job back in its shard queue.
func (c *txn) requeue(j *state.Job, reason string) {
	n := queueJob(j, j.Shard)
	c.s.PutJob(n)
	c.emit(state.Event{Type: state.EvJobRequeued, Job: j.ID, Attempt: j.Attempt, Shard: j.Shard, Node: j.Node, ValueMu: j.ValueMu, Reason: reason})
}

// move queues a job in another shard, counted as a flow from its shard.
func (c *txn) move(j *state.Job, to, evType, reason string) {
	n := queueJob(j, to)
	n.Hops++
	c.s.PutJob(n)
	c.s.AddFlow(j.Shard, to, 1, j.ValueMu)
	c.emit(state.Event{Type: evType, Job: j.ID, Attempt: j.Attempt, From: j.Shard, To: to, Shard: to, Node: j.Node, ValueMu: j.ValueMu, Reason: reason})
}

// cancel cancels a non-terminal job, freeing its node slot.
func (c *txn) cancel(j *state.Job, reason string) {
	n := j.Clone()
	n.State = state.JobCancelled
	n.ParkedReason = ""
	n.FinishedAt = c.time
	c.s.PutJob(n)
	c.emit(state.Event{Type: state.EvJobCancelled, Job: j.ID, Attempt: j.Attempt, Shard: j.Shard, Node: j.Node, ValueMu: j.ValueMu, Reason: reason})
}

func activeJobs(s *state.Store, node string) []*state.Job {
	var out []*state.Job
	s.Active(node, func(j *state.Job) bool { out = append(out, j); return true })
	return out
}

// requeueActive requeues every assigned or running job of a node.
func (c *txn) requeueActive(node, reason string) {
	for _, j := range activeJobs(c.s, node) {
		c.requeue(j, reason)
	}
}

// shed requeues a node's newest assignments beyond its capacity.
func (c *txn) shed(n *state.Node) {
	act := activeJobs(c.s, n.ID)
	if int64(len(act)) <= n.Capacity || n.Capacity < 0 {
		return
	}
	sort.Slice(act, func(a, b int) bool {
		if act[a].AssignedAt != act[b].AssignedAt {
			return act[a].AssignedAt > act[b].AssignedAt
		}
		return act[a].Seq > act[b].Seq
	})
	for _, j := range act[:int64(len(act))-n.Capacity] {
		c.requeue(j, "node capacity reduced")
	}
}

// unpark records a topology change and re-queues every parked job, so the
// scheduler gets another chance to place them.
func (c *txn) unpark() {
	m := c.s.Meta()
	m.Topology++
	c.s.SetMeta(m)
	if c.s.ParkedLen() == 0 {
		return
	}
	var parked []*state.Job
	c.s.Parked(func(j *state.Job) bool { parked = append(parked, j); return true })
	for _, j := range parked {
		c.s.PutJob(queueJob(j, j.Shard))
		c.emit(state.Event{Type: state.EvJobUnparked, Job: j.ID, Attempt: j.Attempt, Shard: j.Shard, ValueMu: j.ValueMu, Reason: "topology changed"})
	}
}

func (c *txn) setPolicy(fn func(p *state.Policy)) {
	p := c.s.Policy()
	fn(&p)
	c.s.SetPolicy(p)
}

// addSorted returns a new sorted slice with v added (slices in the policy are
// shared with snapshots and never edited in place).
func addSorted(list []string, v string) []string {
	i := sort.SearchStrings(list, v)
	out := make([]string, 0, len(list)+1)
	out = append(out, list[:i]...)
	out = append(out, v)
	return append(out, list[i:]...)
}

func contains(sorted []string, v string) bool {
	i := sort.SearchStrings(sorted, v)
	return i < len(sorted) && sorted[i] == v
}

func applied(id string) Outcome { return Outcome{ID: id, Status: Applied} }
func dup(id, reason string) Outcome {
	return Outcome{ID: id, Status: Duplicate, Reason: reason}
}
func rejected(id, format string, args ...any) Outcome {
	return Outcome{ID: id, Status: Rejected, Reason: fmt.Sprintf(format, args...)}
}
