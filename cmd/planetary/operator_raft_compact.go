package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	"github.com/planetary/planetary/core/server"
)

// OperatorRaftCompactCommand rewrites a stopped server's raft.db offline.
type OperatorRaftCompactCommand struct{ Meta }

func (c *OperatorRaftCompactCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator raft compact -data-dir <dir>

  Rewrites the raft log store (<dir>/server/raft.db) of a stopped agent into
  a file holding only its live data, and puts it in place. raft.db reuses
  the space raft's snapshots free but never shrinks, so after a burst it
  keeps its largest size; this returns that space. Works offline: it fails
  while an agent holds the file.

Compact Options:

  -data-dir=<dir>
    The agent's data dir (the one given to "planetary agent -data-dir").
    A directory holding raft.db itself is accepted too.

  -json
    Print the result as JSON.`)
}

func (c *OperatorRaftCompactCommand) Synopsis() string { return "Compact a stopped server's raft.db" }

func (c *OperatorRaftCompactCommand) Run(args []string) int {
	fs := c.FlagSet("operator raft compact", false)
	var dir string
	fs.StringVar(&dir, "data-dir", "", "")
	fs.BoolVar(&c.json, "json", false, "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos) {
		return cli.RunResultHelp
	}
	if dir == "" {
		return c.fail("Error: -data-dir is required")
	}
	path := filepath.Join(dir, "server", "raft.db")
	if _, err := os.Stat(path); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, "raft.db")); err2 != nil {
			return c.fail("Error: no raft.db under %s (looked for %s)", dir, path)
		}
		path = filepath.Join(dir, "raft.db")
	}
	res, err := server.CompactRaftDB(path, time.Second)
	if err != nil {
		return c.fail("Error: %v", err)
	}
	if c.json {
		return c.printJSON(res)
	}
	c.Ui.Output(fmt.Sprintf("Compacted %s: %s -> %s (%d log entries kept)",
		res.Path, mib(res.Before), mib(res.After), res.Keys["logs"]))
	return 0
}

func (c *OperatorRaftCompactCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictNothing
}

func (c *OperatorRaftCompactCommand) AutocompleteFlags() complete.Flags {
	return complete.Flags{"-data-dir": complete.PredictDirs("*"), "-json": complete.PredictNothing}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

var _ cli.Command = (*OperatorRaftCompactCommand)(nil)
