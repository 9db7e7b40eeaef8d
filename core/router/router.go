// Package router holds planetary's shard routing rules: when a queued job
// spills (is placed on a node of another shard), when it is set aside
// (parked), how queue pressure is relieved, a job's estimated wait at home,
// and a shard's health.
//
// Like core/scheduler, the router is pure: it reads a View and a Fitter and
// returns decisions; it never reads a clock, a random source or does I/O, and
// it iterates in a fixed order so equal inputs give equal outputs.
//
// A queued job belongs to its shard until it is assigned. A spill is a
// placement decision of the shard's router: the job is assigned to a node of
// a target shard that can start it now; it never moves to another shard's
// queue. A job that did not spill is still at home when its shard recovers.
//
// Targets. A shard spills only to the shards it declares, in this order:
//  1. its Policies that apply to the job, sorted by (Threshold asc, Weight
//     desc, Target). A policy with RequiredCapabilities applies to a job that
//     requires at least one of them; an empty list applies to every job.
//  2. its SpilloverTargets in the listed order; state.SpillAny ("*") stands
//     for every other shard, by name, at its place in the list.
//
// A shard that declares none never spills. Unknown shards and the shard
// itself are never targets, and a paused shard (or any shard while the
// system is paused) takes nothing. An owner reroute and a shard
// deregistration with spill are the other ways out of a shard.
package router

