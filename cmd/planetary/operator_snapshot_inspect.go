package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
)

// OperatorSnapshotInspectCommand verifies an archive offline.
type OperatorSnapshotInspectCommand struct{ Meta }

func (c *OperatorSnapshotInspectCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator snapshot inspect [options] <file>

  Verifies a snapshot archive's checksums and prints its metadata. Works
  offline: no agent is contacted.

Inspect Options:

  -json
    Print the metadata as JSON.`)
}

func (c *OperatorSnapshotInspectCommand) Synopsis() string {
	return "Verify a snapshot archive offline"
}

func (c *OperatorSnapshotInspectCommand) Run(args []string) int {
	fs := c.FlagSet("operator snapshot inspect", false)
	fs.BoolVar(&c.json, "json", false, "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos, "<file>") {
		return cli.RunResultHelp
	}
	info, err := inspectFile(pos[0])
	if err != nil {
		return c.fail("Error: %v", err)
	}
	if c.json {
		return c.printJSON(info)
	}
	c.Ui.Output(kv(
		"ID", info.ID,
		"Format version", fmt.Sprint(info.Version),
		"Index", fmt.Sprint(info.Index),
		"Term", fmt.Sprint(info.Term),
		"Node", info.NodeID,
		"Created", stamp(info.CreatedAt),
		"State size", fmt.Sprint(info.Size),
		"State SHA-256", info.SHA256,
		"Archive SHA-256", info.ArchiveSHA256,
	))
	return 0
}

func (c *OperatorSnapshotInspectCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictFiles("*")
}

func (c *OperatorSnapshotInspectCommand) AutocompleteFlags() complete.Flags {
	return complete.Flags{"-json": complete.PredictNothing}
}

var (
	_ cli.Command             = (*OperatorSnapshotInspectCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorSnapshotInspectCommand)(nil)
)
