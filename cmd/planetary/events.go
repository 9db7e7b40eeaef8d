package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
)

// EventsCommand prints the event stream.
type EventsCommand struct {
	Meta

	// wait is the long-poll wait of -follow (tests shorten it).
	wait time.Duration
}

func (c *EventsCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary events [options]

  Prints events one a line: sequence number, time, type and the fields set
  (job, attempt, shard, from, to, node, value, amount, actor, reason,
  detail). With -follow it keeps waiting for new events until interrupted.
  With -json each event is one line of JSON, as GET /v1/events returns it.

Events Options:

  -index=<seq>
    Print events after this sequence number (default 0: from the start).

  -type=<type>
    Only events of this type.

  -follow
    Keep waiting for new events.

  -max=<n>
    Stop after printing n events (0: no limit). With -follow and -type this
    waits for the next n events of a kind, e.g. one job.completed.
` + apiOptionsHelp)
}

func (c *EventsCommand) Synopsis() string { return "Print or follow the event stream" }

func (c *EventsCommand) Run(args []string) int {
	var (
		index  uint64
		typ    string
		follow bool
		limit  int
	)
	fs := c.FlagSet("events", true)
	fs.Uint64Var(&index, "index", 0, "")
	fs.StringVar(&typ, "type", "", "")
	fs.BoolVar(&follow, "follow", false, "")
	fs.IntVar(&limit, "max", 0, "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos) {
		return cli.RunResultHelp
	}
	if limit < 0 {
		return c.fail("Error: -max must not be negative")
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	wait := c.wait
	if wait <= 0 {
		wait = 30 * time.Second
	}
	printed := 0
	for {
		var w time.Duration
		if follow {
			w = wait
		}
		evs, err := client.Events(ctx, index, w, typ, 0)
		if err != nil {
			if follow && errors.Is(ctx.Err(), context.Canceled) {
				return 0
			}
			return c.apiFail("reading events", err)
		}
		for _, e := range evs.Events {
			if limit > 0 && printed == limit {
				return 0
			}
			printed++
			if c.json {
				if c.printJSONLine(e) != 0 {
					return 1
				}
				continue
			}
			c.Ui.Output(eventLine(e.Seq, e.Time, e.Type, [][2]string{
				{"job", e.Job}, {"attempt", nonZero(uint64(e.Attempt))}, {"shard", e.Shard}, {"from", e.From},
				{"to", e.To}, {"node", e.Node}, {"value", microCredits(e.ValueMu)},
				{"amount", microCredits(e.AmountMu)}, {"actor", e.Actor}, {"reason", e.Reason}, {"detail", e.Detail},
			}))
		}
		advanced := evs.Index > index
		if advanced {
			index = evs.Index
		}
		if limit > 0 && printed == limit {
			return 0
		}
		if !follow && (!advanced || index >= evs.Head) {
			return 0
		}
	}
}

// eventLine renders "<seq> <time> <type> k=v ..." with empty values left out.
func eventLine(seq uint64, ns int64, typ string, fields [][2]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %s", seq, time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000Z"), typ)
	for _, f := range fields {
		if f[1] == "" {
			continue
		}
		v := f[1]
		if strings.ContainsAny(v, " \t\"=") {
			v = fmt.Sprintf("%q", v)
		}
		fmt.Fprintf(&b, " %s=%s", f[0], v)
	}
	return b.String()
}

func nonZero(v uint64) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprint(v)
}

func microCredits(mu int64) string {
	if mu == 0 {
		return ""
	}
	return credits(mu)
}

func (c *EventsCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }

func (c *EventsCommand) AutocompleteFlags() complete.Flags {
	return apiFlags(complete.Flags{"-index": complete.PredictAnything, "-type": complete.PredictAnything,
		"-follow": complete.PredictNothing, "-max": complete.PredictAnything})
}

var (
	_ cli.Command             = (*EventsCommand)(nil)
	_ cli.CommandAutocomplete = (*EventsCommand)(nil)
)
