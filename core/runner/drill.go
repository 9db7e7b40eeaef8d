package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/core/report"
	"github.com/planetary/planetary/raftfsm/state"
)

// ExecLogName is the sim exec_log file name the restart drill configures.
const ExecLogName = "executions.log"

// DrillOptions configure RestartDrill.
type DrillOptions struct {
	// Child runs the agent; its Config must enable the sim exec_log
	// (ExecLogName) for the execution checks.
	Child   *Child
	Mission *mission.Mission
	Jobs    int
	// Stop point of the first stage: a share of jobs completed (0-100), a
	// duration after the submission started, or a raft index.
	StopAfterPercent float64
	StopAfter        time.Duration
	StopAtIndex      uint64
	Deadline         time.Duration
	Label            string
	ReportDir        string
	Progress         *Progress
	Logger           hclog.Logger
}

// Progress is where drills print plain progress lines (nil: quiet).
type Progress struct {
	Printf func(format string, args ...any)
}

func (p *Progress) printf(format string, args ...any) {
	if p != nil && p.Printf != nil {
		p.Printf(format, args...)
	}
}

// Check is one drill or acceptance assertion.
type Check struct {
	ID        string `json:"id"`
	OK        bool   `json:"ok"`
	Measured  any    `json:"measured"`
	Threshold any    `json:"threshold"`
	Detail    string `json:"detail,omitempty"`
}

// DrillResult is the outcome of RestartDrill.
type DrillResult struct {
	Submit        SubmitStats        `json:"submit"`
	Resubmit      SubmitStats        `json:"resubmit"`
	CompletedKill int64              `json:"completed_at_kill"`
	IndexAtKill   uint64             `json:"index_at_kill"`
	IndexResumed  uint64             `json:"index_after_restart"`
	Executions    int                `json:"executions"`
	ReExecutions  int                `json:"re_executions"`
	StopReason    string             `json:"stop_reason"`
	Timings       map[string]float64 `json:"timings_ms"`
	Checks        []Check            `json:"checks"`
	Run           *Result            `json:"run"`
}

// OK reports whether every check passed.
func (r *DrillResult) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return len(r.Checks) > 0
}

