package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// OperatorGCCommand runs a garbage collection pass now.
type OperatorGCCommand struct{ Meta }

func (c *OperatorGCCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator gc [options]

  Runs a garbage collection pass now on the leader, as the mission's
  retention block does every job_gc_interval: the completed, failed and
  cancelled jobs that finished at least job_gc_threshold ago on the mission
  clock are collected in batches of job_gc_batch, and the tombs older than
  the idempotency_window are forgotten. A collected job's share of the ledger
  stays in its totals; job status of it answers when it was collected.
  Prints how many jobs were collected, in how many raft entries, and what
  is left.

Options:

  -threshold=<duration>
    Collect the jobs that finished at least this long ago instead of the
    mission's job_gc_threshold ("0s": every finished job).

  -reason=<text>
    A reason recorded with the collection.
` + apiOptionsHelp)
}

func (c *OperatorGCCommand) Synopsis() string { return "Collect finished jobs now" }

func (c *OperatorGCCommand) Run(args []string) int {
	var req api.GCRequest
	fs := c.FlagSet("operator gc", true)
	fs.StringVar(&req.Threshold, "threshold", "", "")
	fs.StringVar(&req.Reason, "reason", "", "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos) {
		return cli.RunResultHelp
	}
	if req.Threshold != "" {
		if d, err := time.ParseDuration(req.Threshold); err != nil || d < 0 {
			return c.fail("Error: -threshold must be a non-negative duration such as 0s or 10m, got %q", req.Threshold)
		}
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	res, err := client.GC(ctx, req)
	if err != nil {
		return c.apiFail("collecting garbage", err)
	}
	if c.json {
		return c.printJSON(res)
	}
	switch {
	case res.Batches == 0:
		c.Ui.Output("Nothing to collect")
	default:
		c.Ui.Output(fmt.Sprintf("Collected %d jobs in %d batches (last at index %d)", res.Collected, res.Batches, res.Index))
	}
	pairs := []string{"Live jobs", fmt.Sprint(res.LiveJobs), "Tombs", fmt.Sprint(res.Tombs)}
	if res.Batches > 0 {
		pairs = append(pairs, "Finished before", time.Unix(0, res.Before).UTC().Format(time.RFC3339Nano),
			"Tombs forgotten", fmt.Sprint(res.Forgotten), "Skipped", fmt.Sprint(res.Skipped))
	}
	if res.First != "" {
		pairs = append(pairs, "First", res.First, "Last", res.Last)
	}
	c.Ui.Output(kv(pairs...))
	return 0
}

func (c *OperatorGCCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *OperatorGCCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{"-threshold": complete.PredictAnything, "-reason": complete.PredictAnything})
}

var (
	_ cli.Command             = (*OperatorGCCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorGCCommand)(nil)
)
