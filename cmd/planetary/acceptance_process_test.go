package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var acceptanceLine = regexp.MustCompile(`(?m)^Acceptance\s+= (.+)$`)

func TestDrillAcceptanceProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	failPlan := filepath.Join(filepath.Dir(examplePlan(t)), "acceptance-fail.hcl")
	tests := []struct {
		name     string
		plan     string
		wantCode int
		// wantFail are assertion ids that must fail (and be named on a
		// FAIL line); every other assertion must pass when wantCode is 0.
		wantFail []string
		// jobs is the trial's size: the example mission's spillovers come
		// from its owner schedule and queue pressure, which need a load
		// that lasts past the schedule's reroute (2.8s on the mission clock).
		jobs string
	}{
		{"the example mission passes", examplePlan(t), 0, nil, "10000"},
		{"losing the only gpu node for good fails", failPlan, 1, []string{"completion", "shard-completion"}, "2000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := t.TempDir()
			start := time.Now()
			code, out := runBin(t, work, 150*time.Second, "drill", "acceptance", "-plan", tt.plan,
				"-jobs-high-load", tt.jobs, "-restart-jobs", "2000", "-label", "acc")
			t.Logf("drill acceptance took %s", time.Since(start).Round(time.Millisecond))
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d:\n%s", code, tt.wantCode, out)
			}
			for _, id := range tt.wantFail {
				if !regexp.MustCompile(`(?m)^FAIL ` + regexp.QuoteMeta(id) + `: `).MatchString(out) {
					t.Errorf("no FAIL line for %s:\n%s", id, out)
				}
			}
			m := acceptanceLine.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no acceptance path:\n%s", out)
			}
			b, err := os.ReadFile(strings.TrimSpace(m[1]))
			if err != nil {
				t.Fatal(err)
			}
			var verdict struct {
				OK         bool `json:"ok"`
				Assertions []struct {
					ID        string `json:"id"`
					OK        bool   `json:"ok"`
					Measured  any    `json:"measured"`
					Threshold any    `json:"threshold"`
				} `json:"assertions"`
				Timings map[string]float64 `json:"timings_ms"`
				WallMs  float64            `json:"wall_ms"`
			}
			if err := json.Unmarshal(b, &verdict); err != nil {
				t.Fatalf("acceptance.json: %v", err)
			}
			if verdict.OK != (tt.wantCode == 0) {
				t.Errorf("verdict ok = %v, want %v", verdict.OK, tt.wantCode == 0)
			}
			seen := map[string]bool{}
			for _, a := range verdict.Assertions {
				seen[a.ID] = true
				if tt.wantCode == 0 && !a.OK {
					t.Errorf("assertion %s failed: measured %v, threshold %v", a.ID, a.Measured, a.Threshold)
				}
			}
			for _, id := range []string{"completion", "failures", "spillovers", "reassignments", "shard-completion",
				"shard-skew", "invariants", "chain-verified", "restart/resumed-from-last-committed-index", "restart/re-executions-fenced"} {
				if !seen[id] {
					t.Errorf("acceptance.json lacks assertion %s", id)
				}
			}
			for _, k := range []string{"trial.start", "trial.load", "trial.kill", "trial.drain", "restart.start",
				"restart.load", "restart.kill", "restart.restart", "restart.drain"} {
				if _, ok := verdict.Timings[k]; !ok {
					t.Errorf("timings lack %s: %v", k, verdict.Timings)
				}
			}
		})
	}
}
