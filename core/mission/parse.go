package mission

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/planetary/planetary/core/limits"
	"github.com/planetary/planetary/core/validate"
	"github.com/planetary/planetary/raftfsm/state"
)

// ParseFile reads an HCL file that may hold an agent config, a mission or
// both. The returned File is never nil; its parts are nil when absent.
func ParseFile(path string) (*File, hcl.Diagnostics) {
	src, diags := readFile(path)
	if diags.HasErrors() {
		return &File{Sources: map[string]*hcl.File{}}, diags
	}
	return Parse(src, path)
}

// Parse is ParseFile over bytes; filename names the source in diagnostics.
func Parse(src []byte, filename string) (*File, hcl.Diagnostics) {
	p := hclparse.NewParser()
	out := &File{}
	f, diags := parseHCL(p, src, filename)
	out.Sources = p.Files()
	if f == nil || f.Body == nil {
		return out, capDiagnostics(diags)
	}
	docs := append(agentFileDocs(), missionFileDocs()...)
	top := &BlockDoc{Name: "file", Blocks: docs}
	for i := range top.Blocks {
		top.Blocks[i].Required = false
	}
	c, d := f.Body.Content(top.bodySchema())
	diags = append(diags, d...)
	by := groupBlocks(top.Blocks, c.Blocks, &diags)

	if len(by["agent"]) > 0 || len(by["plugin"]) > 0 {
		out.Agent = decodeAgent(by, &diags)
	}
	ps := &parser{diags: diags}
	out.Mission = ps.decodeMission(by, f.Body.MissingItemRange())
	if out.Agent != nil && out.Mission != nil {
		ps.checkRoots(out.Agent)
	}
	return out, capDiagnostics(ps.diags)
}

// ParseMissionFile parses a file that must hold a mission (an agent config
// in the same file is decoded and checked too).
func ParseMissionFile(path string) (*Mission, hcl.Diagnostics) {
	f, diags := ParseFile(path)
	return requireMission(f, diags, path)
}

// ParseMission is ParseMissionFile over bytes.
func ParseMission(src []byte, filename string) (*Mission, hcl.Diagnostics) {
	f, diags := Parse(src, filename)
	return requireMission(f, diags, filename)
}

// ParseAgentFile parses a file that must hold an agent block (mission blocks
// in the same file are decoded and checked too).
func ParseAgentFile(path string) (*AgentConfig, hcl.Diagnostics) {
	f, diags := ParseFile(path)
	return requireAgent(f, diags, path)
}

// ParseAgent is ParseAgentFile over bytes.
func ParseAgent(src []byte, filename string) (*AgentConfig, hcl.Diagnostics) {
	f, diags := Parse(src, filename)
	return requireAgent(f, diags, filename)
}

func requireMission(f *File, diags hcl.Diagnostics, name string) (*Mission, hcl.Diagnostics) {
	if f.Mission == nil && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Missing mission block",
			Detail:  fmt.Sprintf("%s holds no mission: add a mission \"NAME\" { } block.", name),
			Subject: fileStart(f, name),
		})
	}
	return f.Mission, diags
}

func requireAgent(f *File, diags hcl.Diagnostics, name string) (*AgentConfig, hcl.Diagnostics) {
	if f.Agent == nil && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Missing agent block",
			Detail:  fmt.Sprintf("%s holds no agent configuration: add an agent { } block.", name),
			Subject: fileStart(f, name),
		})
	}
	return f.Agent, diags
}

func fileStart(f *File, name string) *hcl.Range {
	if hf, ok := f.Sources[name]; ok && hf.Body != nil {
		return hf.Body.MissingItemRange().Ptr()
	}
	return &hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}
}

func readFile(path string) ([]byte, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Failed to read file",
			Detail: fmt.Sprintf("The file %q could not be read: %s.", path, err),
		}}
	}
	return src, nil
}

// ref is a reference to a shard or node, checked once everything is read.
type ref struct {
	kind  string // "shard" or "node"
	name  string
	rng   hcl.Range
	what  string // who refers, for the message
	entry int    // schedule position of the referrer; -1 for static declarations
}

