package mission

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/planetary/planetary/raftfsm/state"
)

// Record converts the shard to its replicated form.
func (s Shard) Record() state.Shard {
	r := state.Shard{
		Name:                s.Name,
		DisplayName:         s.DisplayName,
		Region:              s.Region,
		LatencyBudgetMs:     s.LatencyBudgetMs,
		MaxQueue:            s.MaxQueue,
		QueueAlertThreshold: s.QueueAlertThreshold,
		SpilloverTargets:    append([]string(nil), s.SpilloverTargets...),
		SpillGraceMs:        s.SpillGraceMs,
	}
	for _, p := range s.Spillover {
		r.Policies = append(r.Policies, state.SpilloverPolicy{
			Target:               p.Target,
			Threshold:            p.Threshold,
			MaxDrain:             p.MaxDrain,
			RequiredCapabilities: append([]string(nil), p.RequiredCapabilities...),
			Weight:               p.Weight,
		})
	}
	return r
}

// Record converts the node to its replicated form (status unknown until a
// client claims it).
func (n Node) Record() state.Node {
	r := state.Node{
		ID:             n.ID,
		Shard:          n.Shard,
		PluginKind:     n.Plugin,
		Capabilities:   append([]string(nil), n.Capabilities...),
		Capacity:       n.Capacity,
		MaxConcurrency: n.MaxConcurrency,
		Quota:          n.Quota,
		LatencyMs:      n.LatencyMs,
		HeartbeatSec:   n.HeartbeatSec,
		Endpoint:       n.Endpoint,
		Labels:         append([]string(nil), n.Labels...),
		Deployment: state.Deployment{
			Orchestration: n.Deployment.Orchestration,
			Image:         n.Deployment.Image,
			Runtime:       n.Deployment.Runtime,
			Entrypoint:    n.Deployment.Entrypoint,
			Version:       n.Deployment.Version,
			Zones:         append([]string(nil), n.Deployment.Zones...),
			Resources: state.Resources{
				CPUCores:  n.Deployment.Resources.CPUCores,
				MemoryGB:  n.Deployment.Resources.MemoryGB,
				GPUClass:  n.Deployment.Resources.GPUClass,
				GPUs:      n.Deployment.Resources.GPUs,
				StorageGB: n.Deployment.Resources.StorageGB,
			},
		},
		Price: state.PriceSchedule{
			Currency: n.Price.Currency,
			Unit:     n.Price.Unit,
			BaseMu:   n.Price.BaseMu,
			Expr:     n.Price.Expr,
		},
		Attestations: state.Attestations{
			Certifications: append([]string(nil), n.Attestations.Certifications...),
			Jurisdiction:   n.Attestations.Jurisdiction,
			DataResidency:  append([]string(nil), n.Attestations.DataResidency...),
			Tags:           append([]string(nil), n.Attestations.Tags...),
		},
	}
	for _, rt := range n.Price.Rates {
		r.Price.Rates = append(r.Price.Rates, state.PriceRate{Unit: rt.Unit, PerUnitMu: rt.PerUnitMu})
	}
	return r
}

// ShardRecords returns the mission's shards in replicated form.
func (m *Mission) ShardRecords() []state.Shard {
	out := make([]state.Shard, len(m.Shards))
	for i, s := range m.Shards {
		out[i] = s.Record()
	}
	return out
}

// NodeRecords returns the mission's nodes in replicated form.
func (m *Mission) NodeRecords() []state.Node {
	out := make([]state.Node, len(m.Nodes))
	for i, n := range m.Nodes {
		out[i] = n.Record()
	}
	return out
}

// digestVersion prefixes the canonical encoding; bump it when the encoding
// changes meaning.
const digestVersion = "planetary-mission-v1\n"

// Canonical is the canonical encoding the digest covers: JSON of the decoded
// mission (fixed field order, sorted map keys), so whitespace, comments and
// attribute order do not change it.
func (m *Mission) Canonical() []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("mission: canonical encoding: %v", err))
	}
	return b
}

