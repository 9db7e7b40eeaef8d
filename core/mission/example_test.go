package mission

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamplesParseClean parses every example file without a diagnostic.
func TestExamplesParseClean(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := filepath.Glob("../../examples/jobs/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 || len(jobs) == 0 {
		t.Fatalf("no examples found: %v %v", files, jobs)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, diags := ParseFile(path)
			if len(diags) > 0 {
				var b strings.Builder
				_ = FormatDiagnostics(&b, f.Sources, diags)
				t.Fatalf("diagnostics:\n%s", b.String())
			}
			if f.Agent == nil && f.Mission == nil {
				t.Fatal("file holds neither agent nor mission")
			}
		})
	}
	for _, path := range jobs {
		t.Run("jobs/"+filepath.Base(path), func(t *testing.T) {
			js, diags := ParseJobFile(path)
			if len(diags) > 0 {
				var b strings.Builder
				_ = FormatDiagnostics(&b, nil, diags)
				t.Fatalf("diagnostics:\n%s", b.String())
			}
			if len(js) == 0 {
				t.Fatal("no jobs")
			}
		})
	}
}

// TestKardashevExample checks the translation of the reference fabric.
func TestKardashevExample(t *testing.T) {
	m, diags := ParseMissionFile("../../examples/mission.hcl")
	if diags.HasErrors() {
		_ = FormatDiagnostics(os.Stderr, nil, diags)
		t.Fatal("diagnostics")
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"name", m.Name, "kardashev"},
		{"shards", len(m.Shards), 4},
		{"nodes", len(m.Nodes), 8},
		{"workloads", len(m.Workloads), 9},
		{"schedule", len(m.Schedule), 11},
		{"blueprint jobs", len(GenerateJobs(m, 0)), 5810},
		{"plan jobs", m.Plan.Jobs, int64(5810)},
		{"outage", m.Plan.OutageAtMs, int64(450)},
		{"gpu-helion price", m.Nodes[4].Price.BaseMu, int64(880)},
		{"sim nodes", countPlugin(m.Nodes, "sim"), 6},
		{"exec node", m.Nodes[6].ID + " " + m.Nodes[6].Plugin, "earth.exec-1 exec"},
		{"container node", m.Nodes[7].ID + " " + m.Nodes[7].Plugin, "earth.container-1 container"},
		{"exec jobs", m.Workloads[0].Count, int64(5)},
		{"container jobs", m.Workloads[1].Count, int64(5)},
		{"container image capability", m.Workloads[1].Jobs(m.Seed, 1)[0].Capabilities, []string{"container", "image:localhost/planetary-busybox:1"}},
		{"earth spill luna", m.Shards[0].Spillover[0], Spillover{Target: "luna", Threshold: 4500, MaxDrain: 50, RequiredCapabilities: []string{}, Weight: 1}},
		{"last entry at", m.Schedule[10].AtMs, int64(3000)},
		{"last entry action", m.Schedule[10].Args, &ShardDeregisterAction{Shard: "edge-surge", Mode: "spillover", Target: "earth"}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !equal(c.got, c.want) {
				t.Fatalf("got %#v, want %#v", c.got, c.want)
			}
		})
	}
}

// countPlugin counts the nodes served by plugin.
func countPlugin(nodes []Node, plugin string) int {
	n := 0
	for _, nd := range nodes {
		if nd.Plugin == plugin {
			n++
		}
	}
	return n
}