// reg is a shard or node registered by a schedule entry.
type reg struct {
	kind, name string
	entry      int
}

type parser struct {
	diags     hcl.Diagnostics
	shards    map[string]hcl.Range
	nodes     map[string]hcl.Range
	refs      []ref
	regs      []reg
	schedule  []ScheduleEntry
	nodeCaps  map[string][]Node // shard -> nodes (declared and registered)
	workloads []wlCheck
	paths     []pathRef // checkpoint and report paths, checked against allowed roots
	// currencies are the price currencies written out, checked against
	// the mission's one currency.
	currencies []pathRef
}

type pathRef struct {
	path, what string
	rng        hcl.Range
}

// checkRoots reports mission paths outside the agent's allowed roots when
// both are in one file.
func (p *parser) checkRoots(a *AgentConfig) {
	for _, pr := range p.paths {
		if pr.path != "" && !a.Allows(pr.path) {
			p.errorf(pr.rng, "Path outside allowed roots",
				"The %s %q is not under any of the agent's allowed_roots (%s).", pr.what, pr.path, strings.Join(a.AllowedRoots, ", "))
		}
	}
}

type wlCheck struct {
	w   Workload
	rng hcl.Range
}

func (p *parser) errorf(rng hcl.Range, summary, format string, args ...any) {
	p.diags = append(p.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: rng.Ptr(),
	})
}

// rule adds the refusal of a shared rule (core/validate, the endpoints'
// too) as a diagnostic at rng; nil adds nothing. It reports whether the
// value passed.
func (p *parser) rule(rng hcl.Range, summary string, err error) bool {
	if err == nil {
		return true
	}
	msg := err.Error()
	p.errorf(rng, summary, "%s.", strings.ToUpper(msg[:1])+msg[1:])
	return false
}

func (p *parser) refer(kind, name string, rng hcl.Range, what string, entry int) {
	if name == "" {
		return
	}
	p.refs = append(p.refs, ref{kind: kind, name: name, rng: rng, what: what, entry: entry})
}

