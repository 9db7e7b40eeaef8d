package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	"github.com/planetary/planetary/core/server"
)

// OperatorSnapshotRestoreCommand restores the fabric from an archive.
type OperatorSnapshotRestoreCommand struct{ Meta }

func (c *OperatorSnapshotRestoreCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator snapshot restore [options] <file>

  Restores the fabric's state from a snapshot archive. The archive's
  checksums are verified locally first, then again by the leader, which
  makes every server take on the archived state. Meant for disaster recovery
  and moving a fabric: everything since the snapshot is replaced.
` + apiOptionsHelp)
}

func (c *OperatorSnapshotRestoreCommand) Synopsis() string {
	return "Restore the fabric from an archive"
}

func (c *OperatorSnapshotRestoreCommand) Run(args []string) int {
	fs := c.FlagSet("operator snapshot restore", true)
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos, "<file>") {
		return cli.RunResultHelp
	}
	path := pos[0]
	info, err := inspectFile(path)
	if err != nil {
		return c.fail("Error: %v", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return c.fail("Error opening %s: %v", path, err)
	}
	defer f.Close()
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	if err := client.SnapshotRestore(ctx, f); err != nil {
		return c.apiFail("restoring snapshot", err)
	}
	if c.json {
		return c.printJSON(info)
	}
	c.Ui.Output(fmt.Sprintf("Restored snapshot %s (index %d, term %d) from %s", info.ID, info.Index, info.Term, path))
	return 0
}

// inspectFile verifies the archive at path.
func inspectFile(path string) (server.SnapshotInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return server.SnapshotInfo{}, fmt.Errorf("open snapshot archive: %w", err)
	}
	defer f.Close()
	info, err := server.InspectArchive(f)
	if err != nil {
		return info, fmt.Errorf("%s: %w", path, err)
	}
	return info, nil
}

func (c *OperatorSnapshotRestoreCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictFiles("*")
}
func (c *OperatorSnapshotRestoreCommand) AutocompleteFlags() complete.Flags { return apiFlags(nil) }

var (
	_ cli.Command             = (*OperatorSnapshotRestoreCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorSnapshotRestoreCommand)(nil)
)
