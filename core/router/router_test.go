package router_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/planetary/planetary/core/router"
	"github.com/planetary/planetary/core/scheduler"
	"github.com/planetary/planetary/core/scheduler/schedtest"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

func nd(id, shard string, caps ...string) *state.Node {
	return &state.Node{ID: id, Shard: shard, Capabilities: caps, Capacity: 4, Status: state.NodeUp}
}

func jobs(n int, shard string, caps ...string) []*state.Job {
	out := make([]*state.Job, n)
	for i := range out {
		out[i] = &state.Job{ID: fmt.Sprintf("%s-%03d", shard, i), Shard: shard, Capabilities: caps}
	}
	return out
}

func plan(f *schedtest.Fabric, cfg scheduler.Config) scheduler.Decisions {
	return scheduler.New(cfg).Plan(f, 42)
}

// TestMarsGPUOutage: mars.gpu-helion goes down; a gpu job queued in mars
// spills to helios (whose solaris array has gpu), then runs there.
func TestMarsGPUOutage(t *testing.T) {
	f := schedtest.Example()
	f.Node("mars.gpu-helion").Status = state.NodeDown
	f.Jobs = []*state.Job{
		{ID: "render-1", Shard: "mars", Home: "mars", Capabilities: []string{"gpu"}, State: state.JobQueued, Seq: 1},
		{ID: "smelt-1", Shard: "mars", Home: "mars", Capabilities: []string{"manufacturing"}, State: state.JobQueued, Seq: 2},
	}
	f.Reindex()

	d := plan(f, scheduler.DefaultConfig())
	wantSpill := []command.Spill{{JobID: "render-1", From: "mars", To: "helios"}}
	if !reflect.DeepEqual(d.Spill, wantSpill) {
		t.Fatalf("round 1 spills = %+v, want %+v", d.Spill, wantSpill)
	}
	if len(d.Assign) != 1 || d.Assign[0].Node != "mars.regolith-cradle" {
		t.Fatalf("round 1 assignments = %+v", d.Assign)
	}
	f.Apply(d.Assign, d.Spill, d.Park)

	d = plan(f, scheduler.DefaultConfig())
	want := []command.Assignment{{JobID: "render-1", Attempt: 1, Node: "helios.solaris-array", QuoteMu: 1200}}
	if !reflect.DeepEqual(d.Assign, want) || len(d.Spill)+len(d.Park) != 0 {
		t.Fatalf("round 2 = %+v, want assignments %+v", d, want)
	}
	if j := f.Job("render-1"); j.Hops != 1 || j.Home != "mars" {
		t.Fatalf("job after spill = %+v", j)
	}
}

func TestParkReasons(t *testing.T) {
	cases := []struct {
		name   string
		job    *state.Job
		mutate func(f *schedtest.Fabric)
		want   string
	}{
		{"unknown capability", &state.Job{ID: "q", Shard: "earth", Capabilities: []string{"quantum"}}, nil,
			"no up node in any shard has capabilities [quantum]"},
		{"every gpu node down", &state.Job{ID: "g", Shard: "mars", Capabilities: []string{"gpu"}}, func(f *schedtest.Fabric) {
			f.Node("mars.gpu-helion").Status = state.NodeDown
			f.Node("helios.solaris-array").Status = state.NodeDown
		}, "no up node in any shard has capabilities [gpu]"},
		{"max price", &state.Job{ID: "p", Shard: "mars", Capabilities: []string{"gpu"}, MaxPriceMu: 500_000}, func(f *schedtest.Fabric) {
			f.Node("mars.gpu-helion").Price.BaseMu = 1_750_000
			f.Node("helios.solaris-array").Price.BaseMu = 2_000_000
		}, "no node within max price 0.5 (cheapest quote 1.75 on mars.gpu-helion)"},
		{"compliance", &state.Job{ID: "c", Shard: "earth", Capabilities: []string{"finance"}}, func(f *schedtest.Fabric) {
			f.Pol.CompliancePolicy = `!("finance" in job.capabilities) || "PCI-DSS" in node.attestations.certifications`
		}, "blocked by compliance policy"},
		{"latency", &state.Job{ID: "l", Shard: "earth", Capabilities: []string{"finance"}}, func(f *schedtest.Fabric) {
			f.Node("earth.core-alpha").MeasuredLatencyMs = 300
		}, "latency budget 120ms exceeded by every capable node"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := schedtest.Example()
			f.Jobs = []*state.Job{tc.job}
			if tc.mutate != nil {
				tc.mutate(f)
			}
			f.Reindex()
			d := plan(f, scheduler.DefaultConfig())
			want := []command.Park{{JobID: tc.job.ID, Reason: tc.want}}
			if !reflect.DeepEqual(d.Park, want) || len(d.Spill)+len(d.Assign) != 0 {
				t.Fatalf("got %+v, want parks %+v", d, want)
			}
		})
	}
}

