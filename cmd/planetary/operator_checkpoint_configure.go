package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// OperatorCheckpointConfigureCommand retargets checkpoints.
type OperatorCheckpointConfigureCommand struct{ Meta }

func (c *OperatorCheckpointConfigureCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator checkpoint configure [options]

  Changes the checkpoint cadence and where checkpoint archives are written.
  The path must fall under a root the agent config allows. Flags not given
  are unchanged; at least one is required.

Configure Options:

  -interval=<duration>
    How often the leader takes a checkpoint, e.g. 30s.

  -path=<dir>
    The directory checkpoint archives are written to.

  -reason=<text>
    A reason recorded with the owner command.
` + apiOptionsHelp)
}

func (c *OperatorCheckpointConfigureCommand) Synopsis() string {
	return "Change checkpoint cadence and path"
}

func (c *OperatorCheckpointConfigureCommand) Run(args []string) int {
	var interval time.Duration
	var cfg api.CheckpointConfig
	fs := c.FlagSet("operator checkpoint configure", true)
	fs.DurationVar(&interval, "interval", 0, "")
	fs.StringVar(&cfg.Path, "path", "", "")
	fs.StringVar(&cfg.Reason, "reason", "", "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos) {
		return cli.RunResultHelp
	}
	if setFlags(fs)["interval"] && interval < time.Millisecond {
		return c.fail("Error: -interval must be at least 1ms")
	}
	cfg.IntervalMs = interval.Milliseconds()
	if cfg.IntervalMs == 0 && cfg.Path == "" {
		return c.fail("Error: nothing to configure: give -interval or -path")
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	res, err := client.ConfigureCheckpoint(ctx, cfg)
	if err != nil {
		return c.apiFail("configuring checkpoints", err)
	}
	if c.json {
		return c.printJSON(res)
	}
	c.Ui.Output(fmt.Sprintf("Checkpoints configured at index %d", res.Index))
	return 0
}

func (c *OperatorCheckpointConfigureCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictNothing
}

func (c *OperatorCheckpointConfigureCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{"-interval": complete.PredictAnything, "-path": complete.PredictDirs("*"),
		"-reason": complete.PredictAnything})
}

var (
	_ cli.Command             = (*OperatorCheckpointConfigureCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorCheckpointConfigureCommand)(nil)
)