// RestartDrill runs the crash-restart drill: start the agent as a child,
// submit the jobs, SIGKILL the child at the stop point, restart it on the same
// data dir, wait for the jobs to finish and write one bundle with both
// stages. It then checks that no acknowledged job was lost, no job completed
// twice, every re-execution was fenced (see checkExecutions), the merged
// bundle verifies and the restart resumed from the last committed index.
func RestartDrill(ctx context.Context, o DrillOptions) (*DrillResult, error) {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Deadline <= 0 {
		o.Deadline = 3 * time.Minute
	}
	res := &DrillResult{Timings: map[string]float64{}}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	t0 := time.Now()
	c, err := o.Child.Start(ctx)
	if err != nil {
		return nil, err
	}
	defer o.Child.Kill()
	res.Timings["start"] = ms(time.Since(t0))
	o.Progress.printf("agent up in %s", time.Since(t0).Round(time.Millisecond))

	jobs := mission.GenerateJobs(o.Mission, o.Jobs)
	stage1 := time.Now()
	sampler := &Sampler{Client: c}
	if res.Submit, err = Submit(ctx, c, jobs, 0, 0); err != nil {
		return nil, err
	}
	res.Timings["load"] = ms(time.Since(stage1))
	o.Progress.printf("submitted %d jobs in %s (accepted %d, duplicate %d)", len(jobs), time.Since(stage1).Round(time.Millisecond), res.Submit.Accepted, res.Submit.Duplicate)

	sctx, stopS := context.WithCancel(ctx)
	sdone := make(chan struct{})
	go func() { _ = sampler.Run(sctx, stage1, nil); close(sdone) }()
	res.StopReason = Wait(ctx, c, WaitOptions{Start: stage1, Deadline: o.Deadline, StopAfter: o.StopAfter,
		StopAfterPercent: o.StopAfterPercent, StopAtIndex: o.StopAtIndex, Total: int64(len(jobs)), MidRun: true})
	stopS()
	<-sdone
	upBefore, err := upNodes(ctx, c)
	if err != nil {
		return nil, err
	}
	before, err := c.Ledger(ctx)
	if err != nil {
		return nil, fmt.Errorf("runner: ledger before kill: %w", err)
	}
	killAt := time.Now()
	o.Child.Kill()
	res.Timings["kill"] = ms(killAt.Sub(stage1))
	res.IndexAtKill = before.AppliedIndex
	res.CompletedKill = before.Global[state.JobCompleted.String()].Jobs
	o.Progress.printf("SIGKILL after %s: %d/%d completed, raft index %d (%s)", killAt.Sub(stage1).Round(time.Millisecond),
		res.CompletedKill, len(jobs), res.IndexAtKill, res.StopReason)
	offsets := execLogSizes(o.Child.DataDir)

	restartAt := time.Now()
	c, err = o.Child.Start(ctx)
	if err != nil {
		return nil, fmt.Errorf("runner: restart: %w", err)
	}
	// The restarted server replays its log after winning the election;
	// wait (bounded) until it has applied everything committed before the
	// kill.
	for replay := time.Now(); ; {
		h, err := c.Health(ctx)
		if err != nil {
			return nil, fmt.Errorf("runner: health after restart: %w", err)
		}
		res.IndexResumed = h.AppliedIndex
		if h.AppliedIndex >= res.IndexAtKill || time.Since(replay) > 15*time.Second {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	// The restarted client registers its nodes again and its plugins come
	// back; until they heartbeat, the scheduler may park work, and a drain
	// that began now could settle on those parked jobs.
	if err := nodesBack(ctx, c, upBefore, 15*time.Second); err != nil {
		o.Progress.printf("%v", err)
	}
	res.Timings["restart"] = ms(time.Since(restartAt))
	after, err := c.Ledger(ctx)
	if err != nil {
		return nil, fmt.Errorf("runner: ledger after restart: %w", err)
	}
	o.Progress.printf("restarted in %s at raft index %d, %d completed", time.Since(restartAt).Round(time.Millisecond),
		res.IndexResumed, after.Global[state.JobCompleted.String()].Jobs)
	if res.Resubmit, err = Submit(ctx, c, jobs, 0, 0); err != nil {
		return nil, err
	}
	missing, err := missingJobs(ctx, c, jobs)
	if err != nil {
		return nil, err
	}

	stage2 := time.Now()
	sctx, stopS = context.WithCancel(ctx)
	sdone = make(chan struct{})
	go func() { _ = sampler.Run(sctx, stage1, nil); close(sdone) }()
	reason := Wait(ctx, c, WaitOptions{Start: stage1, Deadline: o.Deadline})
	stopS()
	<-sdone
	end := time.Now()
	res.Timings["drain"] = ms(end.Sub(stage2))
	o.Progress.printf("drained in %s (%s)", end.Sub(stage2).Round(time.Millisecond), reason)

	pol, err := c.Mission(ctx)
	if err != nil {
		return nil, fmt.Errorf("runner: read mission: %w", err)
	}
	label := o.Label
	if label == "" {
		label = "restart-drill"
	}
	dir := o.ReportDir
	if dir == "" {
		dir = pol.ReportingDir
	}
	if dir == "" {
		dir = "reports"
	}
	if !filepath.IsAbs(dir) && o.Child.DataDir != "" {
		// Under the agent's data dir, where its server writes checkpoints.
		dir = filepath.Join(o.Child.DataDir, dir)
	}
	run := report.Run{
		Status: "completed", CheckpointRestored: true, Timings: res.Timings,
		Stages: []report.Stage{
			{Name: "before-kill", Start: stage1.UTC(), End: killAt.UTC(), Jobs: res.CompletedKill},
			{Name: "after-restart", Start: restartAt.UTC(), End: end.UTC(), Jobs: int64(len(jobs)) - res.CompletedKill},
		},
	}
	if reason != StopDone {
		run.Status, run.StoppedEarly, run.StopReason = "stopped", true, reason
	}
	// Executions logged from here on may belong to assignments after the
	// bundle's chain head; the checks read the exec logs only up to here.
	cut := execLogSizes(o.Child.DataDir)
	in, err := Collect(ctx, c, CollectOptions{Mission: o.Mission, Run: run, Series: sampler.Series(), Label: label, Dir: dir})
	if err != nil {
		return nil, err
	}
	res.Run = &Result{Submit: res.Submit, StopReason: reason, Wall: time.Since(t0), Timings: res.Timings}
	if err := WriteBundle(res.Run, in, filepath.Join(dir, label)); err != nil {
		return nil, err
	}
	if s := end.Sub(stage1).Seconds(); s > 0 {
		res.Run.JobsPerSec = float64(res.Run.Summary.Metrics.Completed) / s
	}

	// The checks.
	outstanding := Active(before.Global) + before.Global[state.JobParked.String()].Jobs
	res.Checks = append(res.Checks,
		Check{ID: "work-outstanding-at-kill", OK: res.CompletedKill > 0 && outstanding > 0,
			Measured:  fmt.Sprintf("%d of %d completed, %d outstanding at the kill (%s)", res.CompletedKill, len(jobs), outstanding, res.StopReason),
			Threshold: "some completed, some outstanding"},
		Check{ID: "finished", OK: reason == StopDone, Measured: reason, Threshold: StopDone},
		Check{ID: "no-acknowledged-job-lost", OK: len(missing) == 0, Measured: len(missing), Threshold: 0,
			Detail: strings.Join(missing[:min(len(missing), 5)], " ")},
		Check{ID: "resubmit-all-duplicates", OK: res.Resubmit.Duplicate == len(jobs), Measured: res.Resubmit.Duplicate, Threshold: len(jobs)},
		Check{ID: "committed-completions-kept", OK: after.Global[state.JobCompleted.String()].Jobs >= res.CompletedKill,
			Measured: after.Global[state.JobCompleted.String()].Jobs, Threshold: res.CompletedKill},
		Check{ID: "resumed-from-last-committed-index", OK: res.IndexResumed >= res.IndexAtKill,
			Measured: res.IndexResumed, Threshold: res.IndexAtKill},
		completedOnce(in.Events),
	)
	exec := checkExecutions(o.Child.DataDir, offsets, cut, in.Events, res.IndexAtKill)
	res.Executions, res.ReExecutions = exec.executions, exec.reexecutions
	res.Checks = append(res.Checks, exec.check)
	res.Checks = append(res.Checks, Check{ID: "ledger-verify", OK: res.Run.VerifyErr == "",
		Measured: fmt.Sprintf("%d events", res.Run.Verify.Events), Threshold: "chain and ledger verified", Detail: res.Run.VerifyErr})
	if err := writeJSONFile(filepath.Join(res.Run.Dir, "restart-drill.json"), res); err != nil {
		return nil, err
	}
	o.Child.Stop()
	return res, nil
}

// missingJobs lists submitted ids the fabric does not hold.
func missingJobs(ctx context.Context, c *api.Client, jobs []mission.JobSpec) ([]string, error) {
	have := make(map[string]bool, len(jobs))
	var after uint64
	for {
		page, err := c.Jobs(ctx, api.JobQuery{After: after, Limit: 5000})
		if err != nil {
			return nil, fmt.Errorf("runner: list jobs: %w", err)
		}
		for _, j := range page.Jobs {
			have[j.ID] = true
		}
		if page.Next == 0 || len(page.Jobs) == 0 {
			break
		}
		after = page.Next
	}
	var out []string
	for _, j := range jobs {
		if !have[j.ID] {
			out = append(out, j.ID)
		}
	}
	return out, nil
}

// completedOnce checks that no job has more than one job.completed event.
func completedOnce(evs []state.Event) Check {
	n := map[string]int{}
	twice := 0
	for i := range evs {
		if evs[i].Type == state.EvJobCompleted {
			n[evs[i].Job]++
			if n[evs[i].Job] == 2 {
				twice++
			}
		}
	}
	return Check{ID: "completed-at-most-once", OK: twice == 0, Measured: twice, Threshold: 0,
		Detail: fmt.Sprintf("%d jobs completed", len(n))}
}

// upNodes lists the nodes that are up.
func upNodes(ctx context.Context, c *api.Client) ([]string, error) {
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("runner: list nodes: %w", err)
	}
	var out []string
	for _, n := range nodes {
		if n.Status == state.NodeUp.String() {
			out = append(out, n.ID)
		}
	}
	return out, nil
}

// nodesBack waits, up to bound, until every node in ids is up and has sent
// the serving leader a heartbeat.
func nodesBack(ctx context.Context, c *api.Client, ids []string, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for {
		nodes, err := c.Nodes(ctx)
		if err == nil {
			back := map[string]bool{}
			for _, n := range nodes {
				back[n.ID] = n.Status == state.NodeUp.String() && n.HeartbeatAgeMs >= 0
			}
			var missing []string
			for _, id := range ids {
				if !back[id] {
					missing = append(missing, id)
				}
			}
			if len(missing) == 0 {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("runner: nodes not back after %s: %s", bound, strings.Join(missing, " "))
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func execLogs(dataDir string) []string {
	logs, _ := filepath.Glob(filepath.Join(dataDir, "nodes", "*", ExecLogName))
	sort.Strings(logs)
	return logs
}

func execLogSizes(dataDir string) map[string]int64 {
	out := map[string]int64{}
	for _, p := range execLogs(dataDir) {
		if fi, err := os.Stat(p); err == nil {
			out[p] = fi.Size()
		}
	}
	return out
}

type attemptKey struct {
	job     string
	attempt uint32
}

type execCheck struct {
	check        Check
	executions   int
	reexecutions int
}

// checkExecutions reads the sim exec logs (split at the kill by the byte
// offsets taken then, and read up to the sizes cut taken before the bundle's
// ledger was read, so every execution read has its assignment at or below
// the bundle's chain head) and checks that every execution was fenced:
//
//   - every executed (job, attempt) was assigned by the FSM (job.assigned);
//   - within one agent lifetime an attempt runs at most once;
//   - an attempt that runs in both lifetimes is a re-delivery after the
//     crash, allowed only when its first result was never committed: no
//     result event (completed, failed or requeued) for that attempt at a raft
//     index at or below the last index seen before the kill;
//   - any other re-execution of a job has a higher attempt than before.
func checkExecutions(dataDir string, offsets, cut map[string]int64, evs []state.Event, killIndex uint64) execCheck {
	assigned := map[attemptKey]bool{}
	resultAt := map[attemptKey]uint64{}
	for i := range evs {
		e := &evs[i]
		k := attemptKey{e.Job, e.Attempt}
		switch e.Type {
		case state.EvJobAssigned:
			assigned[k] = true
		case state.EvJobCompleted, state.EvJobFailed, state.EvJobRequeued:
			if _, ok := resultAt[k]; !ok && e.Attempt > 0 {
				resultAt[k] = e.Index
			}
		}
	}
	runs := [2]map[attemptKey]int{{}, {}}
	var problems []string
	total := 0
	logs := execLogs(dataDir)
	for _, p := range logs {
		f, err := os.Open(p)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		var pos int64
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if end, ok := cut[p]; !ok || pos+int64(len(line))+1 > end {
				break
			}
			stage := 0
			if pos >= offsets[p] {
				stage = 1
			}
			pos += int64(len(line)) + 1
			job, att, ok := strings.Cut(line, " ")
			n, err := strconv.ParseUint(att, 10, 32)
			if !ok || err != nil {
				problems = append(problems, fmt.Sprintf("%s: bad line %q", p, line))
				continue
			}
			runs[stage][attemptKey{job, uint32(n)}]++
			total++
		}
		f.Close()
	}
	out := execCheck{executions: total}
	before := map[string]uint32{} // highest attempt run before the kill
	for k := range runs[0] {
		before[k.job] = max(before[k.job], k.attempt)
	}
	for stage := range runs {
		keys := make([]attemptKey, 0, len(runs[stage]))
		for k := range runs[stage] {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].job != keys[j].job {
				return keys[i].job < keys[j].job
			}
			return keys[i].attempt < keys[j].attempt
		})
		for _, k := range keys {
			if n := runs[stage][k]; n > 1 {
				problems = append(problems, fmt.Sprintf("%s attempt %d ran %d times in one agent lifetime", k.job, k.attempt, n))
			}
			if !assigned[k] {
				problems = append(problems, fmt.Sprintf("%s attempt %d ran but was never assigned", k.job, k.attempt))
			}
			if stage == 0 {
				continue
			}
			prev, ranBefore := before[k.job]
			switch {
			case runs[0][k] > 0:
				out.reexecutions++
				if at, ok := resultAt[k]; ok && at <= killIndex {
					problems = append(problems, fmt.Sprintf("%s attempt %d re-ran after the crash though its result was committed at index %d", k.job, k.attempt, at))
				}
			case ranBefore && k.attempt < prev:
				problems = append(problems, fmt.Sprintf("%s ran attempt %d after attempt %d", k.job, k.attempt, prev))
			}
		}
	}
	out.check = Check{ID: "re-executions-fenced", OK: len(problems) == 0 && len(logs) > 0,
		Measured:  fmt.Sprintf("%d executions, %d re-delivered after the crash, %d problems", total, out.reexecutions, len(problems)),
		Threshold: "0 problems"}
	if len(logs) == 0 {
		out.check.Detail = "no exec logs found (sim exec_log not enabled)"
	} else if len(problems) > 0 {
		out.check.Detail = strings.Join(problems[:min(5, len(problems))], "; ")
	}
	return out
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("runner: encode %s: %w", path, err)
	}
	b = append(b, '\n')
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("runner: write %s: %w", path, err)
	}
	return nil
}
