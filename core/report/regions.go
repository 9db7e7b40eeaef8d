package report

import (
	"fmt"
	"time"

	"github.com/planetary/planetary/core/api/client"
)

// RegionView is one region of a bundle's global ledger as the bundle's
// views show it (summary.json regions, the chronicle's Regions table, the
// atlas's region groups, the dashboard's Regions panel): the shards it
// holds, its leader when the source knew it, its checkpoint's raft index,
// its freshness and its totals.
type RegionView struct {
	Name   string   `json:"name"`
	Local  bool     `json:"local"`
	Shards []string `json:"shards"`
	Leader string   `json:"leader,omitempty"`
	Index  uint64   `json:"index"`
	// StoredAt is when the bundle's region stored the checkpoint (Unix ns,
	// 0 for the local region and when unknown); AgeNs how long before the
	// read of the ledger that was (the API's age_ns), else before the
	// bundle was generated; Freshness says it in words ("local", "2.5s
	// old", "unknown").
	StoredAt  int64   `json:"stored_at,omitempty"`
	AgeNs     *int64  `json:"age_ns,omitempty"`
	Freshness string  `json:"freshness"`
	IndexLag  *uint64 `json:"index_lag,omitempty"`
	EventLag  *uint64 `json:"event_lag,omitempty"`
	Jobs      int64   `json:"jobs"`
	Completed int64   `json:"completed"`
	ValueMu   int64   `json:"value_mu"`
	PaidMu    int64   `json:"paid_mu"`
	Events    uint64  `json:"events"`
}

// Regions is the bundle's regions, in the ledger's order (by region), or
// nil when the global ledger has one region or none: a bundle of one
// region shows nothing of regions. The local region holds the bundle's
// shards its checkpoint does not name (a source that listed none).
func Regions(in Input) []RegionView {
	lines := in.Ledger.Regions
	if len(lines) <= 1 {
		return nil
	}
	named := map[string]bool{}
	for _, r := range lines {
		for _, s := range r.Shards {
			named[s] = true
		}
	}
	out := make([]RegionView, 0, len(lines))
	for _, r := range lines {
		v := RegionView{
			Name: r.Region, Local: r.Local, Shards: append([]string{}, r.Shards...), Leader: r.Leader, Index: r.Index,
			StoredAt: r.StoredAt, AgeNs: r.AgeNs, IndexLag: r.IndexLag, EventLag: r.EventLag,
			Jobs: r.Totals.Jobs, Completed: r.Totals.Counts["completed"].Jobs, ValueMu: r.Totals.ValueMicro,
			PaidMu: r.Totals.PaidMicro, Events: r.Totals.Events,
		}
		if r.Local {
			for _, s := range in.Shards {
				if !named[s.Name] {
					v.Shards = append(v.Shards, s.Name)
				}
			}
		}
		if v.AgeNs == nil && !r.Local && r.StoredAt > 0 && !in.GeneratedAt.IsZero() {
			age := max(in.GeneratedAt.UnixNano()-r.StoredAt, 0)
			v.AgeNs = &age
		}
		v.Freshness = freshnessText(v)
		out = append(out, v)
	}
	return out
}

// GlobalTotals is the bundle's global totals when it has more than one
// region (nil otherwise, as Regions).
func GlobalTotals(in Input) *client.LedgerTotals {
	if len(in.Ledger.Regions) <= 1 {
		return nil
	}
	return in.Ledger.GlobalTotals
}

// regionOf maps each shard of the bundle to its region's name.
func regionOf(regions []RegionView) map[string]string {
	out := map[string]string{}
	for _, r := range regions {
		for _, s := range r.Shards {
			out[s] = r.Name
		}
	}
	return out
}

// freshnessText says how fresh a region's line is.
func freshnessText(r RegionView) string {
	switch {
	case r.Local:
		return "local"
	case r.AgeNs == nil:
		return "unknown"
	}
	s := roundAge(time.Duration(*r.AgeNs)) + " old"
	if r.IndexLag != nil {
		s += fmt.Sprintf(", %d entries behind", *r.IndexLag)
	}
	return s
}

// roundAge is d rounded to what a reader needs: milliseconds under a
// second, tenths of a second under a minute, seconds beyond.
func roundAge(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
