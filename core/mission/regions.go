package mission

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tinylib/msgp/msgp"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// Region is one region of a mission: the shards whose region attribute
// names it (a shard's region defaults to its own name) and the nodes of
// those shards, each in declaration order. Each region is its own raft
// group (docs/architecture.md, Regions).
type Region struct {
	Name   string   `json:"name"`
	Shards []string `json:"shards"`
	Nodes  []string `json:"nodes"`
}

// RemoteRoute is a route from a shard of one region into a shard of
// another: a spillover target or policy, or a schedule entry that would move
// work across. A region's own mission keeps such routes here, out of its
// shards and schedule, so its scheduler never routes into a shard the region
// does not hold; they become cross-region hand-offs later.
type RemoteRoute struct {
	// Shard is the region's own shard the route leaves from.
	Shard string `json:"shard"`
	// Target is the shard of the other region.
	Target string `json:"target"`
	// Region is the target's region.
	Region string `json:"region"`
	// Via names where the route is written: "spillover_targets",
	// "spillover", or "schedule.<id>" for an entry held back whole.
	Via string `json:"via"`
}

// Regions lists the mission's regions in the order their first shard is
// declared.
func (m *Mission) Regions() []Region {
	var out []Region
	at := map[string]int{}
	shardRegion := map[string]int{}
	for _, s := range m.Shards {
		i, ok := at[s.Region]
		if !ok {
			i = len(out)
			at[s.Region] = i
			out = append(out, Region{Name: s.Region, Shards: []string{}, Nodes: []string{}})
		}
		out[i].Shards = append(out[i].Shards, s.Name)
		shardRegion[s.Name] = i
	}
	for _, n := range m.Nodes {
		if i, ok := shardRegion[n.Shard]; ok {
			out[i].Nodes = append(out[i].Nodes, n.ID)
		}
	}
	return out
}

// RegionOf returns the region of a shard: that of a declared shard, else,
// for a shard a shard.register entry of the schedule brings in, the region
// its region attribute names when the mission declares it, else the first
// declared region (a region has its raft group from the start, so a shard
// registered later joins one that exists). The empty string means the
// mission knows no such shard.
func (m *Mission) RegionOf(shard string) string {
	for _, s := range m.Shards {
		if s.Name == shard {
			return s.Region
		}
	}
	for _, e := range m.Schedule {
		if a, ok := e.Args.(*ShardRegisterAction); ok && a.Shard.Name == shard {
			return m.scheduledRegion(a.Shard)
		}
	}
	return ""
}

// scheduledRegion is the region of a shard registered by the schedule.
func (m *Mission) scheduledRegion(s Shard) string {
	rs := m.Regions()
	for _, r := range rs {
		if r.Name == s.Region {
			return r.Name
		}
	}
	if len(rs) == 0 {
		return ""
	}
	return rs[0].Name
}

// nodeRegion returns the region of a declared or schedule-registered node.
func (m *Mission) nodeRegion(id string) string {
	for _, n := range m.Nodes {
		if n.ID == id {
			return m.RegionOf(n.Shard)
		}
	}
	for _, e := range m.Schedule {
		if a, ok := e.Args.(*NodeRegisterAction); ok && a.Node.ID == id {
			return m.RegionOf(a.Node.Shard)
		}
	}
	return ""
}

// RegionNames lists the regions' names in declaration order.
func (m *Mission) RegionNames() []string {
	var out []string
	for _, r := range m.Regions() {
		out = append(out, r.Name)
	}
	return out
}

// ForRegion returns the region's own mission: the mission's header and
// policies, the region's shards and nodes, the workloads whose shard is in
// it and the schedule entries that concern it (an entry naming a shard,
// node or job of the region; system-wide entries such as system.pause and
// checkpoint.save go to every region). Spillover targets and policies into
// shards of other regions are left out of the shards and listed in Remote,
// as are schedule entries that would move work into another region
// (job.reroute, or shard.deregister spilling, to a shard of another
// region). The plan keeps its outage only when the outage node is in the
// region. The mission itself is not changed.
func (m *Mission) ForRegion(name string) (*Mission, error) {
	if !slices.Contains(m.RegionNames(), name) {
		return nil, fmt.Errorf("mission: %s has no region %q (regions: %s)", m.Name, name, strings.Join(m.RegionNames(), ", "))
	}
	out := *m
	out.Region = name
	out.Shards, out.Nodes, out.Workloads, out.Schedule, out.Remote = []Shard{}, []Node{}, []Workload{}, []ScheduleEntry{}, nil
	for _, s := range m.Shards {
		if s.Region == name {
			out.Shards = append(out.Shards, m.localShard(s, name, "", &out.Remote))
		}
	}
	for _, n := range m.Nodes {
		if m.RegionOf(n.Shard) == name {
			out.Nodes = append(out.Nodes, n)
		}
	}
	for _, w := range m.Workloads {
		if m.RegionOf(w.Shard) == name {
			out.Workloads = append(out.Workloads, w)
		}
	}
	for _, e := range m.Schedule {
		if ent, ok := m.regionEntry(e, name, &out.Remote); ok {
			out.Schedule = append(out.Schedule, ent)
		}
	}
	if n := out.Plan.OutageNode; n != "" && m.nodeRegion(n) != name {
		out.Plan.OutageNode, out.Plan.OutageAtMs = "", 0
	}
	return &out, nil
}

