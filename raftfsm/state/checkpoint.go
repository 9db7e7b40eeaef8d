package state

import (
	"errors"
	"fmt"
	"sort"
)

// DefaultRegion is the name of the local region of a server configured
// with none: one raft group holding every shard.
const DefaultRegion = "default"

// ErrRegionSum is wrapped by GlobalLedger when the regions' totals do not
// add up inside int64.
var ErrRegionSum = errors.New("region totals overflow")

// Checkpoint builds the checkpoint of this store as region: its ledger
// totals, payments, event count, chain head, mission clock and shards at
// the last applied index. It is a pure function of the store (no clock, sorted
// tables), so every replica at one index builds the same checkpoint.
func (s *Store) Checkpoint(region string) RegionCheckpoint {
	cp := RegionCheckpoint{
		Region:        region,
		RaftIndex:     s.meta.Index,
		EventCount:    s.meta.Events,
		ChainHead:     s.meta.Head,
		MissionTimeNs: s.meta.Clock,
	}
	cp.Totals.Counts = s.global
	for _, v := range s.global.ValueMu {
		cp.Totals.ValueMu = satAdd(cp.Totals.ValueMu, v)
	}
	cp.Totals.Flows = s.Flows()
	for _, f := range cp.Totals.Flows {
		cp.Totals.FlowJobs = satAdd(cp.Totals.FlowJobs, f.Jobs)
	}
	cp.Totals.FlowValueMu = s.flowTotal
	cp.Totals.PaidMu = s.paidTotal
	cp.Payments = RegionPayments{Count: int64(len(s.payments)), AmountMu: s.paidTotal}
	if len(s.shards) > 0 {
		cp.Shards = make([]string, 0, len(s.shards))
		for name := range s.shards {
			cp.Shards = append(cp.Shards, name)
		}
		sort.Strings(cp.Shards)
	}
	if lines := s.HandOffLines(); len(lines) > 0 {
		cp.Totals.HandOffs = lines
	}
	return cp
}

