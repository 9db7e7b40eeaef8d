package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/cli"

	"github.com/planetary/planetary/core/report"
	"github.com/planetary/planetary/core/runner"
)

// ReportCommand writes a report bundle from a live agent.
type ReportCommand struct{ Meta }

func (c *ReportCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary report [options] -out <dir>

  Writes a report bundle (summary, ledger, hash-chained event log, topology,
  chronicle, dashboard) for the fabric a live agent serves, from its HTTP API
  alone, and verifies it offline.

Options:

  -out=<dir>     Where to write the bundle (required).
  -plan=<file>   The mission file, so owner commands fired by its schedule
                 carry their full arguments (optional).
  -label=<name>  Label recorded in the bundle (default: the live policy's).
` + apiOptionsHelp)
}

func (c *ReportCommand) Synopsis() string { return "Write a report bundle from a live agent" }

func (c *ReportCommand) Run(args []string) int {
	fs := c.FlagSet("report", true)
	var out, planPath, label string
	fs.StringVar(&out, "out", "", "")
	fs.StringVar(&planPath, "plan", "", "")
	fs.StringVar(&label, "label", "", "")
	if !c.parse(fs, args) {
		return 1
	}
	if out == "" || fs.NArg() != 0 {
		return c.fail("Usage: planetary report [options] -out <dir>")
	}
	opts := runner.CollectOptions{Label: label, Run: report.Run{Status: "snapshot"}}
	if planPath != "" {
		p, err := loadPlan(planPath)
		if err != nil {
			return c.fail("Error: %v", err)
		}
		if c.planDiagnostics(p) {
			return 1
		}
		opts.Mission = p.file.Mission
	}
	cl, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	in, err := runner.Collect(ctx, cl, opts)
	if err != nil {
		return c.apiFail("collecting the report", err)
	}
	var res runner.Result
	if err := runner.WriteBundle(&res, in, out); err != nil {
		return c.fail("Error: %v", err)
	}
	if c.json {
		return c.printJSON(map[string]any{"dir": res.Dir, "files": res.Files, "verify": res.Verify, "verify_error": res.VerifyErr})
	}
	c.Ui.Output(fmt.Sprintf("Wrote %d files to %s", len(res.Files), res.Dir))
	c.Ui.Output("Dashboard: " + filepath.Join(res.Dir, report.FileDashboard))
	if res.VerifyErr != "" {
		c.Ui.Error("Ledger verify FAILED: " + res.VerifyErr)
		return 1
	}
	c.Ui.Output(fmt.Sprintf("Ledger verify OK: %d events, chain head %d", res.Verify.Events, res.Verify.Head.Seq))
	return 0
}

var _ cli.Command = (*ReportCommand)(nil)