func TestHopBound(t *testing.T) {
	cases := []struct {
		name    string
		hops    uint32
		maxHops int
		spill   bool
	}{
		{"below default bound (shards=4)", 3, 0, true},
		{"at default bound", 4, 0, false},
		{"below configured bound", 1, 2, true},
		{"at configured bound", 2, 2, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := schedtest.Example()
			f.Node("mars.gpu-helion").Status = state.NodeDown
			f.Jobs = []*state.Job{{ID: "g", Shard: "mars", Capabilities: []string{"gpu"}, Hops: tc.hops}}
			f.Reindex()
			d := plan(f, scheduler.Config{MaxHops: tc.maxHops})
			if tc.spill {
				if len(d.Spill) != 1 || d.Spill[0].To != "helios" {
					t.Fatalf("want a spill to helios, got %+v", d)
				}
				return
			}
			bound := tc.maxHops
			if bound == 0 {
				bound = 4
			}
			want := fmt.Sprintf("hop limit %d reached: no up node in mars has capabilities [gpu]", bound)
			if len(d.Park) != 1 || d.Park[0].Reason != want {
				t.Fatalf("want park %q, got %+v", want, d)
			}
		})
	}
}

func TestRerouteTargetOrder(t *testing.T) {
	// Shard "src" can run nothing; every other shard has a node for "x".
	build := func(mutate func(src *state.Shard, f *schedtest.Fabric)) *schedtest.Fabric {
		src := &state.Shard{Name: "src"}
		f := schedtest.New(
			[]*state.Shard{src, {Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}},
			[]*state.Node{nd("a1", "a", "x"), nd("b1", "b", "x"), nd("c1", "c", "x"), nd("d1", "d", "x"), nd("d2", "d", "y")},
			[]*state.Job{{ID: "j", Shard: "src", Capabilities: []string{"x"}}}, state.Policy{})
		mutate(src, f)
		f.Reindex()
		return f
	}
	cases := []struct {
		name   string
		mutate func(src *state.Shard, f *schedtest.Fabric)
		want   string
	}{
		{"no policy, no targets: any shard by name", func(*state.Shard, *schedtest.Fabric) {}, "a"},
		{"listed targets before other shards", func(s *state.Shard, _ *schedtest.Fabric) { s.SpilloverTargets = []string{"c", "b"} }, "c"},
		{"policies before listed targets", func(s *state.Shard, _ *schedtest.Fabric) {
			s.SpilloverTargets = []string{"c"}
			s.Policies = []state.SpilloverPolicy{{Target: "d", Threshold: 10}}
		}, "d"},
		{"policy order: threshold asc", func(s *state.Shard, _ *schedtest.Fabric) {
			s.Policies = []state.SpilloverPolicy{{Target: "b", Threshold: 20}, {Target: "c", Threshold: 10}}
		}, "c"},
		{"policy order: weight desc", func(s *state.Shard, _ *schedtest.Fabric) {
			s.Policies = []state.SpilloverPolicy{{Target: "b", Threshold: 10, Weight: 1}, {Target: "c", Threshold: 10, Weight: 5}}
		}, "c"},
		{"policy order: target name", func(s *state.Shard, _ *schedtest.Fabric) {
			s.Policies = []state.SpilloverPolicy{{Target: "c", Threshold: 10}, {Target: "b", Threshold: 10}}
		}, "b"},
		{"policy whose capabilities the job lacks is skipped", func(s *state.Shard, _ *schedtest.Fabric) {
			s.Policies = []state.SpilloverPolicy{{Target: "b", RequiredCapabilities: []string{"y"}}, {Target: "c", Threshold: 10, RequiredCapabilities: []string{"x", "y"}}}
		}, "c"},
		{"target without a capable node skipped", func(s *state.Shard, f *schedtest.Fabric) {
			s.SpilloverTargets = []string{"c", "b"}
			f.Node("c1").Status = state.NodeDown
		}, "b"},
		{"paused target skipped", func(s *state.Shard, f *schedtest.Fabric) {
			s.SpilloverTargets = []string{"c", "b"}
			f.Shard("c").Paused = true
		}, "b"},
		{"self and unknown targets ignored", func(s *state.Shard, _ *schedtest.Fabric) {
			s.SpilloverTargets = []string{"src", "nowhere", "d"}
		}, "d"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := plan(build(tc.mutate), scheduler.DefaultConfig())
			want := []command.Spill{{JobID: "j", From: "src", To: tc.want}}
			if !reflect.DeepEqual(d.Spill, want) {
				t.Fatalf("spills = %+v, want %+v", d.Spill, want)
			}
		})
	}
}

