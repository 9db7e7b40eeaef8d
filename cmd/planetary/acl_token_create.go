package main

import (
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// ACLTokenCreateCommand creates a token.
type ACLTokenCreateCommand struct{ Meta }

func (c *ACLTokenCreateCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary acl token create [options] -type <read|submit|management|client>

  Creates an ACL token and prints its secret and accessor. read tokens may
  only read; submit tokens may also submit jobs; management tokens may do
  everything. Needs a management token.

  client tokens are join credentials for client agents on other hosts and
  grant nothing else: create one once, then start each host with
  planetary agent -client -servers <addr> -token <secret>. On its first
  start the client joins and the servers issue it its own identity (only
  its sha256 is replicated); it keeps the secret in
  <data-dir>/client-identity.json and uses it from then on. Revoke a
  client with planetary acl client revoke <name>.

Create Options:

  -type=<type>
    read, submit, management or client (required).

  -name=<name>
    A name for the token.
` + apiOptionsHelp)
}

func (c *ACLTokenCreateCommand) Synopsis() string { return "Create an ACL token" }

func (c *ACLTokenCreateCommand) Run(args []string) int {
	var typ, name string
	fs := c.FlagSet("acl token create", true)
	fs.StringVar(&typ, "type", "", "")
	fs.StringVar(&name, "name", "", "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos) {
		return cli.RunResultHelp
	}
	switch typ {
	case api.TokenTypeRead, api.TokenTypeSubmit, api.TokenTypeManagement, api.TokenTypeClient:
	default:
		return c.fail("Error: -type must be read, submit, management or client, got %q", typ)
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	tok, err := client.CreateToken(ctx, name, typ)
	if err != nil {
		return c.apiFail("creating token", err)
	}
	if c.json {
		return c.printJSON(tok)
	}
	c.Ui.Output(kv("Accessor ID", tok.AccessorID, "Secret ID", tok.SecretID, "Name", tok.Name, "Type", tok.Type))
	return 0
}

func (c *ACLTokenCreateCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }

func (c *ACLTokenCreateCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{
		"-type": complete.PredictSet(api.TokenTypeRead, api.TokenTypeSubmit, api.TokenTypeManagement, api.TokenTypeClient),
		"-name": complete.PredictAnything,
	})
}

var (
	_ cli.Command             = (*ACLTokenCreateCommand)(nil)
	_ cli.CommandAutocomplete = (*ACLTokenCreateCommand)(nil)
)
