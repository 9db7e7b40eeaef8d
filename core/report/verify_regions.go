package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/planetary/planetary/core/api/client"
)

// checkRegions checks the global ledger of a bundle: each region's
// checkpoint adds up (its jobs and values are its counts' sums, its flow
// totals its flows'), the global totals are the sum of the regions'
// checkpoints, and the local region's checkpoint is the ledger of the
// bundle: rebuilt, the ledger rebuilt from the events (nil when the log
// starts after genesis: then the recorded ledger stands for it). Each
// problem names the region and the field. A bundle without regions (written
// before them) has nothing to check.
func checkRegions(led LedgerDoc, rebuilt *LedgerDoc) []string {
	if len(led.Regions) == 0 && led.GlobalTotals == nil {
		return nil
	}
	if led.GlobalTotals == nil || len(led.Regions) == 0 {
		return []string{"global_totals: ledger.json holds regions without global totals, or global totals without regions"}
	}
	var out []string
	local := 0
	for _, r := range led.Regions {
		out = append(out, checkRegionSums("regions."+r.Region+".totals", r.Totals)...)
		if r.Local {
			local++
			want := led
			if rebuilt != nil {
				want = *rebuilt
			}
			out = append(out, checkLocalRegion(r, led, want)...)
		}
	}
	if local != 1 {
		out = append(out, fmt.Sprintf("regions: %d regions are marked local, want 1", local))
	}
	return append(out, checkGlobalSum(led.Regions, *led.GlobalTotals)...)
}

// checkRegionSums checks that a checkpoint's totals agree with themselves.
func checkRegionSums(where string, t client.LedgerTotals) []string {
	var out []string
	var jobs, value, flowJobs, flowValue int64
	for _, c := range t.Counts {
		jobs += c.Jobs
		value += c.ValueMicro
	}
	for _, f := range t.Flows {
		flowJobs += f.Jobs
		flowValue += f.ValueMicro
	}
	for _, c := range []struct {
		field     string
		has, want int64
	}{
		{"jobs", t.Jobs, jobs}, {"value_micro", t.ValueMicro, value},
		{"flow_jobs", t.FlowJobs, flowJobs}, {"flow_value_micro", t.FlowValueMicro, flowValue},
	} {
		if c.has != c.want {
			out = append(out, fmt.Sprintf("%s.%s: the checkpoint has %d, its counts and flows sum to %d", where, c.field, c.has, c.want))
		}
	}
	return out
}

// checkLocalRegion compares the local region's checkpoint with the ledger
// it was built from: want's counts, flows and payments (the ledger rebuilt
// from the events, or the recorded one), the recorded chain head and
// payments table.
func checkLocalRegion(r client.RegionLedger, led, want LedgerDoc) []string {
	var out []string
	where := "regions." + r.Region
	bad := func(field string, has, from any) {
		out = append(out, fmt.Sprintf("%s.%s: the local region's checkpoint has %v, its ledger gives %v", where, field, has, from))
	}
	for _, st := range States() {
		c, w := r.Totals.Counts[st], want.Global[st]
		if c.Jobs != w.Jobs || c.ValueMicro != w.ValueMu {
			bad("totals.counts."+st, fmt.Sprintf("%d jobs / %d mu", c.Jobs, c.ValueMicro), fmt.Sprintf("%d jobs / %d mu", w.Jobs, w.ValueMu))
		}
	}
	if r.Totals.ValueMicro != want.Totals.ValueSubmittedMu {
		bad("totals.value_micro", r.Totals.ValueMicro, want.Totals.ValueSubmittedMu)
	}
	if r.Totals.PaidMicro != want.Totals.PaidMu {
		bad("totals.paid_micro", r.Totals.PaidMicro, want.Totals.PaidMu)
	}
	if r.Totals.FlowJobs != want.Totals.Spillovers {
		bad("totals.flow_jobs", r.Totals.FlowJobs, want.Totals.Spillovers)
	}
	if got, w := flowsText(r.Totals.Flows), ledgerFlowsText(want.Flows); got != w {
		bad("totals.flows", got, w)
	}
	if r.Totals.Payments != int64(len(led.PaymentsMu)) {
		bad("totals.payments", r.Totals.Payments, len(led.PaymentsMu))
	}
	if r.Chain.Seq != led.Chain.Seq || r.Chain.Hash != led.Chain.Hash || r.Totals.Events != led.Chain.Seq {
		bad("chain", fmt.Sprintf("seq %d %s, %d events", r.Chain.Seq, short(r.Chain.Hash), r.Totals.Events),
			fmt.Sprintf("seq %d %s", led.Chain.Seq, short(led.Chain.Hash)))
	}
	return out
}

