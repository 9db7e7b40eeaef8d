// Package router holds planetary's shard routing rules: where a queued job
// goes when its shard cannot run it (spillover), when it is set aside
// (parked), how queue pressure drains a shard, and a shard's health.
//
// Like core/scheduler, the router is pure: it reads a View and a Fitter and
// returns decisions; it never reads a clock, a random source or does I/O, and
// it iterates in a fixed order so equal inputs give equal outputs.
//
// Target order. For a job of shard S the candidate targets are, in order:
//  1. S's Policies that apply to the job, sorted by (Threshold asc, Weight
//     desc, Target). A policy with RequiredCapabilities applies to a job that
//     requires at least one of them; an empty list applies to every job.
//  2. S's SpilloverTargets in the listed order.
//  3. Every other shard, by name (used only when 1 and 2 have no shard that
//     can take the job, which the order guarantees).
//
// Unknown shards and S itself are never targets, and a paused shard (or any
// shard while the system is paused) is skipped.
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
	// Explain says, in one line, why no node of the given shards (nil: every
	// shard) can take job, e.g. "no up node in any shard has capabilities
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

// Config configures a Router.
type Config struct {
	Logger hclog.Logger
	// MaxHops bounds spillover: a job that has already been spilled MaxHops
	// times is parked instead of spilled again. 0 means the number of shards
	// at the time of the round.
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
	// Spill moves the job to Route.To.
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
	To     string // for Spill
	Reason string // for Park (and a note for Wait)
}

// Stats counts the spills of one round by cause.
type Stats struct {
	Rerouted   int // jobs no node of their shard could ever take
	Drained    int // queue pressure (a policy's Threshold)
	Overflowed int // queue above MaxQueue
}

// Round is the router's state for one placement round: the view, the
// fitter, and the jobs already sent to each target this round (so a target's
// MaxQueue is respected). A Round is not safe for concurrent use.
type Round struct {
	r        *Router
	v        View
	fit      Fitter
	maxHops  int
	sysPause bool
	all      []string            // every shard name, sorted
	incoming map[string]int      // spilled to a shard this round
	policies map[string][]policy // sorted policies per source shard
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
		incoming: make(map[string]int),
		policies: make(map[string][]policy),
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

// Targets returns the candidate targets for job leaving from, in the order
// described in the package doc. Paused shards are included (callers skip
// them); from and unknown shards are not; each shard appears once.
func (rd *Round) Targets(from string, job *state.Job) []string {
	src := rd.v.Shard(from)
	seen := map[string]bool{from: true}
	out := make([]string, 0, len(rd.all))
	add := func(name string) {
		if seen[name] || rd.v.Shard(name) == nil {
			return
		}
		seen[name] = true
		out = append(out, name)
	}
	if src != nil {
		for _, p := range rd.sortedPolicies(src) {
			if p.applies(job) {
				add(p.Target)
			}
		}
		for _, t := range src.SpilloverTargets {
			add(t)
		}
	}
	for _, t := range rd.all {
		add(t)
	}
	return out
}

func (rd *Round) paused(shard string) bool {
	s := rd.v.Shard(shard)
	return s == nil || s.Paused || rd.sysPause
}

// saturated reports whether shard's queue, counting the jobs sent to it
// this round, is at or above its MaxQueue.
func (rd *Round) saturated(shard string) bool {
	s := rd.v.Shard(shard)
	if s == nil || s.MaxQueue <= 0 {
		return false
	}
	return int64(rd.v.QueueLen(shard)+rd.incoming[shard]) >= s.MaxQueue
}

// Reroute decides for a queued job that no node of its own shard could ever
// take: spill it to the first target that can, wait when only paused shards
// can, park it when it has used up its hops or when no shard can take it.
func (rd *Round) Reroute(job *state.Job) Route {
	if int(job.Hops) >= rd.maxHops {
		return Route{Action: Park, Reason: fmt.Sprintf("hop limit %d reached: %s",
			rd.maxHops, rd.fit.Explain(job, []string{job.Shard}))}
	}
	pausedFit := ""
	for _, t := range rd.Targets(job.Shard, job) {
		if rd.paused(t) {
			if pausedFit == "" && rd.fit.Fits(job, t) {
				pausedFit = t
			}
			continue
		}
		if rd.fit.Fits(job, t) {
			rd.incoming[t]++
			rd.stats.Rerouted++
			return Route{Action: Spill, To: t}
		}
	}
	if pausedFit != "" {
		return Route{Action: Wait, Reason: fmt.Sprintf("only paused shard %s can take it", pausedFit)}
	}
	return Route{Action: Park, Reason: rd.fit.Explain(job, nil)}
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
// shard's queue still waiting after this round's placements, in queue order;
// its length is the queue length the rules see. Jobs leave from the tail:
//
//   - for each policy with Threshold > 0, in policy order, while the queue is
//     longer than Threshold: up to MaxDrain jobs (and never below Threshold;
//     MaxDrain 0 means only the latter bound) move to the policy's Target,
//     each only if the policy applies to it and Target can take it;
//   - then, while the queue is longer than MaxQueue (> 0), the overflow
//     moves to the first target (package order) that can take the job.
//
// A target that is paused, unknown, the shard itself, or saturated (its
// queue plus this round's arrivals at or above its MaxQueue) takes nothing.
// Jobs at the hop bound stay. At most budget spills are returned; done[i]
// is set for each pending[i] that spills.
func (rd *Round) Relieve(shard *state.Shard, pending []*state.Job, done []bool, budget int) []command.Spill {
	var out []command.Spill
	n := len(pending)
	spill := func(i int, to string) {
		done[i] = true
		out = append(out, command.Spill{JobID: pending[i].ID, From: shard.Name, To: to})
		rd.incoming[to]++
		n--
		budget--
	}
	movable := func(i int) bool {
		return !done[i] && int(pending[i].Hops) < rd.maxHops
	}
	for _, p := range rd.sortedPolicies(shard) {
		if budget <= 0 {
			return out
		}
		if p.Threshold <= 0 || int64(n) <= p.Threshold {
			continue
		}
		t := p.Target
		if t == shard.Name || rd.paused(t) || rd.saturated(t) {
			continue
		}
		limit := int64(n) - p.Threshold
		if p.MaxDrain > 0 && p.MaxDrain < limit {
			limit = p.MaxDrain
		}
		for i := len(pending) - 1; i >= 0 && limit > 0 && budget > 0; i-- {
			if !movable(i) || !p.applies(pending[i]) || !rd.fit.Fits(pending[i], t) {
				continue
			}
			spill(i, t)
			limit--
			rd.stats.Drained++
			if rd.saturated(t) {
				break
			}
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
			if rd.paused(t) || rd.saturated(t) || !rd.fit.Fits(pending[i], t) {
				continue
			}
			spill(i, t)
			rd.stats.Overflowed++
			break
		}
	}
	return out
}
