package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	"github.com/planetary/planetary/core/api/view"
)

// NodeRegisterCommand registers a node from an HCL file.
type NodeRegisterCommand struct{ Meta }

func (c *NodeRegisterCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary node register [options] -config <file>

  Registers the node declared by the one node "ID" { ... } block of file (the
  same block a mission holds). Problems in the file are reported as
  <file>:<line>,<col>: <summary>; the server checks that its shard exists.

Register Options:

  -config=<file>
    The file holding the node block (required).

  -reason=<text>
    A reason recorded with the owner command.
` + apiOptionsHelp)
}

func (c *NodeRegisterCommand) Synopsis() string { return "Register a node from a file" }

func (c *NodeRegisterCommand) Run(args []string) int {
	var path, reason string
	fs := c.FlagSet("node register", true)
	fs.StringVar(&path, "config", "", "")
	fs.StringVar(&reason, "reason", "", "")
	pos, ok := c.parseAll(fs, args)
	if !ok || len(pos) != 0 || path == "" {
		return cli.RunResultHelp
	}
	m, files, diags := parseFabricFile(path)
	if c.diagnostics(files, diags) {
		return 1
	}
	if m == nil || len(m.Nodes) != 1 || len(m.Shards) != 0 {
		return c.fail("Error: %s must hold exactly one node block and nothing else", path)
	}
	rec := m.Nodes[0].Record()
	n := view.Node(&rec)
	n.Reason = reason
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	res, err := client.RegisterNode(ctx, n)
	if err != nil {
		return c.apiFail("registering node", err)
	}
	if c.json {
		return c.printJSON(res)
	}
	c.Ui.Output(fmt.Sprintf("Node %q registered on shard %q at index %d", n.ID, n.Shard, res.Index))
	return 0
}

func (c *NodeRegisterCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }

func (c *NodeRegisterCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{"-config": complete.PredictFiles("*.hcl"), "-reason": complete.PredictAnything})
}

var (
	_ cli.Command             = (*NodeRegisterCommand)(nil)
	_ cli.CommandAutocomplete = (*NodeRegisterCommand)(nil)
)