// transferOf is the global ledger's transfer over the regions' hand-off
// lines (state.GlobalLedger): for every ordered pair of regions in the
// sum, the jobs (and value) the target shows accepted from the source less
// those the source shows closed as accepted.
func transferOf(regions []client.RegionLedger) (jobs, value int64) {
	lines := map[[2]string]client.HandOffLine{}
	for _, r := range regions {
		for _, l := range r.Totals.HandOffs {
			lines[[2]string{r.Region, l.Region}] = l
		}
	}
	for _, t := range regions {
		for _, src := range regions {
			if src.Region == t.Region {
				continue
			}
			in, out := lines[[2]string{t.Region, src.Region}], lines[[2]string{src.Region, t.Region}]
			jobs += in.InJobs - out.OutJobs
			value += in.InValueMicro - out.OutValueMicro
		}
	}
	return jobs, value
}

// checkGlobalSum checks that the global totals are the regions' sum, field
// by field, with the handed jobs in transfer counted once (out of the
// queued); a mismatch lists what each region holds.
func checkGlobalSum(regions []client.RegionLedger, g client.LedgerTotals) []string {
	var out []string
	tj, tv := transferOf(regions)
	if g.TransferJobs != tj || g.TransferValueMicro != tv {
		out = append(out, fmt.Sprintf("global_totals.transfer: ledger.json has %d jobs / %d mu, the regions' hand-offs give %d / %d",
			g.TransferJobs, g.TransferValueMicro, tj, tv))
	}
	less := map[string]int64{"jobs": tj, "value_micro": tv, "counts.queued.jobs": tj, "counts.queued.value_micro": tv}
	field := func(name string, has int64, of func(client.LedgerTotals) int64) {
		sum := -less[name]
		parts := make([]string, 0, len(regions))
		for _, r := range regions {
			v := of(r.Totals)
			sum += v
			parts = append(parts, fmt.Sprintf("%s %d", r.Region, v))
		}
		if sum != has {
			if less[name] != 0 {
				parts = append(parts, fmt.Sprintf("less transfer %d", less[name]))
			}
			out = append(out, fmt.Sprintf("global_totals.%s: ledger.json has %d, the regions' checkpoints sum to %d (%s)",
				name, has, sum, strings.Join(parts, ", ")))
		}
	}
	field("jobs", g.Jobs, func(t client.LedgerTotals) int64 { return t.Jobs })
	field("value_micro", g.ValueMicro, func(t client.LedgerTotals) int64 { return t.ValueMicro })
	field("flow_jobs", g.FlowJobs, func(t client.LedgerTotals) int64 { return t.FlowJobs })
	field("flow_value_micro", g.FlowValueMicro, func(t client.LedgerTotals) int64 { return t.FlowValueMicro })
	field("paid_micro", g.PaidMicro, func(t client.LedgerTotals) int64 { return t.PaidMicro })
	field("payments", g.Payments, func(t client.LedgerTotals) int64 { return t.Payments })
	field("events", int64(g.Events), func(t client.LedgerTotals) int64 { return int64(t.Events) })
	for _, st := range States() {
		field("counts."+st+".jobs", g.Counts[st].Jobs, func(t client.LedgerTotals) int64 { return t.Counts[st].Jobs })
		field("counts."+st+".value_micro", g.Counts[st].ValueMicro, func(t client.LedgerTotals) int64 { return t.Counts[st].ValueMicro })
	}
	sum := map[string]client.Flow{}
	for _, r := range regions {
		for _, f := range r.Totals.Flows {
			k := f.From + "->" + f.To
			m := sum[k]
			m.From, m.To, m.Jobs, m.ValueMicro = f.From, f.To, m.Jobs+f.Jobs, m.ValueMicro+f.ValueMicro
			sum[k] = m
		}
	}
	merged := make([]client.Flow, 0, len(sum))
	for _, f := range sum {
		merged = append(merged, f)
	}
	if has, want := flowsText(g.Flows), flowsText(merged); has != want {
		out = append(out, fmt.Sprintf("global_totals.flows: ledger.json has %s, the regions' checkpoints sum to %s", has, want))
	}
	return out
}

// flowsText is a canonical text of flows, sorted by (from, to).
func flowsText(fs []client.Flow) string {
	parts := make([]string, 0, len(fs))
	for _, f := range fs {
		parts = append(parts, fmt.Sprintf("%s->%s %d/%d", f.From, f.To, f.Jobs, f.ValueMicro))
	}
	sort.Strings(parts)
	return "[" + strings.Join(parts, " ") + "]"
}

func ledgerFlowsText(fs []FlowLedger) string {
	out := make([]client.Flow, 0, len(fs))
	for _, f := range fs {
		out = append(out, client.Flow{From: f.From, To: f.To, Jobs: f.Jobs, ValueMicro: f.ValueMu})
	}
	return flowsText(out)
}
