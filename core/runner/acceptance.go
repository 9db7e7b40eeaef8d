package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/report"
	"github.com/planetary/planetary/raftfsm/state"
)

// AcceptanceFile is the verdict the acceptance drill writes into the trial's
// bundle directory.
const AcceptanceFile = "acceptance.json"

// ErrNoFabric is returned when AcceptanceOptions has no Fabric starter.
var ErrNoFabric = errors.New("runner: no fabric for the acceptance trial")

// Thresholds are the acceptance bounds. Rates are fractions in [0, 1].
type Thresholds struct {
	// MinCompletion bounds completed/submitted from below.
	MinCompletion float64
	// MaxFailure bounds failed/submitted from above.
	MaxFailure float64
	// MinShardCompletion bounds, for every shard that holds jobs at the
	// end, completed/(jobs - owner-cancelled) from below.
	MinShardCompletion float64
	// MaxSkew bounds the max/min ratio of node utilisation within each
	// peer group (see ShardBalance).
	MaxSkew float64
}

// DefaultThresholds are the acceptance bounds of the reference mission:
// completion >= 98%, failures <= 1%, every shard >= 98%, skew <= 3.
func DefaultThresholds() Thresholds {
	return Thresholds{MinCompletion: 0.98, MaxFailure: 0.01, MinShardCompletion: 0.98, MaxSkew: 3}
}

// Fabric is a running fabric for the acceptance trial.
type Fabric struct {
	Client *api.Client
	// Outage takes a node down (e.g. SIGKILLs its plugin process).
	Outage func(node string) error
	// Stop shuts the fabric down.
	Stop func()
}

// AcceptanceOptions configure Acceptance.
type AcceptanceOptions struct {
	// Fabric starts the fabric of the high-load trial (required).
	Fabric func(ctx context.Context) (*Fabric, error)
	// Trial are the trial's run options; Client and Outage come from
	// Fabric. The outage fires OutageAt after the submission starts, or
	// later: once the outage node has work in flight (bounded by
	// OutageWait), so that its loss requeues jobs.
	Trial      Options
	OutageWait time.Duration
	// Drill runs the restart drill (nil skips it): after the trial, or
	// beside it when Parallel (it has its own child agent and data dir).
	Drill      func(ctx context.Context) (*DrillResult, error)
	Parallel   bool
	Thresholds Thresholds
	Progress   *Progress
	Logger     hclog.Logger
}

// Assertion is one acceptance assertion: a Check, plus how its failure
// reads on one line.
type Assertion struct {
	Check
	// op compares measured to threshold ("" for a non-numeric check) and
	// unit follows both numbers in Line.
	op   string
	unit string
}

// Line renders the assertion on one line, e.g.
// "FAIL completion: 91.2% < 98%" or "ok   spillovers: 12 > 0".
func (a Assertion) Line() string {
	head := "ok   "
	if !a.OK {
		head = "FAIL "
	}
	if a.op == "" {
		s := fmt.Sprintf("%s%s: %v", head, a.ID, a.Measured)
		if !a.OK {
			s += fmt.Sprintf(" (want %v)", a.Threshold)
		}
		if a.Detail != "" && !a.OK {
			s += ": " + a.Detail
		}
		return s
	}
	op := a.op
	if !a.OK {
		op = negate[op]
	}
	s := fmt.Sprintf("%s%s: %s%s %s %s%s", head, a.ID, num(a.Measured), a.unit, op, num(a.Threshold), a.unit)
	if a.Detail != "" && !a.OK {
		s += " (" + a.Detail + ")"
	}
	return s
}

var negate = map[string]string{">=": "<", "<=": ">", ">": "<=", "<": ">=", "==": "!="}

func num(v any) string {
	if f, ok := v.(float64); ok {
		return fmt.Sprintf("%g", f)
	}
	return fmt.Sprint(v)
}

