package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
)

// JobStatusCommand shows one job.
type JobStatusCommand struct{ Meta }

func (c *JobStatusCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary job status [options] <id>

  Shows one job: its state, home and current shard, node, attempt, spillover
  hops, quote, parked reason, output, exit code, error and times.
` + apiOptionsHelp)
}

func (c *JobStatusCommand) Synopsis() string { return "Show one job's state" }

func (c *JobStatusCommand) Run(args []string) int {
	fs := c.FlagSet("job status", true)
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos, "<id>") {
		return cli.RunResultHelp
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	j, err := client.Job(ctx, pos[0])
	if err != nil {
		return c.apiFail("reading job", err)
	}
	if c.json {
		return c.printJSON(j)
	}
	exit := ""
	if j.FinishedAt != 0 || j.ExitCode != 0 {
		exit = fmt.Sprint(j.ExitCode)
	}
	shard := j.Shard
	if j.Home != "" && j.Home != j.Shard {
		shard = fmt.Sprintf("%s (home %s)", j.Shard, j.Home)
	}
	maxPrice := ""
	if j.MaxPrice > 0 {
		maxPrice = credits(j.MaxPrice)
	}
	quote := ""
	if j.Quote > 0 {
		quote = credits(j.Quote)
	}
	c.Ui.Output(kv(
		"ID", j.ID,
		"Key", j.Key,
		"State", j.State,
		"Shard", shard,
		"Node", j.Node,
		"Kind", j.Kind,
		"Capabilities", strings.Join(j.Capabilities, ", "),
		"Priority", fmt.Sprint(j.Priority),
		"Value", credits(j.Value),
		"Max price", maxPrice,
		"Quote", quote,
		"Attempt", fmt.Sprint(j.Attempt),
		"Hops", fmt.Sprint(j.Hops),
		"Parked reason", j.ParkedReason,
		"Exit code", exit,
		"Error", j.Error,
		"Submitter", j.Submitter,
		"Submitted", stamp(j.SubmittedAt),
		"Assigned", stamp(j.AssignedAt),
		"Finished", stamp(j.FinishedAt),
	))
	if j.Output != "" {
		c.Ui.Output("\nOutput\n" + strings.TrimRight(j.Output, "\n"))
	}
	return 0
}

func (c *JobStatusCommand) AutocompleteArgs() complete.Predictor { return complete.PredictAnything }
func (c *JobStatusCommand) AutocompleteFlags() complete.Flags    { return apiFlags(nil) }

var (
	_ cli.Command             = (*JobStatusCommand)(nil)
	_ cli.CommandAutocomplete = (*JobStatusCommand)(nil)
)
