package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// SuiteConfig configures the whole benchmark suite (`planetary bench`).
type SuiteConfig struct {
	Logger hclog.Logger
	// SelfPath is the planetary binary (plugins, drills).
	SelfPath string
	// ModuleDir is the module root where `go test -bench` runs.
	ModuleDir string
	// Quick shrinks every run (smoke test of the suite, not figures).
	Quick bool
	// Only limits the suite to these groups (P1..P9, R1..R3, "micro");
	// empty = all.
	Only []string
	// SoakJobs is the size of the P9 soak (0: 10,000,000; 200,000 with
	// Quick); it samples every tenth of it.
	SoakJobs int
	// Progress receives one line per step and the raw go test output.
	Progress io.Writer
	// HasCommand reports whether the binary has a CLI command ("drill
	// acceptance").
	HasCommand func(name string) bool
	// Command is how the suite was invoked (for the report).
	Command string
}

// Groups of the suite, in run order. Groups in optIn run only when -only
// names them.
var groups = []string{"P1", "R1", "R2", "R3", "P3", "P2", "P4", "P5", "P6", "P7", "P8", "micro", "P9", "disk"}

var optIn = map[string]bool{"disk": true}

// groupBudget bounds each group's wall time, so that the whole suite stays
// under 15 minutes on 2 cores before the P9 soak, which takes up to 45 more
// (a group that runs out reports what it did not measure).
var groupBudget = map[string]time.Duration{
	"P1": 7 * time.Minute, "R1": 4 * time.Minute, "R2": 5 * time.Minute, "R3": 3 * time.Minute, "P3": 90 * time.Second, "P2": 3 * time.Minute, "P4": 5 * time.Minute,
	"P5": 2 * time.Minute, "P6": 2 * time.Minute, "P7": 3 * time.Minute, "P8": 2 * time.Minute,
	"micro": 5 * time.Minute, "P9": 45 * time.Minute, "disk": 20 * time.Minute,
}

// Groups returns the suite's group names.
func Groups() []string { return append([]string(nil), groups...) }

type suite struct {
	cfg SuiteConfig
	rep Report
}

func (s *suite) want(g string) bool {
	if len(s.cfg.Only) == 0 {
		return !optIn[g]
	}
	for _, o := range s.cfg.Only {
		if strings.EqualFold(strings.TrimSpace(o), g) {
			return true
		}
	}
	return false
}

func (s *suite) logf(format string, args ...any) {
	if s.cfg.Progress != nil {
		fmt.Fprintf(s.cfg.Progress, "bench: "+format+"\n", args...)
	}
}

func (s *suite) add(f Figure) { s.rep.Figures = append(s.rep.Figures, f) }

// runs is how many times each repeated figure runs.
const runs = 3

// RunSuite runs the selected benchmark groups and returns the report. A
// failing group becomes a "not measured" row with its error; RunSuite
// returns an error only when ctx ends.
func RunSuite(ctx context.Context, cfg SuiteConfig) (Report, error) {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.ModuleDir == "" {
		cfg.ModuleDir = "."
	}
	if cfg.HasCommand == nil {
		cfg.HasCommand = func(string) bool { return false }
	}
	s := &suite{cfg: cfg, rep: Report{Machine: ThisMachine(), Command: cfg.Command}}
	start := time.Now()
	steps := map[string]func(context.Context){
		"P1": s.p1, "R1": s.r1, "R2": s.r2, "R3": s.r3, "P2": s.p2, "P3": s.p3, "P4": s.p4, "P5": s.p5, "P6": s.p6, "P7": s.p7, "P8": s.p8,
		"micro": s.micro, "P9": s.p9, "disk": s.disk,
	}
	for _, g := range groups {
		if !s.want(g) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return s.rep, err
		}
		t := time.Now()
		s.logf("%s ...", g)
		gctx, cancel := context.WithTimeout(ctx, groupBudget[g])
		steps[g](gctx)
		cancel()
		s.logf("%s done in %s", g, time.Since(t).Round(time.Second))
	}
	s.rep.Elapsed = time.Since(start)
	return s.rep, ctx.Err()
}

func (s *suite) size(full, quick int) int {
	if s.cfg.Quick {
		return quick
	}
	return full
}

func atLeast(v float64, text string) *Goal { return &Goal{Value: v, AtLeast: true, Text: text} }
func atMost(v float64, text string) *Goal  { return &Goal{Value: v, Text: text} }

func (s *suite) lifecycleCfg(w Workload, jobs int) LifecycleConfig {
	c := DefaultLifecycleConfig()
	c.Logger, c.SelfPath, c.Workload, c.Jobs = s.cfg.Logger, s.cfg.SelfPath, w, jobs
	return c
}

