package main

import (
	"errors"
	"net/http"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	"github.com/planetary/planetary/core/agent"
	api "github.com/planetary/planetary/core/api/client"
)

// ACLBootstrapCommand creates the first management token.
type ACLBootstrapCommand struct{ Meta }

func (c *ACLBootstrapCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary acl bootstrap [options]

  Creates the first management token and prints its secret and accessor.
  It works once per fabric; keep the secret, it is not shown again. Use it
  with -token or PLANETARY_TOKEN.

  An agent started from an agent config (planetary agent -config
  examples/agent.hcl) serves itself with its own identity and leaves the
  bootstrap to the operator. An agent that bootstraps for itself (-dev, a
  mission-only -config, an in-process run) keeps the management token in
  <data-dir>/management.token; then this command says so.
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
	var ae *api.Error
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		return c.fail("Error bootstrapping ACL: %s. An agent started with -dev or a mission-only -config "+
			"bootstrapped for itself and keeps the management token in <data-dir>/%s; otherwise ask whoever "+
			"bootstrapped for a management token", ae.Message, agent.TokenFile)
	}
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
