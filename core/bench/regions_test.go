package bench

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCheckpointLatency: a change in earth reaches mars as a checkpoint over
// a link with latency, and takes at least that latency (one leg).
func TestCheckpointLatency(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const lat = 300 * time.Millisecond
	r, err := CheckpointLatency(ctx, RegionLinkConfig{Latency: lat, Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Latencies) != 2 {
		t.Fatalf("latencies %v", r.Latencies)
	}
	for i, d := range r.Latencies {
		if d < lat {
			t.Fatalf("sample %d: %s, below the link's one-way latency %s", i, d, lat)
		}
	}
	t.Logf("%+v", r)
}

// TestHandOffLatency: a job handed from earth to mars over links with
// latency is accepted after at least one leg and closed after two.
func TestHandOffLatency(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const lat = 300 * time.Millisecond
	r, err := HandOffLatency(ctx, RegionLinkConfig{Latency: lat, Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Accepted) != 2 || len(r.Closed) != 2 {
		t.Fatalf("result %+v", r)
	}
	for i := range r.Closed {
		if r.Accepted[i] < lat || r.Closed[i] < 2*lat || r.Closed[i] < r.Accepted[i] {
			t.Fatalf("sample %d: accepted after %s, closed after %s, with %s each way", i, r.Accepted[i], r.Closed[i], lat)
		}
	}
	t.Logf("%+v", r)
}

// TestRegionGroups: R1, R2 and R3 are suite groups, run by default beside
// P1, and a quick run of them produces their rows with values.
func TestRegionGroups(t *testing.T) {
	for _, g := range []string{"R1", "R2", "R3"} {
		if !slices.Contains(Groups(), g) || optIn[g] || groupBudget[g] <= 0 {
			t.Fatalf("group %s: in %v, opt-in %v, budget %s", g, Groups(), optIn[g], groupBudget[g])
		}
	}
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	bin, err := planetaryBin()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress strings.Builder
	rep, err := RunSuite(ctx, SuiteConfig{SelfPath: bin, Quick: true, Only: []string{"R1", "R2", "R3"}, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(progress.String())
	rows := map[string]int{}
	for _, f := range rep.Figures {
		if f.ID == "" {
			continue
		}
		rows[f.ID]++
		// Only the ratio to P1 may be missing: P1 did not run.
		if f.Skipped != "" && !strings.Contains(f.Skipped, "P1 not run") {
			t.Errorf("%s %q not measured: %s", f.ID, f.Name, f.Skipped)
		}
		if f.Skipped == "" && len(f.Values) == 0 {
			t.Errorf("%s %q has no values", f.ID, f.Name)
		}
	}
	if rows["R1"] != 2 || rows["R2"] != 3 || rows["R3"] != 2 {
		t.Fatalf("rows by group %v", rows)
	}
	md := rep.Markdown()
	for _, want := range []string{"| R1 | lifecycle, four-region host", "| R2 | earth with mars cut off ÷ earth without", "| R3 | cross-region hand-off earth→mars, opened in earth → closed accepted in earth"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}
