package server

import (
	"context"
	"fmt"
	"slices"

	"github.com/planetary/planetary/core/limits"
	"github.com/planetary/planetary/core/validate"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// Fabric endpoints: shards and nodes. Each is its method, its row and its
// check.

// RegisterShard adds a shard (shard.register).
func (s *Server) RegisterShard(ctx context.Context, a Actor, req command.ShardRegister) (Result, error) {
	return s.call(ctx, a, epRegisterShard, req.Meta.Reason, &req)
}

var epRegisterShard = row("shard.register", command.ShardRegisterType, CapManage,
	func(_ *Server, st *state.Store, c *command.ShardRegister) error {
		if err := checkShardValues(c.Shard); err != nil {
			return err
		}
		if st.Shard(c.Shard.Name) != nil {
			return refusal(Conflict, "name", "shard %q already exists", c.Shard.Name)
		}
		return requireTargets(st, c.Shard)
	})

// UpdateShard changes the fields of a shard that req.Fields names
// (shard.update).
func (s *Server) UpdateShard(ctx context.Context, a Actor, req command.ShardUpdate) (Result, error) {
	return s.call(ctx, a, epUpdateShard, req.Meta.Reason, &req)
}

var epUpdateShard = row("shard.update", command.ShardUpdateType, CapManage,
	func(_ *Server, st *state.Store, c *command.ShardUpdate) error {
		if err := requireShard(st, "", c.Name); err != nil {
			return err
		}
		if err := checkFieldNames(command.ShardUpdateType, c.Fields); err != nil {
			return err
		}
		v := c.Shard
		v.Name = c.Name
		if err := checkShardValues(v); err != nil {
			return err
		}
		return requireTargets(st, v)
	})

// DeregisterShard removes a shard, spilling or cancelling its jobs
// (shard.deregister).
func (s *Server) DeregisterShard(ctx context.Context, a Actor, req command.ShardDeregister) (Result, error) {
	return s.call(ctx, a, epDeregisterShard, req.Meta.Reason, &req)
}

var epDeregisterShard = row("shard.deregister", command.ShardDeregisterType, CapManage,
	func(_ *Server, st *state.Store, c *command.ShardDeregister) error {
		if err := requireShard(st, "", c.Name); err != nil {
			return err
		}
		if err := validate.Deregister(c.Name, c.SpillTo, c.Cancel); err != nil || c.SpillTo == "" {
			return err
		}
		return requireShard(st, "spill_to", c.SpillTo)
	})

// RegisterNode adds a node (node.register).
func (s *Server) RegisterNode(ctx context.Context, a Actor, req command.NodeRegister) (Result, error) {
	return s.call(ctx, a, epRegisterNode, req.Meta.Reason, &req)
}

var epRegisterNode = row("node.register", command.NodeRegisterType, CapManage,
	func(_ *Server, st *state.Store, c *command.NodeRegister) error {
		if err := checkNodeValues(c.Node, ""); err != nil {
			return err
		}
		if err := requireShard(st, "shard", c.Node.Shard); err != nil {
			return err
		}
		if st.Node(c.Node.ID) != nil {
			return refusal(Conflict, "id", "node %q already exists", c.Node.ID)
		}
		return nil
	})

// UpdateNode changes the fields of a node that req.Fields names
// (node.update).
func (s *Server) UpdateNode(ctx context.Context, a Actor, req command.NodeUpdate) (Result, error) {
	return s.call(ctx, a, epUpdateNode, req.Meta.Reason, &req)
}

var epUpdateNode = row("node.update", command.NodeUpdateType, CapManage,
	func(_ *Server, st *state.Store, c *command.NodeUpdate) error {
		if err := requireNode(st, "", c.ID); err != nil {
			return err
		}
		return checkNodeFields(c)
	})

// PublishNodeState records what a client's plugin reports about one of
// the client's nodes (its price, attestations, deployment, capabilities,
// plugin state) as a NodeUpdate attributed to the client.
func (s *Server) PublishNodeState(ctx context.Context, a Actor, req command.NodeUpdate) (Result, error) {
	return s.call(ctx, a, epNodeState, req.Meta.Reason, &req)
}

var epNodeState = row("node.state", command.NodeUpdateType, CapClient,
	func(_ *Server, st *state.Store, c *command.NodeUpdate) error {
		if err := requireNode(st, "", c.ID); err != nil {
			return err
		}
		for _, f := range c.Fields {
			if !slices.Contains(nodeStateFields(), f) {
				return invalid("", "a client does not publish %s", f)
			}
		}
		return checkNodeFields(c)
	})

// nodeStateFields are the NodeUpdate fields a client publishes for its
// nodes.
func nodeStateFields() []string {
	return []string{command.NodeCapabilities, command.NodePluginPrice, command.NodeAttestations,
		command.NodeDeployment, command.NodePluginState}
}

// RetireNode retires a node (node.retire).
func (s *Server) RetireNode(ctx context.Context, a Actor, req command.NodeRetire) (Result, error) {
	return s.call(ctx, a, epRetireNode, req.Meta.Reason, &req)
}

var epRetireNode = row("node.retire", command.NodeRetireType, CapManage,
	func(_ *Server, st *state.Store, c *command.NodeRetire) error { return requireNode(st, "", c.ID) })

// epDrainNode is node.drain, a described command (its route and CLI come
// from its registry row; Server.Command runs it). Its follow-up forces a
// drain whose deadline passed while the node still holds jobs.
var epDrainNode = row("node.drain", command.NodeDrainType, CapManage,
	func(_ *Server, st *state.Store, c *command.NodeDrain) error {
		if err := requireNode(st, "node", c.ID); err != nil {
			return err
		}
		n := st.Node(c.ID)
		switch {
		case n.Status == state.NodeRetired:
			return refusal(Conflict, "node", "node %q is retired", c.ID)
		case c.Disable && (c.Force || c.DeadlineMs != 0):
			return invalid("disable", "disable ends a drain; it takes no deadline or force")
		case c.Disable && !n.Draining():
			return refusal(Conflict, "disable", "node %q is not draining", c.ID)
		case c.Force && c.DeadlineMs != 0:
			return invalid("deadline", "force requeues at once; it takes no deadline")
		}
		return validate.Duration("deadline", c.DeadlineMs)
	}).followUp(func(st *state.Store, now int64) []command.Command {
	var out []command.Command
	for _, n := range st.Nodes() {
		if n.Draining() && n.DrainDeadline != 0 && now >= n.DrainDeadline && st.ActiveCount(n.ID) > 0 {
			out = append(out, &command.NodeDrain{Meta: command.Meta{Reason: "drain deadline passed"}, ID: n.ID, Force: true})
		}
	}
	return out
})

// ---- checks of shards and nodes

// checkFieldNames refuses an empty field mask and a name the command's
// registry row does not list.
func checkFieldNames(t command.MessageType, fields []string) error {
	if len(fields) == 0 {
		return invalid("", "no field to update")
	}
	spec, _ := command.Lookup(t)
	for _, f := range fields {
		if !spec.HasField(f) {
			return invalid("", "%q is not a field of %s", f, spec.Name)
		}
	}
	return nil
}

// checkShardValues checks a shard's own values (no state).
func checkShardValues(sh state.Shard) error {
	if err := validate.First(
		validate.Required("name", sh.Name, "shard name"),
		validate.Limit("name", limits.Name("name", sh.Name)),
		validate.Duration("latency_budget_ms", sh.LatencyBudgetMs),
		validate.Count("max_queue", sh.MaxQueue),
		validate.Count("queue_alert_threshold", sh.QueueAlertThreshold),
		validate.Duration("spill_grace_ms", sh.SpillGraceMs),
		validate.AtMost("spillover_targets", len(sh.SpilloverTargets), limits.MaxCapabilities),
		validate.AtMost("policies", len(sh.Policies), limits.MaxCapabilities),
	); err != nil {
		return err
	}
	for i, t := range sh.SpilloverTargets {
		if err := validate.SpillTarget(fmt.Sprintf("spillover_targets[%d]", i), sh.Name, t); err != nil {
			return err
		}
	}
	for i, p := range sh.Policies {
		f := func(n string) string { return fmt.Sprintf("policies[%d].%s", i, n) }
		if err := validate.First(
			validate.Required(f("target"), p.Target, "spillover target"),
			validate.SpillTarget(f("target"), sh.Name, p.Target),
			validate.Count(f("threshold"), p.Threshold),
			validate.Count(f("max_drain"), p.MaxDrain),
			validate.Count(f("weight"), p.Weight),
			validate.Limit(f("required_capabilities"), limits.Capabilities(f("required_capabilities"), p.RequiredCapabilities)),
		); err != nil {
			return err
		}
	}
	return nil
}

// requireTargets refuses spillover targets that name no shard.
func requireTargets(st *state.Store, sh state.Shard) error {
	targets := slices.Clone(sh.SpilloverTargets)
	fields := make([]string, 0, len(targets)+len(sh.Policies))
	for i := range targets {
		fields = append(fields, fmt.Sprintf("spillover_targets[%d]", i))
	}
	for i, p := range sh.Policies {
		targets, fields = append(targets, p.Target), append(fields, fmt.Sprintf("policies[%d].target", i))
	}
	for i, t := range targets {
		if st.Shard(t) == nil {
			return refusal(NotFound, fields[i], "%s: spillover target shard %q not found", fields[i], t)
		}
	}
	return nil
}

// checkNodeValues checks a node's own values (no state); prefix names its
// position ("nodes[2].").
func checkNodeValues(n state.Node, prefix string) error {
	f := func(name string) string { return prefix + name }
	return validate.First(
		validate.Required(f("id"), n.ID, "node id"),
		validate.Required(f("shard"), n.Shard, "node "+n.ID+": shard"),
		validate.Limit(f("id"), limits.Name(f("id"), n.ID)),
		validate.Limit(f("shard"), limits.Name(f("shard"), n.Shard)),
		validate.Count(f("capacity"), n.Capacity),
		validate.Count(f("max_concurrency"), n.MaxConcurrency),
		validate.Count(f("quota"), n.Quota),
		validate.Duration(f("latency_ms"), n.LatencyMs),
		validate.Count(f("heartbeat_sec"), n.HeartbeatSec),
		validate.Limit(f("capabilities"), limits.Capabilities(f("capabilities"), n.Capabilities)),
		validate.Limit(f("labels"), limits.Labels(f("labels"), n.Labels)),
		checkDeployment(n.Deployment, f("deployment.")),
		checkPriceRecord(n.Price, f("price.")),
		checkAttestations(n.Attestations, f("attestations.")),
	)
}

func checkDeployment(d state.Deployment, prefix string) error {
	return validate.First(
		validate.Count(prefix+"resources.gpus", d.Resources.GPUs),
		validate.Limit(prefix+"zones", limits.Labels(prefix+"zones", d.Zones)),
	)
}

func checkPriceRecord(p state.PriceSchedule, prefix string) error {
	if err := validate.First(
		validate.NonNegative(prefix+"base", p.BaseMu),
		validate.Limit(prefix+"base", limits.Micro(prefix+"base", p.BaseMu)),
		validate.AtMost(prefix+"rates", len(p.Rates), limits.MaxCapabilities),
	); err != nil {
		return err
	}
	for i, r := range p.Rates {
		f := fmt.Sprintf("%srates[%d].per_unit", prefix, i)
		if err := validate.Limit(f, limits.Micro(f, r.PerUnitMu)); err != nil {
			return err
		}
	}
	return nil
}

func checkAttestations(a state.Attestations, prefix string) error {
	labels := func(name string, v []string) error { return validate.Limit(prefix+name, limits.Labels(prefix+name, v)) }
	return validate.First(labels("certifications", a.Certifications), labels("data_residency", a.DataResidency),
		labels("tags", a.Tags))
}

// checkNodeFields checks the values of the fields a NodeUpdate names.
func checkNodeFields(c *command.NodeUpdate) error {
	if err := checkFieldNames(command.NodeUpdateType, c.Fields); err != nil {
		return err
	}
	n := &c.Node
	for _, f := range c.Fields {
		var err error
		switch f {
		case command.NodeCapacity:
			err = validate.Count(f, n.Capacity)
		case command.NodeMaxConcurrency:
			err = validate.Count(f, n.MaxConcurrency)
		case command.NodeQuota:
			err = validate.Count(f, n.Quota)
		case command.NodeLatencyMs:
			err = validate.Duration(f, n.LatencyMs)
		case command.NodeHeartbeatSec:
			err = validate.Count(f, n.HeartbeatSec)
		case command.NodeCapabilities:
			err = validate.Limit(f, limits.Capabilities(f, n.Capabilities))
		case command.NodeLabels:
			err = validate.Limit(f, limits.Labels(f, n.Labels))
		case command.NodePrice, command.NodePluginPrice:
			err = checkPriceRecord(n.Price, "price.")
		case command.NodeDeployment:
			err = checkDeployment(n.Deployment, "deployment.")
		case command.NodeAttestations:
			err = checkAttestations(n.Attestations, "attestations.")
		}
		if err != nil {
			return err
		}
	}
	return nil
}