func (s *suite) p1(ctx context.Context) {
	jobs := s.size(100_000, 20_000)
	entries := s.size(200, 30)
	var life, ceil, ratio, perJob, cpu []float64
	var firstErr error
	for i := 0; i < runs; i++ {
		c, err := Ceiling(ctx, CeilingConfig{Logger: s.cfg.Logger, Entries: entries, Batch: 1000})
		if err != nil {
			firstErr = err
			break
		}
		r, err := Lifecycle(ctx, s.lifecycleCfg(WorkloadSim, jobs))
		if err != nil {
			firstErr = err
			break
		}
		s.logf("P1 run %d: lifecycle %.0f jobs/s (%.4f entries/job, %s CPU/job), ceiling %.0f submissions/s = %.0f lifecycle jobs/s",
			i+1, r.Sustained, r.EntriesPerJob, r.CPUPerJob, c.JobsPerSec, c.LifecycleJobsPerSec)
		life, ceil = append(life, r.Sustained), append(ceil, c.LifecycleJobsPerSec)
		ratio = append(ratio, r.Sustained/c.LifecycleJobsPerSec)
		perJob = append(perJob, r.EntriesPerJob)
		cpu = append(cpu, float64(r.CPUPerJob.Microseconds()))
		if i == 1 {
			s.rep.Scaling = append(s.rep.Scaling, ScalingRow{Jobs: jobs, Sustained: r.Sustained, HeapPerJob: r.HeapPerJob, Elapsed: r.Elapsed})
		}
	}
	cmd := "bin/planetary bench -only P1"
	f := Figure{ID: "P1", Name: fmt.Sprintf("lifecycle, one dev agent, sim jobs of zero duration (%s jobs per run, sustained after 10%% warm-up)", num(float64(jobs))),
		Unit: "jobs/s", Values: life, Goal: atLeast(20_000, "≥ 20,000 jobs/s (stretch 30,000)"), Command: cmd,
		Note: "Submit over HTTP in 1,000-job batches from 4 goroutines (at most 40,000 jobs unfinished), 2 sim nodes (one plugin process each) of capacity 10,000, BoltDB with fsync"}
	if firstErr != nil {
		f.Skipped = firstErr.Error()
	}
	s.add(f)
	s.add(Figure{ID: "P1", Name: "raw raft ceiling as lifecycle jobs/s (1,000-job SubmitBatch applies ÷ 3 entries per job, same run)",
		Unit: "jobs/s", Values: ceil, Command: cmd,
		Note: "core/server Submit of 1,000 jobs per entry, one after another, dispatch paused, BoltDB with fsync"})
	s.add(Figure{ID: "P1", Name: "lifecycle ÷ raft ceiling", Unit: "", Values: ratio, Command: cmd})
	s.add(Figure{Name: "raft entries per job in the lifecycle run", Unit: "entries/job", Values: perJob, Command: cmd})
	s.add(Figure{Name: "agent-process CPU per job in the lifecycle run (server+API+client role; plugins excluded)", Unit: "µs/job", Values: cpu, Command: cmd})

	// Scaling table: 10k, (100k above), 1M.
	for _, n := range []int{s.size(10_000, 5_000), s.size(1_000_000, 0)} {
		if n == 0 || ctx.Err() != nil {
			continue
		}
		c := s.lifecycleCfg(WorkloadSim, n)
		c.StallTimeout = 2 * time.Minute
		r, err := Lifecycle(ctx, c)
		if err != nil {
			s.logf("P1 scaling %d jobs: %v", n, err)
			continue
		}
		s.logf("P1 scaling %d jobs: %.0f jobs/s, heap %.0f B/job", n, r.Sustained, r.HeapPerJob)
		row := ScalingRow{Jobs: n, Sustained: r.Sustained, HeapPerJob: r.HeapPerJob, Elapsed: r.Elapsed}
		if n < jobs {
			s.rep.Scaling = append([]ScalingRow{row}, s.rep.Scaling...)
		} else {
			s.rep.Scaling = append(s.rep.Scaling, row)
		}
	}
}

func (s *suite) p2(ctx context.Context) {
	jobs := s.size(100_000, 5_000)
	cmd := "bin/planetary bench -only P1,P2"
	f := Figure{ID: "P2", Name: fmt.Sprintf("lifecycle on a 3-server cluster on one machine (%s jobs per run, sustained after 10%% warm-up)", num(float64(jobs))),
		Unit: "jobs/s", Goal: atLeast(8_000, "≥ 8,000 jobs/s"), Command: cmd,
		Note: "3 `agent -server` processes (bootstrap-expect 3, raft over loopback, BoltDB with fsync) and one `agent -client` process with 2 sim nodes of capacity 10,000; " +
			"1,000-job batches from 4 goroutines sent round-robin to the 3 servers (followers forward to the leader), at most 40,000 unfinished; finished jobs read from /v1/metrics; each run time-boxed"}
	var vals []float64
	var retries int64
	for i := 0; i < runs; i++ {
		l := DefaultLoadConfig()
		l.Jobs, l.TimeBox = jobs, s.sizeDur(60*time.Second, 20*time.Second)
		r, err := ClusterLifecycle(ctx, s.clusterCfg(0, 0), l)
		if err != nil {
			f.Skipped = err.Error()
			break
		}
		s.logf("P2 run %d: %.0f jobs/s sustained (%d finished in %s, time box hit: %v, %d submit retries)",
			i+1, r.Sustained, r.Finished, r.Elapsed.Round(time.Millisecond), r.TimedOut, r.Retries)
		if r.TimedOut {
			f.Note += fmt.Sprintf("; run %d hit its time box after %s jobs", i+1, num(float64(r.Finished)))
		}
		vals = append(vals, r.Sustained)
		retries += r.Retries
	}
	f.Values = vals
	s.add(f)
	if len(vals) == 0 {
		return
	}
	ratio := Figure{ID: "P2", Name: "cluster lifecycle ÷ one-agent lifecycle (P2 median ÷ P1 median, same suite run)", Command: cmd}
	if p1 := s.median("P1", "lifecycle, one dev agent"); p1 > 0 {
		ratio.Values = []float64{Summarize(vals).Median / p1}
	} else {
		ratio.Skipped = "P1 not run in this suite run"
	}
	s.add(ratio)
}

