// Package schedtest is an in-memory scheduler.View for tests and benchmarks:
// a small real data structure (indexes by shard and node, a sorted queue per
// shard) that can apply a round's decisions the way the FSM records them.
package schedtest

import (
	"sort"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// Fabric holds shards, nodes, jobs and policy. Build it with New; after
// changing fields directly, call Reindex.
type Fabric struct {
	ShardList []*state.Shard
	NodeList  []*state.Node
	Jobs      []*state.Job
	Completed map[string]int64 // completions per node
	Pol       state.Policy
	Now       int64 // the mission clock

	shards map[string]*state.Shard
	nodes  map[string][]*state.Node
	queues map[string][]*state.Job
	active map[string]int
	parked []*state.Job
}

// New returns an indexed Fabric (see Reindex).
func New(shards []*state.Shard, nodes []*state.Node, jobs []*state.Job, pol state.Policy) *Fabric {
	f := &Fabric{ShardList: shards, NodeList: nodes, Jobs: jobs, Pol: pol, Completed: map[string]int64{}}
	f.Reindex()
	return f
}

// Reindex rebuilds the indexes from the exported fields. Jobs with Seq 0
// get their slice position (1-based), JobUnknown becomes JobQueued and an
// empty Home is set to Shard.
func (f *Fabric) Reindex() {
	for i, j := range f.Jobs {
		if j.Seq == 0 {
			j.Seq = uint64(i + 1)
		}
		if j.State == state.JobUnknown {
			j.State = state.JobQueued
		}
		if j.Home == "" {
			j.Home = j.Shard
		}
	}
	sort.Slice(f.ShardList, func(i, j int) bool { return f.ShardList[i].Name < f.ShardList[j].Name })
	sort.Slice(f.NodeList, func(i, j int) bool { return f.NodeList[i].ID < f.NodeList[j].ID })
	f.shards = make(map[string]*state.Shard, len(f.ShardList))
	for _, s := range f.ShardList {
		f.shards[s.Name] = s
	}
	f.nodes = make(map[string][]*state.Node)
	for _, n := range f.NodeList {
		f.nodes[n.Shard] = append(f.nodes[n.Shard], n)
	}
	f.queues = make(map[string][]*state.Job)
	f.active = make(map[string]int)
	f.parked = f.parked[:0]
	for _, j := range f.Jobs {
		switch j.State {
		case state.JobQueued:
			f.queues[j.Shard] = append(f.queues[j.Shard], j)
		case state.JobAssigned, state.JobRunning:
			f.active[j.Node]++
		case state.JobParked:
			f.parked = append(f.parked, j)
		}
	}
	for _, q := range f.queues {
		sort.Slice(q, func(a, b int) bool {
			if q[a].Priority != q[b].Priority {
				return q[a].Priority > q[b].Priority
			}
			return q[a].Seq < q[b].Seq
		})
	}
	sort.Slice(f.parked, func(a, b int) bool { return f.parked[a].Seq < f.parked[b].Seq })
}

// Shards returns the shards sorted by name.
func (f *Fabric) Shards() []*state.Shard { return f.ShardList }

// Shard returns a shard or nil.
func (f *Fabric) Shard(name string) *state.Shard { return f.shards[name] }

// Nodes returns the nodes sorted by id.
func (f *Fabric) Nodes() []*state.Node { return f.NodeList }

// NodesOfShard returns a shard's nodes sorted by id.
func (f *Fabric) NodesOfShard(shard string) []*state.Node { return f.nodes[shard] }

// Queue walks a shard's queue in priority desc, Seq asc order.
func (f *Fabric) Queue(shard string, fn func(*state.Job) bool) {
	for _, j := range f.queues[shard] {
		if !fn(j) {
			return
		}
	}
}

// QueueLen is the number of queued jobs of a shard.
func (f *Fabric) QueueLen(shard string) int { return len(f.queues[shard]) }

// Parked walks parked jobs in Seq order.
func (f *Fabric) Parked(fn func(*state.Job) bool) {
	for _, j := range f.parked {
		if !fn(j) {
			return
		}
	}
}

// ActiveCount is the number of assigned and running jobs on a node.
func (f *Fabric) ActiveCount(node string) int { return f.active[node] }

// CompletedOn is the number of completions on a node.
func (f *Fabric) CompletedOn(node string) int64 { return f.Completed[node] }

// Policy returns the owner policy.
func (f *Fabric) Policy() state.Policy { return f.Pol }

// Clock returns the mission clock (Now).
func (f *Fabric) Clock() int64 { return f.Now }

// Job returns a job by id, or nil.
func (f *Fabric) Job(id string) *state.Job {
	for _, j := range f.Jobs {
		if j.ID == id {
			return j
		}
	}
	return nil
}

// Node returns a node by id, or nil.
func (f *Fabric) Node(id string) *state.Node {
	for _, n := range f.NodeList {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// Apply records decisions as the FSM would (without its validation):
// assigned jobs become active on their node; a spill (From set) also moves
// the job to the node's shard with one more hop and its Origin set; parked
// jobs are set aside.
func (f *Fabric) Apply(assign []command.Assignment, park []command.Park) {
	byID := make(map[string]*state.Job, len(f.Jobs))
	for _, j := range f.Jobs {
		byID[j.ID] = j
	}
	for _, a := range assign {
		if j := byID[a.JobID]; j != nil {
			j.State, j.Node, j.Attempt, j.QuoteMu = state.JobAssigned, a.Node, a.Attempt, a.QuoteMu
			if a.From != "" {
				if n := f.Node(a.Node); n != nil {
					j.Shard, j.Origin = n.Shard, a.From
					j.Hops++
				}
			}
		}
	}
	for _, p := range park {
		if j := byID[p.JobID]; j != nil {
			j.State, j.ParkedReason = state.JobParked, p.Reason
		}
	}
	f.Reindex()
}

// Clone returns a deep copy (records and indexes).
func (f *Fabric) Clone() *Fabric {
	c := &Fabric{Pol: clonePolicy(f.Pol), Now: f.Now, Completed: make(map[string]int64, len(f.Completed))}
	for k, v := range f.Completed {
		c.Completed[k] = v
	}
	for _, s := range f.ShardList {
		cs := *s
		cs.SpilloverTargets = append([]string(nil), s.SpilloverTargets...)
		cs.Policies = make([]state.SpilloverPolicy, len(s.Policies))
		for i, p := range s.Policies {
			p.RequiredCapabilities = append([]string(nil), p.RequiredCapabilities...)
			cs.Policies[i] = p
		}
		c.ShardList = append(c.ShardList, &cs)
	}
	for _, n := range f.NodeList {
		cn := *n
		cn.Capabilities = append([]string(nil), n.Capabilities...)
		cn.Labels = append([]string(nil), n.Labels...)
		cn.Deployment.Zones = append([]string(nil), n.Deployment.Zones...)
		cn.Price.Rates = append([]state.PriceRate(nil), n.Price.Rates...)
		cn.Attestations.Certifications = append([]string(nil), n.Attestations.Certifications...)
		cn.Attestations.DataResidency = append([]string(nil), n.Attestations.DataResidency...)
		cn.Attestations.Tags = append([]string(nil), n.Attestations.Tags...)
		c.NodeList = append(c.NodeList, &cn)
	}
	for _, j := range f.Jobs {
		cj := *j
		cj.Capabilities = append([]string(nil), j.Capabilities...)
		cj.Payload = append([]byte(nil), j.Payload...)
		c.Jobs = append(c.Jobs, &cj)
	}
	c.Reindex()
	return c
}

func clonePolicy(p state.Policy) state.Policy {
	p.Fired = append([]string(nil), p.Fired...)
	p.Skipped = append([]string(nil), p.Skipped...)
	p.Schedule = append([]state.ScheduleEntry(nil), p.Schedule...)
	return p
}
