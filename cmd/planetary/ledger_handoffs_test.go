package main

import (
	"strings"
	"testing"

	api "github.com/planetary/planetary/core/api/client"
)

// TestRenderHandOffs: the Hand-offs table lists each region's line with
// each other region and what the global totals count once; regions that
// handed nothing print no table.
func TestRenderHandOffs(t *testing.T) {
	regions := []api.RegionLedger{
		{Region: "earth", Totals: api.LedgerTotals{HandOffs: []api.HandOffLine{{Region: "mars", InJobs: 19, InValueMicro: 19_000}}}},
		{Region: "mars", Totals: api.LedgerTotals{HandOffs: []api.HandOffLine{{Region: "earth", OpenJobs: 1, OpenValueMicro: 1_000, OutJobs: 12, OutValueMicro: 12_000}}}},
	}
	out := renderHandOffs(regions, api.LedgerTotals{TransferJobs: 7, TransferValueMicro: 7_000})
	for _, want := range []string{"Region", "With", "Open", "Handed out", "Taken in", "earth", "19 (0.019)", "12 (0.012)", "In transfer: 7 jobs (0.007)"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if got := renderHandOffs([]api.RegionLedger{{Region: "earth"}, {Region: "mars"}}, api.LedgerTotals{}); got != "" {
		t.Fatalf("regions without hand-offs: %q", got)
	}
}
