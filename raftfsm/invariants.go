package raftfsm

import (
	"fmt"
	"sort"

	"github.com/planetary/planetary/raftfsm/state"
)

// Invariant IDs (docs/architecture.md).
const (
	InvJobsConserved = "jobs-conserved"
	InvShardTotals   = "shard-totals"
	InvNodeActive    = "node-active"
	InvTerminalOnce  = "terminal-once"
	InvPayments      = "payments"
	InvFlows         = "flows"
	InvChain         = "chain"
	InvSettled       = "settled"
)

// Invariant is the result of one check.
type Invariant struct {
	ID      string
	OK      bool
	Message string
}

// CheckInvariants recomputes the ledger from the live jobs plus garbage
// collection's aggregates and compares it with the store's tables, which
// count every job ever submitted. It is pure and reads s only.
func CheckInvariants(s *state.Store) []Invariant {
	var (
		byState   state.Counts
		byShard   = map[string]*state.Counts{}
		byNode    = map[string]*state.Counts{}
		active    = map[string]int{}
		terminal  int64
		paid      int64
		hops      int64
		badState  string
		badSettle string
	)
	add := func(m map[string]*state.Counts, k string, j *state.Job) {
		c := m[k]
		if c == nil {
			c = &state.Counts{}
			m[k] = c
		}
		c.N[j.State]++
		c.ValueMu[j.State] += j.ValueMu
	}
	s.JobsIter(func(j *state.Job) bool {
		if j.State == state.JobUnknown || int(j.State) >= state.NumJobStates {
			badState = fmt.Sprintf("job %s in state %d", j.ID, j.State)
		}
		byState.N[j.State]++
		byState.ValueMu[j.State] += j.ValueMu
		add(byShard, j.Shard, j)
		if j.Node != "" {
			add(byNode, j.Node, j)
		}
		if j.State == state.JobAssigned || j.State == state.JobRunning {
			active[j.Node]++
		}
		if j.State.Terminal() {
			terminal += j.ValueMu
		}
		paid += paidOf(j)
		if j.State == state.JobCompleted && badSettle == "" && (j.SettledMu < 0 || j.SettledMu > j.QuoteMu || (j.MaxPriceMu > 0 && j.SettledMu > j.MaxPriceMu)) {
			badSettle = fmt.Sprintf("job %s settled %d, quote %d, max price %d", j.ID, j.SettledMu, j.QuoteMu, j.MaxPriceMu)
		}
		hops += int64(j.Hops)
		return true
	})
	// What garbage collection removed is counted from its aggregates.
	gc := s.Collected()
	live := byState
	for i := range byState.N {
		byState.N[i] += gc.Global.N[i]
		byState.ValueMu[i] += gc.Global.ValueMu[i]
	}
	for _, name := range s.CollectedShardNames() {
		addCounts(byShard, name, s.CollectedShard(name))
	}
	for _, name := range s.CollectedNodeNames() {
		addCounts(byNode, name, s.CollectedNode(name))
	}
	for _, st := range []state.JobState{state.JobCompleted, state.JobFailed, state.JobCancelled} {
		terminal += gc.Global.ValueMu[st]
	}
	paid += gc.PaidMu
	hops += gc.Hops
	var gcSum int64
	for i, n := range gc.Global.N {
		gcSum += n
		if n != 0 && !state.JobState(i).Terminal() && badState == "" {
			badState = fmt.Sprintf("%d collected jobs counted as %s", n, state.JobState(i))
		}
	}
	if badState == "" {
		s.TombsIter(func(t state.Tomb) bool {
			if s.Job(t.ID) != nil {
				badState = fmt.Sprintf("job %s is both live and collected", t.ID)
			}
			return badState == ""
		})
	}
	g := s.Global()
	var out []Invariant
	check := func(id string, ok bool, format string, args ...any) {
		inv := Invariant{ID: id, OK: ok}
		if !ok {
			inv.Message = fmt.Sprintf(format, args...)
		}
		out = append(out, inv)
	}

	// jobs-conserved: every job in exactly one state, the global counts
	// match, and each state's table holds exactly its jobs.
	var sum int64
	for _, n := range g.N {
		sum += n
	}
	queued := 0
	for _, sh := range s.AllShardCounts() {
		queued += s.QueueLen(sh.Name)
	}
	inActive := 0
	for _, n := range s.AllNodeCounts() {
		inActive += s.ActiveCount(n.Name)
	}
	switch {
	case badState != "":
		check(InvJobsConserved, false, "%s", badState)
	case gcSum != gc.Jobs:
		check(InvJobsConserved, false, "collected counts sum to %d, %d jobs collected", gcSum, gc.Jobs)
	case int64(s.LiveJobs())+gc.Jobs != int64(s.NumJobs()):
		check(InvJobsConserved, false, "%d live and %d collected jobs, %d submitted", s.LiveJobs(), gc.Jobs, s.NumJobs())
	case sum != int64(s.NumJobs()):
		check(InvJobsConserved, false, "global counts sum to %d, %d jobs", sum, s.NumJobs())
	case g.N != byState.N:
		check(InvJobsConserved, false, "global counts %v, jobs by state %v", g.N, byState.N)
	case int64(queued) != live.N[state.JobQueued]:
		check(InvJobsConserved, false, "queues hold %d jobs, %d queued", queued, live.N[state.JobQueued])
	case int64(s.ParkedLen()) != live.N[state.JobParked]:
		check(InvJobsConserved, false, "parked set holds %d jobs, %d parked", s.ParkedLen(), live.N[state.JobParked])
	case int64(inActive) != live.N[state.JobAssigned]+live.N[state.JobRunning]:
		check(InvJobsConserved, false, "active sets hold %d jobs, %d assigned or running", inActive, live.N[state.JobAssigned]+live.N[state.JobRunning])
	default:
		check(InvJobsConserved, true, "")
	}

	// shard-totals: per-shard counts sum to the global counts and match the
	// jobs of each shard.
	var shardSum state.Counts
	msg := ""
	for _, sc := range s.AllShardCounts() {
		for i := range sc.Counts.N {
			shardSum.N[i] += sc.Counts.N[i]
			shardSum.ValueMu[i] += sc.Counts.ValueMu[i]
		}
		want := state.Counts{}
		if c := byShard[sc.Name]; c != nil {
			want = *c
		}
		if sc.Counts != want && msg == "" {
			msg = fmt.Sprintf("shard %s counts %v, jobs say %v", sc.Name, sc.Counts.N, want.N)
		}
	}
	if shardSum != g && msg == "" {
		msg = fmt.Sprintf("shard counts sum to %v, global %v", shardSum.N, g.N)
	}
	check(InvShardTotals, msg == "", "%s", msg)

	// node-active: each node's active set and counts match the jobs naming it.
	msg = ""
	for _, nc := range s.AllNodeCounts() {
		want := state.Counts{}
		if c := byNode[nc.Name]; c != nil {
			want = *c
		}
		if nc.Counts != want {
			msg = fmt.Sprintf("node %s counts %v, jobs say %v", nc.Name, nc.Counts.N, want.N)
			break
		}
	}
	if msg == "" {
		names := sortedKeys(active)
		for _, nc := range s.AllNodeCounts() {
			if _, ok := active[nc.Name]; !ok {
				names = append(names, nc.Name)
			}
		}
		for _, node := range names {
			n := active[node]
			ok := s.ActiveCount(node) == n
			s.Active(node, func(j *state.Job) bool {
				if j.Node != node || (j.State != state.JobAssigned && j.State != state.JobRunning) {
					ok = false
				}
				return ok
			})
			if !ok {
				msg = fmt.Sprintf("node %s active set has %d jobs, %d name it", node, s.ActiveCount(node), n)
				break
			}
		}
	}
	if msg == "" {
		for _, node := range sortedKeys(byNode) {
			if s.NodeCounts(node) != *byNode[node] {
				msg = fmt.Sprintf("node %s has no counts for its %v jobs", node, byNode[node].N)
				break
			}
		}
	}
	check(InvNodeActive, msg == "", "%s", msg)

	// terminal-once.
	tv := g.ValueMu[state.JobCompleted] + g.ValueMu[state.JobFailed] + g.ValueMu[state.JobCancelled]
	check(InvTerminalOnce, tv == terminal, "terminal values %d, terminal jobs %d", tv, terminal)

	// payments.
	var pay int64
	for _, p := range s.Payments() {
		pay += p.AmountMu
	}
	check(InvPayments, pay == paid, "payments %d, completed jobs settled %d", pay, paid)

	// settled: each completed job was paid from 0 up to its quote and its
	// max price.
	check(InvSettled, badSettle == "", "%s", badSettle)

	// flows.
	var fl int64
	for _, f := range s.Flows() {
		fl += f.Jobs
	}
	check(InvFlows, fl == hops, "flows move %d jobs, jobs hopped %d times", fl, hops)

	// chain.
	m := s.Meta()
	check(InvChain, m.Head.Seq == m.Events, "chain head %d, %d events emitted", m.Head.Seq, m.Events)
	return out
}

func addCounts(m map[string]*state.Counts, k string, c state.Counts) {
	t := m[k]
	if t == nil {
		t = &state.Counts{}
		m[k] = t
	}
	for i := range c.N {
		t.N[i] += c.N[i]
		t.ValueMu[i] += c.ValueMu[i]
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
