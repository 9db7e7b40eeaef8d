package raftfsm

import (
	"encoding/json"
	"fmt"
	"reflect"
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
	// command and args go on the next event emitted (the first of an owner
	// command, see ownerArgs).
	command string
	args    string
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
	if c.command != "" {
		e.Command, e.Args = c.command, c.args
		c.command, c.args = "", ""
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

// describe makes the next event carry the owner command of type t: its
// registry name and arguments.
func (c *txn) describe(t command.MessageType, body []byte) {
	if s, ok := command.Lookup(t); ok && s.Owner {
		c.command, c.args = s.Name, ownerArgs(s, body)
	}
}

// ownerArgs is the arguments of an owner command for its event: the command
// struct without its Meta (who, when and why are the event's own fields), as
// compact JSON. encoding/json writes struct fields in declaration order and
// map keys sorted, so every replica writes the same bytes.
func ownerArgs(s command.Spec, body []byte) string {
	m := s.New()
	if _, err := m.UnmarshalMsg(body); err != nil {
		return "" // the handler's decode panics on this entry
	}
	if f := reflect.ValueOf(m).Elem().FieldByName("Meta"); f.IsValid() && f.CanSet() {
		f.Set(reflect.Zero(f.Type()))
	}
	out, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: encode arguments of %s: %v", s.Name, err))
	}
	return string(out)
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
	n.Meters = nil
	n.AssignedAt = 0
	n.ParkedReason = ""
	n.Origin = ""
	return n
}

// queueShard is the queue an active attempt of j goes back to when it ends
// without a result: the shard whose router spilled it (when that shard still
// exists), else the shard it ran in.
func (c *txn) queueShard(j *state.Job) string {
	if j.Origin != "" && j.Origin != j.Shard && c.s.Shard(j.Origin) != nil {
		return j.Origin
	}
	return j.Shard
}

// movedFrom is the From of a requeue event: the shard the job ran in when
// the requeue takes it back to another shard's queue.
func movedFrom(j *state.Job, to string) string {
	if j.Shard != to {
		return j.Shard
	}
	return ""
}

// requeue puts an assigned or running job back in its queue (see
// queueShard).
func (c *txn) requeue(j *state.Job, reason string) {
	to := c.queueShard(j)
	n := queueJob(j, to)
	c.s.PutJob(n)
	c.emit(state.Event{Type: state.EvJobRequeued, Job: j.ID, Attempt: j.Attempt, Shard: to, From: movedFrom(j, to), Node: j.Node, ValueMu: j.ValueMu, Reason: reason})
}

// SpillDetail is the audit line of a spill: the estimates the router
// compared, e.g. "home wait 1400ms > budget 200ms; target 0ms".
func SpillDetail(a command.Assignment) string {
	home := "home cannot run it"
	if a.HomeEstMs >= 0 {
		home = fmt.Sprintf("home wait %dms", a.HomeEstMs)
	}
	budget := "no budget"
	if a.BudgetMs > 0 {
		budget = fmt.Sprintf("budget %dms", a.BudgetMs)
	}
	return fmt.Sprintf("%s; %s; target %dms", home, budget, a.TargetEstMs)
}

// serviceSamples gathers the service times of one command's results per
// shard and records them in the shards' ServiceMeanNs at flush, in the
// order the shards first appeared.
type serviceSamples struct {
	shards []*state.Shard
}

// serviceWeight is the inverse weight of a new sample in ServiceMeanNs.
const serviceWeight = 8

func (s *serviceSamples) add(c *txn, j *state.Job, at int64) {
	if j.AssignedAt <= 0 || at < j.AssignedAt {
		return
	}
	var sh *state.Shard
	for _, x := range s.shards {
		if x.Name == j.Shard {
			sh = x
			break
		}
	}
	if sh == nil {
		old := c.s.Shard(j.Shard)
		if old == nil {
			return
		}
		sh = old.Clone()
		s.shards = append(s.shards, sh)
	}
	x := at - j.AssignedAt
	if sh.ServiceSamples == 0 {
		sh.ServiceMeanNs = x
	} else {
		sh.ServiceMeanNs += (x - sh.ServiceMeanNs) / serviceWeight
	}
	sh.ServiceSamples++
}

func (s *serviceSamples) flush(c *txn) {
	for _, sh := range s.shards {
		c.s.PutShard(sh)
	}
}

// maxAttempts is a job's attempt cap: its own, else def.
func maxAttempts(j *state.Job, def uint32) uint32 {
	if j.MaxAttempts > 0 {
		return j.MaxAttempts
	}
	return def
}

// requeueLost requeues an attempt that was lost with its node (or reported
// lost), unless it was the job's last: then the job fails, so a job that
// takes its node down with it cannot cycle for ever.
func (c *txn) requeueLost(j *state.Job, reason string) {
	if j.MaxAttempts == 0 || j.Attempt < j.MaxAttempts {
		c.requeue(j, reason)
		return
	}
	msg := fmt.Sprintf("attempts exhausted (%d of %d): %s", j.Attempt, j.MaxAttempts, reason)
	if j.Error != "" {
		msg += "; last error: " + j.Error
	}
	n := j.Clone()
	n.State = state.JobFailed
	n.FinishedAt = c.time
	n.Error = bound(msg)
	c.s.PutJob(n)
	c.emit(state.Event{Type: state.EvJobFailed, Job: j.ID, Attempt: j.Attempt, Shard: j.Shard, Node: j.Node, ValueMu: j.ValueMu, Reason: reason, Detail: n.Error})
}

// move queues a job in another shard, counted as a flow from its shard.
func (c *txn) move(j *state.Job, to, evType, reason string) {
	n := queueJob(j, to)
	n.Hops++
	c.s.PutJob(n)
	c.s.AddFlow(j.Shard, to, 1, j.ValueMu)
	c.emit(state.Event{Type: evType, Job: j.ID, Attempt: j.Attempt, From: j.Shard, To: to, Shard: to, Node: j.Node, ValueMu: j.ValueMu, Reason: reason})
}

// failUnpayable fails a job whose result arrived but whose settlement the
// payments cannot take (err wraps state.ErrLedgerOverflow): nj is the
// completed copy, which is recorded failed and unpaid instead.
func (c *txn) failUnpayable(j, nj *state.Job, err error) {
	nj.State = state.JobFailed
	nj.SettledMu = 0
	nj.Error = bound(err.Error())
	c.s.PutJob(nj)
	c.emit(state.Event{Type: state.EvJobFailed, Job: j.ID, Attempt: j.Attempt, Shard: j.Shard, Node: j.Node, ValueMu: j.ValueMu,
		Reason: "settlement overflow", Detail: nj.Error})
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

// requeueActive requeues every assigned or running job of a node. lost
// says the attempts died with the node (it went down), so each counts
// against its job's MaxAttempts (requeueLost); a drain, move or retirement
// is not the job's doing.
func (c *txn) requeueActive(node, reason string, lost bool) {
	for _, j := range activeJobs(c.s, node) {
		if lost {
			c.requeueLost(j, reason)
		} else {
			c.requeue(j, reason)
		}
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
// scheduler gets another chance to place them. It writes one
// jobs.unparked event per shard that had parked jobs (in shard order),
// carrying their count and value, so a topology change costs a bounded
// number of events; each job keeps that event's seq (Job.UnparkedSeq)
// for its timeline.
func (c *txn) unpark() {
	m := c.s.Meta()
	m.Topology++
	c.s.SetMeta(m)
	if c.s.ParkedLen() == 0 {
		return
	}
	type shardPark struct {
		jobs    []*state.Job
		valueMu int64
	}
	by := map[string]*shardPark{}
	var shards []string
	c.s.Parked(func(j *state.Job) bool {
		p := by[j.Shard]
		if p == nil {
			p = &shardPark{}
			by[j.Shard] = p
			shards = append(shards, j.Shard)
		}
		p.jobs = append(p.jobs, j)
		// Parked values are part of the total submitted, which
		// CheckValue keeps within int64.
		p.valueMu += j.ValueMu
		return true
	})
	sort.Strings(shards)
	for _, sh := range shards {
		p := by[sh]
		c.emit(state.Event{Type: state.EvJobsUnparked, Shard: sh, ValueMu: p.valueMu, Reason: "topology changed",
			Detail: fmt.Sprintf("%d jobs unparked, topology %d", len(p.jobs), m.Topology)})
		seq := c.s.Meta().Head.Seq
		for _, j := range p.jobs {
			n := queueJob(j, j.Shard)
			n.UnparkedSeq = seq
			c.s.PutJob(n)
		}
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
