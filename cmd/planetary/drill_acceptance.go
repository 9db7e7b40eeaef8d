package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/cli"

	"github.com/planetary/planetary/core/runner"
)

// DrillAcceptanceCommand runs the acceptance drill: the high-load trial
// with an outage, then the restart drill, and a verdict per assertion.
type DrillAcceptanceCommand struct{ Meta }

func (c *DrillAcceptanceCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary drill acceptance [options]

  Runs the acceptance drill in two stages and writes acceptance.json into the
  bundle of the first:

  1. The high-load trial: an agent in this process runs the plan with
     -jobs-high-load jobs; once the outage node has work in flight (no
     earlier than the plan's outage_at) its plugin process is SIGKILLed.
  2. The restart drill (as 'drill restart'): a child agent is SIGKILLed
     while work is outstanding and restarted on the same data dir.

  The stages share nothing (the restart drill has its own agent process and
  data dir); -parallel runs them side by side, which saves time only on a
  host with cores to spare. The restart drill's progress lines start with
  "restart:".

  Assertions: completion >= 98%, failures <= 1%, spillovers > 0,
  reassignments (requeues after node loss) > 0, every shard holding jobs
  completed >= 98% of them (owner-cancelled jobs excluded), utilisation
  skew <= 3 within each group of interchangeable up nodes (same shard, same
  capabilities; completed jobs per slot-second up), ledger invariants,
  chain verified (report.Verify on the bundle), the trial finished, the
  outage was injected, and every restart drill check (restart/...).

  Exits 1 naming every failed assertion, one line each.

Options:

  -plan=<file>             Mission file (default examples/mission.hcl).
  -jobs-high-load=<n>      Jobs of the trial (default 10000).
  -outage-node=<id>        Node whose plugin is killed (default: the plan's).
  -restart-jobs=<n>        Jobs of the restart drill (default 4000).
  -stop-after=<v>          Restart drill kill point (default 30%).
  -deadline=<dur>          Bound on each wait (default 3m).
  -label=<name>            Trial bundle label (default acceptance; the
                           restart drill's is <label>-restart). A reporting
                           retarget in the plan's schedule wins.
  -log-level=<level>       Log level of the in-process agent (default error).
  -json                    Print acceptance.json to stdout.
  -parallel                Run the restart drill beside the trial.
  -cpuprofile=<file>       CPU profile of this process (the trial's agent).
  -trace=<file>            Go execution trace of this process ('go tool
                           trace' shows where the trial's time goes).
`)
}

func (c *DrillAcceptanceCommand) Synopsis() string {
	return "Run the load trial and restart drill, with verdict"
}

func (c *DrillAcceptanceCommand) Run(args []string) int {
	fs := c.FlagSet("drill acceptance", false)
	var (
		planPath, outageNode, stopAfter, label, logLevel string
		cpuProf, traceOut                                string
		jobs, restartJobs                                int
		parallel                                         bool
		deadline                                         time.Duration
	)
	fs.StringVar(&planPath, "plan", "", "")
	fs.IntVar(&jobs, "jobs-high-load", 10000, "")
	fs.StringVar(&outageNode, "outage-node", "", "")
	fs.IntVar(&restartJobs, "restart-jobs", 4000, "")
	fs.StringVar(&stopAfter, "stop-after", "30%", "")
	fs.DurationVar(&deadline, "deadline", 3*time.Minute, "")
	fs.StringVar(&label, "label", "acceptance", "")
	fs.StringVar(&logLevel, "log-level", "error", "")
	fs.BoolVar(&c.json, "json", false, "")
	fs.BoolVar(&parallel, "parallel", false, "")
	fs.StringVar(&cpuProf, "cpuprofile", "", "")
	fs.StringVar(&traceOut, "trace", "", "")
	if !c.parse(fs, args) {
		return 1
	}
	if fs.NArg() != 0 {
		return c.fail("drill acceptance takes no arguments, got %q", fs.Args())
	}
	p, err := loadPlan(planPath)
	if err != nil {
		return c.fail("Error: %v", err)
	}
	if c.planDiagnostics(p) {
		return 1
	}
	m := p.file.Mission
	if outageNode == "" {
		outageNode = m.Plan.OutageNode
	}
	if _, _, err := parseStopAfter(stopAfter); err != nil {
		return c.fail("Error: %v", err)
	}
	stopProfiles, err := startProfiles(cpuProf, traceOut)
	defer stopProfiles()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()

	rss := startRSSMonitor(ctx)
	var prog *runner.Progress
	if !c.json {
		prog = &runner.Progress{Printf: func(format string, args ...any) { c.Ui.Output(fmt.Sprintf(format, args...)) }}
	}
	trialDir, err := os.MkdirTemp("", "planetary-acceptance-")
	if err != nil {
		return c.fail("Error: temp data dir: %v", err)
	}
	defer os.RemoveAll(trialDir)
	o := runner.AcceptanceOptions{
		Fabric: func(ctx context.Context) (*runner.Fabric, error) {
			emb, err := startEmbedded(ctx, p, trialDir, logLevel, nil, nil)
			if err != nil {
				return nil, err
			}
			return &runner.Fabric{Client: emb.client, Outage: emb.killPlugin, Stop: func() { _ = emb.agent.Shutdown() }}, nil
		},
		Trial: runner.Options{
			Mission: m, MissionSource: p.src, MissionFile: p.name, Jobs: jobs,
			OutageNode: outageNode, OutageAt: ms(m.Plan.OutageAtMs), Deadline: deadline, Label: label,
		},
		Drill: func(ctx context.Context) (*runner.DrillResult, error) {
			return c.restartDrill(ctx, drillSpec{plan: planPath, jobs: restartJobs, stopAfter: stopAfter,
				deadline: deadline, label: label + "-restart", progressPrefix: "restart: "})
		},
		Parallel: parallel,
		Progress: prog,
	}
	res, err := runner.Acceptance(ctx, o)
	if err != nil {
		return c.fail("Error: %v", err)
	}
	res.PeakRSSKB = rss.stop()
	if err := res.Write(); err != nil {
		return c.fail("Error: %v", err)
	}
	if c.json {
		if c.printJSON(res) != 0 {
			return 1
		}
	} else {
		lines := make([]string, 0, len(res.Assertions))
		for _, a := range res.Assertions {
			lines = append(lines, a.Line())
		}
		c.Ui.Output(strings.Join(lines, "\n"))
		c.Ui.Output(kv(
			"Trial", timings(prefixed(res.Timings, "trial."), "start", "load", "kill", "drain", "report", "wall"),
			"Restart drill", timings(prefixed(res.Timings, "restart."), "start", "load", "kill", "restart", "drain", "wall"),
			"Total wall", (time.Duration(res.WallMs)*time.Millisecond).Round(time.Millisecond).String()+stagesText(parallel),
			"Peak RSS", rssText(res.PeakRSSKB),
			"Bundle", res.Trial.Dir,
			"Acceptance", res.Path,
		))
	}
	if failed := res.Failed(); len(failed) > 0 {
		for _, a := range failed {
			c.Ui.Error(a.Line())
		}
		return 1
	}
	return 0
}

func stagesText(parallel bool) string {
	if parallel {
		return " (stages side by side)"
	}
	return " (stages one after the other)"
}

func prefixed(t map[string]float64, prefix string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range t {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

func rssText(kb int64) string {
	if kb <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f MB (this process and its descendants, summed, sampled every 100ms)", float64(kb)/1024)
}

// rssMonitor samples the summed resident memory of this process and its
// descendants (the plugins, the child agent and its plugins) from /proc.
type rssMonitor struct {
	mu      sync.Mutex
	peak    int64
	done    chan struct{}
	stopped chan struct{}
}

func startRSSMonitor(ctx context.Context) *rssMonitor {
	r := &rssMonitor{done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(r.stopped)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := treeRSS(os.Getpid()); kb > 0 {
				r.mu.Lock()
				r.peak = max(r.peak, kb)
				r.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-r.done:
				return
			case <-t.C:
			}
		}
	}()
	return r
}

// stop ends sampling and returns the peak in KiB (0 without /proc).
func (r *rssMonitor) stop() int64 {
	close(r.done)
	<-r.stopped
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peak
}

// treeRSS sums the resident set (KiB) over root and its descendants. It
// reads /proc/<pid>/stat (parent pid and resident pages), which the kernel
// formats far more cheaply than /proc/<pid>/status: the sampler runs every
// 100 ms beside the work it measures.
func treeRSS(root int) int64 {
	d, err := os.Open("/proc")
	if err != nil {
		return 0
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return 0
	}
	page := int64(os.Getpagesize() / 1024)
	parent := map[int]int{}
	rss := map[int]int64{}
	buf := make([]byte, 1024)
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		ppid, pages, ok := readStat(name, buf)
		if !ok {
			continue
		}
		parent[pid], rss[pid] = ppid, pages*page
	}
	var sum int64
	for pid, kb := range rss {
		for p, hops := pid, 0; p > 0 && hops < 64; p, hops = parent[p], hops+1 {
			if p == root {
				sum += kb
				break
			}
		}
	}
	return sum
}

// readStat returns the parent pid and resident pages from /proc/<pid>/stat.
func readStat(pid string, buf []byte) (ppid int, pages int64, ok bool) {
	f, err := os.Open("/proc/" + pid + "/stat")
	if err != nil {
		return 0, 0, false
	}
	n, _ := f.Read(buf)
	f.Close()
	b := buf[:n]
	// The command name is in parentheses and may hold spaces or ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	// After ") ": state(3) ppid(4) ... rss(24).
	f2 := strings.Fields(string(b[i+1:]))
	if len(f2) < 22 {
		return 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f2[1])
	pages, err2 := strconv.ParseInt(f2[21], 10, 64)
	return ppid, pages, err1 == nil && err2 == nil
}

var _ cli.Command = (*DrillAcceptanceCommand)(nil)
