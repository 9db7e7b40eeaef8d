package report

import (
	"sort"
	"strings"
	"time"

	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// Metrics are the headline figures of a run. Value twins are decimal credits.
type Metrics struct {
	Submitted          int64   `json:"submitted"`
	Completed          int64   `json:"completed"`
	Failed             int64   `json:"failed"`
	Cancelled          int64   `json:"cancelled"`
	Parked             int64   `json:"parked"`
	Outstanding        int64   `json:"outstanding"`
	Spillovers         int64   `json:"spillovers"`
	Requeued           int64   `json:"requeued"`
	Reassigned         int64   `json:"reassigned"` // requeues of jobs whose node went down or retired
	OwnerInterventions int64   `json:"owner_interventions"`
	Pauses             int64   `json:"pauses"`
	ValueSubmitted     float64 `json:"value_submitted"`
	ValueCompleted     float64 `json:"value_completed"`
	ValueFailed        float64 `json:"value_failed"`
	ValueCancelled     float64 `json:"value_cancelled"`
	ValueParked        float64 `json:"value_parked"`
	ValueOutstanding   float64 `json:"value_outstanding"`
	ValueSpillovers    float64 `json:"value_spillovers"`
	Paid               float64 `json:"paid"`
	// Quoted is what the completed jobs were quoted; Paid what they
	// settled at (docs/pricing.md).
	Quoted float64 `json:"quoted"`
}

// Rates are fractions of submitted jobs in [0, 1].
type Rates struct {
	Completion float64 `json:"completion_rate"`
	Failure    float64 `json:"failure_rate"`
	Drop       float64 `json:"drop_rate"` // neither completed, failed nor cancelled
	Spillover  float64 `json:"spillover_rate"`
}

// ShardSummary is a shard's line in summary.json.
type ShardSummary struct {
	ShardView
	InFlight   int64 `json:"in_flight"`
	Completed  int64 `json:"completed"`
	Failed     int64 `json:"failed"`
	SpilledOut int64 `json:"spilled_out"`
	SpilledIn  int64 `json:"spilled_in"`
}

// NodeSummary is a node's line in summary.json.
type NodeSummary struct {
	NodeView
	Earned      float64 `json:"earned"`
	PriceBase   float64 `json:"price_base"`
	Utilisation float64 `json:"utilisation"` // active / capacity
}

// OwnerCounts counts owner commands. Node state that clients published
// (plugin fingerprints, prices, attestations, plugin state) is not an owner
// action: ClientUpdates counts it apart.
type OwnerCounts struct {
	Total         int64            `json:"total"`
	ClientUpdates int64            `json:"client_updates"`
	ByAction      map[string]int64 `json:"by_action"`
	Executed      int64            `json:"schedule_executed"`
	Skipped       int64            `json:"schedule_skipped"`
	Pending       int64            `json:"schedule_pending"`
}

// Summary is the content of summary.json.
type Summary struct {
	Mission       Mission        `json:"mission"`
	GeneratedAt   time.Time      `json:"generated_at"`
	Run           Run            `json:"run"`
	Metrics       Metrics        `json:"metrics"`
	Rates         Rates          `json:"rates"`
	Shards        []ShardSummary `json:"shards"`
	Nodes         []NodeSummary  `json:"nodes"`
	OwnerCommands OwnerCounts    `json:"owner_commands"`
	Checkpoint    Checkpoint     `json:"checkpoint"`
	Anchor        Anchor         `json:"anchor"`
	Head          Anchor         `json:"head"`
	Events        int            `json:"events"`
	// Pruned says what event retention removed before Anchor: the event
	// counts above (requeues, pauses) cover the retained window only.
	Pruned     *Pruned     `json:"pruned,omitempty"`
	Invariants []Invariant `json:"invariants"`
	// Currency labels every amount of money in the bundle (one unit).
	Currency string `json:"currency"`
	// Settlement is ledger.json's settlement: quoted, settled, jobs by
	// basis and reported usage.
	Settlement SettlementLedger `json:"settlement"`
	// Regions and GlobalTotals are the global ledger when it has more than
	// one region (absent otherwise): each region's shards, leader,
	// checkpoint index, freshness and totals, and their sum beside the
	// local ledger of Metrics.
	Regions      []RegionView         `json:"regions,omitempty"`
	GlobalTotals *client.LedgerTotals `json:"global_totals,omitempty"`
}

// ClientPublished reports whether e is node state a client published (a
// plugin's fingerprint, price, attestations or state) rather than an owner's
// change. Logs written before such updates were attributed to the client
// ("client:<name>") carry the token's identity and this reason.
func ClientPublished(e *state.Event) bool {
	return e.Type == state.EvNodeUpdated &&
		(strings.HasPrefix(e.Actor, "client:") || strings.HasPrefix(e.Reason, "state published by client "))
}

// Currency is the one currency label of in: the mission's, else the one its
// nodes' prices carry (the mission gives every price its currency), else
// "credits".
func Currency(in Input) string {
	if in.Mission.Currency != "" {
		return in.Mission.Currency
	}
	best := ""
	for _, n := range in.Nodes {
		if c := n.Price.Currency; c != "" && (best == "" || n.ID < best) {
			best = n.ID
		}
	}
	for _, n := range in.Nodes {
		if n.ID == best {
			return n.Price.Currency
		}
	}
	return "credits"
}

// BuildSummary derives summary.json from in and its ledger document.
func BuildSummary(in Input, led LedgerDoc) Summary {
	g := led.Global
	t := led.Totals
	m := Metrics{
		Submitted: t.Submitted, Completed: t.Completed, Failed: t.Failed, Cancelled: t.Cancelled,
		Parked: t.Parked, Outstanding: t.Outstanding, Spillovers: t.Spillovers,
		OwnerInterventions: int64(len(in.OwnerCommands)),
		ValueSubmitted:     t.ValueSubmitted, ValueCompleted: t.ValueCompleted,
		ValueFailed:    g[state.JobFailed.String()].Value,
		ValueCancelled: g[state.JobCancelled.String()].Value,
		ValueParked:    g[state.JobParked.String()].Value,
		Paid:           t.Paid,
		Quoted:         led.Settlement.Quoted,
	}
	m.ValueOutstanding = credits(t.ValueSubmittedMu - g["completed"].ValueMu - g["failed"].ValueMu - g["cancelled"].ValueMu)
	for _, f := range led.Flows {
		m.ValueSpillovers += f.Value
	}
	lost := map[string]bool{}
	var clientUpdates int64
	for i := range in.Events {
		e := &in.Events[i]
		switch e.Type {
		case state.EvNodeDown, state.EvNodeRetired:
			lost[e.Node] = true
		case state.EvNodeUp, state.EvNodeRegistered:
			delete(lost, e.Node)
		case state.EvJobRequeued:
			m.Requeued++
			if e.Node != "" && lost[e.Node] {
				m.Reassigned++
			}
		case state.EvSystemPaused, state.EvShardPaused:
			m.Pauses++
		case state.EvNodeUpdated:
			if ClientPublished(e) {
				clientUpdates++
			}
		}
	}
	var r Rates
	if t.Submitted > 0 {
		n := float64(t.Submitted)
		r = Rates{
			Completion: float64(t.Completed) / n, Failure: float64(t.Failed) / n,
			Drop: float64(t.Outstanding) / n, Spillover: float64(t.Spillovers) / n,
		}
	}
	s := Summary{
		Mission: in.Mission, GeneratedAt: in.GeneratedAt.UTC(), Run: in.Run, Metrics: m, Rates: r,
		Shards: []ShardSummary{}, Nodes: []NodeSummary{},
		OwnerCommands: OwnerCounts{
			Total: int64(len(in.OwnerCommands)), ClientUpdates: clientUpdates, ByAction: map[string]int64{},
			Executed: int64(len(in.Schedule.Executed)), Skipped: int64(len(in.Schedule.Skipped)),
			Pending: int64(len(in.Schedule.Pending)),
		},
		Checkpoint: in.Checkpoint, Anchor: in.Anchor, Head: in.Ledger.Head, Events: len(in.Events),
		Pruned: in.Pruned, Invariants: led.Invariants, Currency: Currency(in), Settlement: led.Settlement,
		Regions: Regions(in), GlobalTotals: GlobalTotals(in),
	}
	for _, c := range in.OwnerCommands {
		s.OwnerCommands.ByAction[c.Action]++
	}
	for _, sh := range in.Shards {
		ss := ShardSummary{ShardView: sh, InFlight: sh.Counts["assigned"] + sh.Counts["running"],
			Completed: sh.Counts["completed"], Failed: sh.Counts["failed"]}
		for _, f := range led.Flows {
			if f.From == sh.Name {
				ss.SpilledOut += f.Jobs
			}
			if f.To == sh.Name {
				ss.SpilledIn += f.Jobs
			}
		}
		s.Shards = append(s.Shards, ss)
	}
	for _, n := range in.Nodes {
		ns := NodeSummary{NodeView: n, Earned: credits(n.EarnedMu), PriceBase: credits(n.Price.BaseMicro)}
		if n.Capacity > 0 {
			ns.Utilisation = float64(n.Active) / float64(n.Capacity)
		}
		s.Nodes = append(s.Nodes, ns)
	}
	sort.SliceStable(s.Nodes, func(i, j int) bool { return s.Nodes[i].ID < s.Nodes[j].ID })
	return s
}
