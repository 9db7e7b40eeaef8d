package mission

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/planetary/planetary/core/validate"
	"github.com/planetary/planetary/raftfsm/command"
)

// decodeSchedule reads one schedule entry: the common attributes first, then
// the action's own arguments from the rest of the body. ok is false when the
// entry is unusable (a diagnostic was added).
func (p *parser) decodeSchedule(doc *BlockDoc, b *hcl.Block, idx int) (ScheduleEntry, bool) {
	e := ScheduleEntry{ID: checkName(b, "schedule entry", &p.diags), AtMs: -1}
	c, rest, d := b.Body.PartialContent(doc.bodySchema())
	p.diags = append(p.diags, d...)
	r := newReader(doc.Attributes, c.Attributes, b.DefRange, &p.diags)
	e.Note = r.String("note")
	e.Reason = r.String("reason")
	hasAt, hasAfter := r.Has("at"), r.Has("after_completed")
	switch {
	case hasAt && hasAfter:
		p.errorf(r.Range("after_completed"), "Conflicting triggers",
			"Schedule entry %q sets both at and after_completed; set one.", e.ID)
	case !hasAt && !hasAfter:
		p.errorf(b.DefRange, "Missing trigger",
			"Schedule entry %q needs at (a mission-clock offset such as \"900ms\") or after_completed (a job count).", e.ID)
	case hasAt:
		e.AtMs = r.Duration("at")
	default:
		e.AfterCompleted = r.NonNegInt("after_completed")
	}
	if _, ok := c.Attributes["action"]; !ok {
		return e, false
	}
	e.Action = r.String("action")
	var ad *ActionDoc
	for i := range doc.Actions {
		if doc.Actions[i].Name == e.Action {
			ad = &doc.Actions[i]
		}
	}
	if ad == nil {
		names := make([]string, len(doc.Actions))
		for i, a := range doc.Actions {
			names[i] = a.Name
		}
		p.errorf(r.Range("action"), "Unknown schedule action",
			"%q is not an owner command. Valid actions: %s.", e.Action, strings.Join(names, ", "))
		return e, false
	}
	args := &BlockDoc{Name: e.Action, Attributes: ad.Attributes, Blocks: ad.Blocks}
	ar, blocks := content(args, rest, b.DefRange, &p.diags)
	for _, bd := range ad.Blocks {
		if bd.Required && len(blocks[bd.Name]) == 0 {
			p.errorf(b.DefRange, "Missing "+bd.Name+" block",
				"Action %q needs a nested %s %q { ... } block.", e.Action, bd.Name, strings.ToUpper(bd.Labels[0]))
		}
	}
	if len(ad.OneOf) > 0 {
		set := false
		for _, n := range ad.OneOf {
			set = set || ar.Has(n)
		}
		if !set {
			p.errorf(b.DefRange, "Missing action argument",
				"Action %q needs at least one of: %s.", e.Action, strings.Join(ad.OneOf, ", "))
		}
	}
	e.Args = p.decodeAction(args, ar, blocks, e, idx)
	return e, e.Args != nil
}

