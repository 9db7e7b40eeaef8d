package raftfsm

import (
	"fmt"
	"strings"
	"time"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}

const awaitingClient = "awaiting client"

func applyMission(c *txn, body []byte) *Response {
	m := decode[command.MissionApply](c, body)
	c.meta(m.Meta)
	p := c.s.Policy()
	if m.Digest != "" && m.Digest == p.MissionDigest {
		return &Response{}
	}
	declared := make(map[string]bool, len(m.Shards))
	for _, sh := range m.Shards {
		if sh.Name == "" {
			return &Response{Err: errorf(ErrInvalid, "mission shard without a name")}
		}
		declared[sh.Name] = true
	}
	for _, n := range m.Nodes {
		if n.ID == "" {
			return &Response{Err: errorf(ErrInvalid, "mission node without an id")}
		}
		if !declared[n.Shard] && c.s.Shard(n.Shard) == nil {
			return &Response{Err: errorf(ErrUnknownShard, "%s (node %s)", n.Shard, n.ID)}
		}
	}
	for i := range m.Shards {
		sh := m.Shards[i]
		if old := c.s.Shard(sh.Name); old != nil {
			sh.Paused, sh.CreatedAt = old.Paused, old.CreatedAt
			sh.ServiceMeanNs, sh.ServiceSamples = old.ServiceMeanNs, old.ServiceSamples
			c.s.PutShard(&sh)
			c.emit(state.Event{Type: state.EvShardUpdated, Shard: sh.Name, Detail: "mission"})
		} else {
			sh.CreatedAt = c.time
			c.s.PutShard(&sh)
			c.emit(state.Event{Type: state.EvShardRegistered, Shard: sh.Name, Detail: "mission"})
		}
	}
	for i := range m.Nodes {
		n := m.Nodes[i]
		if old := c.s.Node(n.ID); old != nil {
			n.Status, n.StatusReason, n.Client = old.Status, old.StatusReason, old.Client
			n.RegisteredAt, n.LastStatusAt, n.MeasuredLatencyMs = old.RegisteredAt, old.LastStatusAt, old.MeasuredLatencyMs
			if old.PriceSource == state.PricePlugin {
				// The plugin's schedule stays in force over the mission's.
				n.DeclaredPrice, n.Price, n.PriceSource = n.Price, old.Price, old.PriceSource
			}
			c.s.PutNode(&n)
			c.emit(state.Event{Type: state.EvNodeUpdated, Node: n.ID, Shard: n.Shard, Detail: "mission"})
			c.shed(&n)
		} else {
			n.Status, n.StatusReason = state.NodeDown, awaitingClient
			n.RegisteredAt, n.LastStatusAt = c.time, c.time
			c.s.PutNode(&n)
			c.emit(state.Event{Type: state.EvNodeRegistered, Node: n.ID, Shard: n.Shard, Detail: "mission"})
		}
	}
	c.setPolicy(func(p *state.Policy) {
		p.MissionName, p.MissionDigest, p.MissionSeed = m.Name, m.Digest, m.Seed
		p.CheckpointIntervalMs, p.CheckpointPath = m.CheckpointMs, m.CheckpointPath
		p.ReportingDir, p.ReportingLabel = m.ReportingDir, m.ReportingLabel
		p.CompliancePolicy = m.CompliancePolicy
		p.JobGCThresholdMs, p.JobGCIntervalMs = m.JobGCThresholdMs, m.JobGCIntervalMs
		p.JobGCBatch, p.IdempotencyWindowMs = m.JobGCBatch, m.IdempotencyWindowMs
		p.Schedule = m.Schedule
		p.MaxAttempts = m.MaxAttempts
		if p.MissionStart == 0 {
			p.MissionStart = m.Meta.Time
		}
	})
	c.emit(state.Event{Type: state.EvMissionApplied, Detail: m.Digest, Reason: m.Name})
	c.unpark()
	c.owner()
	return &Response{}
}

