package report

import (
	"encoding/hex"
	"sort"

	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/api/view"
	"github.com/planetary/planetary/core/health"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/state"
)

func countsOf(c state.Counts) Counts {
	out := Counts{Jobs: map[string]int64{}, ValueMu: map[string]int64{}}
	for st := state.JobState(1); st < state.NumJobStates; st++ {
		out.Jobs[st.String()] = c.N[st]
		out.ValueMu[st.String()] = c.ValueMu[st]
	}
	return out
}

// FromStore fills the parts of an Input that the replicated state holds:
// mission identity, shards, nodes, the ledger with its invariants and chain
// head, and the owner schedule. The caller adds the events (and their
// anchor), run, owner commands, telemetry series, checkpoint and the
// generation time. HeartbeatAgeMs is -1 (the store has no heartbeats).
// Call it inside raftfsm.FSM.Read. The store's own region is
// state.DefaultRegion (FromStoreIn names another).
func FromStore(s *state.Store) Input { return FromStoreIn(s, state.DefaultRegion) }

// FromStoreIn is FromStore for a store whose own region is region: the
// ledger's regions are its checkpoint, named so, and the other regions'
// stored ones.
func FromStoreIn(s *state.Store, region string) Input {
	pol := s.Policy()
	in := Input{
		Mission: Mission{Name: pol.MissionName, Seed: pol.MissionSeed, Label: pol.ReportingLabel, Dir: pol.ReportingDir},
	}
	verdicts := health.Shards(s)
	for _, sh := range s.Shards() {
		c := countsOf(s.ShardCounts(sh.Name))
		v := ShardView{
			Name: sh.Name, DisplayName: sh.DisplayName, Region: sh.Region, LatencyBudgetMs: sh.LatencyBudgetMs,
			MaxQueue: sh.MaxQueue, QueueAlertThreshold: sh.QueueAlertThreshold,
			SpilloverTargets: append([]string(nil), sh.SpilloverTargets...),
			Paused:           sh.Paused || pol.SystemPaused, QueueDepth: int64(s.QueueLen(sh.Name)),
			Counts: c.Jobs, ValueMu: c.ValueMu, Health: HealthOK,
		}
		for _, p := range sh.Policies {
			v.Policies = append(v.Policies, SpilloverPolicy{Target: p.Target, Threshold: p.Threshold, MaxDrain: p.MaxDrain,
				RequiredCapabilities: append([]string(nil), p.RequiredCapabilities...), Weight: p.Weight})
		}
		v.Health, v.HealthReasons = reasonsOf(verdicts[sh.Name])
		in.Shards = append(in.Shards, v)
	}
	for _, n := range s.Nodes() {
		v := NodeView{Node: view.Node(n), EarnedMu: s.PaymentTo(n.ID)}
		v.Active, v.Completed = int64(s.ActiveCount(n.ID)), s.CompletedOn(n.ID)
		in.Nodes = append(in.Nodes, v)
	}
	head := s.Head()
	in.Ledger = Ledger{
		Global:   countsOf(s.Global()),
		Shards:   map[string]Counts{},
		Flows:    []Flow{},
		Payments: map[string]int64{},
		Head:     Anchor{Seq: head.Seq, Hash: hex.EncodeToString(head.Hash[:])},
	}
	for _, nc := range s.AllShardCounts() {
		in.Ledger.Shards[nc.Name] = countsOf(nc.Counts)
	}
	for _, f := range s.Flows() {
		in.Ledger.Flows = append(in.Ledger.Flows, Flow{From: f.From, To: f.To, Jobs: f.Jobs, ValueMu: f.ValueMu})
	}
	for _, p := range s.Payments() {
		in.Ledger.Payments[p.Node] = p.AmountMu
	}
	for _, inv := range raftfsm.CheckInvariants(s) {
		in.Ledger.Invariants = append(in.Ledger.Invariants, Invariant{ID: inv.ID, OK: inv.OK, Message: inv.Message})
	}
	if g, err := state.GlobalLedger(s.Checkpoint(region), s.RegionCheckpoints()); err == nil {
		var totals client.LedgerTotals
		in.Ledger.Regions, totals = view.GlobalLedger(g, 0)
		in.Ledger.GlobalTotals = &totals
	}
	fired := map[string]bool{}
	for _, id := range pol.Fired {
		fired[id] = true
	}
	skipped := map[string]bool{}
	for _, id := range pol.Skipped {
		skipped[id] = true
	}
	for _, e := range pol.Schedule {
		en := Entry{ID: e.ID, AtMs: e.AtMs, AfterCompleted: e.AfterCompleted, Action: e.Action, Note: e.Note}
		switch {
		case skipped[e.ID]:
			in.Schedule.Skipped = append(in.Schedule.Skipped, en)
		case fired[e.ID]:
			in.Schedule.Executed = append(in.Schedule.Executed, en)
		default:
			in.Schedule.Pending = append(in.Schedule.Pending, en)
		}
	}
	sort.SliceStable(in.Nodes, func(i, j int) bool { return in.Nodes[i].ID < in.Nodes[j].ID })
	return in
}

// reasonsOf flattens a health verdict for the report views.
func reasonsOf(v health.Verdict) (string, []string) {
	var out []string
	for _, r := range v.Reasons {
		out = append(out, r.Text)
	}
	if v.Status == "" {
		return HealthOK, out
	}
	return v.Status, out
}

// ShardHealth flattens a shard verdict as the API serves it (status and
// reasons) for the report views.
func ShardHealth(status string, reasons []health.Reason) (string, []string) {
	return reasonsOf(health.Verdict{Status: status, Reasons: reasons})
}