func (p *parser) decodeMission(by map[string]hcl.Blocks, fileRange hcl.Range) *Mission {
	missionKinds := []string{"shard", "node", "compliance", "checkpoint", "reporting", "retention", "workload", "schedule", "plan"}
	if len(by["mission"]) == 0 {
		for _, k := range missionKinds {
			if len(by[k]) > 0 {
				p.errorf(by[k][0].DefRange, "Missing mission block",
					"A %s block belongs to a mission: add a mission \"NAME\" { } block to this file.", k)
				return nil
			}
		}
		return nil
	}
	docs := missionFileDocs()
	doc := func(name string) *BlockDoc {
		for i := range docs {
			if docs[i].Name == name {
				return &docs[i]
			}
		}
		panic("mission: no doc for " + name)
	}
	p.shards, p.nodes, p.nodeCaps = map[string]hcl.Range{}, map[string]hcl.Range{}, map[string][]Node{}
	m := &Mission{Shards: []Shard{}, Nodes: []Node{}, Workloads: []Workload{}, Schedule: []ScheduleEntry{}}

	mb := by["mission"][0]
	m.Name = checkName(mb, "mission", &p.diags)
	r, _ := content(doc("mission"), mb.Body, mb.DefRange, &p.diags)
	seed := r.Int("seed")
	if seed < 0 {
		p.errorf(r.Range("seed"), "Negative value", "Attribute \"seed\" must not be negative, got %d.", seed)
	}
	m.Seed = uint64(max(seed, 0))
	m.Owner = r.String("owner")
	if ma := r.Int("max_attempts"); r.Has("max_attempts") && (ma < 1 || ma > MaxMaxAttempts) {
		p.errorf(r.Range("max_attempts"), "Value out of range", "Attribute \"max_attempts\" must be between 1 and %d, got %d.", MaxMaxAttempts, ma)
	} else {
		m.MaxAttempts = ma
	}
	m.Description = r.String("description")
	m.Currency = r.String("currency")
	if m.Currency == "" {
		m.Currency = DefaultCurrency
	}

	for _, b := range by["shard"] {
		s := p.decodeShard(doc("shard"), b, -1)
		if p.declare(p.shards, "shard", s.Name, b) {
			m.Shards = append(m.Shards, s)
		}
	}
	for _, b := range by["node"] {
		n := p.decodeNode(doc("node"), b, -1)
		if p.declare(p.nodes, "node", n.ID, b) {
			m.Nodes = append(m.Nodes, n)
			p.nodeCaps[n.Shard] = append(p.nodeCaps[n.Shard], n)
		}
	}
	if bs := by["compliance"]; len(bs) > 0 {
		r, _ := content(doc("compliance"), bs[0].Body, bs[0].DefRange, &p.diags)
		m.Compliance.Policy = r.NonEmpty("policy")
	}
	{
		var r *reader
		if bs := by["checkpoint"]; len(bs) > 0 {
			r, _ = content(doc("checkpoint"), bs[0].Body, bs[0].DefRange, &p.diags)
		} else {
			r = newReader(doc("checkpoint").Attributes, nil, fileRange, &p.diags)
		}
		m.Checkpoint.IntervalMs = r.Duration("interval")
		if r.Has("interval") && m.Checkpoint.IntervalMs == 0 {
			p.errorf(r.Range("interval"), "Invalid duration", "The checkpoint interval must be positive.")
		}
		m.Checkpoint.Path = r.NonEmpty("path")
		p.paths = append(p.paths, pathRef{m.Checkpoint.Path, "checkpoint path", r.Range("path")})
	}
	{
		var r *reader
		if bs := by["reporting"]; len(bs) > 0 {
			r, _ = content(doc("reporting"), bs[0].Body, bs[0].DefRange, &p.diags)
		} else {
			r = newReader(doc("reporting").Attributes, nil, fileRange, &p.diags)
		}
		m.Reporting.Dir = r.NonEmpty("directory")
		p.paths = append(p.paths, pathRef{m.Reporting.Dir, "report directory", r.Range("directory")})
		m.Reporting.Label = r.String("label")
		if m.Reporting.Label == "" {
			m.Reporting.Label = m.Name
		}
		if m.Reporting.Label != "" {
			r.limit("label", validate.ReportingLabel(m.Reporting.Label))
		}
	}
	m.Retention = p.decodeRetention(doc("retention"), by["retention"], fileRange)
	seenWl, seenPrefix := map[string]hcl.Range{}, map[string]hcl.Range{}
	for _, b := range by["workload"] {
		w := p.decodeWorkload(doc("workload"), b, m.Name)
		if !p.declare(seenWl, "workload", w.Name, b) {
			continue
		}
		if prev, dup := seenPrefix[w.IDPrefix]; dup {
			p.errorf(b.DefRange, "Duplicate id_prefix",
				"Workload %q uses id_prefix %q, already used at %s; job ids would collide.", w.Name, w.IDPrefix, prev)
			continue
		}
		seenPrefix[w.IDPrefix] = b.DefRange
		m.Workloads = append(m.Workloads, w)
	}
	seenEntry := map[string]hcl.Range{}
	for _, b := range by["schedule"] {
		idx, regs := len(p.schedule), len(p.regs)
		e, ok := p.decodeSchedule(doc("schedule"), b, idx)
		if !p.declare(seenEntry, "schedule entry", e.ID, b) || !ok {
			// An entry left out of the schedule registers nothing.
			p.regs = p.regs[:regs]
			continue
		}
		p.schedule = append(p.schedule, e)
		m.Schedule = append(m.Schedule, e)
	}
	if bs := by["plan"]; len(bs) > 0 {
		m.Plan = p.decodePlan(doc("plan"), bs[0])
	}
	p.checkRefs()
	p.checkCapabilities(m)
	p.checkCurrency(m)
	return m
}

// DefaultCurrency is the currency label of a mission that names none.
const DefaultCurrency = "credits"

