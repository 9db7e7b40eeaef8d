package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/api/view"
)

// shardFlags are the tunables shared by shard register and shard update.
type shardFlags struct {
	displayName, region, targets string
	latencyBudget, maxQueue      int64
	alertThreshold               int64
}

func (f *shardFlags) register(fs *flag.FlagSet, region bool) {
	fs.StringVar(&f.displayName, "display-name", "", "")
	fs.Int64Var(&f.latencyBudget, "latency-budget-ms", 0, "")
	fs.Int64Var(&f.maxQueue, "max-queue", 0, "")
	fs.Int64Var(&f.alertThreshold, "alert-threshold", 0, "")
	fs.StringVar(&f.targets, "spillover-targets", "", "")
	if region {
		fs.StringVar(&f.region, "region", "", "")
	}
}

func shardComplete(extra complete.Flags) complete.Flags {
	out := complete.Flags{
		"-display-name": complete.PredictAnything, "-latency-budget-ms": complete.PredictAnything,
		"-max-queue": complete.PredictAnything, "-alert-threshold": complete.PredictAnything,
		"-spillover-targets": complete.PredictAnything, "-reason": complete.PredictAnything,
	}
	for k, v := range extra {
		out[k] = v
	}
	return apiFlags(out)
}

const shardFlagsHelp = `
  -display-name=<text>
    A human name for dashboards and reports.

  -latency-budget-ms=<n>
    Nodes slower than this to the shard are not candidates.

  -max-queue=<n>
    The queue bound; submissions beyond it are rejected.

  -alert-threshold=<n>
    The queue depth that raises an alert.

  -spillover-targets=<a,b>
    Shards that take this shard's overflow, in order.

  -reason=<text>
    A reason recorded with the owner command.
`

// OperatorShardRegisterCommand registers a shard.
type OperatorShardRegisterCommand struct{ Meta }

func (c *OperatorShardRegisterCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator shard register [options] <name>
       planetary operator shard register [options] -config <file>

  Registers a shard from flags, or from the one shard "NAME" { ... } block of
  file (the same block a mission holds, spillover policies included).

Register Options:

  -config=<file>
    The file holding the shard block.

  -region=<region>
    The shard's region.
` + shardFlagsHelp + apiOptionsHelp)
}

func (c *OperatorShardRegisterCommand) Synopsis() string { return "Register a shard" }

func (c *OperatorShardRegisterCommand) Run(args []string) int {
	var sf shardFlags
	var path, reason string
	fs := c.FlagSet("operator shard register", true)
	sf.register(fs, true)
	fs.StringVar(&path, "config", "", "")
	fs.StringVar(&reason, "reason", "", "")
	pos, ok := c.parseAll(fs, args)
	if !ok {
		return cli.RunResultHelp
	}
	var s api.Shard
	switch {
	case path != "" && len(pos) == 0:
		m, files, diags := parseFabricFile(path)
		if c.diagnostics(files, diags) {
			return 1
		}
		if m == nil || len(m.Shards) != 1 || len(m.Nodes) != 0 {
			return c.fail("Error: %s must hold exactly one shard block and nothing else", path)
		}
		rec := m.Shards[0].Record()
		s = view.Shard(&rec)
	case path == "" && len(pos) == 1:
		s = api.Shard{Name: pos[0], DisplayName: sf.displayName, Region: sf.region, LatencyBudgetMs: sf.latencyBudget,
			MaxQueue: sf.maxQueue, QueueAlertThreshold: sf.alertThreshold, SpilloverTargets: splitList(sf.targets)}
	default:
		return cli.RunResultHelp
	}
	s.Reason = reason
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	res, err := client.RegisterShard(ctx, s)
	if err != nil {
		return c.apiFail("registering shard", err)
	}
	if c.json {
		return c.printJSON(res)
	}
	c.Ui.Output(fmt.Sprintf("Shard %q registered at index %d", s.Name, res.Index))
	return 0
}

func (c *OperatorShardRegisterCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictNothing
}

func (c *OperatorShardRegisterCommand) AutocompleteFlags() complete.Flags {
	return shardComplete(complete.Flags{"-config": complete.PredictFiles("*.hcl"), "-region": complete.PredictAnything})
}

var (
	_ cli.Command             = (*OperatorShardRegisterCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorShardRegisterCommand)(nil)
)
