package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// OperatorPauseCommand pauses dispatching.
type OperatorPauseCommand struct{ Meta }

func (c *OperatorPauseCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator pause [options]

  Pauses dispatching for the whole fabric, or for one shard with -shard.
  Queued jobs stay queued; running jobs finish.

Pause Options:

  -shard=<name>
    Pause only this shard.

  -reason=<text>
    A reason recorded with the owner command.
` + apiOptionsHelp)
}

func (c *OperatorPauseCommand) Synopsis() string { return "Pause dispatching" }

func (c *OperatorPauseCommand) Run(args []string) int {
	return runPause(&c.Meta, "operator pause", true, args)
}

func (c *OperatorPauseCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }

func (c *OperatorPauseCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{"-shard": complete.PredictAnything, "-reason": complete.PredictAnything})
}

// runPause is the body of operator pause and operator resume.
func runPause(m *Meta, name string, pause bool, args []string) int {
	var req api.PauseRequest
	fs := m.FlagSet(name, true)
	fs.StringVar(&req.Shard, "shard", "", "")
	fs.StringVar(&req.Reason, "reason", "", "")
	pos, ok := m.parseAll(fs, args)
	if !m.wantArgs(ok, pos) {
		return cli.RunResultHelp
	}
	client, err := m.client()
	if err != nil {
		return m.fail("Error: %v", err)
	}
	ctx, cancel := m.context()
	defer cancel()
	call, verb, doing := client.Resume, "resumed", "resuming"
	if pause {
		call, verb, doing = client.Pause, "paused", "pausing"
	}
	res, err := call(ctx, req.Shard, req.Reason)
	if err != nil {
		return m.apiFail(doing, err)
	}
	if m.json {
		return m.printJSON(res)
	}
	what := "Fabric"
	if req.Shard != "" {
		what = fmt.Sprintf("Shard %q", req.Shard)
	}
	m.Ui.Output(fmt.Sprintf("%s %s at index %d", what, verb, res.Index))
	return 0
}

var (
	_ cli.Command             = (*OperatorPauseCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorPauseCommand)(nil)
)
