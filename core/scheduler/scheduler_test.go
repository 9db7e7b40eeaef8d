package scheduler_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/scheduler"
	"github.com/planetary/planetary/core/scheduler/schedtest"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "test", Output: tWriter{t}, Level: hclog.Debug})
}

// nd builds an up node with capacity 4 and no latency.
func nd(id, shard string, priceMu int64, caps ...string) *state.Node {
	return &state.Node{ID: id, Shard: shard, Capabilities: caps, Capacity: 4, Status: state.NodeUp,
		Price: state.PriceSchedule{BaseMu: priceMu}}
}

func jb(id, shard string, caps ...string) *state.Job {
	return &state.Job{ID: id, Shard: shard, Capabilities: caps}
}

func kindNode(n *state.Node, kind string) *state.Node { n.PluginKind = kind; return n }

func kindJob(j *state.Job, kind string) *state.Job { j.Kind = kind; return j }

func sh(name string) *state.Shard { return &state.Shard{Name: name} }

type placement map[string]string // job id -> node id

func assigned(d scheduler.Decisions) placement {
	p := placement{}
	for _, a := range d.Assign {
		p[a.JobID] = a.Node
	}
	return p
}

func parks(d scheduler.Decisions) map[string]string {
	p := map[string]string{}
	for _, x := range d.Park {
		p[x.JobID] = x.Reason
	}
	return p
}

