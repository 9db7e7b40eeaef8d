// Package runner drives a mission run against a live fabric: it applies the
// mission, submits the workload with deterministic ids and idempotency keys,
// injects the planned outage, follows the run to its end while sampling
// per-shard telemetry, and writes the report bundle to the reporting
// directory of the live policy. Collect builds a bundle's input from the API
// alone, so `planetary report` and the drills share it.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/api/view"
	"github.com/planetary/planetary/core/health"
	"github.com/planetary/planetary/core/limits"
	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/core/report"
	"github.com/planetary/planetary/raftfsm/state"
)

// Errors.
var (
	// ErrNoClient is returned when Options has no API client.
	ErrNoClient = errors.New("runner: no API client")
	// ErrNoMission is returned when a run has no mission to take jobs from.
	ErrNoMission = errors.New("runner: no mission")
	// ErrEventsBehind means the event log did not reach the ledger's chain
	// head in time.
	ErrEventsBehind = errors.New("event log behind the ledger")
	// ErrRejected means the fabric rejected submitted jobs.
	ErrRejected = errors.New("runner: jobs rejected")
)

// Stop reasons recorded in report.Run.StopReason.
const (
	StopDone      = "done"
	StopDeadline  = "deadline"
	StopAfter     = "stop-after"
	StopCancelled = "cancelled"
)

// Options configure Run.
type Options struct {
	// Client talks to the fabric (required).
	Client *api.Client
	// Mission is the parsed mission (required); MissionSource and
	// MissionFile, when set, are applied first (idempotent by digest).
	Mission       *mission.Mission
	MissionSource []byte
	MissionFile   string
	// Jobs is the number of workload jobs (0: the blueprint's counts).
	Jobs int
	// OutageNode is taken down OutageAt after the submission starts by
	// calling Outage (when both are set). Restore, when set, undoes an
	// injected outage once the jobs are done (the node as it was before),
	// and the run then waits for any work the restore lets run.
	// OutageSkipped, when set, says why the planned outage is not injected
	// (it is printed and recorded in the bundle's run).
	OutageNode    string
	OutageAt      time.Duration
	Outage        func(node string) error
	Restore       func(node string) error
	OutageSkipped string
	// Deadline bounds the wait for the jobs (0: no bound).
	Deadline time.Duration
	// StopAfter / StopAfterPercent end the run early: after a duration, or
	// when that share (0-100) of the submitted jobs completed.
	StopAfter        time.Duration
	StopAfterPercent float64
	// Label overrides the bundle label unless the live policy retargets
	// reporting during the run; ReportDir overrides the live directory.
	// With LabelPinned (a -label given on the command line) Label wins over
	// any retarget of the schedule too.
	Label       string
	LabelPinned bool
	ReportDir   string
	// PathBase is the directory a relative reporting directory resolves
	// against: the embedded agent's data dir, as its server resolves
	// checkpoint paths. Empty means the working directory (a run against an
	// external agent writes the bundle on the CLI's host).
	PathBase string
	// Progress receives a live bar (Terminal), periodic lines or, with
	// JSON, one JSON object per line. nil is quiet.
	Progress io.Writer
	Terminal bool
	JSON     bool
	// SampleInterval is the telemetry cadence (default 100ms).
	SampleInterval time.Duration
	// BatchSize jobs per submit request (default 1000), InFlight requests
	// at once (default 4).
	BatchSize int
	InFlight  int
	// CheckPath, when set, must accept the bundle directory before anything
	// is written there: the embedded agent's allowed_roots check
	// (server.CheckPath), the one every other write path passes.
	CheckPath func(path string) error
	// NoBundle skips writing and verifying the bundle.
	NoBundle bool
	Logger   hclog.Logger
}

// SubmitStats counts the answers to a submission.
type SubmitStats struct {
	Total     int `json:"total"`
	Accepted  int `json:"accepted"`
	Duplicate int `json:"duplicate"`
	Rejected  int `json:"rejected"`
	// FirstReject is the first rejection's "id: reason".
	FirstReject string `json:"first_reject,omitempty"`
}