// checkCurrency gives every price the mission's currency: money is one unit
// across the fabric, so a price in another currency is an error, and a price
// that names none takes the mission's.
func (p *parser) checkCurrency(m *Mission) {
	for _, c := range p.currencies {
		if c.path != m.Currency {
			p.errorf(c.rng, "Mixed currencies",
				"This price is in %q but the mission's currency is %q: every price, value and payment of a fabric is in the mission's one currency. Drop this attribute (the price then takes it) or change mission { currency }.",
				c.path, m.Currency)
		}
	}
	for i := range m.Nodes {
		m.Nodes[i].Price.Currency = m.Currency
	}
	for i := range m.Schedule {
		switch a := m.Schedule[i].Args.(type) {
		case *NodeRegisterAction:
			a.Node.Price.Currency = m.Currency
		case *NodeUpdateAction:
			a.Values.Price.Currency = m.Currency
		}
	}
}

// declare records name in seen and reports a duplicate.
func (p *parser) declare(seen map[string]hcl.Range, what, name string, b *hcl.Block) bool {
	if name == "" {
		return false
	}
	if prev, dup := seen[name]; dup {
		p.errorf(labelRange(b), "Duplicate "+what, "The %s %q is already declared at %s.", what, name, prev)
		return false
	}
	seen[name] = labelRange(b)
	return true
}

func (p *parser) decodeShard(doc *BlockDoc, b *hcl.Block, entry int) Shard {
	s := Shard{Name: checkName(b, "shard", &p.diags)}
	r, blocks := content(doc, b.Body, b.DefRange, &p.diags)
	s.DisplayName = r.String("display_name")
	s.Region = r.String("region")
	if s.Region == "" {
		s.Region = s.Name
	}
	s.LatencyBudgetMs = r.NonNegInt("latency_budget_ms")
	s.MaxQueue = r.NonNegInt("max_queue")
	s.QueueAlertThreshold = r.NonNegInt("queue_alert_threshold")
	if s.MaxQueue > 0 && s.QueueAlertThreshold > s.MaxQueue {
		p.errorf(r.Range("queue_alert_threshold"), "Invalid threshold",
			"queue_alert_threshold (%d) exceeds max_queue (%d) of shard %q.", s.QueueAlertThreshold, s.MaxQueue, s.Name)
	}
	s.SpilloverTargets = r.Strings("spillover_targets")
	rngs := r.StringRanges("spillover_targets", len(s.SpilloverTargets))
	seen := map[string]bool{}
	for i, t := range s.SpilloverTargets {
		switch {
		case !p.rule(rngs[i], "Spillover to itself", validate.SpillTarget("spillover_targets", s.Name, t)):
		case seen[t]:
			p.errorf(rngs[i], "Duplicate spillover target", "Shard %q lists %q twice.", s.Name, t)
		case t == state.SpillAny: // every other shard
		default:
			p.refer("shard", t, rngs[i], fmt.Sprintf("shard %q spillover_targets", s.Name), entry)
		}
		seen[t] = true
	}
	s.SpillGraceMs = max(r.Duration("spill_grace"), 0)
	s.Spillover = p.decodeSpillovers(doc.block("spillover"), blocks["spillover"], s.Name, entry)
	return s
}

func (p *parser) decodeSpillovers(doc *BlockDoc, bs hcl.Blocks, shard string, entry int) []Spillover {
	out := []Spillover{}
	seen := map[string]hcl.Range{}
	for _, sb := range bs {
		sp := Spillover{Target: checkName(sb, "shard", &p.diags)}
		r, _ := content(doc, sb.Body, sb.DefRange, &p.diags)
		sp.Threshold = r.NonNegInt("threshold")
		sp.MaxDrain = r.NonNegInt("max_drain")
		sp.RequiredCapabilities = r.Strings("required_capabilities")
		sp.Weight = r.NonNegInt("weight")
		if shard != "" && !p.rule(labelRange(sb), "Spillover to itself", validate.SpillTarget("policies", shard, sp.Target)) {
			continue
		}
		if !p.declare(seen, "spillover policy", sp.Target, sb) {
			continue
		}
		p.refer("shard", sp.Target, labelRange(sb), fmt.Sprintf("shard %q spillover policy", shard), entry)
		out = append(out, sp)
	}
	return out
}