func TestOnlyPausedShardCanTake(t *testing.T) {
	f := schedtest.New([]*state.Shard{{Name: "src"}, {Name: "gpu"}},
		[]*state.Node{nd("g1", "gpu", "gpu")},
		[]*state.Job{{ID: "j", Shard: "src", Capabilities: []string{"gpu"}}}, state.Policy{})
	f.Shard("gpu").Paused = true
	d := plan(f, scheduler.DefaultConfig())
	if !d.Empty() || d.Stats.Waiting != 1 {
		t.Fatalf("want the job to wait, got %+v", d)
	}
}

// pressureFabric: shard "src" with one busy node and n queued jobs; sister
// shards "a" and "b" each with a free node for "x".
func pressureFabric(n int, src *state.Shard) *schedtest.Fabric {
	src.Name = "src"
	busy := nd("s1", "src", "x")
	busy.Capacity = 1
	js := jobs(n, "src", "x")
	js = append(js, &state.Job{ID: "running", Shard: "src", State: state.JobRunning, Node: "s1"})
	return schedtest.New([]*state.Shard{src, {Name: "a"}, {Name: "b"}},
		[]*state.Node{busy, nd("a1", "a", "x"), nd("b1", "b", "x")}, js, state.Policy{})
}

func spillsTo(d scheduler.Decisions) map[string][]string {
	m := map[string][]string{}
	for _, s := range d.Spill {
		m[s.To] = append(m[s.To], s.JobID)
	}
	return m
}

func TestQueuePressure(t *testing.T) {
	cases := []struct {
		name   string
		n      int
		src    state.Shard
		mutate func(f *schedtest.Fabric)
		want   map[string][]string
	}{
		{"below threshold: nothing moves", 10, state.Shard{Policies: []state.SpilloverPolicy{{Target: "a", Threshold: 10, MaxDrain: 3}}}, nil,
			map[string][]string{}},
		{"drain respects MaxDrain, from the tail", 20, state.Shard{Policies: []state.SpilloverPolicy{{Target: "a", Threshold: 10, MaxDrain: 3}}}, nil,
			map[string][]string{"a": {"src-019", "src-018", "src-017"}}},
		{"drain never goes below threshold", 12, state.Shard{Policies: []state.SpilloverPolicy{{Target: "a", Threshold: 10, MaxDrain: 5}}}, nil,
			map[string][]string{"a": {"src-011", "src-010"}}},
		{"policies drain in order", 20, state.Shard{Policies: []state.SpilloverPolicy{{Target: "b", Threshold: 12, MaxDrain: 2}, {Target: "a", Threshold: 10, MaxDrain: 3}}}, nil,
			map[string][]string{"a": {"src-019", "src-018", "src-017"}, "b": {"src-016", "src-015"}}},
		{"paused target drains nothing", 20, state.Shard{Policies: []state.SpilloverPolicy{{Target: "a", Threshold: 10, MaxDrain: 3}}},
			func(f *schedtest.Fabric) { f.Shard("a").Paused = true }, map[string][]string{}},
		{"target without capable node drains nothing", 20, state.Shard{Policies: []state.SpilloverPolicy{{Target: "a", Threshold: 10, MaxDrain: 3}}},
			func(f *schedtest.Fabric) { f.Node("a1").Capabilities = []string{"y"} }, map[string][]string{}},
		{"saturated target takes up to its MaxQueue", 20, state.Shard{Policies: []state.SpilloverPolicy{{Target: "a", Threshold: 10, MaxDrain: 5}}},
			func(f *schedtest.Fabric) { f.Shard("a").MaxQueue = 2 }, map[string][]string{"a": {"src-019", "src-018"}}},
		{"policy requiring capabilities drains only matching jobs", 20, state.Shard{Policies: []state.SpilloverPolicy{{Target: "a", Threshold: 10, MaxDrain: 2, RequiredCapabilities: []string{"vision"}}}},
			func(f *schedtest.Fabric) {
				f.Job("src-005").Capabilities = []string{"x", "vision"}
				f.Node("a1").Capabilities = []string{"x", "vision"}
			}, map[string][]string{"a": {"src-005"}}},
		{"MaxQueue overflow spills likewise", 15, state.Shard{MaxQueue: 12, SpilloverTargets: []string{"b"}}, nil,
			map[string][]string{"b": {"src-014", "src-013", "src-012"}}},
		{"overflow skips a paused target", 15, state.Shard{MaxQueue: 12, SpilloverTargets: []string{"b", "a"}},
			func(f *schedtest.Fabric) { f.Shard("b").Paused = true }, map[string][]string{"a": {"src-014", "src-013", "src-012"}}},
		{"drain then overflow", 20, state.Shard{MaxQueue: 15, Policies: []state.SpilloverPolicy{{Target: "a", Threshold: 10, MaxDrain: 2}}, SpilloverTargets: []string{"b"}}, nil,
			map[string][]string{"a": {"src-019", "src-018", "src-017", "src-016", "src-015"}}},
		{"jobs at the hop bound stay", 12, state.Shard{MaxQueue: 10, SpilloverTargets: []string{"b"}},
			func(f *schedtest.Fabric) { f.Job("src-011").Hops = 3 }, map[string][]string{"b": {"src-010", "src-009"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			f := pressureFabric(tc.n, &src)
			if tc.mutate != nil {
				tc.mutate(f)
				f.Reindex()
			}
			d := plan(f, scheduler.DefaultConfig())
			if len(d.Assign)+len(d.Park) != 0 {
				t.Fatalf("unexpected assignments/parks: %+v", d)
			}
			if got := spillsTo(d); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("spills = %v, want %v", got, tc.want)
			}
			for _, s := range d.Spill {
				if s.From == s.To {
					t.Fatalf("spill to self: %+v", s)
				}
			}
		})
	}
}