func TestPlanFilters(t *testing.T) {
	withActive := func(f *schedtest.Fabric, node string, n int) {
		for i := 0; i < n; i++ {
			f.Jobs = append(f.Jobs, &state.Job{ID: fmt.Sprintf("act-%s-%d", node, i), Shard: f.Node(node).Shard,
				State: state.JobRunning, Node: node, Seq: uint64(1000 + len(f.Jobs))})
		}
		f.Reindex()
	}
	cases := []struct {
		name   string
		nodes  []*state.Node
		jobs   []*state.Job
		budget int64
		policy string
		setup  func(f *schedtest.Fabric)
		want   placement
		parked map[string]string // job -> reason substring
	}{
		{
			name:  "capability required",
			nodes: []*state.Node{nd("a", "s", 100, "general"), nd("b", "s", 900, "gpu")},
			jobs:  []*state.Job{jb("j1", "s", "gpu")},
			want:  placement{"j1": "b"},
		},
		{
			name:   "general does not satisfy a specific capability",
			nodes:  []*state.Node{nd("a", "s", 100, "general")},
			jobs:   []*state.Job{jb("j1", "s", "finance"), jb("j2", "s", "general")},
			want:   placement{"j2": "a"},
			parked: map[string]string{"j1": "no up node in s has capabilities [finance]"},
		},
		{
			name: "kind runs only on a plugin of that kind",
			nodes: []*state.Node{kindNode(nd("a", "s", 100, "general"), "sim"),
				kindNode(nd("b", "s", 900, "general"), "exec")},
			jobs: []*state.Job{kindJob(jb("j1", "s", "general"), "exec"), kindJob(jb("j2", "s", "general"), "sim")},
			want: placement{"j1": "b", "j2": "a"},
		},
		{
			name:  "job without kind runs on any plugin with its capabilities",
			nodes: []*state.Node{kindNode(nd("a", "s", 900, "general"), "sim"), kindNode(nd("b", "s", 100, "general"), "geo")},
			jobs:  []*state.Job{jb("j1", "s", "general")},
			want:  placement{"j1": "b"},
		},
		{
			name:   "kind mismatch parks naming the kind",
			nodes:  []*state.Node{kindNode(nd("a", "s", 100, "general"), "geo"), kindNode(nd("b", "s", 100, "general"), "sim")},
			jobs:   []*state.Job{kindJob(jb("j1", "s", "general"), "exec")},
			want:   placement{},
			parked: map[string]string{"j1": "no up node in s with capabilities [general] has plugin kind exec (kinds there: geo, sim)"},
		},
		{
			name:   "kind and missing capability park naming both",
			nodes:  []*state.Node{kindNode(nd("a", "s", 100, "general"), "exec")},
			jobs:   []*state.Job{kindJob(jb("j1", "s", "gpu"), "exec")},
			want:   placement{},
			parked: map[string]string{"j1": "no up node in s has capabilities [gpu] (and plugin kind exec)"},
		},
		{
			name:  "job without capabilities runs anywhere",
			nodes: []*state.Node{nd("a", "s", 100, "gpu")},
			jobs:  []*state.Job{jb("j1", "s")},
			want:  placement{"j1": "a"},
		},
		{
			name:  "full node skipped",
			nodes: []*state.Node{nd("a", "s", 100), nd("b", "s", 900)},
			jobs:  []*state.Job{jb("j1", "s")},
			setup: func(f *schedtest.Fabric) { withActive(f, "a", 4) },
			want:  placement{"j1": "b"},
		},
		{
			name:  "max concurrency below capacity",
			nodes: []*state.Node{{ID: "a", Shard: "s", Capacity: 10, MaxConcurrency: 1, Status: state.NodeUp}, nd("b", "s", 900)},
			jobs:  []*state.Job{jb("j1", "s")},
			setup: func(f *schedtest.Fabric) { withActive(f, "a", 1) },
			want:  placement{"j1": "b"},
		},
		{
			name:  "queued behind running jobs when no node has a free run slot",
			nodes: []*state.Node{{ID: "a", Shard: "s", Capacity: 3, MaxConcurrency: 1, Status: state.NodeUp}, nd("b", "s", 900)},
			jobs:  []*state.Job{jb("j1", "s"), jb("j2", "s"), jb("j3", "s")},
			setup: func(f *schedtest.Fabric) { withActive(f, "a", 1); withActive(f, "b", 4) },
			want:  placement{"j1": "a", "j2": "a"},
		},
		{
			name:  "slots taken earlier in the round",
			nodes: []*state.Node{{ID: "a", Shard: "s", Capacity: 1, Status: state.NodeUp}, nd("b", "s", 900)},
			jobs:  []*state.Job{jb("j1", "s"), jb("j2", "s"), jb("j3", "s")},
			want:  placement{"j1": "a", "j2": "b", "j3": "b"},
		},
		{
			name:  "all busy: jobs wait",
			nodes: []*state.Node{{ID: "a", Shard: "s", Capacity: 1, Status: state.NodeUp}},
			jobs:  []*state.Job{jb("j1", "s"), jb("j2", "s")},
			want:  placement{"j1": "a"},
		},
		{
			name:  "quota counts completed, active and taken",
			nodes: []*state.Node{{ID: "a", Shard: "s", Capacity: 4, Quota: 6, Status: state.NodeUp}, nd("b", "s", 900)},
			jobs:  []*state.Job{jb("j1", "s"), jb("j2", "s")},
			setup: func(f *schedtest.Fabric) { f.Completed["a"] = 4; withActive(f, "a", 1) },
			want:  placement{"j1": "a", "j2": "b"},
		},
		{
			name:   "quota used up by completions",
			nodes:  []*state.Node{{ID: "a", Shard: "s", Capacity: 4, Quota: 3, Status: state.NodeUp}},
			jobs:   []*state.Job{jb("j1", "s")},
			setup:  func(f *schedtest.Fabric) { f.Completed["a"] = 3 },
			parked: map[string]string{"j1": "every capable node in s has used up its quota"},
		},
		{
			name:   "latency budget",
			nodes:  []*state.Node{{ID: "a", Shard: "s", Capacity: 4, LatencyMs: 200, Status: state.NodeUp}, {ID: "b", Shard: "s", Capacity: 4, LatencyMs: 100, Price: state.PriceSchedule{BaseMu: 5}, Status: state.NodeUp}},
			jobs:   []*state.Job{jb("j1", "s")},
			budget: 120,
			want:   placement{"j1": "b"},
		},
		{
			name:   "measured latency overrides declared",
			nodes:  []*state.Node{{ID: "a", Shard: "s", Capacity: 4, LatencyMs: 50, MeasuredLatencyMs: 300, Status: state.NodeUp}},
			jobs:   []*state.Job{jb("j1", "s")},
			budget: 120,
			parked: map[string]string{"j1": "latency budget 120ms exceeded by every capable node"},
		},
		{
			name: "compliance over node attestations",
			nodes: []*state.Node{nd("a", "s", 100), func() *state.Node {
				n := nd("b", "s", 900)
				n.Attestations.Certifications = []string{"GDPR"}
				return n
			}()},
			jobs:   []*state.Job{jb("j1", "s")},
			policy: `"GDPR" in node.attestations.certifications`,
			want:   placement{"j1": "b"},
		},
		{
			name: "compliance over job and node",
			nodes: []*state.Node{nd("a", "s", 100), func() *state.Node {
				n := nd("b", "s", 900)
				n.Attestations.Jurisdiction = "eu"
				return n
			}()},
			jobs:   []*state.Job{{ID: "cheap", Shard: "s", ValueMu: 500_000}, {ID: "dear", Shard: "s", ValueMu: 5_000_000}},
			policy: `job.value < 1.0 || node.attestations.jurisdiction == "eu"`,
			want:   placement{"cheap": "a", "dear": "b"},
		},
		{
			name:   "compliance blocks every node",
			nodes:  []*state.Node{nd("a", "s", 100)},
			jobs:   []*state.Job{jb("j1", "s")},
			policy: `node.id == "nobody"`,
			parked: map[string]string{"j1": "blocked by compliance policy"},
		},
		{
			name:   "compliance policy that does not compile",
			nodes:  []*state.Node{nd("a", "s", 100)},
			jobs:   []*state.Job{jb("j1", "s")},
			policy: `node.id ==`,
			parked: map[string]string{"j1": "compliance policy does not compile"},
		},
		{
			name:   "compliance policy of the wrong type",
			nodes:  []*state.Node{nd("a", "s", 100)},
			jobs:   []*state.Job{jb("j1", "s")},
			policy: `1 + 2`,
			parked: map[string]string{"j1": "want bool"},
		},
		{
			name:  "max price excludes dear nodes",
			nodes: []*state.Node{nd("a", "s", 300, "x"), nd("b", "s", 600)},
			jobs:  []*state.Job{{ID: "j1", Shard: "s", MaxPriceMu: 500_000}},
			want:  placement{"j1": "b"},
			setup: func(f *schedtest.Fabric) { f.Node("b").Price.BaseMu = 400_000; f.Node("a").Price.BaseMu = 450_000 },
		},
		{
			name:   "max price: nobody cheap enough",
			nodes:  []*state.Node{nd("a", "s", 2_000_000, "gpu"), nd("b", "s", 1_750_000, "gpu")},
			jobs:   []*state.Job{{ID: "j1", Shard: "s", Capabilities: []string{"gpu"}, MaxPriceMu: 500_000}},
			parked: map[string]string{"j1": "no node within max price 0.5 (cheapest quote 1.75 on b)"},
		},
		{
			name:  "cheapest wins",
			nodes: []*state.Node{nd("a", "s", 700), nd("b", "s", 300), nd("c", "s", 500)},
			jobs:  []*state.Job{jb("j1", "s")},
			want:  placement{"j1": "b"},
		},
		{
			name:  "price tie broken by load ratio",
			nodes: []*state.Node{{ID: "a", Shard: "s", Capacity: 4, Status: state.NodeUp}, {ID: "b", Shard: "s", Capacity: 10, Status: state.NodeUp}},
			jobs:  []*state.Job{jb("j1", "s")},
			setup: func(f *schedtest.Fabric) { withActive(f, "a", 2); withActive(f, "b", 4) },
			want:  placement{"j1": "b"},
		},
		{
			name:  "price and load tie broken by node id",
			nodes: []*state.Node{nd("b", "s", 100), nd("a", "s", 100)},
			jobs:  []*state.Job{jb("j1", "s"), jb("j2", "s")},
			want:  placement{"j1": "a", "j2": "b"},
		},
		{
			name:  "down and retired nodes take nothing",
			nodes: []*state.Node{func() *state.Node { n := nd("a", "s", 1); n.Status = state.NodeDown; return n }(), func() *state.Node { n := nd("b", "s", 1); n.Status = state.NodeRetired; return n }(), nd("c", "s", 900)},
			jobs:  []*state.Job{jb("j1", "s")},
			want:  placement{"j1": "c"},
		},
		{
			name:   "zero capacity",
			nodes:  []*state.Node{{ID: "a", Shard: "s", Status: state.NodeUp}},
			jobs:   []*state.Job{jb("j1", "s")},
			parked: map[string]string{"j1": "zero capacity"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := sh("s")
			s.LatencyBudgetMs = tc.budget
			f := schedtest.New([]*state.Shard{s}, tc.nodes, tc.jobs, state.Policy{CompliancePolicy: tc.policy})
			if tc.setup != nil {
				tc.setup(f)
			}
			d := scheduler.New(scheduler.Config{Logger: testLogger(t)}).Plan(f, 1)
			want := tc.want
			if want == nil {
				want = placement{}
			}
			if got := assigned(d); !reflect.DeepEqual(got, want) {
				t.Fatalf("assignments = %v, want %v", got, want)
			}
			got := parks(d)
			if len(got) != len(tc.parked) {
				t.Fatalf("parks = %v, want %v", got, tc.parked)
			}
			for id, sub := range tc.parked {
				if !strings.Contains(got[id], sub) {
					t.Fatalf("park reason of %s = %q, want it to contain %q", id, got[id], sub)
				}
			}
			if d.Stats.Spilled != 0 {
				t.Fatalf("unexpected spills %+v", d.Assign)
			}
		})
	}
}

