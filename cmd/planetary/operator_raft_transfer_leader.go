package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
)

// OperatorRaftTransferLeaderCommand hands raft leadership to another server.
type OperatorRaftTransferLeaderCommand struct{ Meta }

func (c *OperatorRaftTransferLeaderCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator raft transfer-leader [options] [<id>]

  Hands leadership to the raft server with the given id, or to the most
  up-to-date follower when no id is given. The leader loops stop on the old
  leader and start on the new one after a barrier. Needs a management token.
` + apiOptionsHelp)
}

func (c *OperatorRaftTransferLeaderCommand) Synopsis() string {
	return "Hand raft leadership to a server"
}

func (c *OperatorRaftTransferLeaderCommand) Run(args []string) int {
	fs := c.FlagSet("operator raft transfer-leader", true)
	pos, ok := c.parseAll(fs, args)
	if !ok || len(pos) > 1 {
		return cli.RunResultHelp
	}
	id := ""
	if len(pos) == 1 {
		id = pos[0]
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	li, err := client.RaftTransferLeader(ctx, id)
	if err != nil {
		return c.apiFail("transferring leadership", err)
	}
	if c.json {
		return c.printJSON(li)
	}
	if li.ID == "" {
		c.Ui.Output("Leadership transferred; no new leader elected yet")
		return 0
	}
	c.Ui.Output(fmt.Sprintf("Leadership transferred to %s", li.ID))
	return 0
}

func (c *OperatorRaftTransferLeaderCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictAnything
}
func (c *OperatorRaftTransferLeaderCommand) AutocompleteFlags() complete.Flags { return apiFlags(nil) }

var (
	_ cli.Command             = (*OperatorRaftTransferLeaderCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorRaftTransferLeaderCommand)(nil)
)
