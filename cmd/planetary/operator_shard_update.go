package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// OperatorShardUpdateCommand retunes a shard.
type OperatorShardUpdateCommand struct{ Meta }

func (c *OperatorShardUpdateCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator shard update [options] <name>

  Retunes a shard. Only the flags given change; at least one is required.

Update Options:
` + shardFlagsHelp + apiOptionsHelp)
}

func (c *OperatorShardUpdateCommand) Synopsis() string { return "Retune a shard" }

func (c *OperatorShardUpdateCommand) Run(args []string) int {
	var sf shardFlags
	var u api.ShardUpdate
	fs := c.FlagSet("operator shard update", true)
	sf.register(fs, false)
	fs.StringVar(&u.Reason, "reason", "", "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos, "<name>") {
		return cli.RunResultHelp
	}
	set := setFlags(fs)
	if set["display-name"] {
		u.DisplayName = &sf.displayName
	}
	if set["latency-budget-ms"] {
		u.LatencyBudgetMs = &sf.latencyBudget
	}
	if set["max-queue"] {
		u.MaxQueue = &sf.maxQueue
	}
	if set["alert-threshold"] {
		u.QueueAlertThreshold = &sf.alertThreshold
	}
	if set["spillover-targets"] {
		t := splitList(sf.targets)
		if t == nil {
			t = []string{}
		}
		u.SpilloverTargets = &t
	}
	if u.DisplayName == nil && u.LatencyBudgetMs == nil && u.MaxQueue == nil && u.QueueAlertThreshold == nil && u.SpilloverTargets == nil {
		return c.fail("Error: nothing to update: give at least one of -display-name, -latency-budget-ms, -max-queue, -alert-threshold, -spillover-targets")
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	res, err := client.UpdateShard(ctx, pos[0], u)
	if err != nil {
		return c.apiFail("updating shard", err)
	}
	if c.json {
		return c.printJSON(res)
	}
	c.Ui.Output(fmt.Sprintf("Shard %q updated at index %d", pos[0], res.Index))
	return 0
}

func (c *OperatorShardUpdateCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictAnything
}

func (c *OperatorShardUpdateCommand) AutocompleteFlags() complete.Flags { return shardComplete(nil) }

var (
	_ cli.Command             = (*OperatorShardUpdateCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorShardUpdateCommand)(nil)
)