func (p *parser) decodeNode(doc *BlockDoc, b *hcl.Block, entry int) Node {
	n := Node{ID: checkName(b, "node", &p.diags)}
	r, blocks := content(doc, b.Body, b.DefRange, &p.diags)
	n.Shard = r.NonEmpty("shard")
	p.refer("shard", n.Shard, r.Range("shard"), fmt.Sprintf("node %q", n.ID), entry)
	n.Plugin = r.NonEmpty("plugin")
	n.Capabilities = r.Strings("capabilities")
	n.Capacity = r.NonNegInt("capacity")
	n.MaxConcurrency = r.NonNegInt("max_concurrency")
	if !r.Has("max_concurrency") {
		n.MaxConcurrency = n.Capacity
	} else if n.MaxConcurrency > n.Capacity {
		p.errorf(r.Range("max_concurrency"), "Invalid max_concurrency",
			"max_concurrency (%d) exceeds capacity (%d) of node %q.", n.MaxConcurrency, n.Capacity, n.ID)
	}
	n.Quota = r.NonNegInt("quota")
	n.LatencyMs = r.NonNegInt("latency_ms")
	n.HeartbeatSec = r.NonNegInt("heartbeat_sec")
	n.Endpoint = r.String("endpoint")
	n.Labels = r.Strings("labels")
	r.limit("labels", limits.Labels("labels", n.Labels))
	r.limit("capabilities", limits.Capabilities("capabilities", n.Capabilities))
	n.Deployment = p.decodeDeployment(doc.block("deployment"), blocks["deployment"])
	n.Price = p.decodePrice(doc.block("price"), blocks["price"])
	n.Attestations = p.decodeAttestations(doc.block("attestations"), blocks["attestations"])
	n.Config = map[string]any{}
	n.ConfigSource = ConfigSource{Block: b.DefRange, Attrs: map[string]hcl.Range{}}
	if cb := blocks["config"]; len(cb) > 0 {
		n.Config, n.ConfigSource = configValues(cb[0], &p.diags)
	}
	return n
}

func (p *parser) decodeDeployment(doc *BlockDoc, bs hcl.Blocks) Deployment {
	d := Deployment{Zones: []string{}}
	if len(bs) == 0 {
		return d
	}
	r, blocks := content(doc, bs[0].Body, bs[0].DefRange, &p.diags)
	d.Orchestration = r.String("orchestration")
	d.Image = r.String("image")
	d.Runtime = r.String("runtime")
	d.Entrypoint = r.String("entrypoint")
	d.Version = r.String("version")
	d.Zones = r.Strings("zones")
	if rb := blocks["resources"]; len(rb) > 0 {
		rr, _ := content(doc.block("resources"), rb[0].Body, rb[0].DefRange, &p.diags)
		d.Resources = Resources{
			CPUCores: rr.Float("cpu_cores"), MemoryGB: rr.Float("memory_gb"), GPUClass: rr.String("gpu_class"),
			GPUs: rr.NonNegInt("gpus"), StorageGB: rr.Float("storage_gb"),
		}
	}
	return d
}

func (p *parser) decodePrice(doc *BlockDoc, bs hcl.Blocks) Price {
	var r *reader
	var blocks map[string]hcl.Blocks
	if len(bs) == 0 {
		r = newReader(doc.Attributes, nil, hcl.Range{}, &p.diags)
	} else {
		r, blocks = content(doc, bs[0].Body, bs[0].DefRange, &p.diags)
	}
	if r.Has("currency") {
		p.currencies = append(p.currencies, pathRef{path: r.String("currency"), what: "currency", rng: r.Range("currency")})
	}
	pr := Price{Currency: r.String("currency"), Unit: r.String("unit"), BaseMu: r.Credits("base"), Expr: r.String("expr"), Rates: []Rate{}}
	seen := map[string]hcl.Range{}
	for _, rb := range blocks["rate"] {
		unit := checkName(rb, "rate unit", &p.diags)
		rr, _ := content(doc.block("rate"), rb.Body, rb.DefRange, &p.diags)
		per := rr.Credits("per_unit")
		if p.declare(seen, "rate", unit, rb) {
			pr.Rates = append(pr.Rates, Rate{Unit: unit, PerUnitMu: per})
		}
	}
	return pr
}

