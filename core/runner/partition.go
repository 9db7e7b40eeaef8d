package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/report"
	"github.com/planetary/planetary/raftfsm/state"
)

// The partition drill (planetary drill partition): a region host (agent
// -dev -regions) runs every region of the drill's mission as its own raft
// group; the drill paces jobs into every region, puts a one-way latency on
// the Earth–Mars links, cuts Mars off from every other region for a while
// in the middle of the run, heals, and then checks what sovereignty
// promises: Mars kept assigning and completing its own jobs during the
// cut, the other regions were not slowed, every job completed exactly
// once in its own region, every region's view of the global ledger caught
// up and equals the sum of the regions' own ledgers, and every region's
// bundle passes ledger verify.

// PartitionOptions configure PartitionDrill.
type PartitionOptions struct {
	// Child runs the region host: agent -dev -regions over the drill's
	// mission (Child.Args must hold -regions).
	Child *Child
	// Regions are the mission's regions, in order, and Shard the shard of
	// each the drill submits to.
	Regions []string
	Shard   map[string]string
	// Capabilities of the drill's jobs (every region's nodes offer them).
	Capabilities []string
	// Jobs is the number of jobs, spread evenly over the regions.
	Jobs int
	// JobDuration is how long each sim job runs (default 20ms).
	JobDuration time.Duration
	// Latency is the one-way latency put on the links between Earth and
	// Mars (LatencyFrom and LatencyTo, default earth and mars).
	Latency                time.Duration
	LatencyFrom, LatencyTo string
	// Cut is the region cut off (default mars) and CutFor how long.
	Cut    string
	CutFor time.Duration
	// Rate is the jobs per second submitted over all regions (default:
	// Jobs over three times CutFor, so the cut falls in the middle third).
	Rate float64
	// MinRateRatio is the least share of its completion rate before the cut
	// that every other region keeps during it (0.9: not slowed by more
	// than 10%); 0 reports the ratios without checking them.
	MinRateRatio float64
	// HandOffs is how many jobs the cut region hands to the shard of
	// LatencyFrom (earth) just before the cut, so those hand-offs are in
	// flight across it (default Jobs/100, at least 1; negative: none).
	HandOffs int
	// Deadline bounds the whole drill.
	Deadline time.Duration
	// ReportDir receives each region's bundle (regions/<name>) and the
	// verdict (partition-verdict.json).
	ReportDir string
	Progress  *Progress
}

// PartitionRegion is one region's figures.
type PartitionRegion struct {
	Region    string `json:"region"`
	Submitted int    `json:"submitted"`
	Completed int64  `json:"completed"`
	// RateBefore and RateDuring are its completions per second in a window
	// before the cut and one inside it.
	RateBefore float64 `json:"rate_before"`
	RateDuring float64 `json:"rate_during"`
	// CompletedDuringCut counts the completions between the cut and the
	// heal.
	CompletedDuringCut int64 `json:"completed_during_cut"`
	// CompletedOnce counts the jobs submitted to it that completed exactly
	// once there; CompletedTwice and NeverCompleted list job ids that broke
	// exactly-once (at most 10 each).
	CompletedOnce  int      `json:"completed_once"`
	CompletedTwice []string `json:"completed_twice,omitempty"`
	NeverCompleted []string `json:"never_completed,omitempty"`
	Bundle         string   `json:"bundle"`
	Verified       bool     `json:"verified"`
	VerifyProblems []string `json:"verify_problems,omitempty"`
}

// PartitionResult is the drill's verdict.
type PartitionResult struct {
	Jobs      int                `json:"jobs"`
	Latency   string             `json:"latency"`
	Cut       string             `json:"cut"`
	CutFor    string             `json:"cut_for"`
	Rate      float64            `json:"rate"`
	Regions   []PartitionRegion  `json:"regions"`
	Timings   map[string]float64 `json:"timings_ms"`
	Checks    []Check            `json:"checks"`
	Verdict   string             `json:"verdict"`
	Submitted SubmitStats        `json:"submit"`
	HandOffs  *PartitionHandOffs `json:"handoffs,omitempty"`
}