func (p *parser) decodeAction(doc *BlockDoc, r *reader, blocks map[string]hcl.Blocks, e ScheduleEntry, idx int) OwnerAction {
	what := fmt.Sprintf("schedule entry %q", e.ID)
	shardArg := func(name string) string {
		s := r.NonEmpty(name)
		p.refer("shard", s, r.Range(name), what, idx)
		return s
	}
	nodeArg := func() string {
		n := r.NonEmpty("node")
		p.refer("node", n, r.Range("node"), what, idx)
		return n
	}
	switch e.Action {
	case ActSystemPause, ActSystemResume:
		return &PauseAction{Paused: e.Action == ActSystemPause}
	case ActShardPause, ActShardResume:
		return &PauseAction{Shard: shardArg("shard"), Paused: e.Action == ActShardPause}
	case ActShardRegister:
		bs := blocks["shard"]
		if len(bs) == 0 {
			return nil
		}
		s := p.decodeShard(doc.block("shard"), bs[0], idx)
		if p.declare(p.shards, "shard", s.Name, bs[0]) {
			delete(p.shards, s.Name) // registered later, not declared
			p.regs = append(p.regs, reg{kind: "shard", name: s.Name, entry: idx})
		}
		return &ShardRegisterAction{Shard: s}
	case ActShardDeregister:
		a := &ShardDeregisterAction{Shard: shardArg("shard"), Mode: r.String("mode"), Target: r.String("target")}
		switch a.Mode {
		case "spillover":
			if a.Target == "" {
				p.errorf(r.Range("mode"), "Missing action argument",
					"Action %q with mode \"spillover\" needs target (the shard that receives the jobs).", e.Action)
			} else if p.rule(r.Range("target"), "Spillover to itself", validate.SpillTarget("target", a.Shard, a.Target)) {
				p.refer("shard", a.Target, r.Range("target"), what, idx)
			}
		case "cancel":
			if r.Has("target") {
				p.errorf(r.Range("target"), "Unexpected target", "Mode \"cancel\" cancels the jobs; remove target or use mode \"spillover\".")
			}
		default:
			p.errorf(r.Range("mode"), "Invalid mode", "mode must be \"spillover\" or \"cancel\", got %q.", a.Mode)
		}
		return a
	case ActShardUpdate:
		a := &ShardUpdateAction{Shard: shardArg("shard")}
		a.Values = Shard{Name: a.Shard}
		for _, f := range command.ShardOwnerFields {
			if !r.Has(f) {
				continue
			}
			a.Fields = append(a.Fields, f)
			switch f {
			case command.ShardDisplayName:
				a.Values.DisplayName = r.String(f)
			case command.ShardSpilloverTargets:
				a.Values.SpilloverTargets = r.Strings(f)
				for i, t := range a.Values.SpilloverTargets {
					rng := r.StringRanges(f, len(a.Values.SpilloverTargets))[i]
					if p.rule(rng, "Spillover to itself", validate.SpillTarget(f, a.Shard, t)) {
						p.refer("shard", t, rng, what, idx)
					}
				}
			case command.ShardLatencyBudgetMs:
				a.Values.LatencyBudgetMs = r.NonNegInt(f)
			case command.ShardMaxQueue:
				a.Values.MaxQueue = r.NonNegInt(f)
			case command.ShardQueueAlertThreshold:
				a.Values.QueueAlertThreshold = r.NonNegInt(f)
			}
		}
		if bs := blocks["spillover"]; len(bs) > 0 {
			a.Fields = append(a.Fields, command.ShardPolicies)
			a.Values.Spillover = p.decodeSpillovers(doc.block("spillover"), bs, a.Shard, idx)
		}
		if len(a.Fields) == 0 {
			p.errorf(r.defRange, "Missing action argument", "Action %q changes nothing: set at least one shard attribute or spillover block.", e.Action)
		}
		return a
	case ActNodeRegister:
		bs := blocks["node"]
		if len(bs) == 0 {
			return nil
		}
		n := p.decodeNode(doc.block("node"), bs[0], idx)
		if p.declare(p.nodes, "node", n.ID, bs[0]) {
			delete(p.nodes, n.ID)
			p.regs = append(p.regs, reg{kind: "node", name: n.ID, entry: idx})
			p.nodeCaps[n.Shard] = append(p.nodeCaps[n.Shard], n)
		}
		return &NodeRegisterAction{Node: n}
	case ActNodeRetire:
		return &NodeRetireAction{Node: nodeArg(), Requeue: r.Bool("requeue")}
	case ActNodeUpdate:
		a := &NodeUpdateAction{Node: nodeArg()}
		a.Values.ID = a.Node
		for _, f := range command.NodeOwnerFields {
			if !r.Has(f) {
				continue
			}
			a.Fields = append(a.Fields, f)
			switch f {
			case command.NodeCapacity:
				a.Values.Capacity = r.NonNegInt(f)
			case command.NodeMaxConcurrency:
				a.Values.MaxConcurrency = r.NonNegInt(f)
			case command.NodeQuota:
				a.Values.Quota = r.NonNegInt(f)
			case command.NodeLatencyMs:
				a.Values.LatencyMs = r.NonNegInt(f)
			case command.NodeCapabilities:
				a.Values.Capabilities = r.Strings(f)
			case command.NodeLabels:
				a.Values.Labels = r.Strings(f)
			case command.NodeEndpoint:
				a.Values.Endpoint = r.String(f)
			}
		}
		if bs := blocks["price"]; len(bs) > 0 {
			a.Fields = append(a.Fields, command.NodePrice)
			a.Values.Price = p.decodePrice(doc.block("price"), bs)
		}
		if bs := blocks["attestations"]; len(bs) > 0 {
			a.Fields = append(a.Fields, command.NodeAttestations)
			a.Values.Attestations = p.decodeAttestations(doc.block("attestations"), bs)
		}
		if bs := blocks["deployment"]; len(bs) > 0 {
			a.Fields = append(a.Fields, command.NodeDeployment)
			a.Values.Deployment = p.decodeDeployment(doc.block("deployment"), bs)
		}
		if len(a.Fields) == 0 {
			p.errorf(r.defRange, "Missing action argument", "Action %q changes nothing: set at least one node attribute or block.", e.Action)
		}
		return a
	case ActJobCancel, ActJobReroute:
		a := &JobAction{Reroute: e.Action == ActJobReroute, IDs: r.Strings("ids")}
		if r.Has("shard") {
			a.Locator = &Locator{Shard: shardArg("shard"), Tail: r.NonNegInt("tail"), Offset: r.NonNegInt("offset"), InFlight: r.Bool("in_flight")}
			if len(a.IDs) > 0 {
				p.errorf(r.Range("shard"), "Conflicting job selection", "Select jobs by ids or by a shard locator, not both.")
			}
		} else {
			for _, f := range []string{"tail", "offset", "in_flight"} {
				if r.Has(f) {
					p.errorf(r.Range(f), "Locator without shard", "%s only applies to a locator: set shard too.", f)
				}
			}
		}
		if a.Reroute {
			a.Target = r.NonEmpty("target")
			p.refer("shard", a.Target, r.Range("target"), what, idx)
			if a.Locator != nil {
				p.rule(r.Range("target"), "Spillover to itself", validate.RerouteTarget(a.Locator.Shard, a.Target))
			}
		}
		return a
	case ActCheckpointSave:
		return &CheckpointSaveAction{}
	case ActCheckpointConfigure:
		a := &CheckpointConfigureAction{IntervalMs: max(r.Duration("interval"), 0), Path: r.NonEmpty("path")}
		p.paths = append(p.paths, pathRef{a.Path, "checkpoint path", r.Range("path")})
		if r.Has("interval") && a.IntervalMs == 0 {
			p.errorf(r.Range("interval"), "Invalid duration", "The checkpoint interval must be positive.")
		}
		return a
	case ActReportingConfigure:
		a := &ReportingConfigureAction{Dir: r.NonEmpty("directory"), Label: r.NonEmpty("label")}
		if a.Label != "" {
			r.limit("label", validate.ReportingLabel(a.Label))
		}
		p.paths = append(p.paths, pathRef{a.Dir, "report directory", r.Range("directory")})
		return a
	}
	if s, ok := command.ByName(e.Action); ok && s.Described() {
		return p.decodeDescribed(s, r, e, idx)
	}
	panic(fmt.Sprintf("mission: action %q is declared but not decoded", e.Action))
}
