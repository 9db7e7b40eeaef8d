package main

import (
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
)

// ACLBootstrapCommand creates the first management token.
type ACLBootstrapCommand struct{ Meta }

func (c *ACLBootstrapCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary acl bootstrap [options]

  Creates the first management token and prints its secret and accessor.
  It works once per fabric; keep the secret, it is not shown again. Use it
  with -token or PLANETARY_TOKEN.
` + apiOptionsHelp)
}

func (c *ACLBootstrapCommand) Synopsis() string { return "Create the first management token" }

func (c *ACLBootstrapCommand) Run(args []string) int {
	fs := c.FlagSet("acl bootstrap", true)
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
	tok, err := client.ACLBootstrap(ctx)
	if err != nil {
		return c.apiFail("bootstrapping ACL", err)
	}
	if c.json {
		return c.printJSON(tok)
	}
	c.Ui.Output(kv("Accessor ID", tok.AccessorID, "Secret ID", tok.SecretID, "Name", tok.Name, "Type", tok.Type))
	return 0
}

func (c *ACLBootstrapCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *ACLBootstrapCommand) AutocompleteFlags() complete.Flags    { return apiFlags(nil) }

var (
	_ cli.Command             = (*ACLBootstrapCommand)(nil)
	_ cli.CommandAutocomplete = (*ACLBootstrapCommand)(nil)
)