func (p *parser) decodeAttestations(doc *BlockDoc, bs hcl.Blocks) Attestations {
	var r *reader
	if len(bs) == 0 {
		r = newReader(doc.Attributes, nil, hcl.Range{}, &p.diags)
	} else {
		r, _ = content(doc, bs[0].Body, bs[0].DefRange, &p.diags)
	}
	return Attestations{
		Certifications: r.Strings("certifications"), Jurisdiction: r.String("jurisdiction"),
		DataResidency: r.Strings("data_residency"), Tags: r.Strings("tags"),
	}
}

func (p *parser) decodeWorkload(doc *BlockDoc, b *hcl.Block, mission string) Workload {
	w := Workload{Name: checkName(b, "workload", &p.diags), Mission: mission}
	r, _ := content(doc, b.Body, b.DefRange, &p.diags)
	w.Shard = r.NonEmpty("shard")
	p.refer("shard", w.Shard, r.Range("shard"), fmt.Sprintf("workload %q", w.Name), -1)
	w.Count = r.NonNegInt("count")
	w.IDPrefix = r.NonEmpty("id_prefix")
	if w.IDPrefix == "" {
		w.IDPrefix = w.Name
	}
	w.Capabilities = r.Strings("capabilities")
	w.Priority = r.Int("priority")
	w.ValueMu = r.Credits("value")
	w.ValueStepMu = r.Credits("value_step")
	w.MaxPriceMu = r.Credits("max_price")
	w.Units = r.Units("units")
	w.Kind = r.NonEmpty("kind")
	w.DurationMs = r.NonNegInt("duration_ms")
	w.Payload = r.Object("payload")
	w.Note = r.String("note")
	r.limit("priority", limits.Priority("priority", w.Priority))
	r.limit("capabilities", limits.Capabilities("capabilities", w.Capabilities))
	r.limit("payload", limits.Payload("payload", len(w.Payload)+len(`,"duration_ms":`)+20))
	r.limit("id_prefix", limits.JobID("id_prefix", fmt.Sprintf("%s-%04d", w.IDPrefix, w.Count)))
	p.workloads = append(p.workloads, wlCheck{w: w, rng: r.Range("capabilities")})
	return w
}

func (p *parser) decodePlan(doc *BlockDoc, b *hcl.Block) Plan {
	r, _ := content(doc, b.Body, b.DefRange, &p.diags)
	pl := Plan{
		Jobs:       r.NonNegInt("jobs"),
		OutageNode: r.String("outage_node"),
		OutageAtMs: r.Duration("outage_at"),
		Label:      r.String("label"),
		DeadlineMs: r.Duration("deadline"),
	}
	p.refer("node", pl.OutageNode, r.Range("outage_node"), "plan outage_node", len(p.schedule))
	if s := strings.TrimSpace(r.String("stop_after")); s != "" {
		if pct, ok := strings.CutSuffix(s, "%"); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
			if err != nil || f <= 0 || f > 100 {
				p.errorf(r.Range("stop_after"), "Invalid stop_after", "A percentage must be above 0%% and at most 100%%, got %q.", s)
			} else {
				pl.StopAfterPercent = f
			}
		} else if ms, ok := parseDurationMs(s); ok {
			pl.StopAfterMs = ms
		} else {
			p.errorf(r.Range("stop_after"), "Invalid stop_after",
				"stop_after must be a duration such as \"2.4s\" or a percentage such as \"30%%\", got %q.", s)
		}
	}
	return pl
}