// RegionCheckpoints returns the stored checkpoints of other regions, the
// latest of each, sorted by region.
func (s *Store) RegionCheckpoints() []RegionCheckpoint {
	out := make([]RegionCheckpoint, 0, len(s.regions))
	for _, cp := range s.regions {
		out = append(out, cp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out
}

// RegionCheckpoint returns the stored checkpoint of region.
func (s *Store) RegionCheckpoint(region string) (RegionCheckpoint, bool) {
	cp, ok := s.regions[region]
	return cp, ok
}

// PutRegionCheckpoint stores cp as its region's latest checkpoint (Apply
// checks that it is newer than the one stored). Its flows are copied, so
// the caller's slice is never shared.
func (s *Store) PutRegionCheckpoint(cp RegionCheckpoint) {
	cp.Totals.Flows = append([]Flow(nil), cp.Totals.Flows...)
	cp.Shards = append([]string(nil), cp.Shards...)
	cp.Totals.HandOffs = append([]HandOffLine(nil), cp.Totals.HandOffs...)
	s.regions[cp.Region] = cp
}

// RegionFreshness is one region's line of the global ledger: its latest
// checkpoint and how far its mission clock is behind the local region's
// (negative when it is ahead; 0 for the local region).
type RegionFreshness struct {
	Checkpoint RegionCheckpoint
	Local      bool
	BehindNs   int64
}

// GlobalView is the global ledger: the sum of every region's latest
// checkpoint, with each region's freshness, local region included, sorted
// by region.
type GlobalView struct {
	// Totals are the regions' totals summed, with the jobs in Transfer
	// counted once (see Transfer).
	Totals RegionTotals
	// Transfer is, over every pair of regions in the sum, the jobs the
	// target's checkpoint shows accepted from the source less those the
	// source's checkpoint shows closed as accepted. Positive, they are in
	// both checkpoints (queued at the source, in the target's counts) and
	// the sum takes them out of the source's queued; negative, the source
	// closed them before the target's checkpoint shows them, and the sum
	// counts them queued. So each handed job counts once whatever the
	// freshness of the checkpoints.
	Transfer   Transfer
	Payments   RegionPayments
	EventCount uint64
	Regions    []RegionFreshness
}

// GlobalLedger sums the local region's checkpoint own and the latest
// checkpoint of every other region in others. A checkpoint in others that
// names the local region is ignored (the local figures are own), and of two
// for one region the one at the higher raft index counts. Flows are merged
// by (From, To). It is pure and its result does not depend on the order of
// others. The error wraps ErrRegionSum and names the region and the field
// whose sum would pass int64.
func GlobalLedger(own RegionCheckpoint, others []RegionCheckpoint) (GlobalView, error) {
	latest := map[string]RegionCheckpoint{own.Region: own}
	for _, cp := range others {
		if cp.Region == own.Region {
			continue
		}
		if have, ok := latest[cp.Region]; !ok || cp.RaftIndex > have.RaftIndex {
			latest[cp.Region] = cp
		}
	}
	names := make([]string, 0, len(latest))
	for r := range latest {
		names = append(names, r)
	}
	sort.Strings(names)
	var g GlobalView
	flows := map[[2]string]Flow{}
	for _, r := range names {
		cp := latest[r]
		g.Regions = append(g.Regions, RegionFreshness{Checkpoint: cp, Local: r == own.Region, BehindNs: own.MissionTimeNs - cp.MissionTimeNs})
		if err := g.add(cp, flows); err != nil {
			return GlobalView{}, err
		}
	}
	g.Totals.Flows = sortedFlows(flows)
	if err := g.transfer(names, latest); err != nil {
		return GlobalView{}, err
	}
	return g, nil
}

// Transfer is the global ledger's count of handed jobs that the summed
// checkpoints would otherwise count twice (positive) or not at all
// (negative).
type Transfer struct {
	Jobs    int64
	ValueMu int64
}

// transfer computes Transfer over every ordered pair of regions in the sum
// and counts those jobs once, in the queued state.
func (g *GlobalView) transfer(names []string, latest map[string]RegionCheckpoint) error {
	type pair struct{ region, peer string }
	lines := map[pair]HandOffLine{}
	for _, r := range names {
		for _, l := range latest[r].Totals.HandOffs {
			lines[pair{r, l.Region}] = l
		}
	}
	var t Transfer
	for _, target := range names {
		for _, source := range names {
			if source == target {
				continue
			}
			in, out := lines[pair{target, source}], lines[pair{source, target}]
			for _, f := range []struct {
				dst         *int64
				plus, minus int64
				name        string
			}{{&t.Jobs, in.InJobs, out.OutJobs, "jobs"}, {&t.ValueMu, in.InValueMu, out.OutValueMu, "value_mu"}} {
				v, ok := AddChecked(*f.dst, f.plus)
				if ok {
					v, ok = AddChecked(v, -f.minus)
				}
				if !ok {
					return fmt.Errorf("%w: hand-offs %s->%s: transfer.%s", ErrRegionSum, source, target, f.name)
				}
				*f.dst = v
			}
		}
	}
	g.Transfer = t
	q := &g.Totals.Counts
	var ok1, ok2, ok3 bool
	q.N[JobQueued], ok1 = AddChecked(q.N[JobQueued], -t.Jobs)
	q.ValueMu[JobQueued], ok2 = AddChecked(q.ValueMu[JobQueued], -t.ValueMu)
	g.Totals.ValueMu, ok3 = AddChecked(g.Totals.ValueMu, -t.ValueMu)
	if !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("%w: transfer %d jobs, %d micro-credits", ErrRegionSum, t.Jobs, t.ValueMu)
	}
	return nil
}

// add adds one region's checkpoint to the sums.
func (g *GlobalView) add(cp RegionCheckpoint, flows map[[2]string]Flow) error {
	fail := func(field string, v, onto int64) error {
		return fmt.Errorf("%w: region %s: %s %d on top of %d", ErrRegionSum, cp.Region, field, v, onto)
	}
	sum := func(dst *int64, v int64) bool {
		s, ok := AddChecked(*dst, v)
		if ok {
			*dst = s
		}
		return ok
	}
	t := &cp.Totals
	for st := JobState(1); st < NumJobStates; st++ {
		if !sum(&g.Totals.Counts.N[st], t.Counts.N[st]) {
			return fail("totals.counts."+st.String()+".jobs", t.Counts.N[st], g.Totals.Counts.N[st])
		}
		if !sum(&g.Totals.Counts.ValueMu[st], t.Counts.ValueMu[st]) {
			return fail("totals.counts."+st.String()+".value_mu", t.Counts.ValueMu[st], g.Totals.Counts.ValueMu[st])
		}
	}
	for _, f := range []struct {
		name string
		dst  *int64
		v    int64
	}{
		{"totals.value_mu", &g.Totals.ValueMu, t.ValueMu},
		{"totals.flow_jobs", &g.Totals.FlowJobs, t.FlowJobs},
		{"totals.flow_value_mu", &g.Totals.FlowValueMu, t.FlowValueMu},
		{"totals.paid_mu", &g.Totals.PaidMu, t.PaidMu},
		{"payments.count", &g.Payments.Count, cp.Payments.Count},
		{"payments.amount_mu", &g.Payments.AmountMu, cp.Payments.AmountMu},
	} {
		if !sum(f.dst, f.v) {
			return fail(f.name, f.v, *f.dst)
		}
	}
	for _, f := range t.Flows {
		k := [2]string{f.From, f.To}
		m := flows[k]
		m.From, m.To = f.From, f.To
		if !sum(&m.Jobs, f.Jobs) {
			return fail("totals.flows."+f.From+"->"+f.To+".jobs", f.Jobs, m.Jobs)
		}
		if !sum(&m.ValueMu, f.ValueMu) {
			return fail("totals.flows."+f.From+"->"+f.To+".value_mu", f.ValueMu, m.ValueMu)
		}
		flows[k] = m
	}
	if g.EventCount+cp.EventCount < g.EventCount {
		return fmt.Errorf("%w: region %s: event_count %d on top of %d", ErrRegionSum, cp.Region, cp.EventCount, g.EventCount)
	}
	g.EventCount += cp.EventCount
	return nil
}

func sortedFlows(m map[[2]string]Flow) []Flow {
	out := make([]Flow, 0, len(m))
	for _, f := range m {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

// Validate checks a checkpoint received from another region: it names a
// region and no total is negative. The error names the field.
func (cp RegionCheckpoint) Validate() error {
	if cp.Region == "" {
		return errors.New("region: empty")
	}
	t := cp.Totals
	for st := JobState(1); st < NumJobStates; st++ {
		if t.Counts.N[st] < 0 || t.Counts.ValueMu[st] < 0 {
			return fmt.Errorf("region %s: totals.counts.%s: negative", cp.Region, st)
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"totals.value_mu", t.ValueMu}, {"totals.flow_jobs", t.FlowJobs}, {"totals.flow_value_mu", t.FlowValueMu},
		{"totals.paid_mu", t.PaidMu}, {"payments.count", cp.Payments.Count}, {"payments.amount_mu", cp.Payments.AmountMu},
	} {
		if f.v < 0 {
			return fmt.Errorf("region %s: %s: negative (%d)", cp.Region, f.name, f.v)
		}
	}
	for _, f := range t.Flows {
		if f.Jobs < 0 || f.ValueMu < 0 {
			return fmt.Errorf("region %s: totals.flows %s->%s: negative", cp.Region, f.From, f.To)
		}
	}
	for i, l := range t.HandOffs {
		switch {
		case l.Region == "" || l.Region == cp.Region:
			return fmt.Errorf("region %s: totals.hand_offs[%d].region: %q", cp.Region, i, l.Region)
		case i > 0 && l.Region <= t.HandOffs[i-1].Region:
			return fmt.Errorf("region %s: totals.hand_offs[%d].region: %q not sorted", cp.Region, i, l.Region)
		case l.OpenJobs < 0 || l.OpenValueMu < 0 || l.OutJobs < 0 || l.OutValueMu < 0 || l.InJobs < 0 || l.InValueMu < 0:
			return fmt.Errorf("region %s: totals.hand_offs[%d] (%s): negative", cp.Region, i, l.Region)
		}
	}
	return nil
}
