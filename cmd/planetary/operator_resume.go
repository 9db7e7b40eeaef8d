package main

import (
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
)

// OperatorResumeCommand resumes dispatching.
type OperatorResumeCommand struct{ Meta }

func (c *OperatorResumeCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator resume [options]

  Resumes dispatching for the whole fabric, or for one shard with -shard.

Resume Options:

  -shard=<name>
    Resume only this shard.

  -reason=<text>
    A reason recorded with the owner command.
` + apiOptionsHelp)
}

func (c *OperatorResumeCommand) Synopsis() string { return "Resume dispatching" }

func (c *OperatorResumeCommand) Run(args []string) int {
	return runPause(&c.Meta, "operator resume", false, args)
}

func (c *OperatorResumeCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }

func (c *OperatorResumeCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{"-shard": complete.PredictAnything, "-reason": complete.PredictAnything})
}

var (
	_ cli.Command             = (*OperatorResumeCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorResumeCommand)(nil)
)