// PartitionHandOffs are the hand-offs begun just before the cut.
type PartitionHandOffs struct {
	From, To string
	Jobs     int `json:"jobs"`
	// InFlightAtCut counts those not closed (accepted or returned) when
	// the cut began.
	InFlightAtCut int `json:"in_flight_at_cut"`
	Accepted      int `json:"accepted"`
	Returned      int `json:"returned"`
	// Broken lists the jobs whose hand-off did not end exactly once or
	// that did not complete exactly once across the two regions (at most
	// 10).
	Broken []string `json:"broken,omitempty"`
}

// OK reports whether every check passed.
func (r *PartitionResult) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return len(r.Checks) > 0
}

func (o *PartitionOptions) defaults() error {
	if o.Child == nil || len(o.Regions) < 2 || o.Jobs <= 0 || o.CutFor <= 0 {
		return errors.New("runner: partition drill: needs a child, at least two regions, jobs and a cut duration")
	}
	if o.JobDuration <= 0 {
		o.JobDuration = 20 * time.Millisecond
	}
	if o.LatencyFrom == "" {
		o.LatencyFrom, o.LatencyTo = "earth", "mars"
	}
	if o.Cut == "" {
		o.Cut = "mars"
	}
	if o.Rate <= 0 {
		o.Rate = float64(o.Jobs) / (3 * o.CutFor.Seconds())
	}
	if o.HandOffs == 0 {
		o.HandOffs = max(1, o.Jobs/100)
	}
	if o.Deadline <= 0 {
		o.Deadline = 10*time.Minute + 3*o.CutFor
	}
	return nil
}