func applyNodeRegister(c *txn, body []byte) *Response {
	m := decode[command.NodeRegister](c, body)
	c.meta(m.Meta)
	n := m.Node
	if n.ID == "" {
		return &Response{Err: errorf(ErrInvalid, "node without an id")}
	}
	if c.s.Shard(n.Shard) == nil {
		return &Response{Err: errorf(ErrUnknownShard, "%s (node %s)", n.Shard, n.ID)}
	}
	old := c.s.Node(n.ID)
	if old != nil {
		n.RegisteredAt, n.MeasuredLatencyMs = old.RegisteredAt, old.MeasuredLatencyMs
		if old.PriceSource == state.PricePlugin {
			// The plugin's schedule stays in force over the declared one.
			n.DeclaredPrice, n.Price, n.PriceSource = n.Price, old.Price, old.PriceSource
		}
		if n.Client == "" {
			n.Client = old.Client
		}
		if n.Status == state.NodeUnknown {
			n.Status, n.StatusReason, n.LastStatusAt = old.Status, old.StatusReason, old.LastStatusAt
		}
	} else {
		n.RegisteredAt = c.time
	}
	if n.Status == state.NodeUnknown {
		n.Status, n.StatusReason = state.NodeUp, ""
		if n.Client == "" {
			n.Status, n.StatusReason = state.NodeDown, awaitingClient
		}
	}
	if old == nil || old.Status != n.Status {
		n.LastStatusAt = c.time
	}
	c.s.PutNode(&n)
	c.emit(state.Event{Type: state.EvNodeRegistered, Node: n.ID, Shard: n.Shard, Reason: m.Meta.Reason, Detail: n.Status.String()})
	if old != nil {
		if n.Status != state.NodeUp && n.Status != state.NodeRetired {
			c.requeueActive(n.ID, "node "+n.Status.String(), n.Status == state.NodeDown)
		} else if old.Shard != n.Shard {
			c.requeueActive(n.ID, "node moved to shard "+n.Shard, false)
		} else {
			c.shed(&n)
		}
	}
	c.unpark()
	c.owner()
	return &Response{}
}

func applyNodeUpdate(c *txn, body []byte) *Response {
	m := decode[command.NodeUpdate](c, body)
	c.meta(m.Meta)
	old := c.s.Node(m.ID)
	if old == nil {
		return &Response{Err: errorf(ErrUnknownNode, "%s", m.ID)}
	}
	n := old.Clone()
	for _, f := range m.Fields {
		switch f {
		case command.NodeCapacity:
			n.Capacity = m.Node.Capacity
		case command.NodeMaxConcurrency:
			n.MaxConcurrency = m.Node.MaxConcurrency
		case command.NodeQuota:
			n.Quota = m.Node.Quota
		case command.NodePrice:
			// The mission's or an owner's schedule: in force unless the
			// plugin's overrides it.
			if n.PriceSource == state.PricePlugin {
				n.DeclaredPrice = m.Node.Price
			} else {
				n.Price = m.Node.Price
			}
		case command.NodePluginPrice:
			// The schedule the node's plugin published wins over the
			// mission's, which is kept.
			if n.PriceSource != state.PricePlugin {
				n.DeclaredPrice = n.Price
			}
			n.Price, n.PriceSource = m.Node.Price, state.PricePlugin
		case command.NodeDeployment:
			n.Deployment = m.Node.Deployment
		case command.NodeAttestations:
			n.Attestations = m.Node.Attestations
		case command.NodeCapabilities:
			n.Capabilities = m.Node.Capabilities
		case command.NodeLatencyMs:
			n.LatencyMs = m.Node.LatencyMs
		case command.NodeLabels:
			n.Labels = m.Node.Labels
		case command.NodeEndpoint:
			n.Endpoint = m.Node.Endpoint
		case command.NodeHeartbeatSec:
			n.HeartbeatSec = m.Node.HeartbeatSec
		case command.NodePluginKind:
			n.PluginKind = m.Node.PluginKind
		case command.NodePluginState:
			n.PluginState, n.PluginCrashes, n.PluginReason = m.Node.PluginState, m.Node.PluginCrashes, m.Node.PluginReason
		default:
			return &Response{Err: errorf(ErrUnknownField, "node field %q", f)}
		}
	}
	c.s.PutNode(n)
	c.emit(state.Event{Type: state.EvNodeUpdated, Node: n.ID, Shard: n.Shard, Reason: m.Meta.Reason, Detail: strings.Join(m.Fields, ",")})
	if len(m.Fields) == 1 && m.Fields[0] == command.NodePluginState {
		// A report, not a change of what the node offers: no requeue or
		// unpark (the node's status follows its heartbeats).
		return &Response{}
	}
	c.shed(n)
	c.unpark()
	c.owner()
	return &Response{}
}