func TestPlanAssignmentFields(t *testing.T) {
	n := nd("a", "s", 1_000, "gpu")
	n.Price.Rates = []state.PriceRate{{Unit: "gpu", PerUnitMu: 250}, {Unit: "token", PerUnitMu: 7}}
	j := jb("j1", "s", "gpu")
	j.Attempt = 2
	f := schedtest.New([]*state.Shard{sh("s")}, []*state.Node{n}, []*state.Job{j}, state.Policy{})
	d := scheduler.New(scheduler.DefaultConfig()).Plan(f, 0)
	want := []command.Assignment{{JobID: "j1", Attempt: 3, Node: "a", QuoteMu: 1_250}}
	if !reflect.DeepEqual(d.Assign, want) {
		t.Fatalf("Assign = %+v, want %+v", d.Assign, want)
	}
}

// A job that declares units is quoted its declared units at each metered
// rate, and the assignment carries those rates for settlement; a rate the
// job declares no units of is not metered (a capability's is flat).
func TestPlanMeteredQuote(t *testing.T) {
	cases := []struct {
		name       string
		units      []state.Quantity
		maxPriceMu int64
		wantQuote  int64 // -1: parked
		wantMeters []state.Meter
		wantReason string
	}{
		{"no units: flat capability rate only", nil, 0, 1_000 + 250, nil, ""},
		{"declared tokens", []state.Quantity{{Unit: "token", Micro: 812 * state.Micro}}, 0, 1_000 + 250 + 812*7,
			[]state.Meter{{Unit: "token", PerUnitMu: 7}}, ""},
		{"declared gpu seconds meter the capability's rate",
			[]state.Quantity{{Unit: "gpu", Micro: 2_500_000}, {Unit: "token", Micro: 10 * state.Micro}}, 0, 1_000 + 625 + 70,
			[]state.Meter{{Unit: "gpu", PerUnitMu: 250}, {Unit: "token", PerUnitMu: 7}}, ""},
		{"metered quote over max price: placed, settlement caps", []state.Quantity{{Unit: "token", Micro: 1000 * state.Micro}}, 5_000,
			1_000 + 250 + 7_000, []state.Meter{{Unit: "token", PerUnitMu: 7}}, ""},
		{"fixed part over max price", []state.Quantity{{Unit: "token", Micro: 1000 * state.Micro}}, 1_000, -1, nil,
			"no node within max price"},
		{"declared units overflow", []state.Quantity{{Unit: "token", Micro: 9e18}}, 0, -1, nil, "no node could quote"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := nd("a", "s", 1_000, "gpu")
			n.Price.Rates = []state.PriceRate{{Unit: "token", PerUnitMu: 7}, {Unit: "gpu", PerUnitMu: 250}, {Unit: "second", PerUnitMu: 3}}
			if tc.name == "declared units overflow" {
				n.Price.Rates[0].PerUnitMu = 1 << 40
			}
			j := jb("j1", "s", "gpu")
			j.Units, j.MaxPriceMu = tc.units, tc.maxPriceMu
			f := schedtest.New([]*state.Shard{sh("s")}, []*state.Node{n}, []*state.Job{j}, state.Policy{})
			d := scheduler.New(scheduler.DefaultConfig()).Plan(f, 0)
			if tc.wantQuote < 0 {
				if len(d.Park) != 1 || !strings.Contains(d.Park[0].Reason, tc.wantReason) {
					t.Fatalf("want a park naming %q, got %+v", tc.wantReason, d)
				}
				return
			}
			want := []command.Assignment{{JobID: "j1", Attempt: 1, Node: "a", QuoteMu: tc.wantQuote, Meters: tc.wantMeters}}
			if !reflect.DeepEqual(d.Assign, want) {
				t.Fatalf("Assign = %+v, want %+v", d.Assign, want)
			}
		})
	}
}