// median is the median of the first figure of group id whose name starts
// with prefix (0 when absent).
func (s *suite) median(id, prefix string) float64 {
	for _, f := range s.rep.Figures {
		if f.ID == id && strings.HasPrefix(f.Name, prefix) && f.Skipped == "" && len(f.Values) > 0 {
			return Summarize(f.Values).Median
		}
	}
	return 0
}

func (s *suite) clusterCfg(hb, election time.Duration) ClusterConfig {
	c := DefaultClusterConfig()
	c.Logger, c.SelfPath = s.cfg.Logger, s.cfg.SelfPath
	c.RaftHeartbeatTimeout, c.RaftElectionTimeout = hb, election
	return c
}

func (s *suite) sizeDur(full, quick time.Duration) time.Duration {
	if s.cfg.Quick {
		return quick
	}
	return full
}

func (s *suite) p3(ctx context.Context) {
	jobs := s.size(3_000, 500)
	var (
		vals              []float64
		completed, failed int64
	)
	f := Figure{ID: "P3", Name: fmt.Sprintf("lifecycle, exec agent running /bin/true per job (%s jobs per run)", num(float64(jobs))),
		Unit: "jobs/s", Goal: atLeast(1_000, "≥ 1,000 jobs/s"), Command: "bin/planetary bench -only P3",
		Note: "Same harness as P1 with 2 exec nodes; each job forks and waits for one process"}
	for i := 0; i < runs; i++ {
		r, err := Lifecycle(ctx, s.lifecycleCfg(WorkloadExec, jobs))
		if err != nil {
			f.Skipped = err.Error()
			break
		}
		s.logf("P3 run %d: %.0f jobs/s (%d completed, %d failed)", i+1, r.Sustained, r.Completed, r.Failed)
		vals = append(vals, r.Sustained)
		completed += r.Completed
		failed += r.Failed
	}
	f.Values = vals
	if len(vals) > 0 {
		// A job that fails fast finishes fast: count them, so a run of
		// failures cannot pass for a fast one.
		f.Note += fmt.Sprintf("; %s jobs completed and %s failed over the runs", num(float64(completed)), num(float64(failed)))
	}
	s.add(f)
}