func applyNodeStatus(c *txn, body []byte) *Response {
	m := decode[command.NodeStatusChange](c, body)
	c.meta(m.Meta)
	old := c.s.Node(m.ID)
	if old == nil {
		return &Response{Err: errorf(ErrUnknownNode, "%s", m.ID)}
	}
	if old.Status == state.NodeRetired && m.Status != state.NodeRetired {
		return &Response{Err: errorf(ErrNodeRetired, "%s", m.ID)}
	}
	n := old.Clone()
	if m.MeasuredLatencyMs > 0 {
		n.MeasuredLatencyMs = m.MeasuredLatencyMs
	}
	if old.Status == m.Status {
		if n.MeasuredLatencyMs != old.MeasuredLatencyMs {
			c.s.PutNode(n)
			c.emit(state.Event{Type: state.EvNodeUpdated, Node: n.ID, Shard: n.Shard, Detail: "measured_latency_ms"})
		}
		return &Response{}
	}
	n.Status, n.StatusReason, n.LastStatusAt = m.Status, m.Meta.Reason, c.time
	c.s.PutNode(n)
	switch m.Status {
	case state.NodeUp:
		c.emit(state.Event{Type: state.EvNodeUp, Node: n.ID, Shard: n.Shard, Reason: m.Meta.Reason})
		c.unpark()
	case state.NodeDown:
		c.emit(state.Event{Type: state.EvNodeDown, Node: n.ID, Shard: n.Shard, Reason: m.Meta.Reason})
		c.requeueActive(n.ID, "node down", true)
	case state.NodeRetired:
		c.emit(state.Event{Type: state.EvNodeRetired, Node: n.ID, Shard: n.Shard, Reason: m.Meta.Reason})
	default:
		panic(fmt.Sprintf("raftfsm: node status %d at index %d", m.Status, c.index))
	}
	return &Response{}
}

func applyNodeRetire(c *txn, body []byte) *Response {
	m := decode[command.NodeRetire](c, body)
	c.meta(m.Meta)
	old := c.s.Node(m.ID)
	if old == nil {
		return &Response{Err: errorf(ErrUnknownNode, "%s", m.ID)}
	}
	if old.Status != state.NodeRetired {
		n := old.Clone()
		n.Status, n.StatusReason, n.LastStatusAt = state.NodeRetired, m.Meta.Reason, c.time
		c.s.PutNode(n)
		c.emit(state.Event{Type: state.EvNodeRetired, Node: n.ID, Shard: n.Shard, Reason: m.Meta.Reason})
	}
	if m.Requeue {
		c.requeueActive(m.ID, "node retired", false)
	}
	c.owner()
	return &Response{}
}

// applyNodeDrain starts, forces or ends a node's drain. A draining node
// takes no new work (state.Node.Hold); its active jobs finish there unless
// the drain is forced (by the owner, or by the leader at the deadline),
// which requeues them. Each step is one node.updated event.
func applyNodeDrain(c *txn, body []byte) *Response {
	m := decode[command.NodeDrain](c, body)
	c.meta(m.Meta)
	old := c.s.Node(m.ID)
	if old == nil {
		return &Response{Err: errorf(ErrUnknownNode, "%s", m.ID)}
	}
	n := old.Clone()
	ev := state.Event{Type: state.EvNodeUpdated, Node: n.ID, Shard: n.Shard, Reason: m.Meta.Reason}
	switch {
	case m.Disable:
		if !n.Draining() {
			return &Response{}
		}
		n.DrainSince, n.DrainDeadline, n.DrainReason = 0, 0, ""
		c.s.PutNode(n)
		ev.Detail = "drain ended"
		c.emit(ev)
		c.unpark()
	default:
		if !n.Draining() {
			n.DrainSince, n.DrainReason = c.time, m.Meta.Reason
			ev.Detail = "draining"
		} else {
			ev.Detail = "drain changed"
		}
		if m.DeadlineMs > 0 {
			n.DrainDeadline = c.time + m.DeadlineMs*int64(time.Millisecond)
			ev.Detail += ", deadline " + (time.Duration(m.DeadlineMs) * time.Millisecond).String()
		}
		c.s.PutNode(n)
		if m.Force {
			ev.Detail += "; drain forced: jobs requeued"
		}
		c.emit(ev)
		if m.Force {
			c.requeueActive(m.ID, "node drained", false)
		}
	}
	c.owner()
	return &Response{}
}

