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
	InvSums          = "sums"
	InvHandOffs      = "hand-offs"
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
		o         sums
	)
	add := func(m map[string]*state.Counts, k string, j *state.Job) {
		c := m[k]
		if c == nil {
			c = &state.Counts{}
			m[k] = c
		}
		c.N[j.State]++
		o.add(&c.ValueMu[j.State], j.ValueMu, "the values of", k)
	}
	s.JobsIter(func(j *state.Job) bool {
		if j.State == state.JobUnknown || int(j.State) >= state.NumJobStates {
			badState = fmt.Sprintf("job %s in state %d", j.ID, j.State)
		}
		byState.N[j.State]++
		o.add(&byState.ValueMu[j.State], j.ValueMu, "the values of the jobs", j.State.String())
		if j.ValueMu < 0 {
			o.negative("job", j.ID, j.ValueMu)
		}
		add(byShard, j.Shard, j)
		if j.Node != "" {
			add(byNode, j.Node, j)
		}
		if j.State == state.JobAssigned || j.State == state.JobRunning {
			active[j.Node]++
		}
		if j.State.Terminal() {
			o.add(&terminal, j.ValueMu, "the values of the jobs", "terminal")
		}
		o.add(&paid, paidOf(j), "the settled amounts of the jobs", "completed")
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
		o.add(&byState.ValueMu[i], gc.Global.ValueMu[i], "the values of the jobs (with the collected)", state.JobState(i).String())
		o.table("collected", state.JobState(i).String(), gc.Global.ValueMu[i])
	}
	for _, name := range s.CollectedShardNames() {
		addCounts(&o, byShard, name, s.CollectedShard(name))
	}
	for _, name := range s.CollectedNodeNames() {
		addCounts(&o, byNode, name, s.CollectedNode(name))
	}
	for _, st := range []state.JobState{state.JobCompleted, state.JobFailed, state.JobCancelled} {
		o.add(&terminal, gc.Global.ValueMu[st], "the values of the jobs", "terminal")
	}
	o.add(&paid, gc.PaidMu, "the settled amounts of the jobs", "completed")
	o.table("collected", "payments", gc.PaidMu)
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
	case int64(s.LiveJobs())+gc.Jobs+s.HandedOut() != int64(s.NumJobs()):
		check(InvJobsConserved, false, "%d live, %d collected and %d handed-out jobs, %d submitted", s.LiveJobs(), gc.Jobs, s.HandedOut(), s.NumJobs())
	case sum != int64(s.NumJobs())-s.HandedOut():
		check(InvJobsConserved, false, "global counts sum to %d, %d jobs (%d handed out)", sum, int64(s.NumJobs())-s.HandedOut(), s.HandedOut())
	case g.N != byState.N:
		check(InvJobsConserved, false, "global counts %v, jobs by state %v", g.N, byState.N)
	case int64(queued+s.InFlight()) != live.N[state.JobQueued]:
		check(InvJobsConserved, false, "queues hold %d jobs and open hand-offs %d, %d queued", queued, s.InFlight(), live.N[state.JobQueued])
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
			o.add(&shardSum.ValueMu[i], sc.Counts.ValueMu[i], "the shards' values", state.JobState(i).String())
			o.table("shard "+sc.Name, state.JobState(i).String(), sc.Counts.ValueMu[i])
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
	var tv int64
	for _, st := range []state.JobState{state.JobCompleted, state.JobFailed, state.JobCancelled} {
		o.add(&tv, g.ValueMu[st], "the global values", "terminal")
	}
	check(InvTerminalOnce, tv == terminal, "terminal values %d, terminal jobs %d", tv, terminal)

	// payments.
	var pay int64
	for _, p := range s.Payments() {
		o.add(&pay, p.AmountMu, "the payments", "")
		o.table("payments", p.Node, p.AmountMu)
	}
	check(InvPayments, pay == paid, "payments %d, completed jobs settled %d", pay, paid)

	// settled: each completed job was paid from 0 up to its quote and its
	// max price.
	check(InvSettled, badSettle == "", "%s", badSettle)

	// flows.
	var fl, flv int64
	for _, f := range s.Flows() {
		fl += f.Jobs
		o.add(&flv, f.ValueMu, "the flows' values", "")
		o.table("flow "+f.From+"->"+f.To, "value", f.ValueMu)
	}
	// A job handed out took its hops (and the one across, a flow here)
	// with it; one handed in brought its hops, flows of another region.
	check(InvFlows, fl+s.HandInHops() == hops+s.HandOffHops(), "flows move %d jobs and %d hops came in by hand-off, jobs hopped %d times and %d hops left by hand-off",
		fl, s.HandInHops(), hops, s.HandOffHops())

	// hand-offs: every open hand-off holds a live queued job of its
	// shard, and the hand-off lines are the sums of the records.
	msg = checkHandOffs(s)
	check(InvHandOffs, msg == "", "%s", msg)

	// sums: no ledger sum passed int64. The tables above compare equal
	// even when both sides wrapped the same way, so every sum was
	// recomputed in checked arithmetic and every amount must be
	// non-negative.
	for i, v := range g.ValueMu {
		o.table("global", state.JobState(i).String(), v)
	}
	for _, nc := range s.AllNodeCounts() {
		for i, v := range nc.Counts.ValueMu {
			o.table("node "+nc.Name, state.JobState(i).String(), v)
		}
	}
	var gv int64
	for i, v := range g.ValueMu {
		o.add(&gv, v, "the global values", state.JobState(i).String())
	}
	check(InvSums, o.msg == "", "%s", o.msg)

	// chain.
	m := s.Meta()
	check(InvChain, m.Head.Seq == m.Events, "chain head %d, %d events emitted", m.Head.Seq, m.Events)
	return out
}

