package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// States lists the job state names a ledger reports, in lifecycle order.
func States() []string {
	out := make([]string, 0, state.NumJobStates-1)
	for s := state.JobState(1); s < state.NumJobStates; s++ {
		out = append(out, s.String())
	}
	return out
}

// CountValue is the number and value of jobs in one state.
type CountValue struct {
	Jobs    int64   `json:"jobs"`
	ValueMu int64   `json:"value_mu"`
	Value   float64 `json:"value"`
}

// NodeLedger is one node's line in ledger.json.
type NodeLedger struct {
	Shard     string  `json:"shard,omitempty"`
	Active    int64   `json:"active"`
	Completed int64   `json:"completed"`
	EarnedMu  int64   `json:"earned_mu"`
	Earned    float64 `json:"earned"`
}

// FlowLedger is one flow line in ledger.json.
type FlowLedger struct {
	From    string  `json:"from"`
	To      string  `json:"to"`
	Jobs    int64   `json:"jobs"`
	ValueMu int64   `json:"value_mu"`
	Value   float64 `json:"value"`
	// Rules counts the flow's moves by the rule that decided each, over the
	// bundle's events (so after event-log pruning they may sum to less than
	// Jobs).
	Rules map[string]int64 `json:"rules,omitempty"`
}

// Totals are the headline ledger figures.
type Totals struct {
	Submitted        int64   `json:"submitted"`
	Outstanding      int64   `json:"outstanding"`
	Completed        int64   `json:"completed"`
	Failed           int64   `json:"failed"`
	Cancelled        int64   `json:"cancelled"`
	Parked           int64   `json:"parked"`
	Spillovers       int64   `json:"spillovers"`
	PaidMu           int64   `json:"paid_mu"`
	ValueSubmittedMu int64   `json:"value_submitted_mu"`
	ValueCompletedMu int64   `json:"value_completed_mu"`
	ValueSubmitted   float64 `json:"value_submitted"`
	ValueCompleted   float64 `json:"value_completed"`
	Paid             float64 `json:"paid"`
}

// LedgerDoc is the content of ledger.json. Value fields come in exact
// micro-credits (value_mu) and decimal credits (value) for people.
type LedgerDoc struct {
	Mission     string                           `json:"mission"`
	GeneratedAt time.Time                        `json:"generated_at"`
	Totals      Totals                           `json:"totals"`
	Global      map[string]CountValue            `json:"global"`
	Shards      map[string]map[string]CountValue `json:"shards"`
	Nodes       map[string]NodeLedger            `json:"nodes"`
	Flows       []FlowLedger                     `json:"flows"`
	PaymentsMu  map[string]int64                 `json:"payments_mu"`
	Payments    map[string]float64               `json:"payments"`
	Settlement  SettlementLedger                 `json:"settlement"`
	Invariants  []Invariant                      `json:"invariants"`
	// Anchor is where events.ndjson starts; Chain is the head anchored in
	// the FSM, which the last event of events.ndjson must equal.
	Anchor Anchor `json:"anchor"`
	Chain  Anchor `json:"chain"`
	Events int    `json:"events"`
	// Pruned says what event retention removed before Anchor.
	Pruned *Pruned `json:"pruned,omitempty"`
	// Marks are chain positions sampled from the log when the bundle was
	// written (every event for small logs, at most MaxMarks in all), so
	// verification can name where a re-hashed log departs from the record.
	Marks []Anchor `json:"marks,omitempty"`
	// Regions and GlobalTotals are the global ledger (Ledger.Regions):
	// ledger verify checks that the global totals are the regions' sum
	// and that the local region's checkpoint is this ledger's. Absent in
	// bundles written before them.
	Regions      []client.RegionLedger `json:"regions,omitempty"`
	GlobalTotals *client.LedgerTotals  `json:"global_totals,omitempty"`
}