func applyNodeClaim(c *txn, body []byte) *Response {
	m := decode[command.NodeClaim](c, body)
	c.meta(m.Meta)
	out := make([]Outcome, 0, len(m.Nodes))
	up := false
	for _, id := range m.Nodes {
		old := c.s.Node(id)
		switch {
		case old == nil:
			out = append(out, rejected(id, "unknown node"))
			continue
		case old.Status == state.NodeRetired:
			out = append(out, rejected(id, "node is retired"))
			continue
		case old.Client == m.Client && old.Status == state.NodeUp:
			out = append(out, dup(id, "already claimed"))
			continue
		}
		n := old.Clone()
		n.Client = m.Client
		if n.Status != state.NodeUp {
			n.Status, n.StatusReason, n.LastStatusAt = state.NodeUp, "", c.time
			c.s.PutNode(n)
			c.emit(state.Event{Type: state.EvNodeUp, Node: id, Shard: n.Shard, Detail: "claimed by " + m.Client})
			up = true
		} else {
			c.s.PutNode(n)
			c.emit(state.Event{Type: state.EvNodeUpdated, Node: id, Shard: n.Shard, Detail: "claimed by " + m.Client})
		}
		out = append(out, applied(id))
	}
	if up {
		c.unpark()
	}
	return &Response{Outcomes: out}
}

func applyShardRegister(c *txn, body []byte) *Response {
	m := decode[command.ShardRegister](c, body)
	c.meta(m.Meta)
	sh := m.Shard
	if sh.Name == "" {
		return &Response{Err: errorf(ErrInvalid, "shard without a name")}
	}
	if c.s.Shard(sh.Name) != nil {
		return &Response{Err: errorf(ErrShardExists, "%s", sh.Name)}
	}
	sh.CreatedAt = c.time
	c.s.PutShard(&sh)
	c.emit(state.Event{Type: state.EvShardRegistered, Shard: sh.Name, Reason: m.Meta.Reason})
	c.unpark()
	c.owner()
	return &Response{}
}

func applyShardUpdate(c *txn, body []byte) *Response {
	m := decode[command.ShardUpdate](c, body)
	c.meta(m.Meta)
	old := c.s.Shard(m.Name)
	if old == nil {
		return &Response{Err: errorf(ErrUnknownShard, "%s", m.Name)}
	}
	sh := old.Clone()
	for _, f := range m.Fields {
		switch f {
		case command.ShardLatencyBudgetMs:
			sh.LatencyBudgetMs = m.Shard.LatencyBudgetMs
		case command.ShardMaxQueue:
			sh.MaxQueue = m.Shard.MaxQueue
		case command.ShardQueueAlertThreshold:
			sh.QueueAlertThreshold = m.Shard.QueueAlertThreshold
		case command.ShardSpilloverTargets:
			sh.SpilloverTargets = m.Shard.SpilloverTargets
		case command.ShardPolicies:
			sh.Policies = m.Shard.Policies
		case command.ShardDisplayName:
			sh.DisplayName = m.Shard.DisplayName
		case command.ShardRegion:
			sh.Region = m.Shard.Region
		case command.ShardSpillGraceMs:
			sh.SpillGraceMs = m.Shard.SpillGraceMs
		default:
			return &Response{Err: errorf(ErrUnknownField, "shard field %q", f)}
		}
	}
	c.s.PutShard(sh)
	c.emit(state.Event{Type: state.EvShardUpdated, Shard: sh.Name, Reason: m.Meta.Reason, Detail: strings.Join(m.Fields, ",")})
	c.unpark()
	c.owner()
	return &Response{}
}