// Result is the outcome of Run.
type Result struct {
	Submit     SubmitStats        `json:"submit"`
	StopReason string             `json:"stop_reason"`
	Wall       time.Duration      `json:"wall_ns"`
	Timings    map[string]float64 `json:"timings_ms"`
	OutageAt   time.Duration      `json:"outage_at_ns,omitempty"`
	OutageErr  string             `json:"outage_error,omitempty"`
	// OutageSkipped says why the planned outage was not injected;
	// OutageRestored that Restore undid it, OutageRestoreErr why not.
	OutageSkipped    string              `json:"outage_skipped,omitempty"`
	OutageRestored   bool                `json:"outage_restored,omitempty"`
	OutageRestoreErr string              `json:"outage_restore_error,omitempty"`
	Summary          report.Summary      `json:"summary"`
	Dir              string              `json:"dir,omitempty"`
	Files            []string            `json:"-"`
	Verify           report.VerifyResult `json:"verify"`
	VerifyErr        string              `json:"verify_error,omitempty"`
	Input            report.Input        `json:"-"`
	Dashboard        string              `json:"dashboard,omitempty"`
	JobsPerSec       float64             `json:"jobs_per_sec"`
	// Label is the bundle's label.
	Label string `json:"label,omitempty"`
	// Health is every shard's verdict at the end of the run (core/health),
	// as GET /v1/shards served it for the bundle.
	Health []ShardHealth `json:"health"`
	// ExitCode is health.RunExit of Health: health.ExitWork (2) when work
	// is parked or failed, health.ExitDone (0) otherwise.
	ExitCode int `json:"exit_code"`
}

// ShardHealth is one shard's health verdict.
type ShardHealth struct {
	Shard string `json:"shard"`
	health.Verdict
}

