package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
)

// OperatorRaftRemovePeerCommand removes a server from the raft configuration.
type OperatorRaftRemovePeerCommand struct{ Meta }

func (c *OperatorRaftRemovePeerCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator raft remove-peer [options] <id>

  Removes the raft server with the given id from the cluster's
  configuration (any server forwards the request to the leader). Use it for
  a server that is gone for good; a server that is only down rejoins by
  itself when it restarts. Needs a management token.
` + apiOptionsHelp)
}

func (c *OperatorRaftRemovePeerCommand) Synopsis() string { return "Remove a raft server" }

func (c *OperatorRaftRemovePeerCommand) Run(args []string) int {
	fs := c.FlagSet("operator raft remove-peer", true)
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
	if err := client.RaftRemovePeer(ctx, pos[0]); err != nil {
		return c.apiFail("removing raft peer "+pos[0], err)
	}
	if c.json {
		return c.printJSON(map[string]string{"removed": pos[0]})
	}
	c.Ui.Output(fmt.Sprintf("Removed raft peer %s", pos[0]))
	return 0
}

func (c *OperatorRaftRemovePeerCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictAnything
}
func (c *OperatorRaftRemovePeerCommand) AutocompleteFlags() complete.Flags { return apiFlags(nil) }

var (
	_ cli.Command             = (*OperatorRaftRemovePeerCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorRaftRemovePeerCommand)(nil)
)