// PartitionDrill runs the drill; the result holds its checks (a failed
// check is not an error: the error says the drill could not run).
func PartitionDrill(ctx context.Context, o PartitionOptions) (*PartitionResult, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Deadline)
	defer cancel()
	res := &PartitionResult{Jobs: o.Jobs, Latency: o.Latency.String(), Cut: o.Cut, CutFor: o.CutFor.String(), Rate: o.Rate,
		Timings: map[string]float64{}}
	began := time.Now()
	mark := func(name string) { res.Timings[name] = float64(time.Since(began).Microseconds()) / 1000 }

	cl, err := o.Child.Start(ctx)
	if err != nil {
		return nil, err
	}
	defer o.Child.Stop()
	mark("started")
	rc := map[string]*api.Client{}
	for _, r := range o.Regions {
		rc[r] = cl.WithRegion(r)
	}
	// Every region holds the agent's token (replicated from the ACL
	// region) and has its nodes up.
	for _, r := range o.Regions {
		if err := waitUntil(ctx, "region "+r+"'s nodes up", func() bool {
			ns, err := rc[r].Nodes(ctx)
			if err != nil || len(ns) == 0 {
				return false
			}
			for _, n := range ns {
				if n.Status != "up" {
					return false
				}
			}
			return true
		}); err != nil {
			return nil, err
		}
	}
	mark("nodes_up")
	for _, pair := range [][2]string{{o.LatencyFrom, o.LatencyTo}, {o.LatencyTo, o.LatencyFrom}} {
		if _, err := cl.SetLinkFault(ctx, api.LinkFaultRequest{From: pair[0], To: pair[1], Latency: o.Latency.String()}); err != nil {
			return nil, fmt.Errorf("runner: set the %s-%s latency: %w", pair[0], pair[1], err)
		}
	}
	o.Progress.printf("%d regions up; %s one-way between %s and %s; submitting %d jobs at %.0f/s",
		len(o.Regions), o.Latency, o.LatencyFrom, o.LatencyTo, o.Jobs, o.Rate)

	// Pace the jobs into every region, round robin.
	per := map[string][]api.JobSubmit{}
	for i := range o.Jobs {
		r := o.Regions[i%len(o.Regions)]
		per[r] = append(per[r], api.JobSubmit{Key: fmt.Sprintf("partition/%s/%06d", r, len(per[r])), Shard: o.Shard[r],
			Capabilities: o.Capabilities, Kind: "sim", Value: 1,
			Payload: json.RawMessage(fmt.Sprintf(`{"duration_ms": %d}`, o.JobDuration.Milliseconds()))})
	}
	ids := map[string][]string{}
	var (
		mu      sync.Mutex
		subErr  error
		stats   SubmitStats
		subDone = make(chan struct{})
	)
	start := time.Now()
	go func() {
		defer close(subDone)
		const tick = 100 * time.Millisecond
		sent := map[string]int{}
		for {
			// The first due jobs of the schedule are due now; job i goes to
			// region i mod len(Regions).
			due := min(o.Jobs, int(time.Since(start).Seconds()*o.Rate)+1)
			for k, r := range o.Regions {
				want := due / len(o.Regions)
				if k < due%len(o.Regions) {
					want++
				}
				if want <= sent[r] {
					continue
				}
				batch := per[r][sent[r]:want]
				out, err := rc[r].SubmitJobs(ctx, batch)
				if err != nil {
					mu.Lock()
					subErr = fmt.Errorf("runner: submit to %s: %w", r, err)
					mu.Unlock()
					return
				}
				mu.Lock()
				for i, res := range out {
					stats.Total++
					switch res.Status {
					case api.StatusAccepted:
						stats.Accepted++
					case api.StatusDuplicate:
						stats.Duplicate++
					default:
						stats.Rejected++
						if stats.FirstReject == "" {
							stats.FirstReject = batch[i].Key + ": " + res.Reason
						}
					}
					if res.ID != "" {
						ids[r] = append(ids[r], res.ID)
					}
				}
				mu.Unlock()
				sent[r] = want
			}
			if due == o.Jobs {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(tick):
			}
		}
	}()

	completed := func(r string) int64 {
		l, err := rc[r].Ledger(ctx)
		if err != nil {
			return -1
		}
		return l.Global["completed"].Jobs
	}
	sample := func() map[string]int64 {
		out := map[string]int64{}
		for _, r := range o.Regions {
			out[r] = completed(r)
		}
		return out
	}
	window := o.CutFor / 2
	cutAt := start.Add(time.Duration(float64(o.Jobs) / o.Rate / 3 * float64(time.Second)))
	sleepUntil(ctx, cutAt.Add(-window))
	s0, t0 := sample(), time.Now()
	sleepUntil(ctx, cutAt)
	s1, t1 := sample(), time.Now()
	// Jobs queued in the cut region (its shard paused a moment) are handed
	// to LatencyFrom's shard, then the cut falls while their offers cross
	// the slow link.
	var handIDs []string
	if o.HandOffs > 0 {
		ho := &PartitionHandOffs{From: o.Cut, To: o.LatencyFrom, Jobs: o.HandOffs}
		res.HandOffs = ho
		mc, shard := rc[o.Cut], o.Shard[o.Cut]
		if _, err := mc.Pause(ctx, shard, "drill: queue jobs to hand off"); err != nil {
			return nil, fmt.Errorf("runner: pause %s: %w", shard, err)
		}
		var js []api.JobSubmit
		for i := range o.HandOffs {
			js = append(js, api.JobSubmit{Key: fmt.Sprintf("partition/handoff/%06d", i), Shard: shard, Capabilities: o.Capabilities,
				Kind: "sim", Value: 1, Payload: json.RawMessage(fmt.Sprintf(`{"duration_ms": %d}`, o.JobDuration.Milliseconds()))})
		}
		out, err := mc.SubmitJobs(ctx, js)
		if err != nil {
			return nil, fmt.Errorf("runner: submit the jobs to hand off: %w", err)
		}
		for _, r := range out {
			handIDs = append(handIDs, r.ID)
		}
		begun, err := cl.HandOff(ctx, handIDs, o.Shard[o.LatencyFrom])
		if err != nil {
			return nil, fmt.Errorf("runner: hand off: %w", err)
		}
		for i, b := range begun {
			if b.Status != api.StatusAccepted {
				return nil, fmt.Errorf("runner: hand off %s: %s", handIDs[i], b.Reason)
			}
		}
		if _, err := mc.Resume(ctx, shard, "drill: jobs handed off"); err != nil {
			return nil, fmt.Errorf("runner: resume %s: %w", shard, err)
		}
	}
	if err := o.cutLinks(ctx, cl, true); err != nil {
		return nil, err
	}
	mark("cut")
	if res.HandOffs != nil {
		closed, err := eventCounts(ctx, rc[o.Cut], state.EvJobHandOffAccepted, state.EvJobHandOffReturned)
		if err != nil {
			return nil, err
		}
		for _, id := range handIDs {
			if closed[id] == 0 {
				res.HandOffs.InFlightAtCut++
			}
		}
	}
	o.Progress.printf("%s cut off from every other region for %s", o.Cut, o.CutFor)
	cutBegan := time.Now()
	sleepUntil(ctx, cutBegan.Add(o.CutFor/4))
	s2, t2 := sample(), time.Now()
	sleepUntil(ctx, t2.Add(window))
	s3, t3 := sample(), time.Now()
	sleepUntil(ctx, cutBegan.Add(o.CutFor))
	s4 := sample()
	if err := o.cutLinks(ctx, cl, false); err != nil {
		return nil, err
	}
	mark("healed")
	o.Progress.printf("%s healed; waiting for every job and every region's ledger", o.Cut)
	<-subDone
	mu.Lock()
	err, res.Submitted = subErr, stats
	mu.Unlock()
	if err != nil {
		return nil, err
	}
	total := int64(o.Jobs + len(handIDs))
	if err := waitUntil(ctx, "every job to complete", func() bool {
		var n int64
		for _, r := range o.Regions {
			n += max(completed(r), 0)
		}
		return n >= total
	}); err != nil {
		return nil, err
	}
	mark("all_completed")
	// Every region's view of the global ledger catches up with every
	// region's own ledger.
	var agreeWhy string
	agreed := waitUntil(ctx, "every region's global ledger to agree", func() bool {
		own := map[string]api.RegionLedger{}
		for _, r := range o.Regions {
			l, err := rc[r].Ledger(ctx)
			if err != nil {
				agreeWhy = err.Error()
				return false
			}
			for _, line := range l.Regions {
				if line.Local {
					own[r] = line
				}
			}
		}
		for _, r := range o.Regions {
			l, err := rc[r].Ledger(ctx)
			if err != nil {
				agreeWhy = err.Error()
				return false
			}
			var sum int64
			for _, line := range l.Regions {
				if o := own[line.Region]; line.Totals.Counts["completed"].Jobs != o.Totals.Counts["completed"].Jobs ||
					line.Totals.ValueMicro != o.Totals.ValueMicro || line.Totals.PaidMicro != o.Totals.PaidMicro {
					agreeWhy = fmt.Sprintf("%s holds %s's checkpoint at index %d, %s's own is at %d", r, line.Region, line.Index, line.Region, o.Index)
					return false
				}
				sum += line.Totals.Counts["completed"].Jobs
			}
			if len(l.Regions) != len(o.Regions) || l.GlobalTotals.Counts["completed"].Jobs != sum || sum != total {
				agreeWhy = fmt.Sprintf("%s: %d regions, global completed %d, sum %d, want %d", r, len(l.Regions),
					l.GlobalTotals.Counts["completed"].Jobs, sum, total)
				return false
			}
		}
		return true
	}) == nil
	if agreed {
		agreeWhy = ""
	}
	mark("ledgers_agree")

	// Exactly once, region by region, and each region's bundle verifies.
	for _, r := range o.Regions {
		pr := PartitionRegion{Region: r, Submitted: len(ids[r]), Completed: completed(r),
			RateBefore:         float64(s1[r]-s0[r]) / t1.Sub(t0).Seconds(),
			RateDuring:         float64(s3[r]-s2[r]) / t3.Sub(t2).Seconds(),
			CompletedDuringCut: s4[r] - s1[r]}
		done, err := completions(ctx, rc[r])
		if err != nil {
			return nil, err
		}
		for _, id := range ids[r] {
			if done[id] == 1 {
				pr.CompletedOnce++
			}
			switch n := done[id]; {
			case n > 1 && len(pr.CompletedTwice) < 10:
				pr.CompletedTwice = append(pr.CompletedTwice, id)
			case n == 0 && len(pr.NeverCompleted) < 10:
				pr.NeverCompleted = append(pr.NeverCompleted, id)
			}
		}
		pr.Bundle = filepath.Join(o.ReportDir, "regions", r)
		in, err := Collect(ctx, rc[r], CollectOptions{Label: r, Dir: pr.Bundle})
		if err != nil {
			return nil, fmt.Errorf("runner: collect %s's bundle: %w", r, err)
		}
		if _, err := report.Write(pr.Bundle, in); err != nil {
			return nil, fmt.Errorf("runner: write %s's bundle: %w", r, err)
		}
		vr, err := report.Verify(pr.Bundle)
		pr.Verified = err == nil && vr.OK()
		if err != nil {
			pr.VerifyProblems = append(pr.VerifyProblems, err.Error())
		}
		pr.VerifyProblems = append(pr.VerifyProblems, vr.Problems...)
		res.Regions = append(res.Regions, pr)
	}
	mark("verified")
	if ho := res.HandOffs; ho != nil {
		if err := checkHandOffs(ctx, ho, handIDs, rc[ho.From], rc[ho.To]); err != nil {
			return nil, err
		}
	}

	check := func(id string, ok bool, measured, threshold any, detail string) {
		res.Checks = append(res.Checks, Check{ID: id, OK: ok, Measured: measured, Threshold: threshold, Detail: detail})
	}
	check("submitted", stats.Accepted == o.Jobs, stats.Accepted, o.Jobs, stats.FirstReject)
	for _, pr := range res.Regions {
		if pr.Region == o.Cut {
			check(pr.Region+".works_while_cut", pr.CompletedDuringCut > 0, pr.CompletedDuringCut, "> 0",
				"jobs the cut region completed between the cut and the heal")
			continue
		}
		ratio := 0.0
		if pr.RateBefore > 0 {
			ratio = pr.RateDuring / pr.RateBefore
		}
		if o.MinRateRatio > 0 {
			check(pr.Region+".rate_during_cut", ratio >= o.MinRateRatio, ratio, o.MinRateRatio,
				fmt.Sprintf("%.1f jobs/s during the cut, %.1f before", pr.RateDuring, pr.RateBefore))
		}
	}
	for _, pr := range res.Regions {
		check(pr.Region+".exactly_once", len(pr.CompletedTwice) == 0 && len(pr.NeverCompleted) == 0, pr.CompletedOnce, pr.Submitted,
			fmt.Sprintf("of the jobs submitted to it: completed twice %v, never %v", pr.CompletedTwice, pr.NeverCompleted))
		check(pr.Region+".ledger_verify", pr.Verified, pr.Verified, true, fmt.Sprint(pr.VerifyProblems))
	}
	check("global_ledger", agreed, agreed, true, agreeWhy)
	if ho := res.HandOffs; ho != nil {
		check("handoffs.in_flight_at_cut", ho.InFlightAtCut > 0, ho.InFlightAtCut, "> 0",
			fmt.Sprintf("of %d hand-offs %s -> %s begun just before the cut", ho.Jobs, ho.From, ho.To))
		check("handoffs.ended_once", len(ho.Broken) == 0 && ho.Accepted+ho.Returned == ho.Jobs, ho.Accepted+ho.Returned, ho.Jobs,
			fmt.Sprintf("%d accepted, %d returned; broken %v", ho.Accepted, ho.Returned, ho.Broken))
	}
	res.Verdict = "pass"
	if !res.OK() {
		res.Verdict = "fail"
	}
	if o.ReportDir != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(filepath.Join(o.ReportDir, "partition-verdict.json"), append(b, '\n'), 0o644); err != nil {
			return res, fmt.Errorf("runner: write the verdict: %w", err)
		}
	}
	return res, nil
}

