// Package view converts the replicated records (raftfsm/state) to the API's
// wire types (core/api/client) and back. It is the one place a record
// becomes a view: the HTTP handlers, the report bundle's FromStore and the
// client role's registration all use it, so a field added to a record and
// its view is copied in one function. Money stays integer micro-credits;
// the decimal credits fields of a view are filled here, for JSON readers.
package view

import (
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/limits"
	"github.com/planetary/planetary/raftfsm/state"
)

// payloadJSON returns p as JSON: itself when it is valid JSON, else a JSON
// string holding it.
func payloadJSON(p []byte) json.RawMessage {
	if len(p) == 0 {
		return nil
	}
	if json.Valid(p) {
		return json.RawMessage(p)
	}
	b, _ := json.Marshal(string(p))
	return b
}

// Job converts a job record to its view.
func Job(j *state.Job) client.Job {
	v := client.Job{
		Seq: j.Seq, ID: j.ID, Key: j.Key, Home: j.Home, Shard: j.Shard,
		Capabilities: j.Capabilities, Priority: j.Priority,
		Value: client.Credits(j.ValueMu), MaxPrice: client.Credits(j.MaxPriceMu),
		ValueMicro: j.ValueMu, MaxPriceMicro: j.MaxPriceMu, QuoteMicro: j.QuoteMu,
		Kind: j.Kind, Payload: payloadJSON(j.Payload), State: j.State.String(),
		Node: j.Node, Attempt: j.Attempt, Hops: j.Hops, Quote: client.Credits(j.QuoteMu),
		ParkedReason: j.ParkedReason, Output: j.Output, ExitCode: j.ExitCode, Error: j.Error,
		SubmittedAt: j.SubmittedAt, AssignedAt: j.AssignedAt, FinishedAt: j.FinishedAt,
		Submitter: j.Submitter, MaxAttempts: j.MaxAttempts,
		Units: Units(j.Units), Usage: Units(j.Usage), Meters: meters(j.Meters),
	}
	if j.State == state.JobCompleted {
		c, mu := client.Credits(j.SettledMu), j.SettledMu
		v.Settled, v.SettledMicro = &c, &mu
		_, v.Settlement = state.Settle(j, j.Usage)
	}
	return v
}

// Units converts quantities (micro-units) to units per dimension.
func Units(qs []state.Quantity) map[string]float64 {
	if len(qs) == 0 {
		return nil
	}
	out := make(map[string]float64, len(qs))
	for _, q := range qs {
		out[q.Unit] = float64(q.Micro) / state.Micro
	}
	return out
}

// UnitsRecord converts units per dimension to sorted quantities; the error
// names the first dimension that cannot be metered.
func UnitsRecord(m map[string]float64) ([]state.Quantity, error) { return state.Quantities(m) }

func meters(ms []state.Meter) map[string]float64 {
	if len(ms) == 0 {
		return nil
	}
	out := make(map[string]float64, len(ms))
	for _, m := range ms {
		out[m.Unit] += client.Credits(m.PerUnitMu)
	}
	return out
}

// Counts converts per-state counts, leaving out empty states.
func Counts(c state.Counts) client.Counts {
	out := client.Counts{}
	for i := 1; i < state.NumJobStates; i++ {
		if c.N[i] == 0 && c.ValueMu[i] == 0 {
			continue
		}
		out[state.JobState(i).String()] = client.StateCount{Jobs: c.N[i], Value: client.Credits(c.ValueMu[i]), ValueMicro: c.ValueMu[i]}
	}
	return out
}

func policies(ps []state.SpilloverPolicy) []client.SpilloverPolicy {
	if len(ps) == 0 {
		return nil
	}
	out := make([]client.SpilloverPolicy, len(ps))
	for i, p := range ps {
		out[i] = client.SpilloverPolicy{Target: p.Target, Threshold: p.Threshold, MaxDrain: p.MaxDrain,
			RequiredCapabilities: p.RequiredCapabilities, Weight: p.Weight}
	}
	return out
}

func policiesRecord(ps []client.SpilloverPolicy) []state.SpilloverPolicy {
	if len(ps) == 0 {
		return nil
	}
	out := make([]state.SpilloverPolicy, len(ps))
	for i, p := range ps {
		out[i] = state.SpilloverPolicy{Target: p.Target, Threshold: p.Threshold, MaxDrain: p.MaxDrain,
			RequiredCapabilities: p.RequiredCapabilities, Weight: p.Weight}
	}
	return out
}

