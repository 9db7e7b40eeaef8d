package api

import (
	"encoding/json"

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

// JobView converts a job record to its JSON view.
func JobView(j *state.Job) Job {
	view := Job{
		Seq: j.Seq, ID: j.ID, Key: j.Key, Home: j.Home, Shard: j.Shard,
		Capabilities: j.Capabilities, Priority: j.Priority,
		Value: Credits(j.ValueMu), MaxPrice: Credits(j.MaxPriceMu),
		Kind: j.Kind, Payload: payloadJSON(j.Payload), State: j.State.String(),
		Node: j.Node, Attempt: j.Attempt, Hops: j.Hops, Quote: Credits(j.QuoteMu),
		ParkedReason: j.ParkedReason, Output: j.Output, ExitCode: j.ExitCode, Error: j.Error,
		SubmittedAt: j.SubmittedAt, AssignedAt: j.AssignedAt, FinishedAt: j.FinishedAt,
		Submitter: j.Submitter, MaxAttempts: j.MaxAttempts,
		Units: UnitsView(j.Units), Usage: UnitsView(j.Usage), Meters: metersView(j.Meters),
	}
	if j.State == state.JobCompleted {
		v := Credits(j.SettledMu)
		view.Settled = &v
		_, view.Settlement = state.Settle(j, j.Usage)
	}
	return view
}

// unitsView converts quantities (micro-units) to units per dimension.
func UnitsView(qs []state.Quantity) map[string]float64 {
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

func metersView(ms []state.Meter) map[string]float64 {
	if len(ms) == 0 {
		return nil
	}
	out := make(map[string]float64, len(ms))
	for _, m := range ms {
		out[m.Unit] += Credits(m.PerUnitMu)
	}
	return out
}

// CountsView converts per-state counts, leaving out empty states.
func CountsView(c state.Counts) Counts {
	out := Counts{}
	for i := 1; i < state.NumJobStates; i++ {
		if c.N[i] == 0 && c.ValueMu[i] == 0 {
			continue
		}
		out[state.JobState(i).String()] = StateCount{Jobs: c.N[i], Value: Credits(c.ValueMu[i])}
	}
	return out
}

func policiesView(ps []state.SpilloverPolicy) []SpilloverPolicy {
	if len(ps) == 0 {
		return nil
	}
	out := make([]SpilloverPolicy, len(ps))
	for i, p := range ps {
		out[i] = SpilloverPolicy{Target: p.Target, Threshold: p.Threshold, MaxDrain: p.MaxDrain,
			RequiredCapabilities: p.RequiredCapabilities, Weight: p.Weight}
	}
	return out
}

func policiesRecord(ps []SpilloverPolicy) []state.SpilloverPolicy {
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

// ShardView converts a shard record to its JSON view (without counts).
func ShardView(s *state.Shard) Shard {
	return Shard{
		Name: s.Name, DisplayName: s.DisplayName, Region: s.Region,
		LatencyBudgetMs: s.LatencyBudgetMs, MaxQueue: s.MaxQueue,
		QueueAlertThreshold: s.QueueAlertThreshold, SpilloverTargets: s.SpilloverTargets,
		Policies: policiesView(s.Policies), SpillGraceMs: s.SpillGraceMs,
		ServiceMeanMs: float64(s.ServiceMeanNs) / 1e6, Paused: s.Paused, CreatedAt: s.CreatedAt,
	}
}

// ShardRecord converts a shard view to the replicated record.
func ShardRecord(s Shard) state.Shard {
	return state.Shard{
		Name: s.Name, DisplayName: s.DisplayName, Region: s.Region,
		LatencyBudgetMs: s.LatencyBudgetMs, MaxQueue: s.MaxQueue,
		QueueAlertThreshold: s.QueueAlertThreshold, SpilloverTargets: s.SpilloverTargets,
		Policies: policiesRecord(s.Policies), SpillGraceMs: s.SpillGraceMs,
	}
}

func priceView(p state.PriceSchedule) Price {
	out := Price{Currency: p.Currency, Unit: p.Unit, Base: Credits(p.BaseMu), Expr: p.Expr}
	for _, r := range p.Rates {
		out.Rates = append(out.Rates, PriceRate{Unit: r.Unit, PerUnit: Credits(r.PerUnitMu)})
	}
	return out
}

func priceRecord(p Price) state.PriceSchedule {
	out := state.PriceSchedule{Currency: p.Currency, Unit: p.Unit, BaseMu: Micro(p.Base), Expr: p.Expr}
	for _, r := range p.Rates {
		out.Rates = append(out.Rates, state.PriceRate{Unit: r.Unit, PerUnitMu: Micro(r.PerUnit)})
	}
	return out
}

func deploymentView(d state.Deployment) Deployment {
	r := d.Resources
	return Deployment{Orchestration: d.Orchestration, Image: d.Image, Runtime: d.Runtime,
		Entrypoint: d.Entrypoint, Version: d.Version, Zones: d.Zones,
		Resources: Resources{CPUCores: r.CPUCores, MemoryGB: r.MemoryGB, GPUClass: r.GPUClass, GPUs: r.GPUs, StorageGB: r.StorageGB}}
}

func deploymentRecord(d Deployment) state.Deployment {
	r := d.Resources
	return state.Deployment{Orchestration: d.Orchestration, Image: d.Image, Runtime: d.Runtime,
		Entrypoint: d.Entrypoint, Version: d.Version, Zones: d.Zones,
		Resources: state.Resources{CPUCores: r.CPUCores, MemoryGB: r.MemoryGB, GPUClass: r.GPUClass, GPUs: r.GPUs, StorageGB: r.StorageGB}}
}

func attestationsView(a state.Attestations) Attestations {
	return Attestations{Certifications: a.Certifications, Jurisdiction: a.Jurisdiction,
		DataResidency: a.DataResidency, Tags: a.Tags}
}

func attestationsRecord(a Attestations) state.Attestations {
	return state.Attestations{Certifications: a.Certifications, Jurisdiction: a.Jurisdiction,
		DataResidency: a.DataResidency, Tags: a.Tags}
}

// NodeView converts a node record to its JSON view (without live figures).
func NodeView(n *state.Node) Node {
	v := Node{
		ID: n.ID, Shard: n.Shard, Client: n.Client, Plugin: n.PluginKind,
		Capabilities: n.Capabilities, Capacity: n.Capacity, MaxConcurrency: n.MaxConcurrency,
		Quota: n.Quota, LatencyMs: n.LatencyMs, HeartbeatSec: n.HeartbeatSec, Endpoint: n.Endpoint,
		Deployment: deploymentView(n.Deployment), Price: priceView(n.Price),
		Attestations: attestationsView(n.Attestations), Labels: n.Labels,
		Status: n.Status.String(), StatusReason: n.StatusReason, RegisteredAt: n.RegisteredAt,
		LastStatusAt: n.LastStatusAt, MeasuredLatencyMs: n.MeasuredLatencyMs, HeartbeatAgeMs: -1,
		PluginState: n.PluginState, PluginCrashes: n.PluginCrashes, PluginReason: n.PluginReason,
		PriceSource: "mission",
	}
	if n.PriceSource == state.PricePlugin {
		d := priceView(n.DeclaredPrice)
		v.PriceSource, v.DeclaredPrice = state.PricePlugin, &d
	}
	return v
}

// NodeRecord converts a node view to the replicated record. Status and
// timestamps are decided by the FSM.
func NodeRecord(n Node) state.Node {
	return state.Node{
		ID: n.ID, Shard: n.Shard, Client: n.Client, PluginKind: n.Plugin,
		Capabilities: n.Capabilities, Capacity: n.Capacity, MaxConcurrency: n.MaxConcurrency,
		Quota: n.Quota, LatencyMs: n.LatencyMs, HeartbeatSec: n.HeartbeatSec, Endpoint: n.Endpoint,
		Deployment: deploymentRecord(n.Deployment), Price: priceRecord(n.Price),
		Attestations: attestationsRecord(n.Attestations), Labels: n.Labels,
	}
}

// TokenTypeName returns the API name of a token type.
func TokenTypeName(t state.TokenType) string { return t.String() }

// ParseTokenType is the inverse of TokenTypeName.
func ParseTokenType(s string) (state.TokenType, bool) {
	switch s {
	case TokenTypeRead:
		return state.TokenRead, true
	case TokenTypeSubmit:
		return state.TokenSubmit, true
	case TokenTypeManagement:
		return state.TokenManagement, true
	case TokenTypeClient:
		return state.TokenClient, true
	}
	return state.TokenNone, false
}