// cutLinks cuts (or heals) every link into and out of the cut region,
// keeping the Earth–Mars latency on its pair.
func (o *PartitionOptions) cutLinks(ctx context.Context, cl *api.Client, cut bool) error {
	for _, other := range o.Regions {
		if other == o.Cut {
			continue
		}
		for _, pair := range [][2]string{{o.Cut, other}, {other, o.Cut}} {
			lat := ""
			if (pair[0] == o.LatencyFrom && pair[1] == o.LatencyTo) || (pair[1] == o.LatencyFrom && pair[0] == o.LatencyTo) {
				lat = o.Latency.String()
			}
			if _, err := cl.SetLinkFault(ctx, api.LinkFaultRequest{From: pair[0], To: pair[1], Latency: lat, Partitioned: cut}); err != nil {
				return fmt.Errorf("runner: cut or heal %s-%s: %w", pair[0], pair[1], err)
			}
		}
	}
	return nil
}

// completions counts the job.completed events of each job in c's region.
func completions(ctx context.Context, c *api.Client) (map[string]int, error) {
	return eventCounts(ctx, c, state.EvJobCompleted)
}

// checkHandOffs checks every hand-off of ids from one region's client to
// another's: handed off once and closed once at the source (accepted or
// returned), handed in at most once at the target, and its job completed
// exactly once, where its hand-off put it.
func checkHandOffs(ctx context.Context, ho *PartitionHandOffs, ids []string, from, to *api.Client) error {
	src, err := eventCounts(ctx, from, state.EvJobHandedOff)
	if err != nil {
		return err
	}
	acc, err := eventCounts(ctx, from, state.EvJobHandOffAccepted)
	if err != nil {
		return err
	}
	ret, err := eventCounts(ctx, from, state.EvJobHandOffReturned)
	if err != nil {
		return err
	}
	in, err := eventCounts(ctx, to, state.EvJobHandedIn)
	if err != nil {
		return err
	}
	doneFrom, err := completions(ctx, from)
	if err != nil {
		return err
	}
	doneTo, err := completions(ctx, to)
	if err != nil {
		return err
	}
	for _, id := range ids {
		ok := src[id] == 1 && acc[id]+ret[id] == 1 && in[id] <= 1
		switch {
		case acc[id] == 1:
			ho.Accepted++
			ok = ok && in[id] == 1 && doneTo[id] == 1 && doneFrom[id] == 0
		case ret[id] == 1:
			ho.Returned++
			ok = ok && doneFrom[id] == 1 && doneTo[id] == 0
		}
		if !ok && len(ho.Broken) < 10 {
			ho.Broken = append(ho.Broken, fmt.Sprintf("%s (handed off %d, accepted %d, returned %d, handed in %d, completed %d+%d)",
				id, src[id], acc[id], ret[id], in[id], doneFrom[id], doneTo[id]))
		}
	}
	return nil
}

// eventCounts counts, per job, the events of the given types in c's region.
func eventCounts(ctx context.Context, c *api.Client, types ...string) (map[string]int, error) {
	out := map[string]int{}
	var idx uint64
	for {
		evs, err := c.Events(ctx, idx, 0, strings.Join(types, ","), api.MaxEvents)
		if err != nil {
			return nil, fmt.Errorf("runner: events: %w", err)
		}
		for _, e := range evs.Events {
			out[e.Job]++
		}
		if len(evs.Events) == 0 || evs.Index <= idx {
			return out, nil
		}
		idx = evs.Index
	}
}

func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(t)):
	}
}

// waitUntil polls cond every 50 ms until it holds or ctx ends.
func waitUntil(ctx context.Context, what string, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("runner: waiting for %s: %w", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