// Shard converts a shard record to its view (without counts).
func Shard(s *state.Shard) client.Shard {
	return client.Shard{
		Name: s.Name, DisplayName: s.DisplayName, Region: s.Region,
		LatencyBudgetMs: s.LatencyBudgetMs, MaxQueue: s.MaxQueue,
		QueueAlertThreshold: s.QueueAlertThreshold, SpilloverTargets: s.SpilloverTargets,
		Policies: policies(s.Policies), SpillGraceMs: s.SpillGraceMs,
		ServiceMeanMs: float64(s.ServiceMeanNs) / 1e6, Paused: s.Paused, CreatedAt: s.CreatedAt,
	}
}

// ShardRecord converts a shard view to the replicated record.
func ShardRecord(s client.Shard) state.Shard {
	return state.Shard{
		Name: s.Name, DisplayName: s.DisplayName, Region: s.Region,
		LatencyBudgetMs: s.LatencyBudgetMs, MaxQueue: s.MaxQueue,
		QueueAlertThreshold: s.QueueAlertThreshold, SpilloverTargets: s.SpilloverTargets,
		Policies: policiesRecord(s.Policies), SpillGraceMs: s.SpillGraceMs,
	}
}

// Price converts a price schedule to its view.
func Price(p state.PriceSchedule) client.Price {
	out := client.Price{Currency: p.Currency, Unit: p.Unit, Base: client.Credits(p.BaseMu), BaseMicro: p.BaseMu, Expr: p.Expr}
	for _, r := range p.Rates {
		out.Rates = append(out.Rates, client.PriceRate{Unit: r.Unit, PerUnit: client.Credits(r.PerUnitMu), PerUnitMicro: r.PerUnitMu})
	}
	return out
}

// Money returns the micro-credits of an amount given as micro-credits or as
// decimal credits: the micro field when set, else the credits converted
// (callers check the amount with limits first).
func Money(credits float64, micro int64) int64 {
	if micro != 0 {
		return micro
	}
	return limits.SaturatingMicro(credits)
}

// PriceRecord converts a price view to the replicated schedule.
func PriceRecord(p client.Price) state.PriceSchedule {
	out := state.PriceSchedule{Currency: p.Currency, Unit: p.Unit, BaseMu: Money(p.Base, p.BaseMicro), Expr: p.Expr}
	for _, r := range p.Rates {
		out.Rates = append(out.Rates, state.PriceRate{Unit: r.Unit, PerUnitMu: Money(r.PerUnit, r.PerUnitMicro)})
	}
	return out
}

// Deployment converts a deployment to its view.
func Deployment(d state.Deployment) client.Deployment {
	r := d.Resources
	return client.Deployment{Orchestration: d.Orchestration, Image: d.Image, Runtime: d.Runtime,
		Entrypoint: d.Entrypoint, Version: d.Version, Zones: slices.Clone(d.Zones),
		Resources: client.Resources{CPUCores: r.CPUCores, MemoryGB: r.MemoryGB, GPUClass: r.GPUClass, GPUs: r.GPUs, StorageGB: r.StorageGB}}
}

// DeploymentRecord converts a deployment view to the record.
func DeploymentRecord(d client.Deployment) state.Deployment {
	r := d.Resources
	return state.Deployment{Orchestration: d.Orchestration, Image: d.Image, Runtime: d.Runtime,
		Entrypoint: d.Entrypoint, Version: d.Version, Zones: d.Zones,
		Resources: state.Resources{CPUCores: r.CPUCores, MemoryGB: r.MemoryGB, GPUClass: r.GPUClass, GPUs: r.GPUs, StorageGB: r.StorageGB}}
}

// Attestations converts attestations to their view.
func Attestations(a state.Attestations) client.Attestations {
	return client.Attestations{Certifications: slices.Clone(a.Certifications), Jurisdiction: a.Jurisdiction,
		DataResidency: slices.Clone(a.DataResidency), Tags: slices.Clone(a.Tags)}
}

// AttestationsRecord converts an attestations view to the record.
func AttestationsRecord(a client.Attestations) state.Attestations {
	return state.Attestations{Certifications: a.Certifications, Jurisdiction: a.Jurisdiction,
		DataResidency: a.DataResidency, Tags: a.Tags}
}

// Node converts a node record to its view (without live figures: counts,
// heartbeat age and plugin pid are the serving API's). The view shares no
// memory with the record, so it may outlive a store read.
func Node(n *state.Node) client.Node {
	v := client.Node{
		ID: n.ID, Shard: n.Shard, Client: n.Client, Plugin: n.PluginKind,
		Capabilities: slices.Clone(n.Capabilities), Capacity: n.Capacity, MaxConcurrency: n.MaxConcurrency,
		Quota: n.Quota, LatencyMs: n.LatencyMs, HeartbeatSec: n.HeartbeatSec, Endpoint: n.Endpoint,
		Deployment: Deployment(n.Deployment), Price: Price(n.Price),
		Attestations: Attestations(n.Attestations), Labels: slices.Clone(n.Labels),
		Status: n.Status.String(), StatusReason: n.StatusReason, RegisteredAt: n.RegisteredAt,
		LastStatusAt: n.LastStatusAt, MeasuredLatencyMs: n.MeasuredLatencyMs, HeartbeatAgeMs: -1,
		PluginState: n.PluginState, PluginCrashes: n.PluginCrashes, PluginReason: n.PluginReason,
		PriceSource: "mission", Schedulable: n.Schedulable(),
	}
	for _, c := range n.Conditions() {
		v.Conditions = append(v.Conditions, client.NodeCondition(c))
	}
	if n.PriceSource == state.PricePlugin {
		d := Price(n.DeclaredPrice)
		v.PriceSource, v.DeclaredPrice = state.PricePlugin, &d
	}
	return v
}

