package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// NodeRetireCommand retires a node.
type NodeRetireCommand struct{ Meta }

func (c *NodeRetireCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary node retire [options] <id>

  Retires a node: it takes no new work. Its assigned and running jobs finish
  there, unless -requeue puts them back on their shard's queue.

Retire Options:

  -requeue
    Requeue the node's in-flight jobs.

  -reason=<text>
    A reason recorded with the owner command.
` + apiOptionsHelp)
}

func (c *NodeRetireCommand) Synopsis() string { return "Retire a node" }

func (c *NodeRetireCommand) Run(args []string) int {
	var req api.NodeRetire
	fs := c.FlagSet("node retire", true)
	fs.BoolVar(&req.Requeue, "requeue", false, "")
	fs.StringVar(&req.Reason, "reason", "", "")
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
	res, err := client.RetireNode(ctx, pos[0], req)
	if err != nil {
		return c.apiFail("retiring node", err)
	}
	if c.json {
		return c.printJSON(res)
	}
	c.Ui.Output(fmt.Sprintf("Node %q retired at index %d", pos[0], res.Index))
	return 0
}

func (c *NodeRetireCommand) AutocompleteArgs() complete.Predictor { return complete.PredictAnything }

func (c *NodeRetireCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{"-requeue": complete.PredictNothing, "-reason": complete.PredictAnything})
}

var (
	_ cli.Command             = (*NodeRetireCommand)(nil)
	_ cli.CommandAutocomplete = (*NodeRetireCommand)(nil)
)