func TestPriceExpr(t *testing.T) {
	cases := []struct {
		name  string
		expr  string
		want  int64 // quote, or -1 for "cannot quote"
		noJob bool
	}{
		{"credits as double", `double(job.priority) * 0.001`, 1_000 + 3_000, false},
		{"micro-credits as int", `job.priority * 1000`, 1_000 + 3_000, false},
		{"node only", `node.deployment.resources.gpu_class == "A100" ? 0.25 : 0.0`, 1_000 + 250_000, true},
		{"negative total", `-1.0`, -1, true},
		{"wrong type", `"free"`, -1, true},
		{"runtime error", `job.missing * 2`, -1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := nd("a", "s", 1_000)
			n.Deployment.Resources.GPUClass = "A100"
			n.Price.Expr = tc.expr
			j := jb("j1", "s")
			j.Priority = 3
			f := schedtest.New([]*state.Shard{sh("s")}, []*state.Node{n}, []*state.Job{j}, state.Policy{})
			d := scheduler.New(scheduler.DefaultConfig()).Plan(f, 0)
			if tc.want < 0 {
				if len(d.Park) != 1 || !strings.Contains(d.Park[0].Reason, "no node could quote") {
					t.Fatalf("want a park for a failed quote, got %+v", d)
				}
				return
			}
			if len(d.Assign) != 1 || d.Assign[0].QuoteMu != tc.want {
				t.Fatalf("Assign = %+v, want quote %d", d.Assign, tc.want)
			}
		})
	}
}

