package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/limits"
)

// NodeUpdateCommand changes a node's limits and price.
type NodeUpdateCommand struct{ Meta }

func (c *NodeUpdateCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary node update [options] <id>

  Changes a node. Only the flags given change; at least one is required.

Update Options:

  -capacity=<n>
    Jobs the node may hold at once.

  -max-concurrency=<n>
    Jobs the node may run at once.

  -quota=<n>
    Total jobs the node may take (0: unlimited).

  -price-base=<credits>
    The base price per job in decimal credits; the rest of the price
    schedule is kept.

  -latency-ms=<n>
    The declared latency to its shard.

  -reason=<text>
    A reason recorded with the owner command.
` + apiOptionsHelp)
}

func (c *NodeUpdateCommand) Synopsis() string { return "Change a node's limits or price" }

func (c *NodeUpdateCommand) Run(args []string) int {
	var (
		capacity, maxConc, quota, latency int64
		priceBase                         float64
		req                               api.NodeUpdate
	)
	fs := c.FlagSet("node update", true)
	fs.Int64Var(&capacity, "capacity", 0, "")
	fs.Int64Var(&maxConc, "max-concurrency", 0, "")
	fs.Int64Var(&quota, "quota", 0, "")
	fs.Float64Var(&priceBase, "price-base", 0, "")
	fs.Int64Var(&latency, "latency-ms", 0, "")
	fs.StringVar(&req.Reason, "reason", "", "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos, "<id>") {
		return cli.RunResultHelp
	}
	set := setFlags(fs)
	if set["capacity"] {
		req.Capacity = &capacity
	}
	if set["max-concurrency"] {
		req.MaxConcurrency = &maxConc
	}
	if set["quota"] {
		req.Quota = &quota
	}
	if set["latency-ms"] {
		req.LatencyMs = &latency
	}
	if req.Capacity == nil && req.MaxConcurrency == nil && req.Quota == nil && req.LatencyMs == nil && !set["price-base"] {
		return c.fail("Error: nothing to update: give at least one of -capacity, -max-concurrency, -quota, -price-base, -latency-ms")
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	if set["price-base"] {
		n, err := client.Node(ctx, pos[0])
		if err != nil {
			return c.apiFail("reading node", err)
		}
		mu, err := limits.Credits("-price-base", priceBase)
		if err != nil {
			return c.fail("Error: %v", err)
		}
		p := n.Price
		p.Base, p.BaseMicro = 0, mu
		req.Price = &p
	}
	res, err := client.UpdateNode(ctx, pos[0], req)
	if err != nil {
		return c.apiFail("updating node", err)
	}
	if c.json {
		return c.printJSON(res)
	}
	c.Ui.Output(fmt.Sprintf("Node %q updated at index %d", pos[0], res.Index))
	return 0
}

func (c *NodeUpdateCommand) AutocompleteArgs() complete.Predictor { return complete.PredictAnything }

func (c *NodeUpdateCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{
		"-capacity": complete.PredictAnything, "-max-concurrency": complete.PredictAnything,
		"-quota": complete.PredictAnything, "-price-base": complete.PredictAnything,
		"-latency-ms": complete.PredictAnything, "-reason": complete.PredictAnything,
	})
}

var (
	_ cli.Command             = (*NodeUpdateCommand)(nil)
	_ cli.CommandAutocomplete = (*NodeUpdateCommand)(nil)
)