// Run performs one mission run; see the package doc. It returns the result
// even when the run ended at its deadline; an error means the run could not
// be carried out or its bundle not written.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Client == nil {
		return nil, ErrNoClient
	}
	if o.Mission == nil {
		return nil, ErrNoMission
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	log := o.Logger.Named("runner")
	c := o.Client
	res := &Result{Timings: map[string]float64{}}
	start := time.Now()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

	if len(o.MissionSource) > 0 {
		if _, err := c.ApplyMission(ctx, o.MissionFile, o.MissionSource, "planetary run"); err != nil {
			return nil, fmt.Errorf("runner: apply mission: %w", err)
		}
	}
	pol0, err := c.Mission(ctx)
	if err != nil {
		return nil, fmt.Errorf("runner: read mission: %w", err)
	}
	jobs := mission.GenerateJobs(o.Mission, o.Jobs)
	res.Timings["apply"] = ms(time.Since(start))

	runStart := time.Now()
	var outageWG sync.WaitGroup
	outCtx, stopOutage := context.WithCancel(ctx)
	defer stopOutage()
	injected := false
	if o.OutageNode != "" && o.OutageSkipped != "" {
		res.OutageSkipped = o.OutageSkipped
		log.Info("planned outage skipped", "node", o.OutageNode, "why", o.OutageSkipped)
	} else if o.OutageNode != "" && o.Outage != nil {
		inject := func() {
			res.OutageAt = max(time.Since(runStart), time.Nanosecond)
			if err := o.Outage(o.OutageNode); err != nil {
				res.OutageErr = err.Error()
				log.Warn("outage injection failed", "node", o.OutageNode, "error", err)
				return
			}
			injected = true
			log.Info("outage injected", "node", o.OutageNode, "after", res.OutageAt)
		}
		if o.OutageAt <= 0 {
			// At the start: before the first job is submitted, so it
			// happens whatever the run's length.
			inject()
		} else {
			outageWG.Add(1)
			go func() {
				defer outageWG.Done()
				t := time.NewTimer(o.OutageAt)
				defer t.Stop()
				select {
				case <-outCtx.Done():
					return
				case <-t.C:
				}
				inject()
			}()
		}
	}

	prog := newProgress(o.Progress, o.Terminal, o.JSON, len(jobs))
	sampler := &Sampler{Client: c, Interval: o.SampleInterval}
	samplerCtx, stopSampler := context.WithCancel(ctx)
	sampled := make(chan error, 1)
	go func() { sampled <- sampler.Run(samplerCtx, runStart, prog.update) }()

	stats, err := Submit(ctx, c, jobs, o.BatchSize, o.InFlight)
	res.Submit = stats
	res.Timings["submit"] = ms(time.Since(runStart))
	if err != nil {
		stopSampler()
		<-sampled
		prog.close()
		return nil, err
	}
	if stats.Rejected > 0 {
		log.Warn("jobs rejected", "count", stats.Rejected, "first", stats.FirstReject)
	}

	wo := WaitOptions{
		Start: runStart, Deadline: o.Deadline, StopAfter: o.StopAfter, StopAfterPercent: o.StopAfterPercent,
		Total: int64(len(jobs)), Interval: o.SampleInterval,
	}
	res.StopReason = Wait(ctx, c, wo)
	// A mission run covers its owner schedule: when the jobs finish before
	// its last timed entry, wait for the entries (they may add work, e.g. a
	// node that unparks jobs), then for the jobs again.
	if res.StopReason == StopDone && WaitSchedule(ctx, c, runStart, o.Deadline) {
		res.StopReason = Wait(ctx, c, wo)
	}
	stopOutage()
	outageWG.Wait()
	if injected && o.Restore != nil {
		// Undo the outage: the node is as it was before the run, and work
		// the restore lets run (jobs parked for want of the node) is
		// waited for like the rest.
		if err := o.Restore(o.OutageNode); err != nil {
			res.OutageRestoreErr = err.Error()
			log.Warn("outage restore failed", "node", o.OutageNode, "error", err)
		} else {
			res.OutageRestored = true
			if res.StopReason == StopDone {
				res.StopReason = Wait(ctx, c, wo)
			}
		}
	}
	// One last sample so the series ends at the final state.
	_ = sampler.SampleOnce(ctx, runStart, prog.update)
	stopSampler()
	<-sampled
	prog.close()
	drain := time.Since(runStart)
	res.Timings["drain"] = ms(drain)

	if o.NoBundle {
		res.Wall = time.Since(start)
		return res, nil
	}
	pol, err := c.Mission(ctx)
	if err != nil {
		return nil, fmt.Errorf("runner: read mission: %w", err)
	}
	label := pickLabel(o.Label, pol0.ReportingLabel, pol.ReportingLabel)
	if o.LabelPinned && o.Label != "" {
		label = o.Label
	}
	res.Label = label
	// The label names one directory under the reporting directory: a
	// label such as "../x" or "a/b" would write the bundle elsewhere.
	if err := limits.PathComponent("label", label); err != nil {
		return nil, fmt.Errorf("runner: bundle: %w", err)
	}
	dir := o.ReportDir
	if dir == "" {
		dir = pol.ReportingDir
	}
	if dir == "" {
		dir = "reports"
	}
	if o.PathBase != "" && !filepath.IsAbs(dir) {
		dir = filepath.Join(o.PathBase, dir)
	}
	if o.CheckPath != nil {
		if err := o.CheckPath(filepath.Join(dir, label)); err != nil {
			return nil, fmt.Errorf("runner: bundle directory: %w", err)
		}
	}
	run := report.Run{
		Status: "completed", StoppedEarly: res.StopReason != StopDone, Timings: res.Timings,
		Stages: []report.Stage{{Name: "run", Start: runStart.UTC(), End: runStart.Add(drain).UTC(), Jobs: int64(len(jobs))}},
	}
	if run.StoppedEarly {
		run.Status, run.StopReason = "stopped", res.StopReason
	}
	run.Outage = outageNote(o.OutageNode, res)
	collectStart := time.Now()
	in, shards, err := collect(ctx, c, CollectOptions{Mission: o.Mission, Run: run, Series: sampler.Series(), Label: label, Dir: dir})
	if err != nil {
		return nil, err
	}
	// The verdict is the API's health model over the same read as the
	// bundle, so the exit code, the console and the dashboard agree.
	verdicts := make([]health.Verdict, 0, len(shards))
	for _, sh := range shards {
		v := health.Verdict{Status: sh.Health, Reasons: sh.HealthReasons}
		res.Health = append(res.Health, ShardHealth{Shard: sh.Name, Verdict: v})
		verdicts = append(verdicts, v)
	}
	res.ExitCode = health.RunExit(verdicts)
	res.Timings["collect"] = ms(time.Since(collectStart))
	if err := WriteBundle(res, in, filepath.Join(dir, label)); err != nil {
		return nil, err
	}
	res.Timings["write"] = ms(time.Since(collectStart)) - res.Timings["collect"]
	res.Wall = time.Since(start)
	if s := drain.Seconds(); s > 0 {
		res.JobsPerSec = float64(res.Summary.Metrics.Completed) / s
	}
	return res, nil
}

// outageNote is the sentence the bundle's run records about the planned
// outage of node: skipped and why, injected (and restored or not), or
// failed; "" when the run planned none.
func outageNote(node string, res *Result) string {
	switch {
	case node == "":
		return ""
	case res.OutageSkipped != "":
		return res.OutageSkipped
	case res.OutageErr != "":
		return fmt.Sprintf("planned outage of %s failed: %s", node, res.OutageErr)
	case res.OutageAt == 0:
		return fmt.Sprintf("planned outage of %s not reached before the run ended", node)
	case res.OutageRestoreErr != "":
		return fmt.Sprintf("planned outage of %s at %s; restoring it failed: %s", node, res.OutageAt.Round(time.Millisecond), res.OutageRestoreErr)
	case res.OutageRestored:
		return fmt.Sprintf("planned outage of %s at %s, restored at the end of the run", node, res.OutageAt.Round(time.Millisecond))
	}
	return fmt.Sprintf("planned outage of %s at %s", node, res.OutageAt.Round(time.Millisecond))
}

