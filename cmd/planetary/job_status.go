package main

import (
	"fmt"
	"maps"
	"slices"
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
  hops, quote, parked reason, output, exit code, error and times. A metered
  job also shows the units it declared, the quote's rates per unit, the
  usage its plugin reported and, once completed, what it settled at and why
  (usage, the quote when no usage was reported, or a cap at the quote or
  max price).
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
	if j.MaxPriceMicro > 0 {
		maxPrice = credits(j.MaxPriceMicro)
	}
	quote := ""
	if j.QuoteMicro > 0 {
		quote = credits(j.QuoteMicro)
	}
	settled := ""
	if j.SettledMicro != nil {
		settled = credits(*j.SettledMicro)
		if j.Settlement != "" {
			settled += " (" + j.Settlement + ")"
		}
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
		"Value", credits(j.ValueMicro),
		"Max price", maxPrice,
		"Quote", quote,
		"Units", unitList(j.Units),
		"Rates", unitList(j.Meters),
		"Usage", unitList(j.Usage),
		"Settled", settled,
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

// unitList renders a map of numbers per unit as "token=800, second=2.5" in
// unit order.
func unitList(m map[string]float64) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+number(m[k]))
	}
	return strings.Join(parts, ", ")
}

func (c *JobStatusCommand) AutocompleteArgs() complete.Predictor { return complete.PredictAnything }
func (c *JobStatusCommand) AutocompleteFlags() complete.Flags    { return apiFlags(nil) }

var (
	_ cli.Command             = (*JobStatusCommand)(nil)
	_ cli.CommandAutocomplete = (*JobStatusCommand)(nil)
)