import (
	"fmt"
	"sort"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// View is the read-only state the router needs. raftfsm's *state.Store
// satisfies it, and so does core/scheduler.View.
type View interface {
	Shards() []*state.Shard // sorted by name
	Shard(name string) *state.Shard
	QueueLen(shard string) int
	Policy() state.Policy
}

// Fitter answers placement questions for the router. core/scheduler provides
// the implementation (capabilities, capacity, quota, latency, compliance and
// price filters); the router only combines the answers.
type Fitter interface {
	// Fits reports whether some node of shard could ever take job: it is up
	// and passes every filter, whatever its current load.
	Fits(job *state.Job, shard string) bool
	// Take places job, for this round, on the best node of shard that fits
	// it, has a free run slot now and whose latency is within maxMs (0: no
	// limit). It returns the assignment (JobID, Attempt, Node, QuoteMu) and
	// the node's latency in milliseconds, the time to start the job there.
	Take(job *state.Job, shard string, maxMs int64) (a command.Assignment, startMs int64, ok bool)
	// Explain says, in one line, why no node of the given shards can take
	// job, e.g. "no up node in any of mars, helios has capabilities
	// [quantum]".
	Explain(job *state.Job, shards []string) string
}

// Health values returned by Health.
const (
	HealthOK        = "ok"
	HealthAlert     = "alert"
	HealthSaturated = "saturated"
	HealthPaused    = "paused"
	HealthUnknown   = "unknown"
)

// Health classifies a shard for reports: "paused" when the shard or the whole
// system is paused, "saturated" when its queue is at or above MaxQueue (>0),
// "alert" at or above QueueAlertThreshold (>0), otherwise "ok". A shard that
// does not exist is "unknown".
func Health(v View, shard string) string {
	s := v.Shard(shard)
	if s == nil {
		return HealthUnknown
	}
	if s.Paused || systemPaused(v) {
		return HealthPaused
	}
	q := int64(v.QueueLen(shard))
	switch {
	case s.MaxQueue > 0 && q >= s.MaxQueue:
		return HealthSaturated
	case s.QueueAlertThreshold > 0 && q >= s.QueueAlertThreshold:
		return HealthAlert
	}
	return HealthOK
}

func systemPaused(v View) bool {
	return v.Policy().SystemPaused
}

// Rules: why a job spilled. Each spill names its rule (the job.spilled
// event's reason) with the estimates it compared.
const (
	// RuleLatency: the job's estimated wait at home exceeds its shard's
	// latency budget and a target can start it within the budget.
	RuleLatency = "latency budget"
	// RuleOutage: no node of the shard that could take the job has been up
	// for longer than the shard's spill_grace.
	RuleOutage = "home outage"
	// RuleNoFit: no node of the shard could ever take the job.
	RuleNoFit = "no fit at home"
	// RuleThreshold: the queue is deeper than a spillover policy's threshold.
	RuleThreshold = "queue threshold"
	// RuleMaxQueue: the queue is deeper than the shard's max_queue.
	RuleMaxQueue = "max queue"
)

// NoEstimate is the home estimate of a job its shard cannot run.
const NoEstimate = -1

// EstimateWaitMs is a job's estimated wait in a shard, in milliseconds:
// with ahead jobs in front of it (held by the nodes that can take it, or
// queued before it and staying), holding slots on those nodes and a mean
// service time of meanNs, the job starts once ahead-slots+1 of those jobs
// have finished, at a rate of slots per meanNs. A job with fewer than
// slots jobs ahead waits 0. It returns NoEstimate when slots or meanNs is 0.
func EstimateWaitMs(ahead, slots, meanNs int64) int64 {
	if slots <= 0 || meanNs <= 0 {
		return NoEstimate
	}
	if ahead < slots {
		return 0
	}
	return (ahead - slots + 1) * meanNs / slots / 1_000_000
}

// Config configures a Router.
type Config struct {
	Logger hclog.Logger
	// MaxHops bounds spillover: a job that has already been spilled MaxHops
	// times no longer spills (it waits at home, or is parked when home
	// cannot run it). 0 means the number of shards at the time of the round.
	MaxHops int
}

// DefaultConfig returns a Config with a null logger and MaxHops 0 (the
// number of shards).
func DefaultConfig() Config {
	return Config{Logger: hclog.NewNullLogger()}
}

// Router applies the routing rules. It is stateless between rounds and safe
// for concurrent use.
type Router struct {
	cfg    Config
	logger hclog.Logger
}

// New returns a Router. A nil Logger is replaced by a null logger.
func New(cfg Config) *Router {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.MaxHops < 0 {
		cfg.MaxHops = 0
	}
	return &Router{cfg: cfg, logger: cfg.Logger.Named("router")}
}

// Action is what a route does with a job.
type Action uint8

const (
	// Wait leaves the job queued where it is.
	Wait Action = iota
	// Spill places the job on a node of another shard (Route.Assign).
	Spill
	// Park sets the job aside with Route.Reason.
	Park
)

func (a Action) String() string {
	switch a {
	case Wait:
		return "wait"
	case Spill:
		return "spill"
	case Park:
		return "park"
	}
	return "invalid"
}

// Route is the router's answer for one job.
type Route struct {
	Action Action
	Assign command.Assignment // for Spill: the placement, with From, Rule and estimates
	Reason string             // for Park (and a note for Wait)
}

// Stats counts the spills of one round by rule.
type Stats struct {
	OverBudget int // RuleLatency
	Rerouted   int // RuleOutage and RuleNoFit
	Drained    int // RuleThreshold
	Overflowed int // RuleMaxQueue
}

// Round is the router's state for one placement round. A Round is not safe
// for concurrent use.
type Round struct {
	r        *Router
	v        View
	fit      Fitter
	maxHops  int
	sysPause bool
	all      []string            // every shard name, sorted
	policies map[string][]policy // sorted policies per source shard
	targets  map[string][]string // declared targets per source shard (no policies)
	stats    Stats
}

type policy struct {
	state.SpilloverPolicy
}

// Begin starts a round over v.
func (r *Router) Begin(v View, fit Fitter) *Round {
	shards := v.Shards()
	all := make([]string, 0, len(shards))
	for _, s := range shards {
		all = append(all, s.Name)
	}
	sort.Strings(all)
	maxHops := r.cfg.MaxHops
	if maxHops == 0 {
		maxHops = len(all)
	}
	return &Round{
		r:        r,
		v:        v,
		fit:      fit,
		maxHops:  maxHops,
		sysPause: systemPaused(v),
		all:      all,
		policies: make(map[string][]policy),
		targets:  make(map[string][]string),
	}
}

// MaxHops is the hop bound in force for this round.
func (rd *Round) MaxHops() int { return rd.maxHops }

// Stats returns the spill counts so far.
func (rd *Round) Stats() Stats { return rd.stats }

// sortedPolicies returns from's policies ordered by (Threshold asc, Weight
// desc, Target), cached for the round.
func (rd *Round) sortedPolicies(from *state.Shard) []policy {
	if ps, ok := rd.policies[from.Name]; ok {
		return ps
	}
	ps := make([]policy, len(from.Policies))
	for i := range from.Policies {
		ps[i] = policy{from.Policies[i]}
	}
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Threshold != b.Threshold {
			return a.Threshold < b.Threshold
		}
		if a.Weight != b.Weight {
			return a.Weight > b.Weight
		}
		return a.Target < b.Target
	})
	rd.policies[from.Name] = ps
	return ps
}