// pickLabel is the live label when reporting was retargeted during the run,
// else the requested label, else the live one.
func pickLabel(requested, before, after string) string {
	switch {
	case after != "" && after != before:
		return after
	case requested != "":
		return requested
	case after != "":
		return after
	}
	return "latest"
}

// WriteBundle writes in to dir, verifies it offline and fills res.
func WriteBundle(res *Result, in report.Input, dir string) error {
	files, err := report.Write(dir, in)
	if err != nil {
		return fmt.Errorf("runner: write bundle: %w", err)
	}
	abs, _ := filepath.Abs(dir)
	res.Dir, res.Files, res.Input = abs, files, in
	res.Dashboard = filepath.Join(abs, report.FileDashboard)
	res.Summary = report.BuildSummary(in, report.BuildLedger(in))
	v, verr := report.Verify(dir)
	res.Verify = v
	if verr != nil {
		res.VerifyErr = verr.Error()
	}
	return nil
}

// Submit sends jobs in batches of batch (default 1000) with up to inFlight
// (default 4) requests at once. Duplicates (same id and key) are counted,
// not errors, so a run can be repeated safely.
func Submit(ctx context.Context, c *api.Client, jobs []mission.JobSpec, batch, inFlight int) (SubmitStats, error) {
	if batch <= 0 {
		batch = 1000
	}
	if inFlight <= 0 {
		inFlight = 4
	}
	st := SubmitStats{Total: len(jobs)}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, inFlight)
	for lo := 0; lo < len(jobs); lo += batch {
		hi := min(lo+batch, len(jobs))
		req := make([]api.JobSubmit, 0, hi-lo)
		for _, j := range jobs[lo:hi] {
			req = append(req, api.JobSubmit{
				ID: j.ID, Key: j.Key, Shard: j.Shard, Capabilities: j.Capabilities, Priority: j.Priority,
				ValueMicro: j.ValueMu, MaxPriceMicro: j.MaxPriceMu, Kind: j.Kind, Payload: j.Payload,
				Units: view.Units(j.Units),
			})
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return st, fmt.Errorf("runner: submit: %w", ctx.Err())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out, err := c.SubmitJobs(ctx, req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("runner: submit jobs %s..%s: %w", req[0].ID, req[len(req)-1].ID, err)
				}
				return
			}
			for _, r := range out {
				switch r.Status {
				case api.StatusAccepted:
					st.Accepted++
				case api.StatusDuplicate:
					st.Duplicate++
				default:
					st.Rejected++
					if st.FirstReject == "" {
						st.FirstReject = r.ID + ": " + r.Reason
					}
				}
			}
		}()
	}
	wg.Wait()
	return st, firstErr
}

// WaitOptions configure Wait.
type WaitOptions struct {
	Start            time.Time
	Deadline         time.Duration
	StopAfter        time.Duration
	StopAfterPercent float64
	// StopAtIndex stops once the raft applied index reaches it.
	StopAtIndex uint64
	// Total is the number of jobs submitted (for StopAfterPercent).
	Total    int64
	Interval time.Duration
	// Check, when set, is called with each ledger read; a non-empty answer
	// stops the wait with that reason.
	Check func(l api.Ledger) string
	// Settle is how long parked jobs must stay parked, with nothing else
	// changing, before the run counts as drained (default 3s). A parked job
	// is re-queued when the topology changes — a node coming up or
	// publishing new capabilities — so parked is not final at once.
	Settle time.Duration
	// MidRun holds the stop conditions (StopAfter, StopAtIndex,
	// StopAfterPercent) back until at least one job has completed while
	// another is still outstanding, so a stop lands in the middle of the
	// work; and while nothing has completed, parked jobs never count as
	// drained (the nodes may still be coming up). The restart drill kills
	// its agent at such a stop.
	MidRun bool
}

