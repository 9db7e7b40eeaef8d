package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// JobListCommand lists jobs.
type JobListCommand struct{ Meta }

func (c *JobListCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary job list [options]

  Lists jobs in submit order as a table. A page holds at most -limit jobs;
  when more follow, the last line names the -after value of the next page.

List Options:

  -state=<state>
    Only jobs in this state (queued, assigned, running, completed, ...).

  -shard=<name>
    Only jobs currently on this shard.

  -node=<id>
    Only jobs assigned to this node.

  -limit=<n>
    At most n jobs (the server's default when 0).

  -after=<seq>
    Start after this submit sequence number (the cursor of a previous page).
` + apiOptionsHelp)
}

func (c *JobListCommand) Synopsis() string { return "List jobs" }

func (c *JobListCommand) Run(args []string) int {
	var q api.JobQuery
	fs := c.FlagSet("job list", true)
	fs.StringVar(&q.State, "state", "", "")
	fs.StringVar(&q.Shard, "shard", "", "")
	fs.StringVar(&q.Node, "node", "", "")
	fs.IntVar(&q.Limit, "limit", 0, "")
	fs.Uint64Var(&q.After, "after", 0, "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos) {
		return cli.RunResultHelp
	}
	if q.Limit < 0 {
		return c.fail("Error: -limit must not be negative")
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	list, err := client.Jobs(ctx, q)
	if err != nil {
		return c.apiFail("listing jobs", err)
	}
	if c.json {
		return c.printJSON(list)
	}
	if len(list.Jobs) == 0 {
		c.Ui.Output("No jobs")
		return 0
	}
	rows := make([][]string, len(list.Jobs))
	for i, j := range list.Jobs {
		quote := "-"
		if j.QuoteMicro > 0 {
			quote = credits(j.QuoteMicro)
		}
		rows[i] = []string{fmt.Sprint(j.Seq), j.ID, j.State, j.Shard, orDash(j.Node),
			fmt.Sprint(j.Attempt), fmt.Sprint(j.Hops), credits(j.ValueMicro), quote}
	}
	c.Ui.Output(table([]string{"Seq", "ID", "State", "Shard", "Node", "Attempt", "Hops", "Value", "Quote"}, rows))
	if list.Next > 0 {
		c.Ui.Output(fmt.Sprintf("More jobs follow: -after %d", list.Next))
	}
	return 0
}

func (c *JobListCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }

func (c *JobListCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{
		"-state": complete.PredictSet("queued", "assigned", "running", "completed", "failed", "cancelled", "parked"),
		"-shard": complete.PredictAnything,
		"-node":  complete.PredictAnything,
		"-limit": complete.PredictAnything,
		"-after": complete.PredictAnything,
	})
}

var (
	_ cli.Command             = (*JobListCommand)(nil)
	_ cli.CommandAutocomplete = (*JobListCommand)(nil)
)
