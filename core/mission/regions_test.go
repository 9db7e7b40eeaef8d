package mission

import (
	"strings"
	"testing"

	"github.com/planetary/planetary/raftfsm/command"
)

func kardashev(t *testing.T) *Mission {
	t.Helper()
	m, diags := ParseMission([]byte(kardashevSource(t)), "mission.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return m
}

// TestRegionsOfExample: the example's four shards are four regions (the
// default region is the shard's name), each with its shard and the nodes
// of that shard, in declaration order.
func TestRegionsOfExample(t *testing.T) {
	m := kardashev(t)
	want := []Region{
		{Name: "earth", Shards: []string{"earth"}, Nodes: []string{"earth.core-alpha", "earth.edge-europa", "earth.exec-1", "earth.container-1"}},
		{Name: "luna", Shards: []string{"luna"}, Nodes: []string{"luna.nav-station"}},
		{Name: "mars", Shards: []string{"mars"}, Nodes: []string{"mars.regolith-cradle", "mars.gpu-helion"}},
		{Name: "helios", Shards: []string{"helios"}, Nodes: []string{"helios.solaris-array"}},
	}
	got := m.Regions()
	if !equal(got, want) {
		t.Fatalf("regions\n got %+v\nwant %+v", got, want)
	}
	for _, c := range []struct{ shard, region string }{
		{"earth", "earth"}, {"helios", "helios"},
		// A shard registered by the schedule in an undeclared region joins
		// the first declared one.
		{"edge-surge", "earth"},
		{"nowhere", ""},
	} {
		if r := m.RegionOf(c.shard); r != c.region {
			t.Errorf("RegionOf(%q) = %q, want %q", c.shard, r, c.region)
		}
	}
}

// TestForRegionExample splits the example into its four regions: every
// sub-mission holds only its own shards, nodes, workloads and schedule
// entries, references nothing it does not hold, converts to a MissionApply,
// and keeps its routes into other regions in Remote; together the regions
// hold every shard, node and workload once.
func TestForRegionExample(t *testing.T) {
	m := kardashev(t)
	if d := m.Dangling(); len(d) > 0 {
		t.Fatalf("the parsed mission has dangling references: %v", d)
	}
	cases := []struct {
		region    string
		workloads int
		schedule  []string
		remote    []RemoteRoute
	}{
		{"earth", 4, []string{"edge-surge-up", "helios-recalibration-pause", "helios-recalibration-resume", "earth-queue-boost",
			"post-governance-snapshot", "solar-storm-cadence", "governance-archive", "earth-logistics-cancel", "edge-surge-down"},
			[]RemoteRoute{
				{Shard: "earth", Target: "luna", Region: "luna", Via: "spillover_targets"},
				{Shard: "earth", Target: "mars", Region: "mars", Via: "spillover_targets"},
				{Shard: "earth", Target: "luna", Region: "luna", Via: "spillover"},
				{Shard: "earth", Target: "mars", Region: "mars", Via: "spillover"},
				{Shard: "edge-surge", Target: "luna", Region: "luna", Via: "schedule.edge-surge-up.spillover_targets"},
				{Shard: "edge-surge", Target: "luna", Region: "luna", Via: "schedule.edge-surge-up.spillover"},
			}},
		{"luna", 1, []string{"helios-recalibration-pause", "helios-recalibration-resume",
			"post-governance-snapshot", "solar-storm-cadence", "governance-archive"},
			[]RemoteRoute{
				{Shard: "luna", Target: "earth", Region: "earth", Via: "spillover_targets"},
				{Shard: "luna", Target: "earth", Region: "earth", Via: "spillover"},
			}},
		{"mars", 3, []string{"helios-recalibration-pause", "helios-recalibration-resume",
			"post-governance-snapshot", "solar-storm-cadence", "governance-archive"},
			[]RemoteRoute{
				{Shard: "mars", Target: "earth", Region: "earth", Via: "spillover_targets"},
				{Shard: "mars", Target: "helios", Region: "helios", Via: "spillover_targets"},
				{Shard: "mars", Target: "earth", Region: "earth", Via: "spillover"},
				{Shard: "mars", Target: "helios", Region: "helios", Via: "spillover"},
				// The reroute of a Mars job to Helios is a cross-region
				// move: held back whole.
				{Shard: "mars", Target: "helios", Region: "helios", Via: "schedule.mars-escalation"},
			}},
		{"helios", 1, []string{"helios-recalibration-pause", "helios-recalibration-resume", "helios-backup-helion",
			"post-governance-snapshot", "solar-storm-cadence", "governance-archive"},
			[]RemoteRoute{
				{Shard: "helios", Target: "mars", Region: "mars", Via: "spillover_targets"},
				{Shard: "helios", Target: "mars", Region: "mars", Via: "spillover"},
			}},
	}
	seenShards, seenNodes, seenWorkloads := map[string]int{}, map[string]int{}, map[string]int{}
	for _, c := range cases {
		t.Run(c.region, func(t *testing.T) {
			sub, err := m.ForRegion(c.region)
			if err != nil {
				t.Fatal(err)
			}
			if sub.Region != c.region || sub.Name != m.Name || sub.Seed != m.Seed || sub.Currency != m.Currency {
				t.Fatalf("header: region %q name %q seed %d currency %q", sub.Region, sub.Name, sub.Seed, sub.Currency)
			}
			if d := sub.Dangling(); len(d) > 0 {
				t.Fatalf("sub-mission references what it does not hold: %v", d)
			}
			for _, s := range sub.Shards {
				seenShards[s.Name]++
				if s.Region != c.region {
					t.Errorf("shard %s of region %s", s.Name, s.Region)
				}
			}
			for _, n := range sub.Nodes {
				seenNodes[n.ID]++
				if m.RegionOf(n.Shard) != c.region {
					t.Errorf("node %s of shard %s", n.ID, n.Shard)
				}
			}
			for _, w := range sub.Workloads {
				seenWorkloads[w.Name]++
				if m.RegionOf(w.Shard) != c.region {
					t.Errorf("workload %s of shard %s", w.Name, w.Shard)
				}
			}
			if len(sub.Workloads) != c.workloads {
				t.Errorf("%d workloads, want %d", len(sub.Workloads), c.workloads)
			}
			var ids []string
			for _, e := range sub.Schedule {
				ids = append(ids, e.ID)
			}
			if !equal(ids, c.schedule) {
				t.Errorf("schedule\n got %v\nwant %v", ids, c.schedule)
			}
			if !equal(sub.Remote, c.remote) {
				t.Errorf("remote\n got %+v\nwant %+v", sub.Remote, c.remote)
			}
			cmd, err := sub.ApplyCommand(command.Meta{Actor: "test"})
			if err != nil {
				t.Fatal(err)
			}
			if cmd.Digest == m.Digest() || len(cmd.Shards) != len(sub.Shards) || len(cmd.Schedule) != len(sub.Schedule) {
				t.Fatalf("command: digest %s, %d shards, %d entries", cmd.Digest, len(cmd.Shards), len(cmd.Schedule))
			}
			if _, err := command.Encode(command.MissionApplyType, &cmd); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, s := range m.Shards {
		if seenShards[s.Name] != 1 {
			t.Errorf("shard %s in %d regions", s.Name, seenShards[s.Name])
		}
	}
	for _, n := range m.Nodes {
		if seenNodes[n.ID] != 1 {
			t.Errorf("node %s in %d regions", n.ID, seenNodes[n.ID])
		}
	}
	for _, w := range m.Workloads {
		if seenWorkloads[w.Name] != 1 {
			t.Errorf("workload %s in %d regions", w.Name, seenWorkloads[w.Name])
		}
	}
	// Splitting does not change the mission.
	if d := m.Dangling(); len(d) > 0 || len(m.Shards[0].SpilloverTargets) != 2 {
		t.Fatalf("the mission changed: %v %v", d, m.Shards[0].SpilloverTargets)
	}
}

// TestForRegionGroups: shards naming one region form one region, whose
// spillover between its shards stays local; the plan's outage stays with
// the region of its node; an unknown region is an error naming the regions.
func TestForRegionGroups(t *testing.T) {
	src := `
mission "m" { seed = 1 }
shard "a" {
  region            = "inner"
  spillover_targets = ["b", "c"]
}
shard "b" { region = "inner" }
shard "c" {}
node "na" {
  shard    = "a"
  plugin   = "sim"
  capacity = 1
}
node "nc" {
  shard    = "c"
  plugin   = "sim"
  capacity = 1
}
workload "w" {
  shard = "b"
  count = 1
}
plan {
  outage_node = "nc"
  outage_at   = "1s"
}
`
	m, diags := ParseMission([]byte(src), "m.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	want := []Region{
		{Name: "inner", Shards: []string{"a", "b"}, Nodes: []string{"na"}},
		{Name: "c", Shards: []string{"c"}, Nodes: []string{"nc"}},
	}
	if got := m.Regions(); !equal(got, want) {
		t.Fatalf("regions %+v", got)
	}
	inner, err := m.ForRegion("inner")
	if err != nil {
		t.Fatal(err)
	}
	if got := inner.Shards[0].SpilloverTargets; !equal(got, []string{"b"}) {
		t.Errorf("inner a targets %v", got)
	}
	if len(inner.Workloads) != 1 || inner.Plan.OutageNode != "" || len(inner.Remote) != 1 {
		t.Errorf("inner: workloads %d outage %q remote %+v", len(inner.Workloads), inner.Plan.OutageNode, inner.Remote)
	}
	c, err := m.ForRegion("c")
	if err != nil {
		t.Fatal(err)
	}
	if c.Plan.OutageNode != "nc" || len(c.Workloads) != 0 || len(c.Remote) != 0 {
		t.Errorf("c: outage %q workloads %d remote %+v", c.Plan.OutageNode, len(c.Workloads), c.Remote)
	}
	_, err = m.ForRegion("outer")
	if err == nil || !strings.Contains(err.Error(), `no region "outer" (regions: inner, c)`) {
		t.Fatalf("unknown region: %v", err)
	}
}