// shardJobs returns the queued, parked, assigned and running jobs of a shard
// in seq order.
func shardJobs(s *state.Store, name string) []*state.Job {
	var out []*state.Job
	s.Queue(name, func(j *state.Job) bool { out = append(out, j); return true })
	s.Parked(func(j *state.Job) bool {
		if j.Shard == name {
			out = append(out, j)
		}
		return true
	})
	for _, n := range s.Nodes() {
		s.Active(n.ID, func(j *state.Job) bool {
			if j.Shard == name {
				out = append(out, j)
			}
			return true
		})
	}
	sortBySeq(out)
	return out
}

func applyShardDeregister(c *txn, body []byte) *Response {
	m := decode[command.ShardDeregister](c, body)
	c.meta(m.Meta)
	if c.s.Shard(m.Name) == nil {
		return &Response{Err: errorf(ErrUnknownShard, "%s", m.Name)}
	}
	for _, h := range c.s.OpenHandOffs("") {
		if h.FromShard == m.Name {
			return &Response{Err: errorf(ErrShardNotEmpty, "%s has job %s in hand-off %s to region %s", m.Name, h.Job.ID, h.ID, h.ToRegion)}
		}
	}
	jobs := shardJobs(c.s, m.Name)
	if !m.Cancel {
		if m.SpillTo == "" && len(jobs) > 0 {
			return &Response{Err: errorf(ErrShardNotEmpty, "%s holds %d jobs", m.Name, len(jobs))}
		}
		if m.SpillTo != "" && (m.SpillTo == m.Name || c.s.Shard(m.SpillTo) == nil) {
			return &Response{Err: errorf(ErrUnknownShard, "spill target %q", m.SpillTo)}
		}
		if m.SpillTo != "" {
			// Every job moves or none: the flows must take them all.
			var moved int64
			ok := true
			for _, j := range jobs {
				if moved, ok = state.AddChecked(moved, j.ValueMu); !ok {
					break
				}
			}
			err := c.s.CheckFlow(moved)
			if !ok {
				err = fmt.Errorf("%w: the jobs of shard %s are worth more than int64", state.ErrLedgerOverflow, m.Name)
			}
			if err != nil {
				return &Response{Err: fmt.Errorf("%w: spill to %s: %w", ErrInvalid, m.SpillTo, err)}
			}
		}
	}
	for _, j := range jobs {
		if m.Cancel {
			c.cancel(j, "shard deregistered")
		} else {
			c.move(j, m.SpillTo, state.EvJobSpilled, "shard deregistered")
		}
	}
	for _, n := range c.s.NodesOfShard(m.Name) {
		if n.Status != state.NodeRetired {
			nn := n.Clone()
			nn.Status, nn.StatusReason, nn.LastStatusAt = state.NodeRetired, "shard deregistered", c.time
			c.s.PutNode(nn)
			c.emit(state.Event{Type: state.EvNodeRetired, Node: n.ID, Shard: m.Name, Reason: "shard deregistered"})
		}
	}
	c.s.DeleteShard(m.Name)
	c.emit(state.Event{Type: state.EvShardDeregistered, Shard: m.Name, To: m.SpillTo, Reason: m.Meta.Reason})
	c.owner()
	return &Response{}
}

func applyPause(c *txn, body []byte) *Response {
	m := decode[command.Pause](c, body)
	c.meta(m.Meta)
	if m.Shard == "" {
		c.setPolicy(func(p *state.Policy) { p.SystemPaused = m.Paused })
		ev := state.EvSystemResumed
		if m.Paused {
			ev = state.EvSystemPaused
		}
		c.emit(state.Event{Type: ev, Reason: m.Meta.Reason})
	} else {
		old := c.s.Shard(m.Shard)
		if old == nil {
			return &Response{Err: errorf(ErrUnknownShard, "%s", m.Shard)}
		}
		sh := old.Clone()
		sh.Paused = m.Paused
		c.s.PutShard(sh)
		ev := state.EvShardResumed
		if m.Paused {
			ev = state.EvShardPaused
		}
		c.emit(state.Event{Type: ev, Shard: m.Shard, Reason: m.Meta.Reason})
	}
	if m.Paused {
		c.setPolicy(func(p *state.Policy) { p.Pauses++ })
	}
	c.owner()
	return &Response{}
}