// declared returns from's SpilloverTargets with SpillAny expanded, cached.
func (rd *Round) declared(from *state.Shard) []string {
	if ts, ok := rd.targets[from.Name]; ok {
		return ts
	}
	var ts []string
	for _, t := range from.SpilloverTargets {
		if t == state.SpillAny {
			ts = append(ts, rd.all...)
			continue
		}
		ts = append(ts, t)
	}
	rd.targets[from.Name] = ts
	return ts
}

// applies reports whether p applies to job: p has no RequiredCapabilities,
// or job requires at least one of them.
func (p policy) applies(job *state.Job) bool {
	if len(p.RequiredCapabilities) == 0 {
		return true
	}
	for _, want := range p.RequiredCapabilities {
		for _, c := range job.Capabilities {
			if c == want {
				return true
			}
		}
	}
	return false
}

// Declares reports whether shard declares any spillover target at all.
func (rd *Round) Declares(shard *state.Shard) bool {
	return len(shard.SpilloverTargets) > 0 || len(shard.Policies) > 0
}

// Targets returns the candidate targets for job leaving from, in the order
// described in the package doc. Paused shards are included (callers skip
// them); from and unknown shards are not; each shard appears once.
func (rd *Round) Targets(from string, job *state.Job) []string {
	src := rd.v.Shard(from)
	if src == nil || !rd.Declares(src) {
		return nil
	}
	out := make([]string, 0, 4)
	add := func(name string) {
		if name == from || rd.v.Shard(name) == nil {
			return
		}
		for _, t := range out {
			if t == name {
				return
			}
		}
		out = append(out, name)
	}
	for _, p := range rd.sortedPolicies(src) {
		if p.applies(job) {
			add(p.Target)
		}
	}
	for _, t := range rd.declared(src) {
		add(t)
	}
	return out
}

func (rd *Round) paused(shard string) bool {
	s := rd.v.Shard(shard)
	return s == nil || s.Paused || rd.sysPause
}

// take places job on target for rule, filling the assignment's audit fields.
func (rd *Round) take(job *state.Job, from *state.Shard, target, rule string, homeEst int64) (command.Assignment, bool) {
	if rd.paused(target) {
		return command.Assignment{}, false
	}
	a, startMs, ok := rd.fit.Take(job, target, from.LatencyBudgetMs)
	if !ok {
		return a, false
	}
	a.From, a.Rule, a.HomeEstMs, a.BudgetMs, a.TargetEstMs = from.Name, rule, homeEst, from.LatencyBudgetMs, startMs
	return a, true
}

// movable reports whether job may still spill (it is below the hop bound).
func (rd *Round) movable(job *state.Job) bool { return int(job.Hops) < rd.maxHops }

// OverBudget decides for a queued job whose shard can run it but whose
// estimated wait there (homeEst, ms) exceeds the shard's latency budget:
// spill it to the first target that can start it within the budget, or
// leave it waiting.
func (rd *Round) OverBudget(from *state.Shard, job *state.Job, homeEst int64) Route {
	if !rd.movable(job) {
		return Route{Action: Wait, Reason: "hop limit reached"}
	}
	for _, t := range rd.Targets(from.Name, job) {
		if a, ok := rd.take(job, from, t, RuleLatency, homeEst); ok {
			rd.stats.OverBudget++
			return Route{Action: Spill, Assign: a}
		}
	}
	return Route{Action: Wait, Reason: "no target can start it within the budget"}
}

