package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
)

// NodeListCommand lists nodes.
type NodeListCommand struct{ Meta }

func (c *NodeListCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary node list [options]

  Lists nodes: id, shard, plugin kind, status, capabilities, active jobs
  against capacity, base price in credits and the age of the last heartbeat
  the serving agent saw ("-" when it has none).
` + apiOptionsHelp)
}

func (c *NodeListCommand) Synopsis() string { return "List nodes" }

func (c *NodeListCommand) Run(args []string) int {
	fs := c.FlagSet("node list", true)
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
	nodes, err := client.Nodes(ctx)
	if err != nil {
		return c.apiFail("listing nodes", err)
	}
	if c.json {
		return c.printJSON(nodes)
	}
	if len(nodes) == 0 {
		c.Ui.Output("No nodes")
		return 0
	}
	rows := make([][]string, len(nodes))
	for i, n := range nodes {
		rows[i] = []string{n.ID, n.Shard, orDash(n.Plugin), orDash(n.Status), pluginStateLine(n), orDash(strings.Join(n.Capabilities, ",")),
			fmt.Sprintf("%d/%d", n.Active, n.Capacity), credits(n.Price.BaseMicro), ageMs(n.HeartbeatAgeMs)}
	}
	c.Ui.Output(table([]string{"ID", "Shard", "Kind", "Status", "Plugin", "Capabilities", "Active", "Price", "Heartbeat"}, rows))
	return 0
}

func (c *NodeListCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *NodeListCommand) AutocompleteFlags() complete.Flags    { return apiFlags(nil) }

var (
	_ cli.Command             = (*NodeListCommand)(nil)
	_ cli.CommandAutocomplete = (*NodeListCommand)(nil)
)
