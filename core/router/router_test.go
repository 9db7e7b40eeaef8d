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

// pastGrace sets the mission clock beyond the default spill_grace of every
// node's last status change (all at 0 in the fixtures).
func pastGrace(f *schedtest.Fabric) {
	f.Now = int64(scheduler.DefaultSpillGrace) + 1
}

// nearHelios brings helios' solaris array (600ms in the fixture) within
// mars' 420ms budget, so it can meet a mars job's budget.
func nearHelios(f *schedtest.Fabric) {
	f.Node("helios.solaris-array").LatencyMs = 300
}

// spills returns the spill assignments of a round.
func spills(d scheduler.Decisions) []command.Assignment {
	var out []command.Assignment
	for _, a := range d.Assign {
		if a.From != "" {
			out = append(out, a)
		}
	}
	return out
}

// TestMarsGPUOutage: mars.gpu-helion goes down. Within spill_grace a gpu
// job queued in mars waits for it; past the grace the mars router places it
// on helios' solaris array (a policy target for gpu work), and the job
// keeps mars as its origin.
func TestMarsGPUOutage(t *testing.T) {
	build := func() *schedtest.Fabric {
		f := schedtest.Example()
		nearHelios(f)
		f.Node("mars.gpu-helion").Status = state.NodeDown
		f.Jobs = []*state.Job{
			{ID: "render-1", Shard: "mars", Home: "mars", Capabilities: []string{"gpu"}, State: state.JobQueued, Seq: 1},
			{ID: "smelt-1", Shard: "mars", Home: "mars", Capabilities: []string{"manufacturing"}, State: state.JobQueued, Seq: 2},
		}
		f.Reindex()
		return f
	}
	f := build()
	d := plan(f, scheduler.DefaultConfig())
	if len(spills(d)) != 0 || d.Stats.Held != 1 || len(d.Assign) != 1 || d.Assign[0].Node != "mars.regolith-cradle" {
		t.Fatalf("within the grace: %+v", d)
	}

	f = build()
	pastGrace(f)
	d = plan(f, scheduler.DefaultConfig())
	want := command.Assignment{JobID: "render-1", Attempt: 1, Node: "helios.solaris-array", QuoteMu: 1200,
		From: "mars", Rule: router.RuleOutage, HomeEstMs: router.NoEstimate, BudgetMs: 420, TargetEstMs: 300}
	if got := spills(d); len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("past the grace: spills = %+v, want %+v", got, want)
	}
	f.Apply(d.Assign, d.Park)
	if j := f.Job("render-1"); j.Hops != 1 || j.Home != "mars" || j.Shard != "helios" || j.Origin != "mars" {
		t.Fatalf("job after spill = %+v", j)
	}
}