// Away decides for a queued job no up node of its shard can take. held
// reports that a node of the shard that could take it went down less than
// spill_grace ago; outage that the shard has nodes that could take it
// were they up (so the rule is RuleOutage, not RuleNoFit).
//
//   - Within the grace the job waits for its shard when a target could take
//     it, and is parked otherwise (it is unparked when a node comes up).
//   - After it, the job spills to the first target that can start it now
//     within the budget; it waits when a target could take it later (full,
//     or paused); it is parked when no node of the shard or its targets
//     could ever take it, or when it has used up its hops.
func (rd *Round) Away(from *state.Shard, job *state.Job, held, outage bool) Route {
	scope := []string{from.Name}
	if !rd.movable(job) {
		return Route{Action: Park, Reason: fmt.Sprintf("hop limit %d reached: %s",
			rd.maxHops, rd.fit.Explain(job, scope))}
	}
	targets := rd.Targets(from.Name, job)
	rule := RuleNoFit
	if outage {
		rule = RuleOutage
	}
	waitFor := ""
	for _, t := range targets {
		if !held {
			if a, ok := rd.take(job, from, t, rule, NoEstimate); ok {
				rd.stats.Rerouted++
				return Route{Action: Spill, Assign: a}
			}
		}
		if waitFor == "" && rd.fit.Fits(job, t) {
			waitFor = t
		}
	}
	switch {
	case waitFor != "" && held:
		return Route{Action: Wait, Reason: "home node down within spill_grace"}
	case waitFor != "" && rd.paused(waitFor):
		return Route{Action: Wait, Reason: "only a paused target can take it"}
	case waitFor != "":
		return Route{Action: Wait, Reason: "every target that can take it is full"}
	}
	return Route{Action: Park, Reason: rd.fit.Explain(job, append(scope, targets...))}
}

// UnderPressure reports whether a queue of n jobs in shard passes a policy
// threshold or MaxQueue, so Relieve could move some; when it does not,
// Relieve returns nothing and its caller need not gather the pending jobs.
func (rd *Round) UnderPressure(shard *state.Shard, n int) bool {
	if shard.MaxQueue > 0 && int64(n) > shard.MaxQueue {
		return true
	}
	for _, p := range rd.sortedPolicies(shard) {
		if p.Threshold > 0 && int64(n) > p.Threshold {
			return true
		}
	}
	return false
}

// Relieve applies queue pressure to shard. pending is the part of the
// shard's queue still waiting after this round's placements and spills, in
// queue order; its length is the queue length the rules see. Jobs leave from
// the tail, each placed on a node of the target that can start it now (a
// target with no free slot takes nothing):
//
//   - for each policy with Threshold > 0, in policy order, while the queue is
//     longer than Threshold: up to MaxDrain jobs (and never below Threshold;
//     MaxDrain 0 means only the latter bound) go to the policy's Target,
//     each only if the policy applies to it;
//   - then, while the queue is longer than MaxQueue (> 0), the overflow goes
//     to the first target (package order) that can start the job.
//
// Jobs at the hop bound stay. At most budget spills are returned; done[i] is
// set for each pending[i] that spills. homeEst[i] is pending[i]'s estimated
// wait at home (for the audit record).
func (rd *Round) Relieve(shard *state.Shard, pending []*state.Job, homeEst []int64, done []bool, budget int) []command.Assignment {
	var out []command.Assignment
	n := len(pending)
	spill := func(i int, a command.Assignment) {
		done[i] = true
		out = append(out, a)
		n--
		budget--
	}
	movable := func(i int) bool {
		return !done[i] && rd.movable(pending[i])
	}
	for _, p := range rd.sortedPolicies(shard) {
		if budget <= 0 {
			return out
		}
		if p.Threshold <= 0 || int64(n) <= p.Threshold {
			continue
		}
		t := p.Target
		if t == shard.Name || rd.paused(t) || rd.v.Shard(t) == nil {
			continue
		}
		limit := int64(n) - p.Threshold
		if p.MaxDrain > 0 && p.MaxDrain < limit {
			limit = p.MaxDrain
		}
		for i := len(pending) - 1; i >= 0 && limit > 0 && budget > 0; i-- {
			if !movable(i) || !p.applies(pending[i]) {
				continue
			}
			a, ok := rd.take(pending[i], shard, t, RuleThreshold, homeEst[i])
			if !ok {
				continue
			}
			spill(i, a)
			limit--
			rd.stats.Drained++
		}
	}
	if shard.MaxQueue <= 0 {
		return out
	}
	for i := len(pending) - 1; i >= 0 && int64(n) > shard.MaxQueue && budget > 0; i-- {
		if !movable(i) {
			continue
		}
		for _, t := range rd.Targets(shard.Name, pending[i]) {
			if a, ok := rd.take(pending[i], shard, t, RuleMaxQueue, homeEst[i]); ok {
				spill(i, a)
				rd.stats.Overflowed++
				break
			}
		}
	}
	return out
}