// SettlementLedger is how the completed jobs of the bundle's events were
// settled (docs/pricing.md): what they were quoted and paid, how many by
// each basis ("usage", "capped at quote", ...), and the units their
// plugins reported per dimension. It is summed from the job.completed
// events, whose detail records quote, usage and basis.
type SettlementLedger struct {
	Completed int64              `json:"completed"`
	QuotedMu  int64              `json:"quoted_mu"`
	Quoted    float64            `json:"quoted"`
	SettledMu int64              `json:"settled_mu"`
	Settled   float64            `json:"settled"`
	ByBasis   map[string]int64   `json:"by_basis"`
	Usage     map[string]float64 `json:"usage,omitempty"`
	usageMu   map[string]int64
}

// unrecordedBasis is the basis of a job.completed event written before
// settlement was recorded: it was paid its quote.
const unrecordedBasis = "quote: not recorded"

func (sl *SettlementLedger) add(e *state.Event) {
	if sl.ByBasis == nil {
		sl.ByBasis = map[string]int64{}
	}
	q, usage, _, basis, ok := state.ParseSettleDetail(e.Detail)
	if !ok {
		q, usage, basis = e.AmountMu, nil, unrecordedBasis
	}
	sl.Completed++
	sl.QuotedMu += q
	sl.SettledMu += e.AmountMu
	sl.ByBasis[basis]++
	for _, u := range usage {
		if sl.usageMu == nil {
			sl.usageMu = map[string]int64{}
		}
		sl.usageMu[u.Unit] += u.Micro
	}
}

// done fills the credit and unit twins.
func (sl *SettlementLedger) done() {
	if sl.ByBasis == nil {
		sl.ByBasis = map[string]int64{}
	}
	sl.Quoted, sl.Settled = credits(sl.QuotedMu), credits(sl.SettledMu)
	if len(sl.usageMu) > 0 {
		sl.Usage = make(map[string]float64, len(sl.usageMu))
		for k, v := range sl.usageMu {
			sl.Usage[k] = float64(v) / state.Micro
		}
	}
}

func settlementOf(evs []state.Event) SettlementLedger {
	var sl SettlementLedger
	for i := range evs {
		if evs[i].Type == state.EvJobCompleted {
			sl.add(&evs[i])
		}
	}
	sl.done()
	return sl
}

// MaxMarks bounds the number of chain marks in ledger.json.
const MaxMarks = 1024

func marksOf(evs []state.Event) []Anchor {
	if len(evs) == 0 {
		return nil
	}
	step := (len(evs) + MaxMarks - 1) / MaxMarks
	out := make([]Anchor, 0, len(evs)/step+1)
	for i := step - 1; i < len(evs); i += step {
		out = append(out, Anchor{Seq: evs[i].Seq, Hash: evs[i].Hash})
	}
	if last := evs[len(evs)-1]; out[len(out)-1].Seq != last.Seq {
		out = append(out, Anchor{Seq: last.Seq, Hash: last.Hash})
	}
	return out
}

func credits(mu int64) float64 { return float64(mu) / state.Micro }

func countsDoc(jobs, val map[string]int64) map[string]CountValue {
	out := make(map[string]CountValue, state.NumJobStates)
	for _, s := range States() {
		out[s] = CountValue{Jobs: jobs[s], ValueMu: val[s], Value: credits(val[s])}
	}
	return out
}

// flowRules counts spill, reroute and accepted hand-off events by (from,
// to) and rule.
func flowRules(evs []state.Event) map[[2]string]map[string]int64 {
	out := map[[2]string]map[string]int64{}
	for i := range evs {
		e := &evs[i]
		if e.Type != state.EvJobSpilled && e.Type != state.EvJobRerouted && e.Type != state.EvJobHandOffAccepted {
			continue
		}
		k := [2]string{e.From, e.To}
		if out[k] == nil {
			out[k] = map[string]int64{}
		}
		out[k][moveRule(e)]++
	}
	return out
}

