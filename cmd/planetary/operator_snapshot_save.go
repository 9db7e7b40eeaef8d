package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
)

// OperatorSnapshotSaveCommand downloads a snapshot archive.
type OperatorSnapshotSaveCommand struct{ Meta }

func (c *OperatorSnapshotSaveCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator snapshot save [options] <file>

  Downloads a snapshot archive of the fabric's state (metadata, state and
  SHA256SUMS) into file. The file is written under a temporary name and
  renamed once complete, so a failed download leaves no partial archive.
` + apiOptionsHelp)
}

func (c *OperatorSnapshotSaveCommand) Synopsis() string { return "Save a snapshot archive to a file" }

func (c *OperatorSnapshotSaveCommand) Run(args []string) int {
	fs := c.FlagSet("operator snapshot save", true)
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos, "<file>") {
		return cli.RunResultHelp
	}
	path := pos[0]
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return c.fail("Error creating %s: %v", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	ctx, cancel := c.context()
	defer cancel()
	h := sha256.New()
	n, err := client.SnapshotSave(ctx, io.MultiWriter(tmp, h))
	if err != nil {
		_ = tmp.Close()
		return c.apiFail("saving snapshot", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return c.fail("Error writing %s: %v", path, err)
	}
	if err := tmp.Close(); err != nil {
		return c.fail("Error writing %s: %v", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return c.fail("Error writing %s: %v", path, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if c.json {
		return c.printJSON(map[string]any{"path": path, "size": n, "sha256": sum})
	}
	c.Ui.Output(fmt.Sprintf("Snapshot saved to %s (%d bytes, sha256 %s)", path, n, sum))
	return 0
}

func (c *OperatorSnapshotSaveCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictFiles("*")
}
func (c *OperatorSnapshotSaveCommand) AutocompleteFlags() complete.Flags { return apiFlags(nil) }

var (
	_ cli.Command             = (*OperatorSnapshotSaveCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorSnapshotSaveCommand)(nil)
)
