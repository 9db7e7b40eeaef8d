package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// JobRerouteCommand moves jobs to another shard.
type JobRerouteCommand struct{ Meta }

func (c *JobRerouteCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary job reroute [options] <id> -shard <target>
       planetary job reroute [options] -from <name> -tail <n> [-offset <k>] [-in-flight] -shard <target>

  Moves one job, or the jobs a locator selects from the tail of shard -from,
  to shard -shard. Each move counts as a hop and a flow in the ledger.

Reroute Options:

  -shard=<target>
    The shard the jobs move to (required).

  -from=<name>, -tail=<n>, -offset=<k>, -in-flight
    The locator form.

  -reason=<text>
    A reason recorded with the owner command.
` + apiOptionsHelp)
}

func (c *JobRerouteCommand) Synopsis() string { return "Move jobs to another shard" }

func (c *JobRerouteCommand) Run(args []string) int {
	var loc api.Locator
	fs := c.FlagSet("job reroute", true)
	fs.StringVar(&loc.Target, "shard", "", "")
	fs.StringVar(&loc.Shard, "from", "", "")
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
	case loc.Target == "":
		return c.fail("Error: -shard names the target shard and is required")
	case byID && (loc.Shard != "" || loc.Tail != 0):
		return c.fail("Error: give either a job id or -from and -tail, not both")
	case !byID && (loc.Shard == "" || loc.Tail <= 0):
		return c.fail("Error: give a job id, or -from and a positive -tail")
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
		res, err = client.RerouteJob(ctx, pos[0], loc.Target, loc.Reason)
	} else {
		res, err = client.RerouteLocator(ctx, loc)
	}
	if err != nil {
		return c.apiFail("rerouting", err)
	}
	if c.json {
		return c.printJSON(res)
	}
	if byID {
		c.Ui.Output(fmt.Sprintf("Job %q rerouted to %q at index %d", pos[0], loc.Target, res.Index))
	} else {
		c.Ui.Output(fmt.Sprintf("Rerouted the tail %d (offset %d) of shard %q to %q at index %d",
			loc.Tail, loc.Offset, loc.Shard, loc.Target, res.Index))
	}
	return 0
}

func (c *JobRerouteCommand) AutocompleteArgs() complete.Predictor { return complete.PredictAnything }

func (c *JobRerouteCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{
		"-shard": complete.PredictAnything, "-from": complete.PredictAnything, "-tail": complete.PredictAnything,
		"-offset": complete.PredictAnything, "-in-flight": complete.PredictNothing, "-reason": complete.PredictAnything,
	})
}

var (
	_ cli.Command             = (*JobRerouteCommand)(nil)
	_ cli.CommandAutocomplete = (*JobRerouteCommand)(nil)
)
