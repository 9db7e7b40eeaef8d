package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/cli"

	"github.com/planetary/planetary/core/runner"
	"github.com/planetary/planetary/examples"
)

// DrillRestartCommand runs the crash-restart drill.
type DrillRestartCommand struct{ Meta }

func (c *DrillRestartCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary drill restart [options]

  Runs the agent as a child process (agent -dev on the plan), submits the
  jobs, SIGKILLs the child at the stop point, restarts it on the same data
  dir, waits for the jobs to finish and writes one bundle with both stages.
  The kill waits until some jobs have completed and some are outstanding.
  It then checks: no acknowledged job lost, no job completed twice, every
  re-execution fenced (counted by the sim agent's exec_log), the merged bundle
  verifies, and the restart resumed from the last committed raft index.
  Exits 1 when a check fails.

Options:

  -plan=<file>          Mission file (default examples/mission.hcl).
  -jobs=<n>             Jobs to submit (default 12000).
  -stop-after=<v>       Kill when this share of jobs completed ("30%") or
                        after a duration ("2s"). Default: the plan's
                        stop_after, else 30%.
  -stop-at-index=<n>    Kill once the raft applied index reaches n.
  -deadline=<dur>       Bound on each wait (default 3m).
  -data-dir=<dir>       The child's data dir (default: a temp dir).
  -label=<name>         Bundle label (default restart-drill).
  -json                 Print the result as JSON.
`)
}

func (c *DrillRestartCommand) Synopsis() string { return "Kill and restart the agent mid-run" }

func (c *DrillRestartCommand) Run(args []string) int {
	fs := c.FlagSet("drill restart", false)
	var (
		planPath, stopAfter, dataDir, label string
		jobs                                int
		stopAt                              uint64
		deadline                            time.Duration
	)
	fs.StringVar(&planPath, "plan", "", "")
	fs.IntVar(&jobs, "jobs", 12000, "")
	fs.StringVar(&stopAfter, "stop-after", "", "")
	fs.Uint64Var(&stopAt, "stop-at-index", 0, "")
	fs.DurationVar(&deadline, "deadline", 3*time.Minute, "")
	fs.StringVar(&dataDir, "data-dir", "", "")
	fs.StringVar(&label, "label", "restart-drill", "")
	fs.BoolVar(&c.json, "json", false, "")
	if !c.parse(fs, args) {
		return 1
	}
	ctx, cancel := c.context()
	defer cancel()
	res, err := c.restartDrill(ctx, drillSpec{plan: planPath, jobs: jobs, stopAfter: stopAfter, stopAt: stopAt,
		deadline: deadline, dataDir: dataDir, label: label})
	if err != nil {
		return c.fail("Error: %v", err)
	}
	if c.json {
		c.printJSON(res)
	} else {
		c.Ui.Output(checksTable(res.Checks))
		c.Ui.Output(kv(
			"Bundle", res.Run.Dir,
			"Dashboard", res.Run.Dashboard,
			"Timings", timings(res.Timings, "start", "load", "kill", "restart", "drain"),
			"Executions", fmt.Sprintf("%d (%d re-delivered after the crash)", res.Executions, res.ReExecutions),
		))
	}
	if !res.OK() {
		c.Ui.Error("drill restart FAILED: " + strings.Join(failedIDs(res.Checks), ", "))
		return 1
	}
	return 0
}

// drillSpec are the restart drill's inputs.
type drillSpec struct {
	plan      string
	jobs      int
	stopAfter string
	stopAt    uint64
	deadline  time.Duration
	dataDir   string
	label     string
	// progressPrefix starts each progress line (the acceptance drill's
	// stages print side by side).
	progressPrefix string
}

// restartDrill prepares the child (binary, combined config with the sim
// exec log, data dir) and runs runner.RestartDrill.
func (m *Meta) restartDrill(ctx context.Context, s drillSpec) (*runner.DrillResult, error) {
	p, err := loadPlan(s.plan)
	if err != nil {
		return nil, err
	}
	if m.planDiagnostics(p) {
		return nil, errors.New("the plan has errors")
	}
	mi := p.file.Mission
	o := runner.DrillOptions{Mission: mi, Jobs: s.jobs, StopAtIndex: s.stopAt, Deadline: s.deadline, Label: s.label}
	switch {
	case s.stopAfter != "":
		if o.StopAfter, o.StopAfterPercent, err = parseStopAfter(s.stopAfter); err != nil {
			return nil, err
		}
	case s.stopAt > 0:
	case mi.Plan.StopAfterPercent > 0:
		o.StopAfterPercent = mi.Plan.StopAfterPercent
	case mi.Plan.StopAfterMs > 0:
		o.StopAfter = ms(mi.Plan.StopAfterMs)
	default:
		o.StopAfterPercent = 30
	}
	dir := s.dataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "planetary-drill-")
		if err != nil {
			return nil, fmt.Errorf("temp data dir: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	cfg, err := drillConfig(p, dir)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find the planetary binary: %w", err)
	}
	o.Child = &runner.Child{Binary: self, Config: cfg, DataDir: dir}
	if !m.json {
		o.Progress = &runner.Progress{Printf: func(format string, args ...any) { m.Ui.Output(s.progressPrefix + fmt.Sprintf(format, args...)) }}
	}
	return runner.RestartDrill(ctx, o)
}

// drillConfig writes the plan's mission with an agent config whose sim
// plugin keeps an exec log, and returns its path. A plan with its own agent
// block is used as is.
func drillConfig(p *plan, dir string) (string, error) {
	path := filepath.Join(dir, "drill-agent.hcl")
	var b strings.Builder
	if p.file.Agent == nil {
		agentHCL := string(examples.AgentHCL)
		const simBlock = `plugin "sim" {}`
		if !strings.Contains(agentHCL, simBlock) {
			return "", errors.New("the built-in agent config has no sim plugin block")
		}
		b.WriteString(strings.Replace(agentHCL, simBlock,
			"plugin \"sim\" {\n  config {\n    exec_log = \""+runner.ExecLogName+"\"\n  }\n}", 1))
		b.WriteString("\n")
	}
	b.Write(p.src)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// checksTable renders checks as a table.
func checksTable(cs []runner.Check) string {
	rows := make([][]string, 0, len(cs))
	for _, ch := range cs {
		ok := "ok"
		if !ch.OK {
			ok = "FAIL"
		}
		detail := ch.Detail
		if len(detail) > 100 {
			detail = detail[:100] + "..."
		}
		rows = append(rows, []string{ok, ch.ID, fmt.Sprint(ch.Measured), fmt.Sprint(ch.Threshold), detail})
	}
	return table([]string{"Result", "Check", "Measured", "Threshold", "Detail"}, rows)
}

func failedIDs(cs []runner.Check) []string {
	var out []string
	for _, ch := range cs {
		if !ch.OK {
			out = append(out, ch.ID)
		}
	}
	return out
}

func timings(t map[string]float64, names ...string) string {
	parts := make([]string, 0, len(names))
	for _, n := range names {
		if v, ok := t[n]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", n, (time.Duration(v)*time.Millisecond).Round(time.Millisecond)))
		}
	}
	return strings.Join(parts, ", ")
}

var _ cli.Command = (*DrillRestartCommand)(nil)
