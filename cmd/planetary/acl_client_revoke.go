package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
)

// ACLClientRevokeCommand revokes a client agent's identity.
type ACLClientRevokeCommand struct{ Meta }

func (c *ACLClientRevokeCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary acl client revoke [options] <client>

  Revokes the identity the servers issued to client agent <client> when it
  joined: its calls are refused from then on, so its nodes go down when
  their heartbeats expire and their work is requeued elsewhere. A revoked
  name cannot join again; a rebuilt host joins under another agent name.
  Needs a management token.

Revoke Options:

  -reason=<text>
    Why, recorded with the command.
` + apiOptionsHelp)
}

func (c *ACLClientRevokeCommand) Synopsis() string { return "Revoke a client agent's identity" }

func (c *ACLClientRevokeCommand) Run(args []string) int {
	var reason string
	fs := c.FlagSet("acl client revoke", true)
	fs.StringVar(&reason, "reason", "", "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos, "<client>") {
		return cli.RunResultHelp
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	res, err := client.RevokeClient(ctx, pos[0], reason)
	if err != nil {
		return c.apiFail("revoking client", err)
	}
	if c.json {
		return c.printJSON(res)
	}
	c.Ui.Output(fmt.Sprintf("Client %s revoked (index %d)", pos[0], res.Index))
	return 0
}

func (c *ACLClientRevokeCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictAnything
}
func (c *ACLClientRevokeCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{"-reason": complete.PredictAnything})
}

var (
	_ cli.Command             = (*ACLClientRevokeCommand)(nil)
	_ cli.CommandAutocomplete = (*ACLClientRevokeCommand)(nil)
)