// Digest is the hex SHA-256 of the canonical encoding.
func (m *Mission) Digest() string {
	h := sha256.New()
	h.Write([]byte(digestVersion))
	h.Write(m.Canonical())
	return hex.EncodeToString(h.Sum(nil))
}

// Diff describes what changes from old to new, one human line per change:
// "+ shard edge", "- node mars.gpu-helion", "~ shard earth: max_queue 6000 -> 7000".
// Either side may be nil (an empty mission).
func Diff(old, new *Mission) []string {
	if old == nil {
		old = &Mission{}
	}
	if new == nil {
		new = &Mission{}
	}
	var out []string
	oh, nh := flatten(missionHeader(old)), flatten(missionHeader(new))
	out = append(out, diffFields("mission", oh, nh)...)
	type set struct {
		kind     string
		old, new map[string]any
		oo, no   []string
	}
	sets := []set{
		keyed("shard", old.Shards, new.Shards, func(s Shard) string { return s.Name }),
		keyed("node", old.Nodes, new.Nodes, func(n Node) string { return n.ID }),
		keyed("workload", old.Workloads, new.Workloads, func(w Workload) string { return w.Name }),
		keyed("schedule", old.Schedule, new.Schedule, func(e ScheduleEntry) string { return e.ID }),
	}
	for _, s := range sets {
		for _, k := range s.no {
			if _, ok := s.old[k]; !ok {
				out = append(out, fmt.Sprintf("+ %s %s", s.kind, k))
			}
		}
		for _, k := range s.oo {
			if _, ok := s.new[k]; !ok {
				out = append(out, fmt.Sprintf("- %s %s", s.kind, k))
			}
		}
		for _, k := range s.no {
			if ov, ok := s.old[k]; ok {
				out = append(out, diffFields(s.kind+" "+k, flatten(ov), flatten(s.new[k]))...)
			}
		}
	}
	return out
}

func missionHeader(m *Mission) map[string]any {
	return map[string]any{
		"seed": m.Seed, "owner": m.Owner, "description": m.Description, "name": m.Name,
		"compliance": m.Compliance, "checkpoint": m.Checkpoint, "reporting": m.Reporting, "retention": m.Retention, "plan": m.Plan,
		"max_attempts": m.MaxAttempts,
	}
}

func keyed[T any](kind string, old, new []T, key func(T) string) (s struct {
	kind     string
	old, new map[string]any
	oo, no   []string
}) {
	s.kind = kind
	s.old, s.new = map[string]any{}, map[string]any{}
	for _, v := range old {
		s.old[key(v)] = v
		s.oo = append(s.oo, key(v))
	}
	for _, v := range new {
		s.new[key(v)] = v
		s.no = append(s.no, key(v))
	}
	return s
}

// flatten turns a value into dotted-path -> scalar text through its JSON form.
func flatten(v any) map[string]string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("mission: flatten: %v", err))
	}
	var g any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&g); err != nil {
		panic(fmt.Sprintf("mission: flatten: %v", err))
	}
	out := map[string]string{}
	var walk func(prefix string, g any)
	walk = func(prefix string, g any) {
		if m, ok := g.(map[string]any); ok && len(m) > 0 {
			for k, v := range m {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, v)
			}
			return
		}
		out[prefix] = scalarText(g)
	}
	walk("", g)
	return out
}

func scalarText(g any) string {
	switch v := g.(type) {
	case nil:
		return "null"
	case string:
		if v == "" {
			return `""`
		}
		return v
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			if s, ok := e.(string); ok {
				parts[i] = fmt.Sprintf("%q", s)
			} else {
				parts[i] = scalarText(e)
			}
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return "{}"
	default:
		return fmt.Sprint(v)
	}
}

func diffFields(what string, old, new map[string]string) []string {
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range new {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []string
	for _, k := range sorted {
		ov, ok1 := old[k]
		nv, ok2 := new[k]
		if !ok1 {
			ov = "(none)"
		}
		if !ok2 {
			nv = "(none)"
		}
		if ov != nv {
			out = append(out, fmt.Sprintf("~ %s: %s %s -> %s", what, k, ov, nv))
		}
	}
	return out
}