// TestSpillGrace: a shard's own spill_grace overrides the default, on the
// mission clock.
func TestSpillGrace(t *testing.T) {
	cases := []struct {
		name  string
		grace int64 // ms
		now   int64 // ns since the node went down
		spill bool
	}{
		{"default grace, 1s down", 0, 1e9, false},
		{"default grace, past it", 0, int64(scheduler.DefaultSpillGrace), true},
		{"2s grace, 1.9s down", 2000, 1.9e9, false},
		{"2s grace, 2s down", 2000, 2e9, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := schedtest.Example()
			nearHelios(f)
			f.Node("mars.gpu-helion").Status = state.NodeDown
			f.Node("mars.gpu-helion").LastStatusAt = 5e9
			f.Shard("mars").SpillGraceMs = tc.grace
			f.Now = 5e9 + tc.now
			f.Jobs = []*state.Job{{ID: "g", Shard: "mars", Capabilities: []string{"gpu"}}}
			f.Reindex()
			d := plan(f, scheduler.DefaultConfig())
			if got := len(spills(d)) == 1; got != tc.spill {
				t.Fatalf("spilled = %v, want %v: %+v", got, tc.spill, d)
			}
		})
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
			"no up node in any of earth, luna, mars has capabilities [quantum]"},
		{"every gpu node down", &state.Job{ID: "g", Shard: "mars", Capabilities: []string{"gpu"}}, func(f *schedtest.Fabric) {
			f.Node("mars.gpu-helion").Status = state.NodeDown
			f.Node("helios.solaris-array").Status = state.NodeDown
		}, "no up node in any of mars, helios, earth has capabilities [gpu]"},
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
			pastGrace(f)
			f.Jobs = []*state.Job{tc.job}
			if tc.mutate != nil {
				tc.mutate(f)
			}
			f.Reindex()
			d := plan(f, scheduler.DefaultConfig())
			want := []command.Park{{JobID: tc.job.ID, Reason: tc.want}}
			if !reflect.DeepEqual(d.Park, want) || len(d.Assign) != 0 {
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
			pastGrace(f)
			nearHelios(f)
			f.Node("mars.gpu-helion").Status = state.NodeDown
			f.Jobs = []*state.Job{{ID: "g", Shard: "mars", Capabilities: []string{"gpu"}, Hops: tc.hops}}
			f.Reindex()
			d := plan(f, scheduler.Config{MaxHops: tc.maxHops})
			if tc.spill {
				if sp := spills(d); len(sp) != 1 || sp[0].Node != "helios.solaris-array" {
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
		want   string // the target's node; "" for no spill
	}{
		{"no policy, no targets: never spills", func(*state.Shard, *schedtest.Fabric) {}, ""},
		{"listed targets in order", func(s *state.Shard, _ *schedtest.Fabric) { s.SpilloverTargets = []string{"c", "b"} }, "c1"},
		{"any: every other shard by name", func(s *state.Shard, _ *schedtest.Fabric) { s.SpilloverTargets = []string{state.SpillAny} }, "a1"},
		{"listed before any", func(s *state.Shard, _ *schedtest.Fabric) { s.SpilloverTargets = []string{"c", state.SpillAny} }, "c1"},
		{"policies before listed targets", func(s *state.Shard, _ *schedtest.Fabric) {
			s.SpilloverTargets = []string{"c"}
			s.Policies = []state.SpilloverPolicy{{Target: "d", Threshold: 10}}
		}, "d1"},
		{"policy order: threshold asc", func(s *state.Shard, _ *schedtest.Fabric) {
			s.Policies = []state.SpilloverPolicy{{Target: "b", Threshold: 20}, {Target: "c", Threshold: 10}}
		}, "c1"},
		{"policy order: weight desc", func(s *state.Shard, _ *schedtest.Fabric) {
			s.Policies = []state.SpilloverPolicy{{Target: "b", Threshold: 10, Weight: 1}, {Target: "c", Threshold: 10, Weight: 5}}
		}, "c1"},
		{"policy order: target name", func(s *state.Shard, _ *schedtest.Fabric) {
			s.Policies = []state.SpilloverPolicy{{Target: "c", Threshold: 10}, {Target: "b", Threshold: 10}}
		}, "b1"},
		{"policy whose capabilities the job lacks is skipped", func(s *state.Shard, _ *schedtest.Fabric) {
			s.Policies = []state.SpilloverPolicy{{Target: "b", RequiredCapabilities: []string{"y"}}, {Target: "c", Threshold: 10, RequiredCapabilities: []string{"x", "y"}}}
		}, "c1"},
		{"target without a capable node skipped", func(s *state.Shard, f *schedtest.Fabric) {
			s.SpilloverTargets = []string{"c", "b"}
			f.Node("c1").Status = state.NodeDown
		}, "b1"},
		{"full target skipped", func(s *state.Shard, f *schedtest.Fabric) {
			s.SpilloverTargets = []string{"c", "b"}
			f.Node("c1").Capacity = 1
			f.Jobs = append(f.Jobs, &state.Job{ID: "busy", Shard: "c", State: state.JobRunning, Node: "c1"})
		}, "b1"},
		{"paused target skipped", func(s *state.Shard, f *schedtest.Fabric) {
			s.SpilloverTargets = []string{"c", "b"}
			f.Shard("c").Paused = true
		}, "b1"},
		{"target too slow for the budget skipped", func(s *state.Shard, f *schedtest.Fabric) {
			s.SpilloverTargets = []string{"c", "b"}
			s.LatencyBudgetMs = 100
			f.Node("c1").LatencyMs = 150
			f.Node("b1").LatencyMs = 40
		}, "b1"},
		{"self and unknown targets ignored", func(s *state.Shard, _ *schedtest.Fabric) {
			s.SpilloverTargets = []string{"src", "nowhere", "d"}
		}, "d1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := plan(build(tc.mutate), scheduler.DefaultConfig())
			sp := spills(d)
			if tc.want == "" {
				if len(sp) != 0 || len(d.Park) != 1 {
					t.Fatalf("want no spill and a park, got %+v", d)
				}
				return
			}
			if len(sp) != 1 || sp[0].Node != tc.want || sp[0].From != "src" || sp[0].Rule != router.RuleNoFit {
				t.Fatalf("spills = %+v, want one to %s", sp, tc.want)
			}
		})
	}
}