// Wait polls the ledger until no job is queued, assigned or running (and
// any parked jobs have settled), or a stop condition holds, and returns the
// stop reason.
func Wait(ctx context.Context, c *api.Client, o WaitOptions) string {
	if o.Interval <= 0 {
		o.Interval = 100 * time.Millisecond
	}
	if o.Settle <= 0 {
		o.Settle = 3 * time.Second
	}
	var (
		lastSig   [2]int64
		lastMoved = time.Now()
	)
	if o.Start.IsZero() {
		o.Start = time.Now()
	}
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	for {
		if o.Deadline > 0 && time.Since(o.Start) >= o.Deadline {
			return StopDeadline
		}
		if !o.MidRun && o.StopAfter > 0 && time.Since(o.Start) >= o.StopAfter {
			return StopAfter
		}
		if l, err := c.Ledger(ctx); err == nil {
			if o.Check != nil {
				if r := o.Check(l); r != "" {
					return r
				}
			}
			completed := l.Global[state.JobCompleted.String()].Jobs
			parked := l.Global[state.JobParked.String()].Jobs
			outstanding := Active(l.Global) + parked
			if !o.MidRun || (completed > 0 && outstanding > 0) {
				if o.StopAfter > 0 && time.Since(o.Start) >= o.StopAfter {
					return StopAfter
				}
				if o.StopAtIndex > 0 && l.AppliedIndex >= o.StopAtIndex {
					return StopAfter
				}
				if o.StopAfterPercent > 0 && o.Total > 0 && float64(completed)*100 >= o.StopAfterPercent*float64(o.Total) {
					return StopAfter
				}
			}
			sig := [2]int64{parked, completed + l.Global[state.JobFailed.String()].Jobs +
				l.Global[state.JobCancelled.String()].Jobs}
			if sig != lastSig {
				lastSig, lastMoved = sig, time.Now()
			}
			settled := parked == 0 || (time.Since(lastMoved) >= o.Settle && (!o.MidRun || completed > 0))
			if Active(l.Global) == 0 && settled {
				return StopDone
			}
		}
		select {
		case <-ctx.Done():
			return StopCancelled
		case <-t.C:
		}
	}
}

// WaitSchedule waits until every timed entry of the applied mission's owner
// schedule has fired (or was skipped), bounded by each entry's own time
// plus a grace of 2 s and by deadline (measured from start). Entries that
// wait for a number of completed jobs are not waited for. It reports
// whether it waited for any entry.
func WaitSchedule(ctx context.Context, c *api.Client, start time.Time, deadline time.Duration) bool {
	const grace = 2 * time.Second
	waited := false
	var until time.Time
	for {
		m, err := c.Mission(ctx)
		if err != nil {
			return waited
		}
		skipped := make(map[string]bool, len(m.Skipped))
		for _, id := range m.Skipped {
			skipped[id] = true
		}
		var next time.Duration = -1
		elapsed := time.Duration(m.Clock-m.Start) * time.Nanosecond
		for _, e := range m.Schedule {
			if e.Fired || skipped[e.ID] || e.AtMs <= 0 {
				continue
			}
			left := max(time.Duration(e.AtMs)*time.Millisecond-elapsed, 0)
			next = max(next, left)
		}
		if next < 0 {
			return waited
		}
		if until.IsZero() {
			until = time.Now().Add(next + grace)
		}
		if time.Now().After(until) || (deadline > 0 && time.Since(start) >= deadline) {
			return waited
		}
		waited = true
		select {
		case <-ctx.Done():
			return waited
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Active is the number of jobs queued, assigned or running.
func Active(c api.Counts) int64 {
	return c[state.JobQueued.String()].Jobs + c[state.JobAssigned.String()].Jobs + c[state.JobRunning.String()].Jobs
}

// Sampler records per-shard queue depth and completions.
type Sampler struct {
	Client   *api.Client
	Interval time.Duration

	mu     sync.Mutex
	series []report.Sample
}

// Run samples every Interval until ctx ends, calling fn with each sample.
func (s *Sampler) Run(ctx context.Context, start time.Time, fn func(report.Sample, []api.Shard)) error {
	iv := s.Interval
	if iv <= 0 {
		iv = 100 * time.Millisecond
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		_ = s.SampleOnce(ctx, start, fn)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// SampleOnce takes one sample.
func (s *Sampler) SampleOnce(ctx context.Context, start time.Time, fn func(report.Sample, []api.Shard)) error {
	shards, err := s.Client.Shards(ctx)
	if err != nil {
		return err
	}
	smp := report.Sample{TimeMs: time.Since(start).Milliseconds(), PerShard: map[string]report.ShardSample{}}
	for _, sh := range shards {
		smp.PerShard[sh.Name] = report.ShardSample{QueueDepth: sh.QueueDepth, Completed: sh.Counts[state.JobCompleted.String()].Jobs}
	}
	s.mu.Lock()
	s.series = append(s.series, smp)
	s.mu.Unlock()
	if fn != nil {
		sort.Slice(shards, func(i, j int) bool { return shards[i].Name < shards[j].Name })
		fn(smp, shards)
	}
	return nil
}

// Series returns the samples taken so far.
func (s *Sampler) Series() []report.Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]report.Sample(nil), s.series...)
}