func TestPaused(t *testing.T) {
	build := func() *schedtest.Fabric {
		return schedtest.New([]*state.Shard{sh("a"), sh("b")},
			[]*state.Node{nd("a1", "a", 1), nd("b1", "b", 1)},
			[]*state.Job{jb("ja", "a"), jb("jb", "b"), jb("jq", "a", "quantum")}, state.Policy{})
	}
	cases := []struct {
		name   string
		mutate func(f *schedtest.Fabric)
		want   placement
		parked []string
		stats  func(s scheduler.Stats) bool
	}{
		{"running", func(*schedtest.Fabric) {}, placement{"ja": "a1", "jb": "b1"}, []string{"jq"}, nil},
		{"system paused", func(f *schedtest.Fabric) { f.Pol.SystemPaused = true }, placement{}, nil,
			func(s scheduler.Stats) bool { return s.SystemPaused }},
		{"shard paused: its jobs wait, they do not spill or park", func(f *schedtest.Fabric) { f.Shard("a").Paused = true },
			placement{"jb": "b1"}, nil,
			func(s scheduler.Stats) bool { return reflect.DeepEqual(s.PausedShards, []string{"a"}) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := build()
			tc.mutate(f)
			d := scheduler.New(scheduler.DefaultConfig()).Plan(f, 7)
			if got := assigned(d); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("assignments = %v, want %v", got, tc.want)
			}
			var gotParked []string
			for _, p := range d.Park {
				gotParked = append(gotParked, p.JobID)
			}
			if !reflect.DeepEqual(gotParked, tc.parked) || d.Stats.Spilled != 0 {
				t.Fatalf("parked = %v spills = %d, want parked %v", gotParked, d.Stats.Spilled, tc.parked)
			}
			if tc.stats != nil && !tc.stats(d.Stats) {
				t.Fatalf("stats = %+v", d.Stats)
			}
		})
	}
}