func (s *suite) p4(ctx context.Context) {
	cmdLine := "bin/planetary drill acceptance -jobs-high-load 10000 -outage-node mars.gpu-helion"
	runs := 3
	if s.cfg.Quick {
		runs = 1
	}
	f := Figure{ID: "P4", Name: "drill acceptance wall time (trial, then restart drill), 10,000 high-load jobs, outage of mars.gpu-helion, production heartbeat TTLs",
		Unit: "s", Goal: atMost(5, "≤ 5 s"), Command: cmdLine}
	if !s.cfg.HasCommand("drill acceptance") {
		f.Skipped = "the drill acceptance command is not in this build"
		s.add(f)
		return
	}
	drill := func(extra ...string) (DrillRun, error) {
		dir, err := os.MkdirTemp("", "planetary-drill-")
		if err != nil {
			return DrillRun{}, err
		}
		defer os.RemoveAll(dir)
		dctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		args := append([]string{"-plan", filepath.Join(s.cfg.ModuleDir, "examples", "mission.hcl"),
			"-jobs-high-load", "10000", "-outage-node", "mars.gpu-helion"}, extra...)
		d, err := RunDrill(dctx, DrillConfig{SelfPath: s.cfg.SelfPath, Dir: dir, Args: args})
		s.logf("P4: drill acceptance %s took %s", strings.Join(extra, " "), d.Wall.Round(time.Millisecond))
		if err == nil && d.Result == nil {
			err = fmt.Errorf("drill exited after %s without a result (%s)", d.Wall.Round(time.Millisecond), d.ExitErr)
		}
		return d, err
	}
	var (
		done   []DrillRun
		failed []string
	)
	for range runs {
		d, err := drill()
		if err != nil {
			f.Skipped = err.Error()
			break
		}
		done = append(done, d)
		f.Values = append(f.Values, d.Wall.Seconds())
		if fl := d.Result.Failed(); len(fl) > 0 {
			failed = append(failed, failedIDs(fl))
		}
	}
	if len(failed) > 0 {
		f.Note = fmt.Sprintf("failed assertions in %d of %d runs: %s", len(failed), len(done), strings.Join(failed, "; "))
	} else if len(done) > 0 {
		f.Note = fmt.Sprintf("every assertion passed in all %d runs; the breakdown below is the median run's", len(done))
	}
	s.add(f)
	if len(done) == 0 {
		return
	}
	sort.Slice(done, func(i, j int) bool { return done[i].Wall < done[j].Wall })
	d := done[len(done)/2]
	for _, ph := range d.Phases() {
		s.add(Figure{ID: "P4", Name: "drill acceptance phase: " + ph.Name, Unit: "s", Values: []float64{ph.Seconds}, Command: cmdLine})
	}
	if d.PeakRSSKB > 0 {
		s.add(Figure{ID: "P4", Name: "drill acceptance peak RSS, all processes summed (drill, its in-process agent, plugins, restart-drill agent)",
			Unit: "MB", Values: []float64{float64(d.PeakRSSKB) / 1024}, Command: cmdLine,
			Note: "the larger of the drill's own /proc sample of its process tree and this driver's (every 50ms)"})
	}
	if !s.cfg.Quick {
		seq := Figure{ID: "P4", Name: "drill acceptance wall time, restart drill beside the trial (-parallel); runs once",
			Unit: "s", Command: cmdLine + " -parallel"}
		if sd, err := drill("-parallel"); err != nil {
			seq.Skipped = err.Error()
		} else {
			seq.Values = []float64{sd.Wall.Seconds()}
			if fl := sd.Result.Failed(); len(fl) > 0 {
				seq.Note = "failed assertions: " + failedIDs(fl)
			}
		}
		s.add(seq)
	}
	s.rep.Sections = append(s.rep.Sections, [2]string{"P4 beside the reference demos", d.Markdown()})
	if d.Output != "" {
		s.rep.Sections = append(s.rep.Sections, [2]string{"P4 drill output (median run)", "```\n" + tail(d.Output, 60) + "\n```"})
	}
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

func (s *suite) gobench(ctx context.Context, g GoBench) ([]GoResult, error) {
	if g.Timeout == 0 {
		g.Timeout = 10 * time.Minute
	}
	s.logf("%s", g.Command())
	return RunGoBench(ctx, s.cfg.ModuleDir, g, s.cfg.Progress)
}

// goFigure adds one row read from a go benchmark's unit.
func (s *suite) goFigure(rs []GoResult, err error, g GoBench, bench, unit string, f Figure) {
	f.Command = g.Command()
	if r, ok := Find(rs, bench); ok {
		f.Values = r.Values(unit)
	}
	if len(f.Values) == 0 {
		f.Skipped = "no result"
		if err != nil {
			f.Skipped = err.Error()
		}
	}
	s.add(f)
}

func (s *suite) p5(ctx context.Context) {
	if s.cfg.Quick {
		s.add(Figure{ID: "P5", Name: "server heap per job with 1,000,000 jobs in the registry", Goal: atMost(400, "≤ 400 B/job"), Skipped: "-quick"})
		return
	}
	g := GoBench{Pkg: "./raftfsm/", Pattern: "^BenchmarkHeapPerJob1M$", Benchtime: "1x", Count: 1}
	rs, err := s.gobench(ctx, g)
	s.goFigure(rs, err, g, "BenchmarkHeapPerJob1M", "B/job", Figure{ID: "P5",
		Name: "server heap per job with 1,000,000 jobs in the registry (FSM store, GC'd heap delta)", Unit: "B/job",
		Goal: atMost(400, "≤ 400 B/job")})
}

func (s *suite) p6(ctx context.Context) {
	if s.cfg.Quick {
		s.add(Figure{ID: "P6", Name: "checkpoint of 1,000,000 jobs: persist", Goal: atMost(1, "≤ 1 s"), Skipped: "-quick"})
		s.add(Figure{ID: "P6", Name: "checkpoint of 1,000,000 jobs: restore", Goal: atMost(1.5, "≤ 1.5 s"), Skipped: "-quick"})
		return
	}
	g := GoBench{Pkg: "./raftfsm/", Pattern: "^Benchmark(Persist|Restore)1M$", Benchtime: "3x", Count: 1}
	rs, err := s.gobench(ctx, g)
	secs := func(name string) []float64 {
		r, _ := Find(rs, name)
		var out []float64
		for _, v := range r.Values("ns/op") {
			out = append(out, v/1e9)
		}
		return out
	}
	for _, c := range []struct {
		bench, name string
		goal        *Goal
	}{
		{"BenchmarkPersist1M", "checkpoint (raft snapshot) of 1,000,000 jobs: persist", atMost(1, "≤ 1 s")},
		{"BenchmarkRestore1M", "checkpoint (raft snapshot) of 1,000,000 jobs: restore", atMost(1.5, "≤ 1.5 s")},
	} {
		f := Figure{ID: "P6", Name: c.name + " (mean of 3 in one run)", Unit: "s", Values: secs(c.bench), Goal: c.goal, Command: g.Command()}
		if len(f.Values) == 0 {
			f.Skipped = fmt.Sprint("no result: ", err)
		}
		s.add(f)
	}
}

func (s *suite) p7(ctx context.Context) {
	n := s.size(runs, 1)
	for _, c := range []struct {
		name, flags  string
		hb, election time.Duration
		goal         *Goal
	}{
		{"raft default timeouts (1s heartbeat, 1s election)", "", 0, 0, atMost(5, "≤ 5 s (default timeouts)")},
		{"tuned timeouts (-raft-heartbeat-timeout 150ms -raft-election-timeout 150ms)", " (servers with -raft-heartbeat-timeout 150ms -raft-election-timeout 150ms)", 150 * time.Millisecond, 150 * time.Millisecond, nil},
	} {
		f := Figure{ID: "P7", Name: "SIGKILL of the leader process → first assignment committed by the new leader, " + c.name,
			Unit: "s", Goal: c.goal, Command: "bin/planetary bench -only P7",
			Note: "the P2 cluster" + c.flags + " under load (1,000-job batches round-robin over the servers, retried on the next server); the leader is SIGKILLed once 3,000 jobs finished; " +
				"measured to the leader-stamped time of the first job.assigned event after the kill on a survivor's /v1/events"}
		elected := Figure{Name: "SIGKILL of the leader → new leader observed on /v1/status/self, " + c.name, Unit: "s", Command: f.Command}
		for i := 0; i < n; i++ {
			l := DefaultLoadConfig()
			l.Jobs, l.Window = 1_000_000, 10_000
			r, err := ClusterFailover(ctx, ClusterFailoverConfig{Cluster: s.clusterCfg(c.hb, c.election), Load: l, KillAfter: 3_000})
			if err != nil {
				f.Skipped = err.Error()
				break
			}
			s.logf("P7 run %d (%s): new leader s%d observed after %s, first assignment after %s",
				i+1, c.name, r.NewLeader, r.Elected.Round(time.Millisecond), r.FirstAssign.Round(time.Millisecond))
			f.Values = append(f.Values, r.FirstAssign.Seconds())
			if r.NewLeader >= 0 {
				elected.Values = append(elected.Values, r.Elected.Seconds())
			}
		}
		s.add(f)
		if len(elected.Values) > 0 {
			s.add(elected)
		}
	}
}

func (s *suite) p8(ctx context.Context) {
	g := GoBench{Pkg: "./sdk/host/", Pattern: "^BenchmarkExecStream$", Benchtime: s.sizeStr("200000x", "20000x"), Count: runs}
	rs, err := s.gobench(ctx, g)
	f := Figure{ID: "P8", Name: "plugin-boundary CPU per executed job, streamed (host + plugin process)", Unit: "µs/job",
		Goal: atMost(20, "≤ 20 µs"), Command: g.Command(),
		Note: "host-cpu-ns/job + plugin-cpu-ns/job(cumulative) of one execute stream with 256 in flight"}
	if r, ok := Find(rs, "BenchmarkExecStream"); ok {
		h, p := r.Values("host-cpu-ns/job"), r.Values("plugin-cpu-ns/job(cumulative)")
		for i := range min(len(h), len(p)) {
			f.Values = append(f.Values, (h[i]+p[i])/1000)
		}
		s.add(f)
		s.add(Figure{Name: "streamed executions through one plugin", Unit: "jobs/s", Values: r.Values("jobs/s"), Command: g.Command()})
		return
	}
	f.Skipped = fmt.Sprint("no result: ", err)
	s.add(f)
}

func (s *suite) sizeStr(full, quick string) string {
	if s.cfg.Quick {
		return quick
	}
	return full
}

func (s *suite) micro(ctx context.Context) {
	count := runs
	// raft-committed submissions on one node (fsync).
	g := GoBench{Pkg: "./core/server/", Pattern: "^BenchmarkSubmit$", Benchtime: s.sizeStr("2s", "300ms"), Count: count}
	rs, err := s.gobench(ctx, g)
	for _, c := range []struct{ bench, name string }{
		{"BenchmarkSubmit/batch=1", "raft-committed submissions, one node, fsync, batches of 1"},
		{"BenchmarkSubmit/batch=1000", "raft-committed submissions, one node, fsync, batches of 1,000"},
		{"BenchmarkSubmit/callers=64", "raft-committed submissions, 1-job calls from 64 callers (coalesced)"},
	} {
		s.goFigure(rs, err, g, c.bench, "jobs/s", Figure{Name: c.name, Unit: "jobs/s"})
	}
	// raft-committed submissions on 3 servers vs 1 (in-process, loopback TCP).
	g = GoBench{Pkg: "./core/server/", Pattern: "^BenchmarkClusterSubmit$", Benchtime: s.sizeStr("1s", "200ms"), Count: count}
	rs, err = s.gobench(ctx, g)
	for _, c := range []struct{ bench, name string }{
		{"BenchmarkClusterSubmit/servers=1/batch=1000", "raft-committed submissions, 1 server over loopback TCP, fsync, batches of 1,000"},
		{"BenchmarkClusterSubmit/servers=3/batch=1000", "raft-committed submissions, 3 servers over loopback TCP, fsync, batches of 1,000"},
		{"BenchmarkClusterSubmit/servers=1/callers=64", "raft-committed submissions, 1 server, 1-job calls from 64 callers"},
		{"BenchmarkClusterSubmit/servers=3/callers=64", "raft-committed submissions, 3 servers, 1-job calls from 64 callers"},
	} {
		s.goFigure(rs, err, g, c.bench, "jobs/s", Figure{Name: c.name, Unit: "jobs/s"})
	}
	// in-process failover (leader shutdown, no process kill).
	g = GoBench{Pkg: "./core/server/", Pattern: "^BenchmarkFailover$", Benchtime: s.sizeStr("3x", "1x"), Count: 1}
	rs, err = s.gobench(ctx, g)
	for _, c := range []struct{ bench, name string }{
		{"BenchmarkFailover/raft-default-1s", "in-process failover: leader shutdown → first assignment by the new leader, raft defaults (mean of 3)"},
		{"BenchmarkFailover/raft-tuned-150ms", "in-process failover: leader shutdown → first assignment by the new leader, 150ms timeouts (mean of 3)"},
	} {
		s.goFigure(rs, err, g, c.bench, "ms-to-first-assign", Figure{Name: c.name, Unit: "ms", Note: "compare with P7 (a real SIGKILL of a server process)"})
	}
	// placement decisions.
	g = GoBench{Pkg: "./core/scheduler/", Pattern: "^BenchmarkPlan10k$", Benchtime: "20x", Count: count}
	rs, err = s.gobench(ctx, g)
	for _, r := range rs {
		s.goFigure(rs, err, g, r.Name, "jobs/s", Figure{Name: "placement decisions, 10,000 queued jobs over the example fabric (" +
			strings.TrimPrefix(r.Name, "BenchmarkPlan10k/") + ")", Unit: "decisions/s"})
	}
	if len(rs) == 0 {
		s.add(Figure{Name: "placement decisions, 10,000 queued jobs over the example fabric", Command: g.Command(), Skipped: fmt.Sprint("no result: ", err)})
	}
	// placement decisions with latency estimates.
	g = GoBench{Pkg: "./core/scheduler/", Pattern: "^BenchmarkPlanLatency10k$", Benchtime: "20x", Count: count}
	rs, err = s.gobench(ctx, g)
	s.goFigure(rs, err, g, "BenchmarkPlanLatency10k", "decisions/s", Figure{
		Name: "placement decisions with latency estimates, 10,000 queued jobs over the example fabric (its capacities, budgets, a known mean service time)",
		Unit: "decisions/s", Goal: atLeast(1_000_000, "≥ 1,000,000 decisions/s"),
		Note: "every job not placed gets a wait estimate weighed against its budget"})
	// one unbatched plugin call.
	g = GoBench{Pkg: "./sdk/host/", Pattern: "^BenchmarkHealth$", Benchtime: s.sizeStr("3000x", "300x"), Count: count}
	rs, err = s.gobench(ctx, g)
	for _, c := range []struct{ bench, name string }{
		{"BenchmarkHealth/sequential", "one unbatched plugin call (Health), sequential"},
		{"BenchmarkHealth/concurrent-8", "one unbatched plugin call (Health), 8 concurrent callers, per call"},
	} {
		rr, ok := Find(rs, c.bench)
		f := Figure{Name: c.name, Unit: "µs", Command: g.Command()}
		for _, ns := range rr.Values("ns/op") {
			f.Values = append(f.Values, ns/1000)
		}
		if !ok {
			f.Skipped = fmt.Sprint("no result: ", err)
		}
		s.add(f)
	}
	// container jobs/s (podman) beside exec jobs/s (P3).
	g = GoBench{Pkg: "./plugins/container/", Pattern: "^BenchmarkEcho$", Benchtime: s.sizeStr("10x", "2x"), Count: count}
	rs, err = s.gobench(ctx, g)
	s.goFigure(rs, err, g, "BenchmarkEcho/cli", "jobs/s", Figure{Name: "container jobs (podman CLI, echo), sequential", Unit: "jobs/s",
		Note: "compare with P3 (exec agent, /bin/true)"})
	s.goFigure(rs, err, g, "BenchmarkEcho/api", "jobs/s", Figure{Name: "container jobs (podman API, echo), sequential", Unit: "jobs/s"})
	// HTTP submit and the client's end-to-end benchmark.
	g = GoBench{Pkg: "./core/api/", Pattern: "^BenchmarkSubmitHTTP$", Benchtime: s.sizeStr("2s", "300ms"), Count: count}
	rs, err = s.gobench(ctx, g)
	for _, r := range rs {
		s.goFigure(rs, err, g, r.Name, "jobs/s", Figure{Name: "HTTP submit, in-memory raft (" + strings.TrimPrefix(r.Name, "BenchmarkSubmitHTTP/") + ")", Unit: "jobs/s"})
	}
	g = GoBench{Pkg: "./core/client/", Pattern: "^BenchmarkEndToEnd$", Benchtime: s.sizeStr("20x", "3x"), Count: count}
	rs, err = s.gobench(ctx, g)
	s.goFigure(rs, err, g, "BenchmarkEndToEnd", "jobs/s", Figure{Name: "client role end to end, 1,000-job batches one at a time (waits for each batch)", Unit: "jobs/s"})
}

// diskRuns are the configurations of the disk group: the defaults, and an
// event_retention size limit.
var diskRuns = []struct{ name, agent string }{
	{"default raft settings, every event kept", ""},
	{"default raft settings, event_retention max_bytes 256 MiB", "event_retention {\n    max_bytes = 268435456\n  }"},
}

// disk measures the data dir over one long lifecycle run per diskRuns
// entry: raft.db, the event log and the snapshots, sampled every second.
// raft.db is bounded by raft's snapshots (it reuses freed pages, never
// shrinks): its largest size in the second half of the run against the
// first half shows whether it plateaus.
func (s *suite) disk(ctx context.Context) {
	jobs := s.size(1_000_000, 20_000)
	cmd := "bin/planetary bench -only disk"
	mb := func(b int64) float64 { return float64(b) / (1 << 20) }
	for _, run := range diskRuns {
		if ctx.Err() != nil {
			return
		}
		c := s.lifecycleCfg(WorkloadSim, jobs)
		c.StallTimeout = 2 * time.Minute
		c.AgentHCL, c.DiskEvery = run.agent, time.Second
		r, err := Lifecycle(ctx, c)
		label := fmt.Sprintf("%s jobs, %s", num(float64(jobs)), run.name)
		if err != nil {
			s.logf("disk %s: %v", label, err)
			s.add(Figure{Name: "raft.db peak, " + label, Unit: "MB", Command: cmd, Skipped: err.Error()})
			continue
		}
		var peak, firstHalf, secondHalf, evPeak, snapPeak int64
		for _, d := range r.Disk {
			peak, evPeak, snapPeak = max(peak, d.RaftDB), max(evPeak, d.Events), max(snapPeak, d.Snapshots)
			if d.Finished*2 < int64(jobs) {
				firstHalf = max(firstHalf, d.RaftDB)
			} else {
				secondHalf = max(secondHalf, d.RaftDB)
			}
		}
		end := r.Disk[len(r.Disk)-1]
		s.logf("disk %s: raft.db peak %.1f MB (first half %.1f, second half %.1f), end %.1f MB; events end %.1f MB; snapshots peak %.1f MB",
			label, mb(peak), mb(firstHalf), mb(secondHalf), mb(end.RaftDB), mb(end.Events), mb(snapPeak))
		note := fmt.Sprintf("P1's lifecycle harness with %s jobs, sizes sampled every second; %s jobs/s sustained", num(float64(jobs)), num(r.Sustained))
		s.add(Figure{Name: "raft.db peak, " + label, Unit: "MB", Values: []float64{mb(peak)}, Command: cmd, Note: note})
		s.add(Figure{Name: "raft.db largest in the first half of the jobs, " + label, Unit: "MB", Values: []float64{mb(firstHalf)}, Command: cmd})
		s.add(Figure{Name: "raft.db largest in the second half of the jobs, " + label, Unit: "MB", Values: []float64{mb(secondHalf)}, Command: cmd})
		s.add(Figure{Name: "event log at the end, " + label, Unit: "MB", Values: []float64{mb(end.Events)}, Command: cmd})
		s.add(Figure{Name: "event log peak, " + label, Unit: "MB", Values: []float64{mb(evPeak)}, Command: cmd})
		s.add(Figure{Name: "snapshots dir peak, " + label, Unit: "MB", Values: []float64{mb(snapPeak)}, Command: cmd})
		var b strings.Builder
		b.WriteString("| jobs finished | time | raft.db | event log | snapshots |\n|---|---|---|---|---|\n")
		step := max(int64(jobs)/10, 1)
		nextRow := int64(0)
		for i, d := range r.Disk {
			if d.Finished >= nextRow || i == len(r.Disk)-1 {
				fmt.Fprintf(&b, "| %s | %s | %.1f MB | %.1f MB | %.1f MB |\n", num(float64(d.Finished)), d.At.Round(time.Second),
					mb(d.RaftDB), mb(d.Events), mb(d.Snapshots))
				nextRow = (d.Finished/step + 1) * step
			}
		}
		s.rep.Sections = append(s.rep.Sections, [2]string{"Data dir over time: " + label, b.String()})
	}
}

// soakRetention is the P9 mission's garbage collection: finished jobs are
// collected 2 s of mission time after they finish, in passes every second,
// and their tombs are forgotten 5 s after collection.
const soakRetention = `
retention {
  job_gc_threshold   = "2s"
  job_gc_interval    = "1s"
  job_gc_batch       = 5000
  idempotency_window = "5s"
}
`

// soakAgent is the P9 agent's event retention: the event log is pruned
// (behind raft snapshots) to 256 MiB. soakServer has raft check for a
// snapshot every 5-10 s (default 30-60 s), which bounds the log a restart
// replays.
const (
	soakAgent  = "event_retention {\n    max_bytes = 268435456\n  }"
	soakServer = `snapshot_interval = "5s"`
)

// p9 is the steady-state soak: SoakJobs zero-duration sim jobs through one
// dev agent with garbage collection and event retention on, sampled every
// tenth of the jobs, then a restart on the same data dir.
func (s *suite) p9(ctx context.Context) {
	jobs := s.cfg.SoakJobs
	if jobs <= 0 {
		jobs = s.size(10_000_000, 200_000)
	}
	every := int64(jobs / 10)
	cmd := "bin/planetary bench -only P9"
	if jobs != 10_000_000 {
		cmd += fmt.Sprintf(" -soak-jobs %d", jobs)
	}
	n := num(float64(jobs))
	c := s.lifecycleCfg(WorkloadSim, jobs)
	c.StallTimeout = 2 * time.Minute
	c.MissionHCL, c.AgentHCL, c.ServerHCL = soakRetention, soakAgent, soakServer
	c.SampleEvery, c.Restart = every, true
	r, err := Lifecycle(ctx, c)
	names := []struct {
		name string
		goal *Goal
	}{
		{"agent RSS, largest sample in the last half of the jobs", atMost(400, "≤ 400 MB")},
		{"agent RSS, largest sample in the last half ÷ in the first half", atMost(1.1, "≤ 1.1")},
		{"data dir at the end", atMost(2048, "≤ 2 GB")},
		{"data dir at the end ÷ at 2/10 of the jobs", atMost(1.2, "≤ 1.2")},
		{"jobs/s of the last tenth ÷ of the second tenth", atLeast(0.9, "≥ 0.9")},
		{"jobs/s overall", atLeast(20_000, "≥ 20,000 jobs/s")},
		{"restart on the soak's data dir → first answered API request", atMost(2, "≤ 2 s")},
	}
	ids := []string{"P9a", "P9a", "P9b", "P9b", "P9c", "P9c", "P9d"}
	units := []string{"MB", "", "MB", "", "", "jobs/s", "s"}
	note := fmt.Sprintf("%s zero-duration sim jobs, P1's harness (one dev agent in the bench process, 2 sim plugin processes); "+
		"retention job_gc_threshold 2s, job_gc_interval 1s, job_gc_batch 5000, idempotency_window 5s; "+
		"event_retention max_bytes 256 MiB; raft snapshot_interval 5s; RSS is the bench process's (agent, HTTP submitters, sampler); sampled every %s jobs", n, num(float64(every)))
	if err != nil || len(r.Samples) < 3 {
		why := fmt.Sprint(err)
		if err == nil {
			why = fmt.Sprintf("%d samples", len(r.Samples))
		}
		s.logf("P9 %s jobs: %s", n, why)
		for i, f := range names {
			s.add(Figure{ID: ids[i], Name: f.name + " (" + n + "-job soak)", Goal: f.goal, Unit: units[i], Command: cmd, Skipped: why})
		}
		return
	}
	mb := func(b int64) float64 { return float64(b) / (1 << 20) }
	sm := r.Samples
	var first, last int64
	for i, x := range sm {
		if i < len(sm)/2 {
			first = max(first, x.RSS)
		} else {
			last = max(last, x.RSS)
		}
	}
	end := sm[len(sm)-1]
	// The sample at 2/10 of the jobs (completions arrive in batches, so a
	// sample may stand for two tenths): its data dir, and its rate.
	second := sm[len(sm)-1]
	for _, x := range sm {
		if x.Finished >= 2*every {
			second = x
			break
		}
	}
	vals := []float64{
		mb(last), float64(last) / float64(max(first, 1)),
		mb(end.DataDir), float64(end.DataDir) / float64(max(second.DataDir, 1)),
		end.JobsPerSec / max(second.JobsPerSec, 1), r.Overall,
		r.RestartToAPI.Seconds(),
	}
	for i, f := range names {
		fig := Figure{ID: ids[i], Name: f.name + " (" + n + "-job soak)", Goal: f.goal, Unit: units[i], Values: []float64{vals[i]}, Command: cmd}
		if i == 0 {
			fig.Note = note
		}
		if ids[i] == "P9d" && r.RestartErr != nil {
			fig.Values, fig.Skipped = nil, r.RestartErr.Error()
		}
		s.add(fig)
	}
	s.logf("P9 %s jobs: %.0f jobs/s overall; RSS %.0f MB (first half %.0f); data dir %.0f MB; restart %s",
		n, r.Overall, mb(last), mb(first), mb(end.DataDir), r.RestartToAPI.Round(time.Millisecond))
	var b strings.Builder
	b.WriteString("| jobs finished | time | jobs/s (this tenth) | live heap | RSS | raft.db | snapshots | event log | data dir | live jobs | tombs |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range sm {
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f MB | %.0f MB | %.0f MB | %.0f MB | %.0f MB | %.0f MB | %s | %s |\n",
			num(float64(x.Finished)), x.At.Round(time.Second), num(x.JobsPerSec), mb(int64(x.LiveHeap)), mb(x.RSS),
			mb(x.RaftDB), mb(x.Snapshots), mb(x.Events), mb(x.DataDir), num(float64(x.LiveJobs)), num(float64(x.Tombs)))
	}
	if r.RestartErr != nil {
		fmt.Fprintf(&b, "\nRestart on the data dir after the last job failed: %v.\n", r.RestartErr)
	} else {
		fmt.Fprintf(&b, "\nRestart on the data dir after the last job: API answering after %s.\n", r.RestartToAPI.Round(time.Millisecond))
	}
	s.rep.Sections = append(s.rep.Sections, [2]string{"P9 soak: " + n + " jobs with garbage collection, sampled every " + num(float64(every)), b.String()})
}
