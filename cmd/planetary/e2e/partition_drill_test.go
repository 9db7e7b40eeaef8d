package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/planetary/planetary/core/runner"
)

// TestDrillPartition runs `planetary drill partition` at a small scale: four
// regions, each its own raft group in an agent -dev -regions child, 400 jobs,
// a 100ms Earth-Mars latency and Mars cut off for 2s mid-run. The verdict
// file must say pass: Mars completed jobs while cut off, every job
// completed exactly once in its region, every region's global ledger
// agrees with the sum of the regions' own, every region's bundle verifies,
// and the 4 hand-offs from Mars to Earth begun just before the cut, in
// flight across it, each ended once with its job completed once. The completion rate ratios are reported, not checked
// (-min-rate-ratio 0): they are a measurement of the machine.
func TestDrillPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	dir := t.TempDir()
	reports := filepath.Join(dir, "reports")
	cmd := exec.Command(planetaryBin(t), "drill", "partition", "-jobs", "400", "-cut", "2s", "-latency", "100ms",
		"-min-rate-ratio", "0", "-deadline", "3m", "-report-dir", reports, "-data-dir", filepath.Join(dir, "data"))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("drill partition: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(reports, "partition-verdict.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res runner.PartitionResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Verdict != "pass" || !res.OK() || len(res.Regions) != 4 {
		t.Fatalf("verdict %s:\n%s", res.Verdict, b)
	}
	if h := res.HandOffs; h == nil || h.Jobs != 4 || h.Accepted+h.Returned != 4 || h.InFlightAtCut == 0 {
		t.Errorf("hand-offs %+v", res.HandOffs)
	}
	for _, r := range res.Regions {
		if r.CompletedOnce != r.Submitted || r.Submitted != 100 || !r.Verified {
			t.Errorf("region %s: %+v", r.Region, r)
		}
		if _, err := os.Stat(filepath.Join(r.Bundle, "ledger.json")); err != nil {
			t.Errorf("region %s has no bundle: %v", r.Region, err)
		}
	}
	ids := map[string]bool{}
	for _, c := range res.Checks {
		ids[c.ID] = true
	}
	for _, want := range []string{"mars.works_while_cut", "global_ledger", "earth.exactly_once", "mars.ledger_verify", "handoffs.in_flight_at_cut", "handoffs.ended_once"} {
		if !ids[want] {
			t.Errorf("verdict has no check %s", want)
		}
	}
}
