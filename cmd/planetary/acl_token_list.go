package main

import (
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
)

// ACLTokenListCommand lists the ACL tokens.
type ACLTokenListCommand struct{ Meta }

func (c *ACLTokenListCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary acl token list [options]

  Lists the ACL tokens: accessor id, name, type, when it was created and,
  for a client identity, when it was revoked. Secrets are never listed
  (only their sha256 is replicated). Needs a management token.
` + apiOptionsHelp)
}

func (c *ACLTokenListCommand) Synopsis() string { return "List ACL tokens" }

func (c *ACLTokenListCommand) Run(args []string) int {
	fs := c.FlagSet("acl token list", true)
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
	toks, err := client.Tokens(ctx)
	if err != nil {
		return c.apiFail("listing ACL tokens", err)
	}
	if c.json {
		return c.printJSON(toks)
	}
	if len(toks) == 0 {
		c.Ui.Output("No tokens")
		return 0
	}
	rows := make([][]string, len(toks))
	for i, t := range toks {
		rows[i] = []string{t.AccessorID, t.Name, t.Type, stamp(t.CreatedAt), stamp(t.RevokedAt)}
	}
	c.Ui.Output(table([]string{"Accessor", "Name", "Type", "Created", "Revoked"}, rows))
	return 0
}

func (c *ACLTokenListCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *ACLTokenListCommand) AutocompleteFlags() complete.Flags    { return apiFlags(nil) }

var (
	_ cli.Command             = (*ACLTokenListCommand)(nil)
	_ cli.CommandAutocomplete = (*ACLTokenListCommand)(nil)
)
