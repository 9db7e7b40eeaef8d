package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
)

// OperatorShardStatusCommand shows one shard.
type OperatorShardStatusCommand struct{ Meta }

func (c *OperatorShardStatusCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator shard status [options] <name>

  Shows one shard: region, latency budget, queue limits, spillover targets
  and policies, queue depth, job counts by state and its health verdict
  with the reasons, worst first.
` + apiOptionsHelp)
}

func (c *OperatorShardStatusCommand) Synopsis() string { return "Show one shard" }

func (c *OperatorShardStatusCommand) Run(args []string) int {
	fs := c.FlagSet("operator shard status", true)
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos, "<name>") {
		return cli.RunResultHelp
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	s, err := client.Shard(ctx, pos[0])
	if err != nil {
		return c.apiFail("reading shard", err)
	}
	if c.json {
		return c.printJSON(s)
	}
	var policies, reasons []string
	for _, p := range s.Policies {
		policies = append(policies, fmt.Sprintf("%s (threshold %d, max drain %d)", p.Target, p.Threshold, p.MaxDrain))
	}
	for _, r := range s.HealthReasons {
		reasons = append(reasons, r.Status+": "+r.Text)
	}
	c.Ui.Output(kv(
		"Name", s.Name,
		"Display name", s.DisplayName,
		"Region", s.Region,
		"Health", s.Health,
		"Health reasons", strings.Join(reasons, "; "),
		"Paused", fmt.Sprint(s.Paused),
		"Queue", fmt.Sprint(s.QueueDepth),
		"Max queue", nonZero(uint64(max(s.MaxQueue, 0))),
		"Alert threshold", nonZero(uint64(max(s.QueueAlertThreshold, 0))),
		"Latency budget", msLine(s.LatencyBudgetMs),
		"Spillover targets", strings.Join(s.SpilloverTargets, ", "),
		"Policies", strings.Join(policies, "; "),
		"Jobs (value)", countsLine(s.Counts),
	))
	return 0
}

// msLine renders a millisecond setting, empty when unset.
func msLine(ms int64) string {
	if ms <= 0 {
		return ""
	}
	return fmt.Sprintf("%dms", ms)
}

func (c *OperatorShardStatusCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictAnything
}
func (c *OperatorShardStatusCommand) AutocompleteFlags() complete.Flags { return apiFlags(nil) }

var (
	_ cli.Command             = (*OperatorShardStatusCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorShardStatusCommand)(nil)
)
