package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// OperatorReportingConfigureCommand retargets report output.
type OperatorReportingConfigureCommand struct{ Meta }

func (c *OperatorReportingConfigureCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary operator reporting configure [options]

  Changes where reports are written and the label they carry. The directory
  must fall under a root the agent config allows. Flags not given are
  unchanged; at least one is required.

Configure Options:

  -dir=<dir>
    The report directory.

  -label=<text>
    The label reports carry.

  -reason=<text>
    A reason recorded with the owner command.
` + apiOptionsHelp)
}

func (c *OperatorReportingConfigureCommand) Synopsis() string {
	return "Change report directory and label"
}

func (c *OperatorReportingConfigureCommand) Run(args []string) int {
	var cfg api.ReportingConfig
	fs := c.FlagSet("operator reporting configure", true)
	fs.StringVar(&cfg.Dir, "dir", "", "")
	fs.StringVar(&cfg.Label, "label", "", "")
	fs.StringVar(&cfg.Reason, "reason", "", "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos) {
		return cli.RunResultHelp
	}
	if cfg.Dir == "" && cfg.Label == "" {
		return c.fail("Error: nothing to configure: give -dir or -label")
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	res, err := client.ConfigureReporting(ctx, cfg)
	if err != nil {
		return c.apiFail("configuring reporting", err)
	}
	if c.json {
		return c.printJSON(res)
	}
	c.Ui.Output(fmt.Sprintf("Reporting configured at index %d", res.Index))
	return 0
}

func (c *OperatorReportingConfigureCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictNothing
}

func (c *OperatorReportingConfigureCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{"-dir": complete.PredictDirs("*"), "-label": complete.PredictAnything,
		"-reason": complete.PredictAnything})
}

var (
	_ cli.Command             = (*OperatorReportingConfigureCommand)(nil)
	_ cli.CommandAutocomplete = (*OperatorReportingConfigureCommand)(nil)
)
