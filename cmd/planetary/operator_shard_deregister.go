package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// OperatorShardDeregisterCommand removes a shard.
type OperatorShardDeregisterCommand struct{ Meta }

func (c *OperatorShardDeregisterCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator shard deregister [options] (-spill-to <shard> | -cancel) <name>

  Removes a shard. Its jobs either move to another shard (-spill-to, counted
  as hops and flows) or are cancelled (-cancel); exactly one is required.

Deregister Options:

  -spill-to=<shard>
    The shard that takes the jobs.

  -cancel
    Cancel the jobs instead.

  -reason=<text>
    A reason recorded with the owner command.
` + apiOptionsHelp)
}

func (c *OperatorShardDeregisterCommand) Synopsis() string { return "Remove a shard" }

func (c *OperatorShardDeregisterCommand) Run(args []string) int {
	var d api.ShardDeregister
	fs := c.FlagSet("operator shard deregister", true)
	fs.StringVar(&d.SpillTo, "spill-to", "", "")
	fs.BoolVar(&d.Cancel, "cancel", false, "")
	fs.StringVar(&d.Reason, "reason", "", "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos, "<name>") {
		return cli.RunResultHelp
	}
	if (d.SpillTo == "") == !d.Cancel {
		return c.fail("Error: give exactly one of -spill-to <shard> or -cancel")
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	res, err := client.DeregisterShard(ctx, pos[0], d)
	if err != nil {
		return c.apiFail("deregistering shard", err)
	}
	if c.json {
		return c.printJSON(res)
	}
	how := "its jobs cancelled"
	if d.SpillTo != "" {
		how = fmt.Sprintf("its jobs moved to %q", d.SpillTo)
	}
	c.Ui.Output(fmt.Sprintf("Shard %q deregistered, %s, at index %d", pos[0], how, res.Index))
	return 0
}

func (c *OperatorShardDeregisterCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictAnything
}

func (c *OperatorShardDeregisterCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{"-spill-to": complete.PredictAnything, "-cancel": complete.PredictNothing,
		"-reason": complete.PredictAnything})
}

var (
	_ cli.Command             = (*OperatorShardDeregisterCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorShardDeregisterCommand)(nil)
)