func TestOnlyPausedShardCanTake(t *testing.T) {
	f := schedtest.New([]*state.Shard{{Name: "src", SpilloverTargets: []string{"gpu"}}, {Name: "gpu"}},
		[]*state.Node{nd("g1", "gpu", "gpu")},
		[]*state.Job{{ID: "j", Shard: "src", Capabilities: []string{"gpu"}}}, state.Policy{})
	f.Shard("gpu").Paused = true
	d := plan(f, scheduler.DefaultConfig())
	if !d.Empty() || d.Stats.Waiting != 1 {
		t.Fatalf("want the job to wait, got %+v", d)
	}
}

// pressureFabric: shard "src" with one busy node and n queued jobs; sister
// shards "a" and "b" each with a free node for "x" (4 slots).
func pressureFabric(n int, src *state.Shard) *schedtest.Fabric {
	src.Name = "src"
	busy := nd("s1", "src", "x")
	busy.Capacity = 1
	js := jobs(n, "src", "x")
	js = append(js, &state.Job{ID: "running", Shard: "src", State: state.JobRunning, Node: "s1"})
	return schedtest.New([]*state.Shard{src, {Name: "a"}, {Name: "b"}},
		[]*state.Node{busy, nd("a1", "a", "x"), nd("b1", "b", "x")}, js, state.Policy{})
}

// spillsTo maps each target shard to the jobs placed there.
func spillsTo(d scheduler.Decisions) map[string][]string {
	m := map[string][]string{}
	for _, a := range spills(d) {
		sh := strings.SplitN(a.Node, "1", 2)[0]
		m[sh] = append(m[sh], a.JobID)
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
		{"a target takes no more than its free slots", 20, state.Shard{Policies: []state.SpilloverPolicy{{Target: "a", Threshold: 10, MaxDrain: 8}}}, nil,
			map[string][]string{"a": {"src-019", "src-018", "src-017", "src-016"}}},
		{"paused target drains nothing", 20, state.Shard{Policies: []state.SpilloverPolicy{{Target: "a", Threshold: 10, MaxDrain: 3}}},
			func(f *schedtest.Fabric) { f.Shard("a").Paused = true }, map[string][]string{}},
		{"target without capable node drains nothing", 20, state.Shard{Policies: []state.SpilloverPolicy{{Target: "a", Threshold: 10, MaxDrain: 3}}},
			func(f *schedtest.Fabric) { f.Node("a1").Capabilities = []string{"y"} }, map[string][]string{}},
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
			map[string][]string{"a": {"src-019", "src-018", "src-017", "src-016"}, "b": {"src-015"}}},
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
			if len(d.Assign) != len(spills(d)) || len(d.Park) != 0 {
				t.Fatalf("unexpected assignments/parks: %+v", d)
			}
			if got := spillsTo(d); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("spills = %v, want %v", got, tc.want)
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
	if got := strings.Join(rd.Targets("mars", gpuJob), ","); got != "helios,earth" {
		t.Fatalf("mars targets for a gpu job = %s", got)
	}
	if got := strings.Join(rd.Targets("mars", mfgJob), ","); got != "earth,helios" {
		t.Fatalf("mars targets for a manufacturing job = %s", got)
	}
	if rd.MaxHops() != 4 {
		t.Fatalf("MaxHops = %d", rd.MaxHops())
	}
}