// AcceptanceResult is the verdict of Acceptance (acceptance.json).
type AcceptanceResult struct {
	OK         bool        `json:"ok"`
	Assertions []Assertion `json:"assertions"`
	// Timings are milliseconds per phase: trial.{start,load,kill,drain,
	// report,wall} and restart.{start,load,kill,restart,drain,wall}; kill
	// is the offset of the kill from the start of the load.
	Timings map[string]float64 `json:"timings_ms"`
	WallMs  float64            `json:"wall_ms"`
	// Parallel is set when the restart drill ran beside the trial rather
	// than after it.
	Parallel bool `json:"parallel"`
	// OutageNode and OutageAtMs describe the injected outage.
	OutageNode string       `json:"outage_node"`
	OutageAtMs float64      `json:"outage_at_ms"`
	Balance    []PeerGroup  `json:"balance"`
	Trial      *Result      `json:"trial"`
	Restart    *DrillResult `json:"restart,omitempty"`
	// PeakRSSKB is the peak resident memory of the processes involved,
	// when the caller measured it.
	PeakRSSKB int64  `json:"peak_rss_kb,omitempty"`
	Path      string `json:"-"`
}

// Failed returns the failed assertions.
func (r *AcceptanceResult) Failed() []Assertion {
	var out []Assertion
	for _, a := range r.Assertions {
		if !a.OK {
			out = append(out, a)
		}
	}
	return out
}