// localShard returns s with its spillover targets and policies into other
// regions removed, each recorded in remote. entry names the schedule entry
// the shard is written in ("" for a declared shard).
func (m *Mission) localShard(s Shard, region, entry string, remote *[]RemoteRoute) Shard {
	via := func(field string) string {
		if entry != "" {
			return "schedule." + entry + "." + field
		}
		return field
	}
	targets := []string{}
	for _, t := range s.SpilloverTargets {
		if r := m.RegionOf(t); t != state.SpillAny && r != region {
			*remote = append(*remote, RemoteRoute{Shard: s.Name, Target: t, Region: r, Via: via("spillover_targets")})
			continue
		}
		targets = append(targets, t)
	}
	policies := []Spillover{}
	for _, p := range s.Spillover {
		if r := m.RegionOf(p.Target); r != region {
			*remote = append(*remote, RemoteRoute{Shard: s.Name, Target: p.Target, Region: r, Via: via("spillover")})
			continue
		}
		policies = append(policies, p)
	}
	if s.SpilloverTargets != nil {
		s.SpilloverTargets = targets
	}
	if s.Spillover != nil {
		s.Spillover = policies
	}
	return s
}

// regionEntry decides whether the schedule entry e belongs to region, and
// returns it as the region holds it (a registered or updated shard loses its
// routes into other regions). An entry that would move work into another
// region is held back and recorded in remote.
func (m *Mission) regionEntry(e ScheduleEntry, region string, remote *[]RemoteRoute) (ScheduleEntry, bool) {
	hold := func(shard, target string) (ScheduleEntry, bool) {
		*remote = append(*remote, RemoteRoute{Shard: shard, Target: target, Region: m.RegionOf(target), Via: "schedule." + e.ID})
		return e, false
	}
	switch a := e.Args.(type) {
	case *PauseAction:
		return e, a.Shard == "" || m.RegionOf(a.Shard) == region
	case *ShardRegisterAction:
		if m.RegionOf(a.Shard.Name) != region {
			return e, false
		}
		c := *a
		c.Shard = m.localShard(a.Shard, region, e.ID, remote)
		e.Args = &c
		return e, true
	case *ShardUpdateAction:
		if m.RegionOf(a.Shard) != region {
			return e, false
		}
		c := *a
		c.Values.Name = a.Shard
		c.Values = m.localShard(c.Values, region, e.ID, remote)
		c.Values.Name = a.Values.Name
		e.Args = &c
		return e, true
	case *ShardDeregisterAction:
		if m.RegionOf(a.Shard) != region {
			return e, false
		}
		if a.Mode != "cancel" && a.Target != "" && m.RegionOf(a.Target) != region {
			return hold(a.Shard, a.Target)
		}
		return e, true
	case *NodeRegisterAction:
		return e, m.RegionOf(a.Node.Shard) == region
	case *NodeRetireAction:
		return e, m.nodeRegion(a.Node) == region
	case *NodeUpdateAction:
		return e, m.nodeRegion(a.Node) == region
	case *CommandAction:
		if a.Spec.Arg().Kind == command.KindNode {
			return e, m.nodeRegion(a.Arg()) == region
		}
		return e, a.Spec.Arg().Kind != command.KindShard || m.RegionOf(a.Arg()) == region
	case *JobAction:
		return m.jobEntry(e, a, region, hold)
	}
	// checkpoint.save, checkpoint.configure, reporting.configure and any
	// other entry without a shard concern every region.
	return e, true
}

// jobEntry places job.cancel and job.reroute entries: one with a locator
// belongs to the locator's shard's region, and a reroute from it to a
// shard of another region is held back; one naming job ids belongs to
// the reroute target's region, or, for a cancellation, to every region
// (each region cancels the jobs it holds; in the others the entry is
// skipped with the refusal its check gives).
func (m *Mission) jobEntry(e ScheduleEntry, a *JobAction, region string, hold func(shard, target string) (ScheduleEntry, bool)) (ScheduleEntry, bool) {
	if a.Locator != nil {
		if m.RegionOf(a.Locator.Shard) != region {
			return e, false
		}
		if a.Reroute && m.RegionOf(a.Target) != region {
			return hold(a.Locator.Shard, a.Target)
		}
		return e, true
	}
	if a.Reroute {
		return e, m.RegionOf(a.Target) == region
	}
	return e, true
}

