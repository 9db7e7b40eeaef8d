package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// LedgerCommand shows the ledger.
type LedgerCommand struct{ Meta }

func (c *LedgerCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary ledger [options]

  Shows the ledger: job counts and values in credits by state, globally and
  per shard; spillover flows between shards; payments per node; every
  invariant with OK or FAIL; and the head of the event hash chain. When
  the server holds other regions' ledger checkpoints, a Regions table lists
  each region's latest one (its raft index, its freshness: how long before
  the read this region stored it, its totals) and the global totals, their
  sum; a Hand-offs table follows when regions handed jobs to each other.
  Exits 1 when an invariant fails.
` + apiOptionsHelp)
}

func (c *LedgerCommand) Synopsis() string { return "Show the ledger and its invariants" }

func (c *LedgerCommand) Run(args []string) int {
	fs := c.FlagSet("ledger", true)
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
	l, err := client.Ledger(ctx)
	if err != nil {
		return c.apiFail("reading ledger", err)
	}
	failed := 0
	for _, inv := range l.Invariants {
		if !inv.OK {
			failed++
		}
	}
	if c.json {
		if c.printJSON(l) != 0 || failed > 0 {
			return 1
		}
		return 0
	}
	c.Ui.Output(renderLedger(l))
	if failed > 0 {
		return c.fail("Error: %d ledger invariant(s) failed", failed)
	}
	return 0
}

// ledgerStates orders state columns the way jobs flow.
var ledgerStates = []string{"queued", "assigned", "running", "parked", "completed", "failed", "cancelled"}

func renderLedger(l api.Ledger) string {
	var b strings.Builder
	states := append([]string(nil), ledgerStates...)
	seen := map[string]bool{}
	for _, s := range states {
		seen[s] = true
	}
	extra := func(cs api.Counts) {
		for s := range cs {
			if !seen[s] {
				seen[s] = true
				states = append(states, s)
			}
		}
	}
	extra(l.Global)
	shards := make([]string, 0, len(l.Shards))
	for name, cs := range l.Shards {
		shards = append(shards, name)
		extra(cs)
	}
	sort.Strings(shards)
	header := []string{"Scope"}
	for _, s := range states {
		header = append(header, strings.ToUpper(s[:1])+s[1:])
	}
	header = append(header, "Total")
	row := func(scope string, cs api.Counts) []string {
		r := []string{scope}
		var n int64
		var v int64
		for _, s := range states {
			sc := cs[s]
			n, v = n+sc.Jobs, v+sc.ValueMicro
			r = append(r, fmt.Sprintf("%d (%s)", sc.Jobs, credits(sc.ValueMicro)))
		}
		return append(r, fmt.Sprintf("%d (%s)", n, credits(v)))
	}
	rows := [][]string{row("global", l.Global)}
	for _, s := range shards {
		rows = append(rows, row("shard "+s, l.Shards[s]))
	}
	b.WriteString("Jobs (value in credits)\n")
	b.WriteString(table(header, rows))

	b.WriteString("\n\nFlows\n")
	if len(l.Flows) == 0 {
		b.WriteString("none")
	} else {
		fr := make([][]string, len(l.Flows))
		for i, f := range l.Flows {
			fr[i] = []string{f.From, f.To, fmt.Sprint(f.Jobs), credits(f.ValueMicro)}
		}
		b.WriteString(table([]string{"From", "To", "Jobs", "Value"}, fr))
	}

	b.WriteString("\n\nPayments\n")
	if len(l.PaymentsMicro) == 0 {
		b.WriteString("none")
	} else {
		nodes := make([]string, 0, len(l.PaymentsMicro))
		var total int64
		for n, v := range l.PaymentsMicro {
			nodes = append(nodes, n)
			total += v
		}
		sort.Strings(nodes)
		pr := make([][]string, 0, len(nodes)+1)
		for _, n := range nodes {
			pr = append(pr, []string{n, credits(l.PaymentsMicro[n])})
		}
		pr = append(pr, []string{"total", credits(total)})
		b.WriteString(table([]string{"Node", "Paid"}, pr))
	}

	b.WriteString("\n\nInvariants\n")
	ir := make([][]string, len(l.Invariants))
	for i, inv := range l.Invariants {
		st := "OK"
		if !inv.OK {
			st = "FAIL"
		}
		ir[i] = []string{st, inv.ID, inv.Message}
	}
	b.WriteString(table([]string{"Status", "Invariant", "Message"}, ir))
	fmt.Fprintf(&b, "\n\nChain head: seq %d hash %s (applied index %d)", l.Chain.Seq, orDash(l.Chain.Hash), l.AppliedIndex)
	if len(l.Regions) > 1 {
		b.WriteString("\n\nRegions\n")
		b.WriteString(renderRegions(l.Regions, l.GlobalTotals))
		if h := renderHandOffs(l.Regions, l.GlobalTotals); h != "" {
			b.WriteString("\n\nHand-offs\n")
			b.WriteString(h)
		}
	}
	return b.String()
}

// renderHandOffs is the Hand-offs table: each region's line with each
// other region (open, accepted there, accepted from there), then what the
// global totals count once; "" when no region handed any job.
func renderHandOffs(regions []api.RegionLedger, global api.LedgerTotals) string {
	var rows [][]string
	for _, r := range regions {
		for _, l := range r.Totals.HandOffs {
			rows = append(rows, []string{r.Region, l.Region,
				fmt.Sprintf("%d (%s)", l.OpenJobs, credits(l.OpenValueMicro)),
				fmt.Sprintf("%d (%s)", l.OutJobs, credits(l.OutValueMicro)),
				fmt.Sprintf("%d (%s)", l.InJobs, credits(l.InValueMicro))})
		}
	}
	if len(rows) == 0 {
		return ""
	}
	return table([]string{"Region", "With", "Open", "Handed out", "Taken in"}, rows) +
		fmt.Sprintf("\nIn transfer: %d jobs (%s), accepted by their target and not yet closed by their source, counted once in the global totals",
			global.TransferJobs, credits(global.TransferValueMicro))
}

// renderRegions is the Regions table: one line per region's latest
// checkpoint, then the global totals.
func renderRegions(regions []api.RegionLedger, global api.LedgerTotals) string {
	totals := func(t api.LedgerTotals) []string {
		return []string{fmt.Sprintf("%d (%s)", t.Jobs, credits(t.ValueMicro)), fmt.Sprint(t.Counts["completed"].Jobs),
			fmt.Sprintf("%d (%s)", t.FlowJobs, credits(t.FlowValueMicro)), credits(t.PaidMicro), fmt.Sprint(t.Events)}
	}
	rows := make([][]string, 0, len(regions)+1)
	for _, r := range regions {
		name := r.Region
		if r.Local {
			name += " (local)"
		}
		rows = append(rows, append([]string{name, fmt.Sprint(r.Index), freshness(r)}, totals(r.Totals)...))
	}
	rows = append(rows, append([]string{"global", "-", "-"}, totals(global)...))
	return table([]string{"Region", "Index", "Freshness", "Jobs (value)", "Completed", "Flows (value)", "Paid", "Events"}, rows)
}

// freshness is the age of a region's line: how long before the read the
// server stored its checkpoint ("local" for the server's own region, "-"
// when the server does not know when it was stored).
func freshness(r api.RegionLedger) string {
	switch {
	case r.Local:
		return "local"
	case r.AgeNs == nil:
		return "-"
	}
	return roundAge(time.Duration(*r.AgeNs)) + " ago"
}

// roundAge is d rounded to what a reader needs: milliseconds under a second,
// tenths of a second under a minute, seconds beyond.
func roundAge(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func (c *LedgerCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *LedgerCommand) AutocompleteFlags() complete.Flags    { return apiFlags(nil) }

var (
	_ cli.Command             = (*LedgerCommand)(nil)
	_ cli.CommandAutocomplete = (*LedgerCommand)(nil)
)
