package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	"github.com/planetary/planetary/core/mission"
)

// MissionApplyCommand applies a mission file.
type MissionApplyCommand struct{ Meta }

func (c *MissionApplyCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary mission apply [options] <file>

  Parses a mission file locally, reporting every problem as
  <file>:<line>,<col>: <summary>, then applies it to the fabric. Applying is
  idempotent by content digest: a file whose digest matches the applied
  mission prints "unchanged". Otherwise the changes are printed one a line.

Apply Options:

  -reason=<text>
    A reason recorded with the owner command.
` + apiOptionsHelp)
}

func (c *MissionApplyCommand) Synopsis() string { return "Apply a mission file" }

func (c *MissionApplyCommand) Run(args []string) int {
	var reason string
	fs := c.FlagSet("mission apply", true)
	fs.StringVar(&reason, "reason", "", "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos, "<file>") {
		return cli.RunResultHelp
	}
	path := pos[0]
	f, diags := mission.ParseFile(path)
	if f.Mission == nil && !diags.HasErrors() {
		return c.fail("Error: %s holds no mission block", path)
	}
	if c.diagnostics(f.Sources, diags) {
		return 1
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return c.fail("Error reading %s: %v", path, err)
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	out, err := client.ApplyMission(ctx, path, src, reason)
	if err != nil {
		return c.apiFail("applying mission", err)
	}
	if c.json {
		return c.printJSON(out)
	}
	if !out.Changed {
		c.Ui.Output(fmt.Sprintf("Mission %q unchanged (digest %s)", f.Mission.Name, out.Digest))
		return 0
	}
	for _, d := range out.Diff {
		c.Ui.Output(d)
	}
	c.Ui.Output(fmt.Sprintf("Mission %q applied at index %d (digest %s)", f.Mission.Name, out.Index, out.Digest))
	return 0
}

func (c *MissionApplyCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictFiles("*.hcl")
}

func (c *MissionApplyCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{"-reason": complete.PredictAnything})
}

var (
	_ cli.Command             = (*MissionApplyCommand)(nil)
	_ cli.CommandAutocomplete = (*MissionApplyCommand)(nil)
)