func TestDrainOverflowCounts(t *testing.T) {
	src := state.Shard{MaxQueue: 15, Policies: []state.SpilloverPolicy{{Target: "a", Threshold: 10, MaxDrain: 2}}, SpilloverTargets: []string{"b"}}
	f := pressureFabric(20, &src)
	d := plan(f, scheduler.DefaultConfig())
	if d.Stats.Drained != 2 || d.Stats.Overflowed != 3 || d.Stats.Spilled != 5 || d.Stats.Waiting != 15 {
		t.Fatalf("stats = %+v", d.Stats)
	}
}

func TestHealth(t *testing.T) {
	shard := func() *state.Shard {
		return &state.Shard{Name: "s", MaxQueue: 10, QueueAlertThreshold: 5}
	}
	cases := []struct {
		name   string
		queued int
		mutate func(f *schedtest.Fabric)
		shard  string
		want   string
	}{
		{"ok", 4, nil, "s", router.HealthOK},
		{"alert at threshold", 5, nil, "s", router.HealthAlert},
		{"saturated at max queue", 10, nil, "s", router.HealthSaturated},
		{"paused shard", 10, func(f *schedtest.Fabric) { f.Shard("s").Paused = true }, "s", router.HealthPaused},
		{"system paused", 0, func(f *schedtest.Fabric) { f.Pol.SystemPaused = true }, "s", router.HealthPaused},
		{"no limits", 100, func(f *schedtest.Fabric) { f.Shard("s").MaxQueue, f.Shard("s").QueueAlertThreshold = 0, 0 }, "s", router.HealthOK},
		{"unknown shard", 0, nil, "nowhere", router.HealthUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := schedtest.New([]*state.Shard{shard()}, nil, jobs(tc.queued, "s"), state.Policy{})
			if tc.mutate != nil {
				tc.mutate(f)
			}
			if got := router.Health(f, tc.shard); got != tc.want {
				t.Fatalf("Health = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestExampleFabricHealthAndTargets(t *testing.T) {
	f := schedtest.Example()
	rd := router.New(router.DefaultConfig()).Begin(f, nil)
	gpuJob := &state.Job{Capabilities: []string{"gpu"}}
	mfgJob := &state.Job{Capabilities: []string{"manufacturing"}}
	if got := strings.Join(rd.Targets("mars", gpuJob), ","); got != "helios,earth,luna" {
		t.Fatalf("mars targets for a gpu job = %s", got)
	}
	if got := strings.Join(rd.Targets("mars", mfgJob), ","); got != "earth,helios,luna" {
		t.Fatalf("mars targets for a manufacturing job = %s", got)
	}
	if rd.MaxHops() != 4 {
		t.Fatalf("MaxHops = %d", rd.MaxHops())
	}
}