// Acceptance runs the acceptance drill: the high-load trial on the fabric
// Fabric starts (with the outage injected), then the restart drill; it
// evaluates every assertion and writes AcceptanceFile into the trial's
// bundle. It returns an error only when a stage could not be carried out;
// failed assertions are in the result.
func Acceptance(ctx context.Context, o AcceptanceOptions) (*AcceptanceResult, error) {
	if o.Fabric == nil {
		return nil, ErrNoFabric
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Thresholds == (Thresholds{}) {
		o.Thresholds = DefaultThresholds()
	}
	if o.OutageWait <= 0 {
		o.OutageWait = 10 * time.Second
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	res := &AcceptanceResult{Timings: map[string]float64{}, OutageNode: o.Trial.OutageNode, Parallel: o.Parallel}
	t0 := time.Now()

	// The two stages share nothing (the restart drill runs its own child
	// agent on its own data dir), so with Parallel they run side by side.
	type drillOut struct {
		r    *DrillResult
		err  error
		wall time.Duration
	}
	drillDone := make(chan drillOut, 1)
	startDrill := func() {
		if o.Drill == nil {
			drillDone <- drillOut{}
			return
		}
		go func() {
			t := time.Now()
			r, err := o.Drill(ctx)
			drillDone <- drillOut{r, err, time.Since(t)}
		}()
	}
	if o.Parallel {
		startDrill()
	}
	fab, err := o.Fabric(ctx)
	if err != nil {
		if o.Parallel {
			<-drillDone
		}
		return nil, fmt.Errorf("runner: acceptance fabric: %w", err)
	}
	res.Timings["trial.start"] = ms(time.Since(t0))
	o.Progress.printf("trial fabric up in %s", time.Since(t0).Round(time.Millisecond))

	trial := o.Trial
	trial.Client = fab.Client
	var (
		loadStart = time.Now()
		killedAt  time.Duration
		outageErr error
	)
	if trial.OutageNode != "" && fab.Outage != nil {
		trial.Outage = func(node string) error {
			waitForWork(ctx, fab.Client, node, o.OutageWait)
			killedAt = time.Since(loadStart)
			outageErr = fab.Outage(node)
			return outageErr
		}
	}
	loadStart = time.Now()
	run, err := Run(ctx, trial)
	fab.Stop()
	if err != nil {
		if o.Parallel {
			<-drillDone
		}
		return nil, fmt.Errorf("runner: acceptance trial: %w", err)
	}
	res.Timings["trial.wall"] = ms(time.Since(t0))
	res.Trial = run
	res.OutageAtMs = ms(killedAt)
	res.Timings["trial.load"] = run.Timings["submit"]
	res.Timings["trial.kill"] = ms(killedAt)
	res.Timings["trial.drain"] = run.Timings["drain"]
	res.Timings["trial.report"] = run.Timings["collect"] + run.Timings["write"]
	o.Progress.printf("trial: %d jobs, %d completed, outage of %s at %s, drained in %s (%s)", run.Submit.Total,
		run.Summary.Metrics.Completed, trial.OutageNode, killedAt.Round(time.Millisecond),
		(time.Duration(run.Timings["drain"]) * time.Millisecond).Round(time.Millisecond), run.StopReason)

	res.Assertions = TrialAssertions(run, o.Thresholds)
	res.Balance = ShardBalance(run.Input)
	res.Assertions = append(res.Assertions, balanceAssertion(res.Balance, o.Thresholds.MaxSkew))
	if trial.OutageNode != "" {
		a := Assertion{Check: Check{ID: "outage-injected", OK: outageErr == nil && killedAt > 0,
			Measured: trial.OutageNode, Threshold: "plugin killed"}}
		if outageErr != nil {
			a.Detail = outageErr.Error()
		}
		res.Assertions = append(res.Assertions, a)
	}

	if !o.Parallel {
		startDrill()
	}
	if out := <-drillDone; out.err != nil {
		return nil, fmt.Errorf("runner: acceptance restart drill: %w", out.err)
	} else if dr := out.r; dr != nil {
		res.Restart = dr
		res.Timings["restart.wall"] = ms(out.wall)
		for _, k := range []string{"start", "load", "kill", "restart", "drain"} {
			res.Timings["restart."+k] = dr.Timings[k]
		}
		for _, c := range dr.Checks {
			c.ID = "restart/" + c.ID
			res.Assertions = append(res.Assertions, Assertion{Check: c})
		}
	}
	res.OK = len(res.Failed()) == 0 && len(res.Assertions) > 0
	res.WallMs = ms(time.Since(t0))
	return res, nil
}

// Write writes the verdict as AcceptanceFile into the trial's bundle and
// records its path.
func (r *AcceptanceResult) Write() error {
	if r.Trial == nil || r.Trial.Dir == "" {
		return errors.New("runner: acceptance: the trial wrote no bundle")
	}
	r.Path = filepath.Join(r.Trial.Dir, AcceptanceFile)
	return writeJSONFile(r.Path, r)
}

// waitForWork returns once node has jobs assigned or running, or after
// bound (or when ctx ends).
func waitForWork(ctx context.Context, c *api.Client, node string, bound time.Duration) {
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		if n, err := c.Node(ctx, node); err == nil && (n.Active > 0 || n.Status != state.NodeUp.String()) {
			return // busy, or already down: nothing to wait for
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// TrialAssertions evaluates the trial's headline assertions from its
// result: completion, failures, spillovers, reassignments, per-shard
// completion, ledger invariants, chain verification and that the run
// finished.
func TrialAssertions(r *Result, th Thresholds) []Assertion {
	m := r.Summary.Metrics
	pct := func(n int64) float64 {
		if m.Submitted == 0 {
			return 0
		}
		return round1(float64(n) * 100 / float64(m.Submitted))
	}
	comp, fail := pct(m.Completed), pct(m.Failed)
	out := []Assertion{
		{Check: Check{ID: "completion", OK: m.Submitted > 0 && float64(m.Completed) >= th.MinCompletion*float64(m.Submitted),
			Measured: comp, Threshold: round1(th.MinCompletion * 100),
			Detail: fmt.Sprintf("%d of %d completed, %d parked, %d outstanding", m.Completed, m.Submitted, m.Parked, m.Outstanding)},
			op: ">=", unit: "%"},
		{Check: Check{ID: "failures", OK: float64(m.Failed) <= th.MaxFailure*float64(m.Submitted),
			Measured: fail, Threshold: round1(th.MaxFailure * 100), Detail: fmt.Sprintf("%d failed", m.Failed)},
			op: "<=", unit: "%"},
		{Check: Check{ID: "spillovers", OK: m.Spillovers > 0, Measured: m.Spillovers, Threshold: 0}, op: ">"},
		{Check: Check{ID: "reassignments", OK: m.Reassigned > 0, Measured: m.Reassigned, Threshold: 0,
			Detail: "requeues of jobs whose node went down or was retired"}, op: ">"},
	}
	worst, worstShard, detail := 100.0, "", []string{}
	for _, sh := range r.Input.Shards {
		var total int64
		for _, n := range sh.Counts {
			total += n
		}
		total -= sh.Counts[state.JobCancelled.String()]
		if total <= 0 {
			continue
		}
		p := float64(sh.Counts[state.JobCompleted.String()]) * 100 / float64(total)
		if p < th.MinShardCompletion*100 {
			detail = append(detail, fmt.Sprintf("%s %.1f%%", sh.Name, p))
		}
		if p < worst || worstShard == "" {
			worst, worstShard = p, sh.Name
		}
	}
	sc := Assertion{Check: Check{ID: "shard-completion", OK: len(detail) == 0 && worstShard != "",
		Measured: round1(worst), Threshold: round1(th.MinShardCompletion * 100)}, op: ">=", unit: "%"}
	switch {
	case worstShard == "":
		sc.Detail = "no shard holds jobs"
	case len(detail) > 0:
		sc.Detail = "below: " + strings.Join(detail, ", ")
	default:
		sc.Detail = "lowest: " + worstShard
	}
	out = append(out, sc)

	var bad []string
	for _, iv := range r.Input.Ledger.Invariants {
		if !iv.OK {
			bad = append(bad, iv.ID+": "+iv.Message)
		}
	}
	out = append(out, Assertion{Check: Check{ID: "invariants", OK: len(bad) == 0 && len(r.Input.Ledger.Invariants) > 0,
		Measured:  fmt.Sprintf("%d of %d hold", len(r.Input.Ledger.Invariants)-len(bad), len(r.Input.Ledger.Invariants)),
		Threshold: "all hold", Detail: strings.Join(bad, "; ")}})
	chain := Assertion{Check: Check{ID: "chain-verified", OK: r.VerifyErr == "" && r.Verify.OK(),
		Measured: fmt.Sprintf("%d events, head %d", r.Verify.Events, r.Verify.Head.Seq), Threshold: "report.Verify OK"}}
	if r.VerifyErr != "" {
		chain.Detail = r.VerifyErr
	} else if !r.Verify.OK() {
		chain.Detail = r.Verify.Reason + " " + strings.Join(r.Verify.Problems, "; ")
	}
	out = append(out, chain,
		Assertion{Check: Check{ID: "trial-finished", OK: r.StopReason == StopDone, Measured: r.StopReason, Threshold: StopDone}})
	return out
}

// PeerGroup is a set of interchangeable nodes: the nodes of one shard with
// the same capability set that are up at the end of the trial.
type PeerGroup struct {
	Shard        string   `json:"shard"`
	Capabilities []string `json:"capabilities"`
	Nodes        []string `json:"nodes"`
	// Utilisation per node: jobs completed per slot-second up during the
	// busy window (first submission to last terminal job).
	Utilisation map[string]float64 `json:"utilisation"`
	// Skew is max/min utilisation; -1 when a node completed nothing.
	Skew float64 `json:"skew"`
}

// ShardBalance groups the up nodes of each shard into peer groups of two
// or more nodes with identical capabilities, and measures each node's
// utilisation as completed jobs / (capacity x seconds up within the busy
// window), using the node.* events for the time up. Nodes that serve
// different capabilities are not compared: their load is set by the
// workload mix, not by placement.
func ShardBalance(in report.Input) []PeerGroup {
	// A node's chance to work is its time up between the first submit and
	// the last completion in its own shard: after a shard's work is done,
	// idle nodes are not under-used.
	var first, last int64
	lastIn := map[string]int64{}
	for i := range in.Events {
		e := &in.Events[i]
		switch e.Type {
		case state.EvJobSubmitted:
			if first == 0 {
				first = e.Time
			}
		case state.EvJobCompleted, state.EvJobFailed:
			last = e.Time
			lastIn[e.Shard] = e.Time
		}
	}
	if first == 0 || last <= first {
		return nil
	}
	shardOf := map[string]string{}
	for _, n := range in.Nodes {
		shardOf[n.ID] = n.Shard
	}
	upSince := map[string]int64{}
	upNs := map[string]int64{}
	window := func(node string) (int64, int64) {
		end := lastIn[shardOf[node]]
		if end < first {
			end = first
		}
		return first, end
	}
	clip := func(node string, t int64) int64 {
		lo, hi := window(node)
		return min(max(t, lo), hi)
	}
	for i := range in.Events {
		e := &in.Events[i]
		switch e.Type {
		case state.EvNodeUp:
			if _, ok := upSince[e.Node]; !ok {
				upSince[e.Node] = e.Time
			}
		case state.EvNodeDown, state.EvNodeRetired:
			if s, ok := upSince[e.Node]; ok {
				upNs[e.Node] += clip(e.Node, e.Time) - clip(e.Node, s)
				delete(upSince, e.Node)
			}
		}
	}
	for n, s := range upSince {
		_, end := window(n)
		upNs[n] += end - clip(n, s)
	}
	groups := map[string]*PeerGroup{}
	for _, n := range in.Nodes {
		lo, hi := window(n.ID)
		if n.Status != state.NodeUp.String() || n.Capacity <= 0 || upNs[n.ID]*10 < hi-lo {
			// Down at the end, or up for under a tenth of its shard's
			// working time (joined as the work ran out): no fair share.
			continue
		}
		caps := append([]string(nil), n.Capabilities...)
		sort.Strings(caps)
		key := n.Shard + "|" + strings.Join(caps, ",")
		g := groups[key]
		if g == nil {
			g = &PeerGroup{Shard: n.Shard, Capabilities: caps, Utilisation: map[string]float64{}}
			groups[key] = g
		}
		g.Nodes = append(g.Nodes, n.ID)
		u := 0.0
		if up := float64(upNs[n.ID]) / 1e9; up > 0 {
			u = float64(n.Completed) / (float64(n.Capacity) * up)
		}
		g.Utilisation[n.ID] = math.Round(u*1000) / 1000
	}
	var out []PeerGroup
	for _, g := range groups {
		if len(g.Nodes) < 2 {
			continue
		}
		sort.Strings(g.Nodes)
		lo, hi := math.Inf(1), 0.0
		for _, u := range g.Utilisation {
			lo, hi = min(lo, u), max(hi, u)
		}
		g.Skew = -1
		if lo > 0 {
			g.Skew = math.Round(hi/lo*100) / 100
		}
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Shard+strings.Join(out[i].Nodes, ",") < out[j].Shard+strings.Join(out[j].Nodes, ",")
	})
	return out
}

// balanceAssertion bounds the worst peer-group skew.
func balanceAssertion(groups []PeerGroup, bound float64) Assertion {
	worst, where := 1.0, ""
	for _, g := range groups {
		s := g.Skew
		if s < 0 {
			s = math.Inf(1)
		}
		if s > worst || where == "" {
			worst, where = max(worst, s), g.Shard+" "+strings.Join(g.Nodes, "/")
		}
	}
	a := Assertion{Check: Check{ID: "shard-skew", OK: worst <= bound, Threshold: bound}, op: "<="}
	switch {
	case len(groups) == 0:
		a.Measured, a.Detail = 1.0, "no shard has two interchangeable up nodes"
	case math.IsInf(worst, 1):
		a.Measured, a.Detail = "inf", where+": a node completed nothing"
	default:
		a.Measured, a.Detail = worst, "worst: "+where
	}
	return a
}