func TestMaxPerRound(t *testing.T) {
	var jobs []*state.Job
	for i := 0; i < 10; i++ {
		jobs = append(jobs, jb(fmt.Sprintf("j%02d", i), "s"))
	}
	n := nd("a", "s", 1)
	n.Capacity = 100
	f := schedtest.New([]*state.Shard{sh("s")}, []*state.Node{n}, jobs, state.Policy{})
	d := scheduler.New(scheduler.Config{MaxPerRound: 3}).Plan(f, 0)
	if len(d.Assign) != 3 || !d.Stats.Truncated || d.Assign[2].JobID != "j02" {
		t.Fatalf("got %+v", d)
	}
}

func TestQueueOrder(t *testing.T) {
	jobs := []*state.Job{jb("low", "s"), {ID: "high", Shard: "s", Priority: 5}, jb("low2", "s")}
	n := nd("a", "s", 1)
	n.Capacity = 2
	f := schedtest.New([]*state.Shard{sh("s")}, []*state.Node{n}, jobs, state.Policy{})
	d := scheduler.New(scheduler.DefaultConfig()).Plan(f, 0)
	var got []string
	for _, a := range d.Assign {
		got = append(got, a.JobID)
	}
	if !reflect.DeepEqual(got, []string{"high", "low"}) {
		t.Fatalf("assigned %v", got)
	}
}

// Parked jobs are the FSM's to re-queue (on a topology change); a round
// leaves them alone.
func TestPlanLeavesParkedJobs(t *testing.T) {
	cases := []struct {
		name   string
		status state.NodeStatus
		paused bool
	}{
		{"capable node up", state.NodeUp, false},
		{"capable node down", state.NodeDown, false},
		{"capable shard paused", state.NodeUp, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := nd("g", "s", 1, "gpu")
			n.Status = tc.status
			s := sh("s")
			s.Paused = tc.paused
			f := schedtest.New([]*state.Shard{s}, []*state.Node{n},
				[]*state.Job{{ID: "p", Shard: "s", Capabilities: []string{"gpu"}, State: state.JobParked},
					{ID: "q", Shard: "s", Capabilities: []string{"quantum"}, State: state.JobParked}}, state.Policy{})
			d := scheduler.New(scheduler.DefaultConfig()).Plan(f, 0)
			if !d.Empty() {
				t.Fatalf("got %+v, want no decision", d)
			}
		})
	}
}
