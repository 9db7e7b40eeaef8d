package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// JobCancelCommand cancels one job or the tail of a shard queue.
type JobCancelCommand struct{ Meta }

func (c *JobCancelCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary job cancel [options] <id>
       planetary job cancel [options] -shard <name> -tail <n> [-offset <k>] [-in-flight]

  Cancels one job by id, or the jobs a locator selects: the last n jobs of a
  shard's queue, skipping the k newest, including assigned and running jobs
  with -in-flight.

Cancel Options:

  -shard=<name>, -tail=<n>, -offset=<k>, -in-flight
    The locator form.

  -reason=<text>
    A reason recorded with the owner command.
` + apiOptionsHelp)
}

func (c *JobCancelCommand) Synopsis() string { return "Cancel a job or a shard queue's tail" }

func (c *JobCancelCommand) Run(args []string) int {
	var loc api.Locator
	fs := c.FlagSet("job cancel", true)
	fs.StringVar(&loc.Shard, "shard", "", "")
	fs.Int64Var(&loc.Tail, "tail", 0, "")
	fs.Int64Var(&loc.Offset, "offset", 0, "")
	fs.BoolVar(&loc.InFlight, "in-flight", false, "")
	fs.StringVar(&loc.Reason, "reason", "", "")
	pos, ok := c.parseAll(fs, args)
	if !ok || len(pos) > 1 {
		return cli.RunResultHelp
	}
	byID := len(pos) == 1
	switch {
	case byID && (loc.Shard != "" || loc.Tail != 0):
		return c.fail("Error: give either a job id or -shard and -tail, not both")
	case !byID && (loc.Shard == "" || loc.Tail <= 0):
		return c.fail("Error: give a job id, or -shard and a positive -tail")
	case loc.Offset < 0:
		return c.fail("Error: -offset must not be negative")
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	var res api.WriteResult
	if byID {
		res, err = client.CancelJob(ctx, pos[0], loc.Reason)
	} else {
		res, err = client.CancelLocator(ctx, loc)
	}
	if err != nil {
		return c.apiFail("cancelling", err)
	}
	if c.json {
		return c.printJSON(res)
	}
	if byID {
		c.Ui.Output(fmt.Sprintf("Job %q cancelled at index %d", pos[0], res.Index))
	} else {
		c.Ui.Output(fmt.Sprintf("Cancelled the tail %d (offset %d) of shard %q at index %d", loc.Tail, loc.Offset, loc.Shard, res.Index))
	}
	return 0
}

func (c *JobCancelCommand) AutocompleteArgs() complete.Predictor { return complete.PredictAnything }

func (c *JobCancelCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{
		"-shard": complete.PredictAnything, "-tail": complete.PredictAnything, "-offset": complete.PredictAnything,
		"-in-flight": complete.PredictNothing, "-reason": complete.PredictAnything,
	})
}

var (
	_ cli.Command             = (*JobCancelCommand)(nil)
	_ cli.CommandAutocomplete = (*JobCancelCommand)(nil)
)