// moveRule names the rule behind a spill or reroute event: a spill's reason
// is the routing rule that placed it; a reroute is the owner's.
func moveRule(e *state.Event) string {
	switch {
	case e.Type == state.EvJobRerouted:
		return RuleOwnerReroute
	case e.Type == state.EvJobHandOffAccepted:
		return RuleHandOff
	case e.Reason != "":
		return e.Reason
	}
	return "unstated"
}

// RuleOwnerReroute is the rule named for a flow's owner reroutes.
const RuleOwnerReroute = "owner reroute"

// RuleHandOff is the rule named for a flow's jobs handed to another
// region (accepted hand-offs).
const RuleHandOff = "hand-off"

func flowsDoc(fs []Flow, rules map[[2]string]map[string]int64) []FlowLedger {
	out := make([]FlowLedger, 0, len(fs))
	for _, f := range fs {
		r := f.Rules
		if rules != nil {
			r = rules[[2]string{f.From, f.To}]
		}
		out = append(out, FlowLedger{From: f.From, To: f.To, Jobs: f.Jobs, ValueMu: f.ValueMu, Value: credits(f.ValueMu), Rules: r})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

// BuildLedger derives the ledger.json document from in.
func BuildLedger(in Input) LedgerDoc {
	d := LedgerDoc{
		Mission:      in.Mission.Name,
		GeneratedAt:  in.GeneratedAt.UTC(),
		Global:       countsDoc(in.Ledger.Global.Jobs, in.Ledger.Global.ValueMu),
		Shards:       make(map[string]map[string]CountValue, len(in.Shards)),
		Nodes:        make(map[string]NodeLedger, len(in.Nodes)),
		Flows:        flowsDoc(in.Ledger.Flows, flowRules(in.Events)),
		PaymentsMu:   make(map[string]int64, len(in.Ledger.Payments)),
		Payments:     make(map[string]float64, len(in.Ledger.Payments)),
		Invariants:   append([]Invariant{}, in.Ledger.Invariants...),
		Anchor:       normAnchor(in.Anchor),
		Chain:        normAnchor(in.Ledger.Head),
		Events:       len(in.Events),
		Marks:        marksOf(in.Events),
		Pruned:       in.Pruned,
		Regions:      in.Ledger.Regions,
		GlobalTotals: in.Ledger.GlobalTotals,
	}
	if in.Ledger.Shards != nil {
		for name, c := range in.Ledger.Shards {
			d.Shards[name] = countsDoc(c.Jobs, c.ValueMu)
		}
	} else {
		for _, s := range in.Shards {
			d.Shards[s.Name] = countsDoc(s.Counts, s.ValueMu)
		}
	}
	for _, n := range in.Nodes {
		d.Nodes[n.ID] = NodeLedger{Shard: n.Shard, Active: n.Active, Completed: n.Completed, EarnedMu: n.EarnedMu, Earned: credits(n.EarnedMu)}
	}
	for k, v := range in.Ledger.Payments {
		d.PaymentsMu[k] = v
		d.Payments[k] = credits(v)
	}
	d.Totals = totalsOf(d.Global, d.Flows, d.PaymentsMu)
	d.Settlement = settlementOf(in.Events)
	return d
}

func totalsOf(g map[string]CountValue, flows []FlowLedger, pay map[string]int64) Totals {
	var t Totals
	for _, cv := range g {
		t.Submitted += cv.Jobs
		t.ValueSubmittedMu += cv.ValueMu
	}
	t.Completed = g[state.JobCompleted.String()].Jobs
	t.Failed = g[state.JobFailed.String()].Jobs
	t.Cancelled = g[state.JobCancelled.String()].Jobs
	t.Parked = g[state.JobParked.String()].Jobs
	t.Outstanding = t.Submitted - t.Completed - t.Failed - t.Cancelled
	t.ValueCompletedMu = g[state.JobCompleted.String()].ValueMu
	for _, f := range flows {
		t.Spillovers += f.Jobs
	}
	for _, v := range pay {
		t.PaidMu += v
	}
	t.ValueSubmitted = credits(t.ValueSubmittedMu)
	t.ValueCompleted = credits(t.ValueCompletedMu)
	t.Paid = credits(t.PaidMu)
	return t
}

const zeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

func normAnchor(a Anchor) Anchor {
	if a.Hash == "" {
		a.Hash = zeroHash
	}
	return a
}

// replayJob is a job as seen by replaying its events.
type replayJob struct {
	state   state.JobState
	shard   string
	node    string
	valueMu int64
	hops    int64
	// ord is the job's place in replay.order (submission order); gcEnd,
	// once a jobs.collected batch covered it, is the count of jobs
	// collected up to the end of that batch (0: not collected).
	ord   int
	gcEnd int64
	// gone: the job was handed to another region (its hand-off accepted),
	// and left this region's books.
	gone bool
}

// replay rebuilds the ledger from job, node and shard events alone.
//
// A job id may be submitted again once its job was collected and its tomb
// forgotten (outside the idempotency window): the replay keeps every
// submission as a job of its own and accepts a second job.submitted for an
// id only when the log shows its earlier job finished, a jobs.collected
// batch after that covered it, and at least as many tombs forgotten since
// as were collected up to the end of that batch (tombs are forgotten
// oldest first, a whole batch at a time).
type replay struct {
	jobs  map[string]*replayJob // id -> its latest job
	order []*replayJob          // every job, in submission order
	// collected and forgotten are the totals of the jobs.collected events.
	collected, forgotten int64
	nodes                map[string]string // id -> shard
	shards               map[string]bool
	flows                map[[2]string]*Flow
	payments             map[string]int64
	settle               SettlementLedger
	requeues             int64
	pauses               int64
	// parked lists, per shard, the jobs parked there since its last
	// jobs.unparked (some may have left parked since: they are skipped).
	parked map[string][]*replayJob
	// hopsOut are the hops the jobs handed to other regions took with
	// them (the hop across included), hopsIn those the jobs handed in
	// brought.
	hopsOut, hopsIn int64
}

func newReplay() *replay { return newReplaySized(0) }

// newReplaySized is newReplay for about jobs jobs.
func newReplaySized(jobs int) *replay {
	return &replay{
		jobs:     make(map[string]*replayJob, jobs),
		nodes:    make(map[string]string),
		shards:   make(map[string]bool),
		flows:    make(map[[2]string]*Flow),
		payments: make(map[string]int64),
		parked:   make(map[string][]*replayJob),
	}
}

// apply records one event; an error names an impossible transition.
func (r *replay) apply(e *state.Event) error {
	switch e.Type {
	case state.EvNodeRegistered, state.EvNodeUpdated, state.EvNodeUp, state.EvNodeDown, state.EvNodeRetired:
		if e.Node == "" {
			return fmt.Errorf("%s without a node", e.Type)
		}
		if e.Shard != "" || r.nodes[e.Node] == "" {
			r.nodes[e.Node] = e.Shard
		}
		return nil
	case state.EvShardRegistered, state.EvShardUpdated:
		r.shards[e.Shard] = true
		return nil
	case state.EvShardPaused, state.EvSystemPaused:
		r.pauses++
		return nil
	}
	if e.Type == state.EvJobsCollected {
		return r.collect(e)
	}
	if e.Type == state.EvJobsUnparked {
		return r.unpark(e)
	}
	if len(e.Type) < 4 || e.Type[:4] != "job." {
		return nil
	}
	if e.Job == "" {
		return fmt.Errorf("%s without a job id", e.Type)
	}
	j := r.jobs[e.Job]
	switch e.Type {
	case state.EvJobHandOffRefused:
		return nil // the job stays where it was: another region
	case state.EvJobHandedIn:
		var id, from string
		var hops int64
		if _, err := fmt.Sscanf(e.Detail, "hand-off %s from region %s with %d hops", &id, &from, &hops); err != nil || e.Shard == "" {
			return fmt.Errorf("%s of job %s with an unreadable detail %q or no shard", e.Type, e.Job, e.Detail)
		}
		if j != nil && !j.gone && !j.state.Terminal() {
			return fmt.Errorf("job %s handed in while it is %s here", e.Job, j.state)
		}
		nj := &replayJob{state: state.JobQueued, shard: e.Shard, valueMu: e.ValueMu, hops: hops, ord: len(r.order)}
		r.jobs[e.Job] = nj
		r.order = append(r.order, nj)
		r.shards[e.Shard] = true
		r.hopsIn += hops
		return nil
	}
	if j != nil && j.gone {
		return fmt.Errorf("%s for job %s, which was handed to another region", e.Type, e.Job)
	}
	if e.Type == state.EvJobSubmitted {
		if j != nil {
			switch {
			case !j.state.Terminal():
				return fmt.Errorf("job %s submitted twice (the first is %s)", e.Job, j.state)
			case j.gcEnd == 0:
				return fmt.Errorf("job %s submitted twice (the first is %s and was never collected)", e.Job, j.state)
			case r.forgotten < j.gcEnd:
				return fmt.Errorf("job %s submitted twice (the first was collected and its tomb is still kept: %d of the first %d collected jobs' tombs forgotten)",
					e.Job, r.forgotten, j.gcEnd)
			}
		}
		if e.Shard == "" {
			return fmt.Errorf("job %s submitted without a shard", e.Job)
		}
		nj := &replayJob{state: state.JobQueued, shard: e.Shard, valueMu: e.ValueMu, ord: len(r.order)}
		r.jobs[e.Job] = nj
		r.order = append(r.order, nj)
		r.shards[e.Shard] = true
		return nil
	}
	if j == nil {
		return fmt.Errorf("%s for job %s that was never submitted", e.Type, e.Job)
	}
	if j.state.Terminal() {
		if j.gcEnd > 0 {
			return fmt.Errorf("%s for job %s that is already %s and collected", e.Type, e.Job, j.state)
		}
		return fmt.Errorf("%s for job %s that is already %s", e.Type, e.Job, j.state)
	}
	need := func(from ...state.JobState) error {
		for _, f := range from {
			if j.state == f {
				return nil
			}
		}
		return fmt.Errorf("%s for job %s in state %s", e.Type, e.Job, j.state)
	}
	switch e.Type {
	case state.EvJobAssigned:
		if err := need(state.JobQueued); err != nil {
			return err
		}
		if e.Node == "" {
			return fmt.Errorf("job %s assigned without a node", e.Job)
		}
		j.state, j.node = state.JobAssigned, e.Node
	case state.EvJobStarted:
		if err := need(state.JobAssigned); err != nil {
			return err
		}
		j.state = state.JobRunning
	case state.EvJobCompleted:
		if err := need(state.JobAssigned, state.JobRunning); err != nil {
			return err
		}
		if e.Node != "" {
			j.node = e.Node
		}
		j.state = state.JobCompleted
		r.payments[j.node] += e.AmountMu
		r.settle.add(e)
	case state.EvJobFailed:
		j.state = state.JobFailed
	case state.EvJobRequeued:
		r.requeues++
		j.state, j.node = state.JobQueued, ""
		if e.Shard != "" {
			j.shard = e.Shard
		}
	case state.EvJobSpilled, state.EvJobRerouted:
		from, to := e.From, e.To
		if from == "" {
			from = j.shard
		}
		if to == "" {
			return fmt.Errorf("%s for job %s without a target shard", e.Type, e.Job)
		}
		if from != j.shard {
			return fmt.Errorf("%s for job %s from %s but it is in %s", e.Type, e.Job, from, j.shard)
		}
		f := r.flows[[2]string{from, to}]
		if f == nil {
			f = &Flow{From: from, To: to}
			r.flows[[2]string{from, to}] = f
		}
		f.Jobs++
		f.ValueMu += j.valueMu
		if f.Rules == nil {
			f.Rules = map[string]int64{}
		}
		f.Rules[moveRule(e)]++
		j.hops++
		j.state, j.node, j.shard = state.JobQueued, "", to
		r.shards[to] = true
	case state.EvJobParked:
		j.state, j.node = state.JobParked, ""
		r.parked[j.shard] = append(r.parked[j.shard], j)
	case state.EvJobUnparked:
		if err := need(state.JobParked); err != nil {
			return err
		}
		j.state = state.JobQueued
	case state.EvJobCancelled:
		j.state = state.JobCancelled
	case state.EvJobHandedOff, state.EvJobHandOffReturned:
		// Out of placement while the hand-off is open, queued again when
		// it returns: queued throughout.
		if err := need(state.JobQueued); err != nil {
			return err
		}
	case state.EvJobHandOffAccepted:
		if err := need(state.JobQueued); err != nil {
			return err
		}
		if e.From != j.shard || e.To == "" {
			return fmt.Errorf("%s for job %s from %s to %q but it is in %s", e.Type, e.Job, e.From, e.To, j.shard)
		}
		f := r.flows[[2]string{e.From, e.To}]
		if f == nil {
			f = &Flow{From: e.From, To: e.To}
			r.flows[[2]string{e.From, e.To}] = f
		}
		f.Jobs++
		f.ValueMu += j.valueMu
		if f.Rules == nil {
			f.Rules = map[string]int64{}
		}
		f.Rules[RuleHandOff]++
		r.hopsOut += j.hops + 1
		j.gone = true
	default:
		return fmt.Errorf("unknown job event type %q", e.Type)
	}
	return nil
}

// unpark records a jobs.unparked event: "N jobs unparked, topology T".
// Every job parked in the event's shard goes back to its queue; their
// count and value must be the event's.
func (r *replay) unpark(e *state.Event) error {
	var n, topo int64
	if _, err := fmt.Sscanf(e.Detail, "%d jobs unparked, topology %d", &n, &topo); err != nil || n <= 0 {
		return fmt.Errorf("%s with an unreadable detail %q", e.Type, e.Detail)
	}
	if e.Shard == "" {
		return fmt.Errorf("%s without a shard", e.Type)
	}
	var got, value int64
	for _, j := range r.parked[e.Shard] {
		if j.state != state.JobParked || j.shard != e.Shard {
			continue
		}
		j.state = state.JobQueued
		got++
		value += j.valueMu
	}
	delete(r.parked, e.Shard)
	if got != n || value != e.ValueMu {
		return fmt.Errorf("%s of shard %s names %d jobs of value %d but %d jobs of value %d were parked there",
			e.Type, e.Shard, n, e.ValueMu, got, value)
	}
	return nil
}

// doc renders the replayed ledger in the shape of ledger.json.
func (r *replay) doc() LedgerDoc {
	gj, gv := map[string]int64{}, map[string]int64{}
	sj, sv := map[string]map[string]int64{}, map[string]map[string]int64{}
	for s := range r.shards {
		sj[s], sv[s] = map[string]int64{}, map[string]int64{}
	}
	nodes := map[string]NodeLedger{}
	for id, sh := range r.nodes {
		nodes[id] = NodeLedger{Shard: sh}
	}
	for _, j := range r.order {
		if j.gone {
			continue
		}
		st := j.state.String()
		gj[st]++
		gv[st] += j.valueMu
		if sj[j.shard] == nil {
			sj[j.shard], sv[j.shard] = map[string]int64{}, map[string]int64{}
		}
		sj[j.shard][st]++
		sv[j.shard][st] += j.valueMu
		if j.node != "" && (j.state == state.JobAssigned || j.state == state.JobRunning || j.state == state.JobCompleted) {
			n := nodes[j.node]
			if j.state == state.JobCompleted {
				n.Completed++
			} else {
				n.Active++
			}
			nodes[j.node] = n
		}
	}
	for id, amt := range r.payments {
		n := nodes[id]
		n.EarnedMu = amt
		n.Earned = credits(amt)
		nodes[id] = n
	}
	d := LedgerDoc{
		Global:     countsDoc(gj, gv),
		Shards:     map[string]map[string]CountValue{},
		Nodes:      nodes,
		PaymentsMu: map[string]int64{},
	}
	for s := range sj {
		d.Shards[s] = countsDoc(sj[s], sv[s])
	}
	fs := make([]Flow, 0, len(r.flows))
	for _, f := range r.flows {
		fs = append(fs, *f)
	}
	d.Flows = flowsDoc(fs, nil)
	for k, v := range r.payments {
		if v != 0 {
			d.PaymentsMu[k] = v
		}
	}
	d.Totals = totalsOf(d.Global, d.Flows, d.PaymentsMu)
	d.Settlement = r.settle
	d.Settlement.done()
	return d
}

// hops is the sum of hops over the jobs on the region's books (the "flows"
// invariant); with hopsOut, what handed-out jobs took with them (the hop
// across included), the flows' jobs plus hopsIn, what handed-in jobs
// brought.
func (r *replay) hops() int64 {
	var n int64
	for _, j := range r.order {
		if !j.gone {
			n += j.hops
		}
	}
	return n
}

// collect records a jobs.collected event: "N jobs collected, M tombs
// forgotten[, FIRST..LAST]". The batch's ids are in submission order from
// FIRST to LAST; every finished job in that span that no earlier batch
// covered is marked collected by it (a job the batch skipped, too young,
// is collected later, so the mark only ever makes its window end early,
// never late). A tomb is never forgotten by the entry that collected it.
func (r *replay) collect(e *state.Event) error {
	var n, m int64
	rest := e.Detail
	if _, err := fmt.Sscanf(rest, "%d jobs collected, %d tombs forgotten", &n, &m); err != nil || n < 0 || m < 0 {
		return fmt.Errorf("%s with an unreadable detail %q", e.Type, e.Detail)
	}
	if m > r.collected-r.forgotten {
		return fmt.Errorf("%s forgets %d tombs but only %d are kept", e.Type, m, r.collected-r.forgotten)
	}
	r.forgotten += m
	if n == 0 {
		return nil
	}
	_, span, ok := strings.Cut(rest, "tombs forgotten, ")
	if !ok {
		return fmt.Errorf("%s of %d jobs names no first and last job", e.Type, n)
	}
	// Ids may hold "..": take the split whose two sides are known jobs.
	var first, last *replayJob
	for i := strings.Index(span, ".."); i >= 0; {
		if f, l := r.jobs[span[:i]], r.jobs[span[i+2:]]; f != nil && l != nil {
			first, last = f, l
			if f.ord > l.ord {
				first, last = l, f
			}
			break
		}
		k := strings.Index(span[i+1:], "..")
		if k < 0 {
			break
		}
		i += 1 + k
	}
	if first == nil {
		return fmt.Errorf("%s names jobs %q that were never submitted", e.Type, span)
	}
	if !first.state.Terminal() || !last.state.Terminal() {
		return fmt.Errorf("%s collects a job that has not finished (%q)", e.Type, span)
	}
	end := r.collected + n
	var done int64
	for _, j := range r.order[first.ord : last.ord+1] {
		if j.state.Terminal() {
			done++
			if j.gcEnd == 0 {
				j.gcEnd = end
			}
		}
	}
	if done < n {
		return fmt.Errorf("%s collects %d jobs but %d jobs in %q have finished", e.Type, n, done, span)
	}
	r.collected = end
	return nil
}