// ApplyCommand converts the mission to the MissionApply command: shards,
// nodes, policy and the owner schedule, each entry's owner action encoded as
// the msgpack body of its command.
func (m *Mission) ApplyCommand(meta command.Meta) (command.MissionApply, error) {
	cmd := command.MissionApply{
		Meta: meta, Name: m.Name, Digest: m.Digest(), Seed: m.Seed,
		Shards: m.ShardRecords(), Nodes: m.NodeRecords(),
		CheckpointMs: m.Checkpoint.IntervalMs, CheckpointPath: m.Checkpoint.Path,
		ReportingDir: m.Reporting.Dir, ReportingLabel: m.Reporting.Label,
		CompliancePolicy: m.Compliance.Policy, MaxAttempts: uint32(m.MaxAttempts),
		JobGCThresholdMs: m.Retention.JobGCThresholdMs, JobGCIntervalMs: m.Retention.JobGCIntervalMs,
		JobGCBatch: m.Retention.JobGCBatch, IdempotencyWindowMs: m.Retention.IdempotencyWindowMs,
	}
	// "0s" is -1 in the policy, where 0 means the default: no periodic
	// pass, and tombs forgotten by the next pass.
	if cmd.JobGCIntervalMs == 0 {
		cmd.JobGCIntervalMs = -1
	}
	if cmd.IdempotencyWindowMs == 0 {
		cmd.IdempotencyWindowMs = -1
	}
	for _, e := range m.Schedule {
		se := state.ScheduleEntry{ID: e.ID, AtMs: e.AtMs, AfterCompleted: e.AfterCompleted, Note: e.Note, Action: e.Action}
		if se.AtMs < 0 {
			se.AtMs = 0
		}
		if e.Args != nil {
			_, body := e.Args.Command(command.Meta{Actor: "schedule:" + e.ID, Reason: e.Reason})
			if mm, ok := body.(msgp.Marshaler); ok && body != nil {
				b, err := mm.MarshalMsg(nil)
				if err != nil {
					return cmd, fmt.Errorf("mission: schedule %s: encode %s: %w", e.ID, e.Action, err)
				}
				se.Args = b
			}
		}
		cmd.Schedule = append(cmd.Schedule, se)
	}
	return cmd, nil
}

// Dangling lists the references of the mission to shards and nodes it does
// not hold (declared, or registered by one of its schedule entries), one
// line each, such as `node "n1": shard "mars"`. A parsed mission has none
// (the parser refuses them); a region's own mission has none either, since
// ForRegion moves every route into another region to Remote.
func (m *Mission) Dangling() []string {
	shards, nodes := map[string]bool{state.SpillAny: true}, map[string]bool{}
	for _, s := range m.Shards {
		shards[s.Name] = true
	}
	for _, n := range m.Nodes {
		nodes[n.ID] = true
	}
	for _, e := range m.Schedule {
		switch a := e.Args.(type) {
		case *ShardRegisterAction:
			shards[a.Shard.Name] = true
		case *NodeRegisterAction:
			nodes[a.Node.ID] = true
		}
	}
	var out []string
	ref := func(what, kind, name string, held map[string]bool) {
		if name != "" && !held[name] {
			out = append(out, fmt.Sprintf("%s: %s %q", what, kind, name))
		}
	}
	refShard := func(what string, s Shard) {
		for _, t := range s.SpilloverTargets {
			ref(what+" spillover_targets", "shard", t, shards)
		}
		for _, p := range s.Spillover {
			ref(what+" spillover", "shard", p.Target, shards)
		}
	}
	for _, s := range m.Shards {
		refShard(fmt.Sprintf("shard %q", s.Name), s)
	}
	for _, n := range m.Nodes {
		ref(fmt.Sprintf("node %q", n.ID), "shard", n.Shard, shards)
	}
	for _, w := range m.Workloads {
		ref(fmt.Sprintf("workload %q", w.Name), "shard", w.Shard, shards)
	}
	for _, e := range m.Schedule {
		what := fmt.Sprintf("schedule %q", e.ID)
		switch a := e.Args.(type) {
		case *PauseAction:
			ref(what, "shard", a.Shard, shards)
		case *ShardRegisterAction:
			refShard(what, a.Shard)
		case *ShardUpdateAction:
			ref(what, "shard", a.Shard, shards)
			refShard(what, a.Values)
		case *ShardDeregisterAction:
			ref(what, "shard", a.Shard, shards)
			ref(what+" target", "shard", a.Target, shards)
		case *NodeRegisterAction:
			ref(what, "shard", a.Node.Shard, shards)
		case *NodeRetireAction:
			ref(what, "node", a.Node, nodes)
		case *NodeUpdateAction:
			ref(what, "node", a.Node, nodes)
		case *CommandAction:
			switch a.Spec.Arg().Kind {
			case command.KindNode:
				ref(what, "node", a.Arg(), nodes)
			case command.KindShard:
				ref(what, "shard", a.Arg(), shards)
			}
		case *JobAction:
			if a.Locator != nil {
				ref(what, "shard", a.Locator.Shard, shards)
			}
			ref(what+" target", "shard", a.Target, shards)
		}
	}
	if n := m.Plan.OutageNode; n != "" {
		ref("plan outage_node", "node", n, nodes)
	}
	return out
}