// NodeRecord converts a node view to the replicated record. Status and
// timestamps are decided by the FSM.
func NodeRecord(n client.Node) state.Node {
	return state.Node{
		ID: n.ID, Shard: n.Shard, Client: n.Client, PluginKind: n.Plugin,
		Capabilities: n.Capabilities, Capacity: n.Capacity, MaxConcurrency: n.MaxConcurrency,
		Quota: n.Quota, LatencyMs: n.LatencyMs, HeartbeatSec: n.HeartbeatSec, Endpoint: n.Endpoint,
		Deployment: DeploymentRecord(n.Deployment), Price: PriceRecord(n.Price),
		Attestations: AttestationsRecord(n.Attestations), Labels: n.Labels,
	}
}

// LedgerTotals is the view of a ledger's totals (a region's checkpoint or
// the global sum).
func LedgerTotals(t state.RegionTotals, p state.RegionPayments, events uint64) client.LedgerTotals {
	out := client.LedgerTotals{
		Counts: Counts(t.Counts), Value: client.Credits(t.ValueMu), ValueMicro: t.ValueMu,
		Flows:    make([]client.Flow, 0, len(t.Flows)),
		FlowJobs: t.FlowJobs, FlowValue: client.Credits(t.FlowValueMu), FlowValueMicro: t.FlowValueMu,
		Paid: client.Credits(t.PaidMu), PaidMicro: t.PaidMu, Payments: p.Count, Events: events,
	}
	for _, n := range t.Counts.N {
		out.Jobs += n
	}
	for _, f := range t.Flows {
		out.Flows = append(out.Flows, client.Flow{From: f.From, To: f.To, Jobs: f.Jobs, Value: client.Credits(f.ValueMu), ValueMicro: f.ValueMu})
	}
	for _, l := range t.HandOffs {
		out.HandOffs = append(out.HandOffs, client.HandOffLine{Region: l.Region, OpenJobs: l.OpenJobs, OpenValueMicro: l.OpenValueMu,
			OutJobs: l.OutJobs, OutValueMicro: l.OutValueMu, InJobs: l.InJobs, InValueMicro: l.InValueMu})
	}
	return out
}

// RegionLedger is the view of one region's line of the global ledger, read
// at now (Unix ns; 0 when the reader has no read time, which leaves the age
// of the other regions' lines unset). The local line's age and lags are 0:
// it is built in the read.
func RegionLedger(r state.RegionFreshness, now int64) client.RegionLedger {
	cp := r.Checkpoint
	out := client.RegionLedger{
		Region: cp.Region, Local: r.Local, Index: cp.RaftIndex, MissionTime: cp.MissionTimeNs, BehindNs: r.BehindNs,
		Chain:  client.ChainHead{Seq: cp.ChainHead.Seq, Hash: hex.EncodeToString(cp.ChainHead.Hash[:])},
		Totals: LedgerTotals(cp.Totals, cp.Payments, cp.EventCount),
		Shards: append([]string(nil), cp.Shards...), StoredAt: cp.StoredAtNs,
	}
	switch {
	case r.Local:
		var age int64
		var ix, ev uint64
		out.AgeNs, out.IndexLag, out.EventLag = &age, &ix, &ev
	case cp.StoredAtNs > 0 && now > 0:
		age := max(now-cp.StoredAtNs, 0)
		out.AgeNs = &age
	}
	return out
}

// GlobalLedger is the view of the global ledger read at now (Unix ns, see
// RegionLedger): every region's line, in region order, and the global
// totals.
func GlobalLedger(g state.GlobalView, now int64) ([]client.RegionLedger, client.LedgerTotals) {
	regions := make([]client.RegionLedger, 0, len(g.Regions))
	for _, r := range g.Regions {
		regions = append(regions, RegionLedger(r, now))
	}
	t := LedgerTotals(g.Totals, g.Payments, g.EventCount)
	t.TransferJobs, t.TransferValueMicro = g.Transfer.Jobs, g.Transfer.ValueMu
	return regions, t
}
