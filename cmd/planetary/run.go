package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/mattn/go-isatty"

	"github.com/planetary/planetary/core/agent"
	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/health"
	"github.com/planetary/planetary/core/limits"
	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/core/runner"
	"github.com/planetary/planetary/examples"
)

// RunCommand runs a mission end to end and writes its report bundle.
type RunCommand struct{ Meta }

func (c *RunCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary run [options]

  Runs a mission: applies it, submits its workload with deterministic job ids
  and idempotency keys, injects the planned outage, follows the run until
  every job is terminal or parked (or the deadline), and writes the report
  bundle to <reporting dir>/<label>/ of the live reporting policy. The bundle
  is verified offline before the command returns; the summary's Bundle line
  says where it is.

  Without -address an agent runs in this process (server and client roles,
  like 'agent -dev') for the duration of the run, with its data dir at
  -data-dir or, by default, a new directory under the system temp dir that
  the run keeps. A relative reporting directory or checkpoint path (the
  example's reports/ and checkpoints/) lies under that data dir, as do the
  allowed_roots. Running again against the same -data-dir submits nothing
  twice. With -address the CLI writes the bundle on its own host, a relative
  reporting directory under the working directory.

Options:

  -plan=<file>          Mission file (default examples/mission.hcl, or the
                        built-in copy when that file does not exist).
  -jobs=<n>             Jobs to submit (default: the plan's jobs).
  -outage-node=<id>     Node to take down mid-run (default: the plan's).
                        In-process: the plugin serving it is SIGKILLed.
                        With -address only with -allow-outage.
  -allow-outage         With -address: inject the planned outage into the
                        external agent's fabric. The node is drained
                        (capacity 0, its jobs requeued) and, at the end of
                        the run, restored to the capacity it had. Without
                        it the outage is skipped, which the summary and the
                        bundle say.
  -outage-at=<dur>      When, after the submission starts (default: plan);
                        0s injects it before the first job is submitted.
  -deadline=<dur>       Give up waiting after this long (default: plan, 2m).
  -stop-after=<v>       Stop early: a duration ("2s") or a share of jobs
                        completed ("30%"). The plan's stop_after is the
                        restart drill's; run ignores it.
  -label=<name>         Bundle label. Given here it wins for this run, even
                        over a reporting retarget of the schedule; by
                        default the plan's, which a retarget replaces.
  -data-dir=<dir>       Data dir of the in-process agent, which holds the
                        bundle and checkpoints too (default: a new
                        planetary-run-* directory under the temp dir, kept).
  -log-level=<level>    Log level of the in-process agent (default error).

Exit codes:

  0  every job completed (or was cancelled by its owner)
  1  an error: bad input, an API error, the bundle did not verify, or the
     deadline passed
  2  the run finished, but work is parked or failed: the Health line (and
     GET /v1/shards, the console and the dashboard) name the shards and why
` + apiOptionsHelp)
}

func (c *RunCommand) Synopsis() string { return "Run a mission and write its report bundle" }

// runFlags are the flags shared by run and the drills.
type runFlags struct {
	plan       string
	jobs       int
	outageNode string
	allowOut   bool
	outageAt   time.Duration
	deadline   time.Duration
	stopAfter  string
	label      string
	dataDir    string
	logLevel   string
}

func (c *RunCommand) Run(args []string) int {
	fs := c.FlagSet("run", true)
	var f runFlags
	fs.StringVar(&f.plan, "plan", "", "")
	fs.IntVar(&f.jobs, "jobs", 0, "")
	fs.StringVar(&f.outageNode, "outage-node", "", "")
	fs.BoolVar(&f.allowOut, "allow-outage", false, "")
	fs.DurationVar(&f.outageAt, "outage-at", 0, "")
	fs.DurationVar(&f.deadline, "deadline", 0, "")
	fs.StringVar(&f.stopAfter, "stop-after", "", "")
	fs.StringVar(&f.label, "label", "", "")
	fs.StringVar(&f.dataDir, "data-dir", "", "")
	fs.StringVar(&f.logLevel, "log-level", "error", "")
	if !c.parse(fs, args) {
		return 1
	}
	if fs.NArg() != 0 {
		return c.fail("run takes no arguments, got %q (use -plan <file>)", fs.Args())
	}
	set := setFlags(fs)
	plan, err := loadPlan(f.plan)
	if err != nil {
		return c.fail("Error: %v", err)
	}
	if c.planDiagnostics(plan) {
		return 1
	}
	m := plan.file.Mission
	opts := runner.Options{
		Mission: m, MissionSource: plan.src, MissionFile: plan.name,
		Jobs: int(m.Plan.Jobs), OutageNode: m.Plan.OutageNode, OutageAt: ms(m.Plan.OutageAtMs),
		Deadline: ms(m.Plan.DeadlineMs), Label: m.Plan.Label, JSON: c.json,
	}
	if set["jobs"] {
		opts.Jobs = f.jobs
	}
	if set["outage-node"] {
		opts.OutageNode = f.outageNode
	}
	if set["outage-at"] {
		opts.OutageAt = f.outageAt
	}
	if set["deadline"] {
		opts.Deadline = f.deadline
	}
	if opts.Deadline <= 0 {
		opts.Deadline = 2 * time.Minute
	}
	if set["label"] {
		if err := limits.PathComponent("-label", f.label); err != nil {
			return c.fail("Error: %v", err)
		}
		opts.Label, opts.LabelPinned = f.label, true
	}
	if f.stopAfter != "" {
		if opts.StopAfter, opts.StopAfterPercent, err = parseStopAfter(f.stopAfter); err != nil {
			return c.fail("Error: %v", err)
		}
	}
	opts.Progress, opts.Terminal = c.progressWriter()

	ctx, cancel := c.context()
	defer cancel()
	var stop func()
	if c.address != "" {
		cl, err := c.client()
		if err != nil {
			return c.fail("Error: %v", err)
		}
		opts.Client = cl
		if f.allowOut {
			opts.Outage, opts.Restore = drainOutage(ctx, cl)
		} else if opts.OutageNode != "" {
			opts.OutageSkipped = fmt.Sprintf("planned outage of %s skipped: against an external agent (-address) it needs -allow-outage", opts.OutageNode)
		}
	} else {
		dataDir := f.dataDir
		if dataDir == "" {
			// Kept after the run: the bundle and checkpoints are in it.
			if dataDir, err = os.MkdirTemp("", "planetary-run-"); err != nil {
				return c.fail("Error: data dir: %v", err)
			}
		}
		// On a terminal the agent's log lines go above the bars.
		var logs io.Writer
		if opts.Terminal {
			logs = opts.Progress
		}
		emb, err := startEmbedded(ctx, plan, dataDir, f.logLevel, nil, logs)
		if err != nil {
			return c.fail("Error: %v", err)
		}
		stop = func() { _ = emb.agent.Shutdown() }
		opts.Client, opts.Outage = emb.client, emb.killPlugin
		opts.PathBase = emb.agent.DataDir()
		if ac := plan.file.Agent; ac == nil || len(ac.AllowedRoots) > 0 {
			// The example agent config, or one that lists allowed_roots.
			opts.CheckPath = emb.agent.Server().CheckPath
		}
	}
	res, err := runner.Run(ctx, opts)
	if stop != nil {
		stop()
	}
	if s, ok := opts.Progress.(*runner.Screen); ok {
		_ = s.Flush()
	}
	if err != nil {
		return c.apiFail("running the mission", err)
	}
	return c.printRun(res, opts.StopAfter > 0 || opts.StopAfterPercent > 0)
}

// printRun prints the run summary (or JSON) and returns the exit code: 1
// when the bundle does not verify or the run hit its deadline, else the
// health model's verdict (res.ExitCode): 2 when work is parked or failed,
// 0 when it all completed.
func (c *RunCommand) printRun(res *runner.Result, stopExpected bool) int {
	code := res.ExitCode
	if res.VerifyErr != "" || (res.StopReason != runner.StopDone && !(stopExpected && res.StopReason == runner.StopAfter)) {
		code = health.ExitError
	}
	if c.json {
		if c.printJSON(res) != 0 {
			return 1
		}
		return code
	}
	c.Ui.Output(runSummary(res))
	return code
}

// runSummary renders the human summary of a run.
func runSummary(res *runner.Result) string {
	m := res.Summary.Metrics
	verify := "OK"
	if res.VerifyErr != "" {
		verify = "FAILED: " + res.VerifyErr
	}
	outage := ""
	switch {
	case res.OutageSkipped != "":
		outage = "skipped (" + res.OutageSkipped + ")"
	case res.OutageAt > 0:
		outage = res.OutageAt.Round(time.Millisecond).String()
		if res.OutageErr != "" {
			outage += " (failed: " + res.OutageErr + ")"
		}
		if res.OutageRestored {
			outage += " (restored at the end)"
		}
		if res.OutageRestoreErr != "" {
			outage += " (restore failed: " + res.OutageRestoreErr + ")"
		}
	}
	return kv(
		"Jobs", fmt.Sprintf("%d (accepted %d, duplicate %d, rejected %d)", res.Submit.Total, res.Submit.Accepted, res.Submit.Duplicate, res.Submit.Rejected),
		"Completed", strconv.FormatInt(m.Completed, 10),
		"Failed", strconv.FormatInt(m.Failed, 10),
		"Cancelled", strconv.FormatInt(m.Cancelled, 10),
		"Parked", strconv.FormatInt(m.Parked, 10),
		"Spillovers", strconv.FormatInt(m.Spillovers, 10),
		"Reassigned", strconv.FormatInt(m.Reassigned, 10),
		"Owner interventions", strconv.FormatInt(m.OwnerInterventions, 10),
		"Outage at", outage,
		"Stopped", res.StopReason,
		"Health", healthLine(res.Health),
		"Wall time", res.Wall.Round(time.Millisecond).String(),
		"Jobs/s", fmt.Sprintf("%.0f", res.JobsPerSec),
		"Label", res.Label,
		"Bundle", res.Dir,
		"Dashboard", res.Dashboard,
		"Ledger verify", verify+fmt.Sprintf(" (%d events, chain head %d)", res.Verify.Events, res.Verify.Head.Seq),
	)
}

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

// parseStopAfter reads "2s" or "30%".
func parseStopAfter(s string) (time.Duration, float64, error) {
	if p, ok := strings.CutSuffix(strings.TrimSpace(s), "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f <= 0 || f > 100 {
			return 0, 0, fmt.Errorf("-stop-after %q: a percentage must be in (0, 100]", s)
		}
		return 0, f, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, 0, fmt.Errorf("-stop-after %q: want a duration such as 2s or a percentage such as 30%%", s)
	}
	return d, 0, nil
}

// progressWriter is stdout with live bars on a terminal (a runner.Screen,
// which log lines go through too, so that they print above the bars);
// otherwise plain lines through the Ui (JSON mode keeps stdout for the
// result).
func (m *Meta) progressWriter() (io.Writer, bool) {
	if _, basic := m.Ui.(*cli.BasicUi); basic && !m.json && isatty.IsTerminal(os.Stdout.Fd()) && hasSize(os.Stdout.Fd()) {
		return runner.NewScreen(os.Stdout), true
	}
	if m.json {
		return os.Stderr, false
	}
	return uiWriter{m.Ui}, false
}

// uiWriter sends each line written to the Ui's output.
type uiWriter struct{ ui cli.Ui }

func (w uiWriter) Write(p []byte) (int, error) {
	w.ui.Output(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// plan is a parsed mission file.
type plan struct {
	file  *mission.File
	src   []byte
	name  string
	diags hcl.Diagnostics
}

// planDiagnostics prints the plan's diagnostics and reports an error among them.
func (m *Meta) planDiagnostics(p *plan) bool { return m.diagnostics(p.file.Sources, p.diags) }

// loadPlan reads a mission file; "" is examples/mission.hcl, or the built-in
// copy when that file does not exist.
func loadPlan(path string) (*plan, error) {
	var src []byte
	name := path
	if path == "" {
		name = examples.MissionFile
		b, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			b = examples.MissionHCL
		} else if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		src = b
	} else {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read plan: %w", err)
		}
		src = b
	}
	f, diags := mission.Parse(src, name)
	p := &plan{file: f, src: src, name: name, diags: diags}
	if !diags.HasErrors() && f.Mission == nil {
		return nil, fmt.Errorf("%s holds no mission block", name)
	}
	return p, nil
}

// embedded is an in-process agent for run and the drills.
type embedded struct {
	agent  *agent.Agent
	client *api.Client
}

// startEmbedded starts a dev agent in this process for p's mission, on free
// loopback ports. simConfig, when set, is merged into the sim plugin config;
// logs is where its log lines go (nil: stderr).
func startEmbedded(ctx context.Context, p *plan, dataDir, logLevel string, simConfig map[string]any, logs io.Writer) (*embedded, error) {
	ac := p.file.Agent
	if ac == nil {
		var diags hcl.Diagnostics
		ac, diags = mission.ParseAgent(examples.AgentHCL, examples.AgentFile)
		if diags.HasErrors() {
			return nil, fmt.Errorf("built-in agent config: %s", diags.Error())
		}
	}
	ac.Server.Enabled, ac.Client.Enabled, ac.ACL.Enabled = true, true, true
	ac.DataDir = dataDir
	ac.HTTPAddr = "127.0.0.1:0"
	ac.Server.Bind = "127.0.0.1:0"
	for i := range ac.Plugins {
		if ac.Plugins[i].Name == "sim" && len(simConfig) > 0 {
			cfg := map[string]any{}
			for k, v := range ac.Plugins[i].Config {
				cfg[k] = v
			}
			for k, v := range simConfig {
				cfg[k] = v
			}
			ac.Plugins[i].Config = cfg
		}
	}
	level := hclog.LevelFromString(logLevel)
	if level == hclog.NoLevel {
		level = hclog.Warn
	}
	if logs == nil {
		logs = os.Stderr
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "planetary", Level: level, Output: logs})
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find the planetary binary: %w", err)
	}
	a, err := agent.New(agent.Config{
		Logger: logger, Agent: ac, Mission: p.file.Mission, MissionSource: p.src, MissionFile: p.name,
		Dev: true, SelfPath: self,
	})
	if err != nil {
		return nil, err
	}
	if err := a.Start(ctx); err != nil {
		return nil, err
	}
	cl, err := api.NewClient(api.ClientConfig{Address: a.HTTPAddr(), Token: a.Token()})
	if err != nil {
		_ = a.Shutdown()
		return nil, err
	}
	return &embedded{agent: a, client: cl}, nil
}

// drainOutage is the planned outage against an external agent: the node is
// drained (capacity 0, so its active jobs are requeued and nothing new is
// placed on it) rather than retired, since a retirement cannot be undone;
// restore puts back the capacity it had.
func drainOutage(ctx context.Context, cl *api.Client) (outage, restore func(node string) error) {
	var before int64
	outage = func(node string) error {
		n, err := cl.Node(ctx, node)
		if err != nil {
			return err
		}
		before = n.Capacity
		zero := int64(0)
		_, err = cl.UpdateNode(ctx, node, api.NodeUpdate{Capacity: &zero, Reason: "planned outage"})
		return err
	}
	restore = func(node string) error {
		c := before
		_, err := cl.UpdateNode(ctx, node, api.NodeUpdate{Capacity: &c, Reason: "planned outage over: capacity restored"})
		return err
	}
	return outage, restore
}

// killPlugin takes down the plugin process serving node: a real outage
// the client sees as a dead plugin; the catalog restarts it later. The
// process is first frozen (SIGSTOP) until the node holds work, then killed
// (SIGKILL), so the outage always lands on a node with jobs to lose rather
// than in the moment between one batch's completions and the next's
// assignments.
func (e *embedded) killPlugin(node string) error {
	cat := e.agent.Catalog()
	if cat == nil {
		return errors.New("no plugin catalog")
	}
	for _, s := range cat.Status() {
		if s.Name == node {
			if !s.Running || s.Pid <= 0 {
				return fmt.Errorf("plugin of %s is not running", node)
			}
			if err := syscall.Kill(s.Pid, syscall.SIGSTOP); err != nil {
				return fmt.Errorf("stop plugin of %s (pid %d): %w", node, s.Pid, err)
			}
			// Results the plugin sent before it froze are flushed within a
			// few milliseconds; what is active after that is held by the
			// frozen process and is lost with it.
			time.Sleep(150 * time.Millisecond)
			e.waitActive(node, 2*time.Second)
			// An intended kill: the plugin's exit logs at INFO, not as a crash.
			if err := cat.ExpectExit(node, s.Pid); err != nil {
				return err
			}
			if err := syscall.Kill(s.Pid, syscall.SIGKILL); err != nil {
				return fmt.Errorf("kill plugin of %s (pid %d): %w", node, s.Pid, err)
			}
			return nil
		}
	}
	return fmt.Errorf("no plugin serves node %s", node)
}

// waitActive waits, at most d, until node has assigned or running jobs.
func (e *embedded) waitActive(node string, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for ctx.Err() == nil {
		if n, err := e.client.Node(ctx, node); err == nil && n.Active > 0 {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// writeJSON writes v indented to path.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

var _ cli.Command = (*RunCommand)(nil)

// runCommands are the mission run, report, verification and drill commands.
func runCommands(m Meta) map[string]cli.CommandFactory {
	return map[string]cli.CommandFactory{
		"run":             func() (cli.Command, error) { return &RunCommand{Meta: m}, nil },
		"report":          func() (cli.Command, error) { return &ReportCommand{Meta: m}, nil },
		"ledger verify":   func() (cli.Command, error) { return &LedgerVerifyCommand{Meta: m}, nil },
		"drill restart":   func() (cli.Command, error) { return &DrillRestartCommand{Meta: m}, nil },
		"drill partition": func() (cli.Command, error) { return &DrillPartitionCommand{Meta: m}, nil },
	}
}

// healthLine renders the shards' health verdicts in one line: the worst
// status, then each shard that is not ok with its reasons.
func healthLine(hs []runner.ShardHealth) string {
	var statuses, parts []string
	for _, h := range hs {
		statuses = append(statuses, h.Status)
		if h.Status == health.OK || h.Status == "" {
			continue
		}
		var rs []string
		for _, r := range h.Reasons {
			rs = append(rs, r.Text)
		}
		parts = append(parts, h.Shard+" "+h.Status+": "+strings.Join(rs, ", "))
	}
	out := health.Worst(statuses...)
	if len(parts) > 0 {
		out += " (" + strings.Join(parts, "; ") + ")"
	}
	return out
}
