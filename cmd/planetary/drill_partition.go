package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/cli"

	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/core/runner"
	"github.com/planetary/planetary/examples"
)

// DrillPartitionCommand runs the region partition drill.
type DrillPartitionCommand struct{ Meta }

func (c *DrillPartitionCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary drill partition [options]

  Runs agent -dev -regions as a child process over the four-region drill
  mission (examples/partition-drill.hcl: earth, luna, mars and helios, each
  its own raft group), paces the jobs into every region, puts a one-way
  latency on the Earth-Mars links, cuts Mars off from every other region in
  the middle third of the run, heals, and checks: Mars kept completing its
  own jobs during the cut; Earth, Luna and Helios completed at least
  -min-rate-ratio of their rate before the cut during it; every job
  completed exactly once in its own region; every region's global ledger
  caught up and equals the sum of the regions' own ledgers; every region's
  bundle passes ledger verify; the hand-offs from Mars to Earth begun just
  before the cut were in flight across it and each ended exactly once. Writes each region's bundle and
  partition-verdict.json under -report-dir. Exits 1 when a check fails.

Options:

  -jobs=<n>             Jobs, spread evenly over the regions (default 10000).
  -latency=<dur>        Earth-Mars one-way link latency (default 2s).
  -cut=<dur>            How long Mars is cut off (default 30s).
  -rate=<jobs/s>        Submission rate over all regions (default: jobs over
                        three times -cut, so the cut falls mid-run).
  -job-duration=<dur>   How long each sim job runs (default 20ms).
  -handoffs=<n>         Jobs Mars hands to Earth just before the cut, in
                        flight across it (default jobs/100; -1: none).
  -min-rate-ratio=<r>   Least share of its rate before the cut another region
                        keeps during it (default 0.9; 0 reports only).
  -report-dir=<dir>     Where the bundles and the verdict go (default
                        ./reports/partition-drill).
  -data-dir=<dir>       The child's data dir (default: a temp dir).
  -deadline=<dur>       Bound on the whole drill (default 10m plus three
                        times -cut).
  -json                 Print the result as JSON.
`)
}

func (c *DrillPartitionCommand) Synopsis() string {
	return "Cut a region off mid-run and check sovereignty"
}

func (c *DrillPartitionCommand) Run(args []string) int {
	fs := c.FlagSet("drill partition", false)
	o := runner.PartitionOptions{}
	var dataDir, reportDir string
	fs.IntVar(&o.Jobs, "jobs", 10000, "")
	fs.DurationVar(&o.Latency, "latency", 2*time.Second, "")
	fs.DurationVar(&o.CutFor, "cut", 30*time.Second, "")
	fs.Float64Var(&o.Rate, "rate", 0, "")
	fs.DurationVar(&o.JobDuration, "job-duration", 20*time.Millisecond, "")
	fs.Float64Var(&o.MinRateRatio, "min-rate-ratio", 0.9, "")
	fs.IntVar(&o.HandOffs, "handoffs", 0, "")
	fs.StringVar(&reportDir, "report-dir", filepath.Join("reports", "partition-drill"), "")
	fs.StringVar(&dataDir, "data-dir", "", "")
	fs.DurationVar(&o.Deadline, "deadline", 0, "")
	fs.BoolVar(&c.json, "json", false, "")
	if !c.parse(fs, args) {
		return 1
	}
	if fs.NArg() != 0 {
		return c.fail("Error: drill partition takes no arguments, got %q", fs.Args())
	}
	switch {
	case o.Jobs <= 0:
		return c.fail("Error: -jobs must be a positive number of jobs, got %d", o.Jobs)
	case o.CutFor <= 0:
		return c.fail("Error: -cut must be a positive duration such as \"30s\", got %s", o.CutFor)
	case o.Latency < 0:
		return c.fail("Error: -latency must not be negative, got %s", o.Latency)
	case o.Rate < 0:
		return c.fail("Error: -rate must not be negative (0: jobs over three times -cut), got %g", o.Rate)
	case o.MinRateRatio < 0 || o.MinRateRatio > 1:
		return c.fail("Error: -min-rate-ratio must lie between 0 and 1, got %g", o.MinRateRatio)
	case o.JobDuration < 0:
		return c.fail("Error: -job-duration must not be negative, got %s", o.JobDuration)
	}
	m, diags := mission.ParseMission(examples.PartitionDrillHCL, "examples/partition-drill.hcl")
	if diags.HasErrors() {
		return c.fail("Error: %s", diags.Error())
	}
	o.Shard = map[string]string{}
	for _, r := range m.Regions() {
		o.Regions = append(o.Regions, r.Name)
		o.Shard[r.Name] = r.Shards[0]
	}
	o.Capabilities = []string{"drill"}
	dir := dataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "planetary-partition-")
		if err != nil {
			return c.fail("Error: temp data dir: %v", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var err error
	if dir, err = filepath.Abs(dir); err != nil {
		return c.fail("Error: %v", err)
	}
	if reportDir, err = filepath.Abs(reportDir); err != nil {
		return c.fail("Error: %v", err)
	}
	if err := os.MkdirAll(reportDir, 0o755); err != nil {
		return c.fail("Error: report dir: %v", err)
	}
	o.ReportDir = reportDir
	cfg := filepath.Join(dir, "partition-drill.hcl")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return c.fail("Error: data dir: %v", err)
	}
	if err := os.WriteFile(cfg, examples.PartitionDrillHCL, 0o644); err != nil {
		return c.fail("Error: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		return c.fail("Error: cannot find the planetary binary: %v", err)
	}
	o.Child = &runner.Child{Binary: self, Config: cfg, DataDir: filepath.Join(dir, "agent"), Args: []string{"-regions"}}
	if !c.json {
		o.Progress = &runner.Progress{Printf: func(format string, args ...any) { c.Ui.Output(fmt.Sprintf(format, args...)) }}
	}
	ctx, cancel := c.context()
	defer cancel()
	res, err := runner.PartitionDrill(ctx, o)
	if err != nil {
		return c.fail("Error: %v", err)
	}
	if c.json {
		c.printJSON(res)
	} else {
		c.Ui.Output(checksTable(res.Checks))
		rows := [][]string{}
		for _, r := range res.Regions {
			rows = append(rows, []string{r.Region, fmt.Sprint(r.Submitted), fmt.Sprint(r.Completed),
				fmt.Sprintf("%.1f", r.RateBefore), fmt.Sprintf("%.1f", r.RateDuring), fmt.Sprint(r.CompletedDuringCut)})
		}
		c.Ui.Output(table([]string{"Region", "Jobs", "Completed", "Jobs/s before", "Jobs/s during cut", "Completed during cut"}, rows))
		c.Ui.Output(kv("Verdict", filepath.Join(reportDir, "partition-verdict.json"),
			"Timings", timings(res.Timings, "started", "nodes_up", "cut", "healed", "all_completed", "ledgers_agree", "verified")))
	}
	if !res.OK() {
		c.Ui.Error("drill partition FAILED: " + strings.Join(failedIDs(res.Checks), ", "))
		return 1
	}
	return 0
}

var _ cli.Command = (*DrillPartitionCommand)(nil)
