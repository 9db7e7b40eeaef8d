package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// OperatorShardListCommand lists shards.
type OperatorShardListCommand struct{ Meta }

func (c *OperatorShardListCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator shard list [options]

  Lists shards: name, health (paused, alert when the queue passes the alert
  threshold, full at max_queue, else ok), queue depth, job counts by state
  and whether the shard is paused.
` + apiOptionsHelp)
}

func (c *OperatorShardListCommand) Synopsis() string { return "List shards" }

// shardHealth classifies a shard from its queue depth and flags.
func shardHealth(s api.Shard) string {
	switch {
	case s.Paused:
		return "paused"
	case s.MaxQueue > 0 && s.QueueDepth >= s.MaxQueue:
		return "full"
	case s.QueueAlertThreshold > 0 && s.QueueDepth >= s.QueueAlertThreshold:
		return "alert"
	}
	return "ok"
}

func (c *OperatorShardListCommand) Run(args []string) int {
	fs := c.FlagSet("operator shard list", true)
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos) {
		return cli.RunResultHelp
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	shards, err := client.Shards(ctx)
	if err != nil {
		return c.apiFail("listing shards", err)
	}
	if c.json {
		return c.printJSON(shards)
	}
	if len(shards) == 0 {
		c.Ui.Output("No shards")
		return 0
	}
	rows := make([][]string, len(shards))
	for i, s := range shards {
		rows[i] = []string{s.Name, shardHealth(s), fmt.Sprint(s.QueueDepth), countsLine(s.Counts), fmt.Sprint(s.Paused)}
	}
	c.Ui.Output(table([]string{"Name", "Health", "Queue", "Jobs (value)", "Paused"}, rows))
	return 0
}

func (c *OperatorShardListCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictNothing
}
func (c *OperatorShardListCommand) AutocompleteFlags() complete.Flags { return apiFlags(nil) }

var (
	_ cli.Command             = (*OperatorShardListCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorShardListCommand)(nil)
)
