package main

import (
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
)

// OperatorRaftListPeersCommand lists the raft servers.
type OperatorRaftListPeersCommand struct{ Meta }

func (c *OperatorRaftListPeersCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator raft list-peers [options]

  Lists the raft servers of the cluster: id, address, suffrage and which one
  leads.
` + apiOptionsHelp)
}

func (c *OperatorRaftListPeersCommand) Synopsis() string { return "List the raft servers" }

func (c *OperatorRaftListPeersCommand) Run(args []string) int {
	fs := c.FlagSet("operator raft list-peers", true)
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
	peers, err := client.Peers(ctx)
	if err != nil {
		return c.apiFail("listing raft peers", err)
	}
	if c.json {
		return c.printJSON(peers)
	}
	rows := make([][]string, len(peers))
	for i, p := range peers {
		state := "follower"
		if p.Leader {
			state = "leader"
		}
		rows[i] = []string{p.ID, p.Address, state, p.Suffrage}
	}
	c.Ui.Output(table([]string{"ID", "Address", "State", "Suffrage"}, rows))
	return 0
}

func (c *OperatorRaftListPeersCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictNothing
}
func (c *OperatorRaftListPeersCommand) AutocompleteFlags() complete.Flags { return apiFlags(nil) }

var (
	_ cli.Command             = (*OperatorRaftListPeersCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorRaftListPeersCommand)(nil)
)
