package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// MissionShowCommand shows the applied mission.
type MissionShowCommand struct{ Meta }

func (c *MissionShowCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary mission show [options]

  Shows the applied mission: name, digest, seed, mission clock, checkpoint
  and reporting policy, its shards and nodes, and the owner schedule with
  the entries that have fired.
` + apiOptionsHelp)
}

func (c *MissionShowCommand) Synopsis() string { return "Show the applied mission" }

// missionShow is the -json form of mission show.
type missionShow struct {
	Mission api.Mission `json:"mission"`
	Shards  []api.Shard `json:"shards"`
	Nodes   []api.Node  `json:"nodes"`
}

func (c *MissionShowCommand) Run(args []string) int {
	fs := c.FlagSet("mission show", true)
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
	var out missionShow
	if out.Mission, err = client.Mission(ctx); err != nil {
		return c.apiFail("reading mission", err)
	}
	if out.Shards, err = client.Shards(ctx); err != nil {
		return c.apiFail("listing shards", err)
	}
	if out.Nodes, err = client.Nodes(ctx); err != nil {
		return c.apiFail("listing nodes", err)
	}
	if c.json {
		return c.printJSON(out)
	}
	m := out.Mission
	if m.Digest == "" {
		return c.fail("Error: no mission applied (run planetary mission apply <file>)")
	}
	interval := ""
	if m.CheckpointIntervalMs > 0 {
		interval = fmt.Sprintf("%dms", m.CheckpointIntervalMs)
	}
	c.Ui.Output(kv(
		"Name", m.Name,
		"Digest", m.Digest,
		"Seed", fmt.Sprint(m.Seed),
		"Start", stamp(m.Start),
		"Clock", stamp(m.Clock),
		"Checkpoint interval", interval,
		"Checkpoint path", m.CheckpointPath,
		"Reporting dir", m.ReportingDir,
		"Reporting label", m.ReportingLabel,
		"Compliance policy", m.CompliancePolicy,
		"System paused", fmt.Sprint(m.SystemPaused),
		"Owner commands", fmt.Sprint(m.OwnerCommands),
	))
	names := make([]string, len(out.Shards))
	for i, s := range out.Shards {
		names[i] = s.Name
	}
	ids := make([]string, len(out.Nodes))
	for i, n := range out.Nodes {
		ids[i] = n.ID
	}
	c.Ui.Output(fmt.Sprintf("\nShards (%d): %s", len(names), orDash(strings.Join(names, ", "))))
	c.Ui.Output(fmt.Sprintf("Nodes (%d): %s", len(ids), orDash(strings.Join(ids, ", "))))
	if len(m.Schedule) > 0 {
		rows := make([][]string, len(m.Schedule))
		for i, e := range m.Schedule {
			when := fmt.Sprintf("at %dms", e.AtMs)
			if e.AfterCompleted > 0 {
				when = fmt.Sprintf("after %d completed", e.AfterCompleted)
			}
			rows[i] = []string{e.ID, when, e.Action, fmt.Sprint(e.Fired), e.Note}
		}
		c.Ui.Output("\nSchedule")
		c.Ui.Output(table([]string{"ID", "When", "Action", "Fired", "Note"}, rows))
	}
	if len(m.Skipped) > 0 {
		c.Ui.Output("\nSkipped: " + strings.Join(m.Skipped, ", "))
	}
	return 0
}

func (c *MissionShowCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *MissionShowCommand) AutocompleteFlags() complete.Flags    { return apiFlags(nil) }

var (
	_ cli.Command             = (*MissionShowCommand)(nil)
	_ cli.CommandAutocomplete = (*MissionShowCommand)(nil)
)
