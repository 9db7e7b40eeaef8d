package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
)

// OperatorCheckpointSaveCommand takes a checkpoint now.
type OperatorCheckpointSaveCommand struct{ Meta }

func (c *OperatorCheckpointSaveCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator checkpoint save [options]

  Takes a checkpoint now: a raft snapshot exported as a checksummed archive
  at the configured checkpoint path. Prints the archive's path, raft index
  and SHA-256.
` + apiOptionsHelp)
}

func (c *OperatorCheckpointSaveCommand) Synopsis() string { return "Take a checkpoint now" }

func (c *OperatorCheckpointSaveCommand) Run(args []string) int {
	fs := c.FlagSet("operator checkpoint save", true)
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
	s, err := client.SaveCheckpoint(ctx)
	if err != nil {
		return c.apiFail("saving checkpoint", err)
	}
	if c.json {
		return c.printJSON(s)
	}
	c.Ui.Output(fmt.Sprintf("Checkpoint saved at index %d", s.Index))
	c.Ui.Output(kv("Path", s.Path, "Size", fmt.Sprint(s.Size), "SHA-256", s.SHA256))
	return 0
}

func (c *OperatorCheckpointSaveCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictNothing
}
func (c *OperatorCheckpointSaveCommand) AutocompleteFlags() complete.Flags { return apiFlags(nil) }

var (
	_ cli.Command             = (*OperatorCheckpointSaveCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorCheckpointSaveCommand)(nil)
)