func TestEstimateWaitMs(t *testing.T) {
	cases := []struct {
		ahead, slots, meanNs, want int64
	}{
		{0, 4, 100e6, 0},
		{3, 4, 100e6, 0},
		{4, 4, 100e6, 25},  // the first completion of 4 running
		{7, 4, 100e6, 100}, // a whole turn of the 4 slots
		{10, 0, 100e6, router.NoEstimate},
		{10, 4, 0, router.NoEstimate},
	}
	for _, tc := range cases {
		if got := router.EstimateWaitMs(tc.ahead, tc.slots, tc.meanNs); got != tc.want {
			t.Errorf("EstimateWaitMs(%d, %d, %d) = %d, want %d", tc.ahead, tc.slots, tc.meanNs, got, tc.want)
		}
	}
}

// TestLatencyBudgetTenTimesCapacity: a shard holding 10 times its capacity
// in queued jobs, with a 200ms budget and a 100ms mean service time, keeps
// exactly the jobs whose estimated wait is within the budget and places the
// rest on its target; the wait of the last job that stays is within the
// budget and one more job would have exceeded it.
func TestLatencyBudgetTenTimesCapacity(t *testing.T) {
	const (
		capacity = 10
		budgetMs = 200
		meanNs   = 100_000_000
	)
	home := &state.Shard{Name: "home", LatencyBudgetMs: budgetMs, ServiceMeanNs: meanNs, ServiceSamples: 50,
		SpilloverTargets: []string{"spare"}}
	hn := nd("home-1", "home", "x")
	hn.Capacity = capacity
	sn := nd("spare-1", "spare", "x")
	sn.Capacity = 1000
	f := schedtest.New([]*state.Shard{home, {Name: "spare"}}, []*state.Node{hn, sn},
		jobs(10*capacity, "home", "x"), state.Policy{})
	d := plan(f, scheduler.DefaultConfig())

	var atHome, spilled []command.Assignment
	for _, a := range d.Assign {
		if a.From == "" {
			atHome = append(atHome, a)
		} else {
			spilled = append(spilled, a)
		}
	}
	stay := 10*capacity - len(atHome) - len(spilled)
	// The k-th waiting job (0-based) has capacity running jobs and k
	// staying jobs ahead of it on capacity slots.
	lastWait := router.EstimateWaitMs(int64(capacity+stay-1), capacity, meanNs)
	nextWait := router.EstimateWaitMs(int64(capacity+stay), capacity, meanNs)
	t.Logf("queued %d on %d slots, budget %dms, mean service %dms: %d start at home, %d wait at home (last estimate %dms; one more would wait %dms), %d spill",
		10*capacity, capacity, budgetMs, meanNs/1_000_000, len(atHome), stay, lastWait, nextWait, len(spilled))
	if len(atHome) != capacity || stay != 20 || len(spilled) != 70 {
		t.Fatalf("%d at home, %d stay, %d spilled; want 10, 20, 70", len(atHome), stay, len(spilled))
	}
	if lastWait > budgetMs || nextWait <= budgetMs {
		t.Fatalf("last staying wait %dms, next %dms, budget %dms", lastWait, nextWait, budgetMs)
	}
	for i, a := range spilled {
		if a.Rule != router.RuleLatency || a.BudgetMs != budgetMs || a.HomeEstMs <= budgetMs || a.TargetEstMs > budgetMs ||
			a.Node != "spare-1" || a.JobID != fmt.Sprintf("home-%03d", 30+i) {
			t.Fatalf("spill %d = %+v", i, a)
		}
	}
	// Without a budget, or before any service time is known, nothing spills.
	for _, mutate := range []func(){func() { home.LatencyBudgetMs = 0 }, func() { home.ServiceMeanNs = 0 }} {
		home.LatencyBudgetMs, home.ServiceMeanNs = budgetMs, meanNs
		mutate()
		if d := plan(f, scheduler.DefaultConfig()); d.Stats.Spilled != 0 {
			t.Fatalf("spilled %d with budget %d, mean %d", d.Stats.Spilled, home.LatencyBudgetMs, home.ServiceMeanNs)
		}
	}
}
