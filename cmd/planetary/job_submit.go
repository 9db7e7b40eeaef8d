package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/api/view"
	"github.com/planetary/planetary/core/mission"
)

// JobSubmitCommand submits the jobs of a job file.
type JobSubmitCommand struct{ Meta }

func (c *JobSubmitCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary job submit [options] <file>

  Parses a job file (one or more job "ID" { ... } blocks) locally, reporting
  every problem as <file>:<line>,<col>: <summary>, then submits its jobs as
  one batch. Each job prints one line: Job "<id>" submitted, or Job "<id>"
  already submitted when the fabric holds the same job (its id with the same
  spec, or its idempotency key), which changes nothing and exits 0. A
  rejected job (an id already used by a different job, an unknown shard ...)
  is an error line and makes the exit code 1.

Submit Options:

  -quiet
    Print only the ids of the submitted jobs, one a line.

  -reason=<text>
    Accepted for symmetry with other owner commands; submissions record the
    submitting token instead.
` + apiOptionsHelp)
}

func (c *JobSubmitCommand) Synopsis() string { return "Submit the jobs of a job file" }

func (c *JobSubmitCommand) Run(args []string) int {
	var quiet bool
	var reason string
	fs := c.FlagSet("job submit", true)
	fs.BoolVar(&quiet, "quiet", false, "")
	fs.StringVar(&reason, "reason", "", "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos, "<file>") {
		return cli.RunResultHelp
	}
	specs, diags := mission.ParseJobFile(pos[0])
	if c.diagnostics(nil, diags) {
		return 1
	}
	batch := make([]api.JobSubmit, len(specs))
	for i, j := range specs {
		batch[i] = api.JobSubmit{
			ID: j.ID, Key: j.Key, Shard: j.Shard, Capabilities: j.Capabilities, Priority: j.Priority,
			ValueMicro: j.ValueMu, MaxPriceMicro: j.MaxPriceMu, Kind: j.Kind,
			Payload: json.RawMessage(j.Payload), Units: view.Units(j.Units),
		}
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	res, err := client.SubmitJobs(ctx, batch)
	if err != nil {
		return c.apiFail("submitting jobs", err)
	}
	if c.json {
		if c.printJSON(res) != 0 {
			return 1
		}
	}
	code, accepted := 0, 0
	for _, r := range res {
		switch r.Status {
		case api.StatusRejected:
			code = 1
			c.Ui.Error(fmt.Sprintf("Error: job %q rejected: %s", r.ID, r.Reason))
			continue
		case api.StatusAccepted:
			accepted++
		}
		switch {
		case c.json:
		case quiet:
			c.Ui.Output(r.ID)
		case r.Status == api.StatusDuplicate:
			c.Ui.Output(fmt.Sprintf("Job %q already submitted", r.ID))
		default:
			c.Ui.Output(fmt.Sprintf("Job %q submitted", r.ID))
		}
	}
	if len(res) > 1 && !quiet && !c.json {
		c.Ui.Output(fmt.Sprintf("Submitted %d of %d jobs", accepted, len(res)))
	}
	return code
}

func (c *JobSubmitCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictFiles("*.hcl")
}

func (c *JobSubmitCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{"-quiet": complete.PredictNothing, "-reason": complete.PredictAnything})
}

var (
	_ cli.Command             = (*JobSubmitCommand)(nil)
	_ cli.CommandAutocomplete = (*JobSubmitCommand)(nil)
)