func addCounts(o *sums, m map[string]*state.Counts, k string, c state.Counts) {
	t := m[k]
	if t == nil {
		t = &state.Counts{}
		m[k] = t
	}
	for i := range c.N {
		t.N[i] += c.N[i]
		o.add(&t.ValueMu[i], c.ValueMu[i], "the values of (with the collected)", k)
		o.table("collected "+k, state.JobState(i).String(), c.ValueMu[i])
	}
}

// sums recomputes the ledger's sums in checked arithmetic for the sums
// invariant: msg names the first sum that passed int64 or the first
// negative amount.
type sums struct{ msg string }

func (o *sums) add(dst *int64, v int64, what, name string) {
	if r, ok := state.AddChecked(*dst, v); ok {
		*dst = r
		return
	}
	if o.msg == "" {
		o.msg = fmt.Sprintf("%s %s overflow int64 (%d + %d)", what, name, *dst, v)
	}
	*dst += v // wrapped; the invariant has failed
}

func (o *sums) table(table, name string, v int64) {
	if v < 0 && o.msg == "" {
		o.msg = fmt.Sprintf("%s %s holds %d micro-credits, below zero: a wrapped sum", table, name, v)
	}
}

func (o *sums) negative(kind, id string, v int64) {
	if o.msg == "" {
		o.msg = fmt.Sprintf("%s %s has a negative value %d", kind, id, v)
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

// checkHandOffs recomputes the hand-off tables from their records and the
// jobs: "" when they agree, else what differs.
func checkHandOffs(s *state.Store) string {
	lines := map[string]*state.HandOffLine{}
	line := func(r string) *state.HandOffLine {
		l := lines[r]
		if l == nil {
			l = &state.HandOffLine{Region: r}
			lines[r] = l
		}
		return l
	}
	var outJobs, outHops, inHops int64
	open := 0
	for _, h := range s.HandOffs() {
		l := line(h.ToRegion)
		switch h.State {
		case state.HandOffOpen:
			open++
			j := s.JobBySeq(h.Seq)
			switch {
			case j == nil:
				return fmt.Sprintf("hand-off %s holds job seq %d, which has no record", h.ID, h.Seq)
			case j.ID != h.Job.ID || j.State != state.JobQueued || j.Shard != h.FromShard || j.ValueMu != h.Job.ValueMu:
				return fmt.Sprintf("hand-off %s holds job %s of shard %s, the record is job %s %s in shard %s", h.ID, h.Job.ID, h.FromShard, j.ID, j.State, j.Shard)
			case s.HandOffOf(h.Seq) != h.ID:
				return fmt.Sprintf("hand-off %s is open, job %s is held by %q", h.ID, j.ID, s.HandOffOf(h.Seq))
			}
			l.OpenJobs++
			l.OpenValueMu += h.Job.ValueMu
		case state.HandOffAccepted:
			if s.JobBySeq(h.Seq) != nil {
				return fmt.Sprintf("hand-off %s was accepted, job seq %d still has a record", h.ID, h.Seq)
			}
			l.OutJobs++
			l.OutValueMu += h.Job.ValueMu
			outJobs++
			outHops += int64(h.Job.Hops) + 1
		case state.HandOffReturned:
		default:
			return fmt.Sprintf("hand-off %s in state %d", h.ID, h.State)
		}
	}
	for _, h := range s.HandIns() {
		if !h.Accepted {
			continue
		}
		l := line(h.FromRegion)
		l.InJobs++
		l.InValueMu += h.ValueMu
		inHops += int64(h.Hops)
	}
	switch {
	case open != s.InFlight():
		return fmt.Sprintf("%d hand-offs open, %d jobs held", open, s.InFlight())
	case outJobs != s.HandedOut() || outHops != s.HandOffHops() || inHops != s.HandInHops():
		return fmt.Sprintf("records say %d jobs out (%d hops), %d hops in; tables %d (%d), %d", outJobs, outHops, inHops, s.HandedOut(), s.HandOffHops(), s.HandInHops())
	}
	have := s.HandOffLines()
	for _, l := range have {
		want := state.HandOffLine{Region: l.Region}
		if w := lines[l.Region]; w != nil {
			want = *w
		}
		if l != want {
			return fmt.Sprintf("hand-off line of region %s is %+v, the records say %+v", l.Region, l, want)
		}
	}
	for r := range lines {
		found := false
		for _, l := range have {
			found = found || l.Region == r
		}
		if !found {
			return fmt.Sprintf("no hand-off line for region %s", r)
		}
	}
	return ""
}