// checkRefs reports references to shards and nodes that are neither
// declared nor registered by an earlier schedule entry.
func (p *parser) checkRefs() {
	for _, rf := range p.refs {
		decl := p.shards
		if rf.kind == "node" {
			decl = p.nodes
		}
		if _, ok := decl[rf.name]; ok {
			continue
		}
		found := false
		for _, rg := range p.regs {
			if rg.kind == rf.kind && rg.name == rf.name && rf.entry >= 0 && p.before(rg.entry, rf.entry) {
				found = true
				break
			}
		}
		if found {
			continue
		}
		names := make([]string, 0, len(decl))
		for n := range decl {
			names = append(names, n)
		}
		sort.Strings(names)
		detail := fmt.Sprintf("The %s refers to %s %q, which is not declared", rf.what, rf.kind, rf.name)
		if rf.entry >= 0 {
			detail += " or registered by an earlier schedule entry"
		}
		if len(names) > 0 {
			detail += fmt.Sprintf(". Declared %ss: %s.", rf.kind, strings.Join(names, ", "))
		} else {
			detail += "."
		}
		p.errorf(rf.rng, "Unknown "+rf.kind, "%s", detail)
	}
}

// before reports whether schedule entry a fires before entry b: entries of
// the same trigger kind are ordered by their trigger, then by file order.
// A position past the schedule (the plan) comes after every entry.
func (p *parser) before(a, b int) bool {
	if b >= len(p.schedule) {
		return true
	}
	ea, eb := p.schedule[a], p.schedule[b]
	if (ea.AtMs >= 0) != (eb.AtMs >= 0) {
		return false
	}
	ka, kb := ea.AfterCompleted, eb.AfterCompleted
	if ea.AtMs >= 0 {
		ka, kb = ea.AtMs, eb.AtMs
	}
	return ka < kb || (ka == kb && a < b)
}

// checkCapabilities warns about workloads whose jobs no node in their shard
// or its spillover targets can take.
func (p *parser) checkCapabilities(m *Mission) {
	targets := map[string][]string{}
	for _, s := range m.Shards {
		targets[s.Name] = s.SpilloverTargets
	}
	for _, wc := range p.workloads {
		w := wc.w
		if _, ok := p.shards[w.Shard]; !ok {
			continue
		}
		ok := false
		scope := append([]string{w.Shard}, targets[w.Shard]...)
		if slices.Contains(scope, state.SpillAny) {
			scope = scope[:0]
			for name := range p.nodeCaps {
				scope = append(scope, name)
			}
		}
		for _, sh := range scope {
			for _, n := range p.nodeCaps[sh] {
				if hasAll(n.Capabilities, w.Capabilities) {
					ok = true
				}
			}
		}
		if !ok {
			p.diags = append(p.diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning, Summary: "No node can take this workload",
				Detail: fmt.Sprintf("No node in shard %q or its spillover targets has all of the capabilities %s; its jobs would be parked.",
					w.Shard, strings.Join(w.Capabilities, ", ")),
				Subject: wc.rng.Ptr(),
			})
		}
	}
}

func hasAll(have, need []string) bool {
	for _, n := range need {
		found := false
		for _, h := range have {
			if h == n {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// maxGCBatch bounds the jobs of one JobGC entry.
const maxGCBatch = 100_000

// decodeRetention reads the retention block, or its defaults when absent.
func (p *parser) decodeRetention(doc *BlockDoc, bs hcl.Blocks, fileRange hcl.Range) Retention {
	var r *reader
	if len(bs) > 0 {
		r, _ = content(doc, bs[0].Body, bs[0].DefRange, &p.diags)
	} else {
		r = newReader(doc.Attributes, nil, fileRange, &p.diags)
	}
	out := Retention{
		JobGCThresholdMs: r.Duration("job_gc_threshold"), JobGCIntervalMs: r.Duration("job_gc_interval"),
		JobGCBatch: r.Int("job_gc_batch"), IdempotencyWindowMs: r.Duration("idempotency_window"),
	}
	if r.Has("job_gc_threshold") && out.JobGCThresholdMs == 0 {
		p.errorf(r.Range("job_gc_threshold"), "Invalid duration", "The job_gc_threshold must be positive: a job is kept at least this long after it finished.")
	}
	if out.JobGCBatch < 1 || out.JobGCBatch > maxGCBatch {
		p.errorf(r.Range("job_gc_batch"), "Value out of range", "Attribute \"job_gc_batch\" must be between 1 and %d, got %d.", maxGCBatch, out.JobGCBatch)
		out.JobGCBatch = 1000
	}
	return out
}
