package mission

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
	"github.com/planetary/planetary/sdk"
)

func TestCredits(t *testing.T) {
	cases := []struct {
		in   float64
		want int64
	}{
		{0, 0},
		{1, 1_000_000},
		{1.75, 1_750_000},
		{0.00072, 720},
		{0.0012, 1200},
		{0.0000005, 1},   // half rounds away from zero
		{0.00000049, 0},  // below half
		{-0.0000005, -1}, // away from zero on the negative side
		{2.0000015, 2_000_002},
		{0.9999995, 1_000_000},
		{1e12, 1_000_000_000_000_000_000},
		{1e20, math.MaxInt64},
		{math.NaN(), 0},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(jsonText(c.in), ".", "_"), func(t *testing.T) {
			if got := Credits(c.in); got != c.want {
				t.Fatalf("Credits(%v) = %d, want %d", c.in, got, c.want)
			}
		})
	}
}

func jsonText(f float64) string {
	if math.IsNaN(f) {
		return "NaN"
	}
	b, _ := json.Marshal(f)
	return string(b)
}

const small = `
mission "m" {
  seed = 9
}
shard "a" {
  spillover_targets = ["b"]
  spillover "b" {
    threshold = 5
  }
}
shard "b" {}
node "a.n1" {
  shard        = "a"
  capabilities = ["x"]
  capacity     = 3
  price {
    base = 0.5
    rate "token" {
      per_unit = 0.000001
    }
  }
  config {
    fail_rate = 0.25
    mode      = "fast"
    on        = true
    tags      = ["p", "q"]
  }
}
workload "w" {
  shard        = "a"
  count        = 12
  capabilities = ["x"]
  value        = 10
  value_step   = 0.5
  duration_ms  = 3
  payload = {
    z = 1
    a = { k = "v" }
  }
}
workload "v" {
  shard = "a"
  count = 4
  capabilities = ["x"]
}
schedule "later" {
  after_completed = 5
  action          = "node.update"
  node            = "a.n1"
  capacity        = 6
  price {
    base = 1
  }
}
`

func TestParseSmallMission(t *testing.T) {
	m, diags := ParseMission([]byte(small), "small.hcl")
	if len(diags) > 0 {
		t.Fatal(diags.Error())
	}
	n := m.Nodes[0]
	up := m.Schedule[0].Args.(*NodeUpdateAction)
	cases := []struct {
		name      string
		got, want any
	}{
		{"seed", m.Seed, uint64(9)},
		{"region default", m.Shards[0].Region, "a"},
		{"spill weight default", m.Shards[0].Spillover[0].Weight, int64(1)},
		{"max_concurrency default", n.MaxConcurrency, int64(3)},
		{"plugin default", n.Plugin, "sim"},
		{"heartbeat default", n.HeartbeatSec, int64(10)},
		{"price", n.Price, Price{Currency: "credits", Unit: "job", BaseMu: 500_000, Rates: []Rate{{Unit: "token", PerUnitMu: 1}}}},
		{"config", n.Config, map[string]any{"fail_rate": 0.25, "mode": "fast", "on": true, "tags": []string{"p", "q"}}},
		{"checkpoint defaults", m.Checkpoint, Checkpoint{IntervalMs: 30_000, Path: "checkpoints/fabric.snap"}},
		{"reporting defaults", m.Reporting, Reporting{Dir: "reports", Label: "m"}},
		{"workload payload", string(m.Workloads[0].Payload), `{"a":{"k":"v"},"z":1}`},
		{"workload prefix", m.Workloads[0].IDPrefix, "w"},
		{"entry trigger", [2]int64{m.Schedule[0].AtMs, m.Schedule[0].AfterCompleted}, [2]int64{-1, 5}},
		{"update fields", up.Fields, []string{"capacity", "price"}},
		{"update capacity", up.Values.Capacity, int64(6)},
		{"update price", up.Values.Price.BaseMu, int64(1_000_000)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !equal(c.got, c.want) {
				t.Fatalf("got %#v, want %#v", c.got, c.want)
			}
		})
	}
}

func TestWorkloadJobs(t *testing.T) {
	m, diags := ParseMission([]byte(small), "small.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	w := m.Workloads[0]
	jobs := w.Jobs(m.Seed, 0)
	if len(jobs) != 12 {
		t.Fatalf("got %d jobs", len(jobs))
	}
	cases := []struct {
		name      string
		got, want any
	}{
		{"first id", jobs[0].ID, "w-0001"},
		{"last id", jobs[11].ID, "w-0012"},
		{"key", jobs[2].Key, "m/w/3"},
		{"first value", jobs[0].ValueMu, int64(10_000_000)},
		{"stepped value", jobs[11].ValueMu, int64(10_000_000 + 11*500_000)},
		{"payload", string(jobs[0].Payload), `{"a":{"k":"v"},"duration_ms":3,"z":1}`},
		{"limit", len(w.Jobs(m.Seed, 5)), 5},
		{"limit above count", len(w.Jobs(m.Seed, 100)), 12},
		{"deterministic", w.Jobs(m.Seed, 0), jobs},
		{"command", jobs[1].Command("alice"), command.JobSubmit{ID: "w-0002", Key: "m/w/2", Shard: "a", Capabilities: []string{"x"},
			ValueMu: 10_500_000, Payload: []byte(`{"a":{"k":"v"},"duration_ms":3,"z":1}`), Submitter: "alice"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !equal(c.got, c.want) {
				t.Fatalf("got %#v, want %#v", c.got, c.want)
			}
		})
	}
}

func TestGenerateJobsScales(t *testing.T) {
	m, diags := ParseMissionFile("../../examples/mission.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	cases := []struct {
		total      int
		wantCounts []int64
	}{
		{0, []int64{5, 5, 1200, 800, 600, 1400, 1000, 780, 20}},
		{5810, []int64{5, 5, 1200, 800, 600, 1400, 1000, 780, 20}},
		{10000, []int64{9, 9, 2065, 1377, 1033, 2410, 1721, 1342, 34}},
		{581, []int64{1, 0, 120, 80, 60, 140, 100, 78, 2}},
		{7, []int64{0, 0, 1, 1, 1, 2, 1, 1, 0}},
	}
	for _, c := range cases {
		t.Run(jsonText(float64(c.total)), func(t *testing.T) {
			counts := ScaleCounts(m.Workloads, c.total)
			if !equal(counts, c.wantCounts) {
				t.Fatalf("counts %v, want %v", counts, c.wantCounts)
			}
			jobs := GenerateJobs(m, c.total)
			var sum int64
			for _, n := range c.wantCounts {
				sum += n
			}
			if int64(len(jobs)) != sum {
				t.Fatalf("%d jobs, want %d", len(jobs), sum)
			}
			ids := map[string]bool{}
			for _, j := range jobs {
				if ids[j.ID] {
					t.Fatalf("duplicate id %s", j.ID)
				}
				ids[j.ID] = true
			}
		})
	}
}

func TestDigestStableUnderReformatting(t *testing.T) {
	reformatted := `# same mission, reordered attributes and comments
mission "m" { seed = 9 }
shard "a" {
  spillover "b" { threshold = 5 } # policy
  spillover_targets = [ "b" ]
}
shard "b" {
}
node "a.n1" {
  capacity = 3
  config {
    tags = ["p","q"]
    on = true
    mode = "fast"
    fail_rate = 0.250
  }
  price {
    rate "token" { per_unit = 1e-6 }
    base = 0.50
  }
  capabilities = ["x"]
  shard = "a"
}
workload "w" {
  payload = { a = { k = "v" }, z = 1 }
  duration_ms = 3
  value_step = 0.5
  value = 10
  capabilities = ["x"]
  count = 12
  shard = "a"
}
workload "v" {
  capabilities = ["x"]
  count = 4
  shard = "a"
}
schedule "later" {
  price { base = 1.0 }
  capacity = 6
  node = "a.n1"
  action = "node.update"
  after_completed = 5
}
`
	a, d1 := ParseMission([]byte(small), "a.hcl")
	b, d2 := ParseMission([]byte(reformatted), "b.hcl")
	if d1.HasErrors() || d2.HasErrors() {
		t.Fatal(d1.Error(), d2.Error())
	}
	if a.Digest() != b.Digest() {
		t.Fatalf("digest changed under reformatting:\n%s\n%s", a.Canonical(), b.Canonical())
	}
	changed, _ := ParseMission([]byte(strings.Replace(small, "count        = 12", "count        = 13", 1)), "c.hcl")
	if changed.Digest() == a.Digest() {
		t.Fatal("digest did not change with the content")
	}
	if len(a.Digest()) != 64 {
		t.Fatalf("digest %q is not hex sha256", a.Digest())
	}
}

func TestDiff(t *testing.T) {
	old, _ := ParseMissionFile("../../examples/mission.hcl")
	src := strings.Replace(kardashevSource(t), "max_queue             = 6000", "max_queue             = 7000", 1)
	src += "\nshard \"edge\" {}\n"
	src = strings.Replace(src, `workload "helios-astronomy"`, `workload "helios-deep"`, 1)
	src = strings.Replace(src, `id_prefix    = "helios-astronomy"`, "", 1)
	nw, diags := ParseMission([]byte(src), "new.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	got := Diff(old, nw)
	want := []string{
		"+ shard edge",
		"~ shard earth: max_queue 6000 -> 7000",
		"+ workload helios-deep",
		"- workload helios-astronomy",
	}
	if !equal(got, want) {
		t.Fatalf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := Diff(old, old); len(d) != 0 {
		t.Fatalf("self diff: %v", d)
	}
	if d := Diff(nil, old); len(d) == 0 || d[len(d)-1] != "+ schedule edge-surge-down" {
		t.Fatalf("diff from nothing: %v", d)
	}
}

func TestRecords(t *testing.T) {
	m, diags := ParseMissionFile("../../examples/mission.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	shards, nodes := m.ShardRecords(), m.NodeRecords()
	cases := []struct {
		name      string
		got, want any
	}{
		{"shards", len(shards), 4},
		{"mars policies", shards[2].Policies[1], state.SpilloverPolicy{Target: "helios", Threshold: 3600, MaxDrain: 30, RequiredCapabilities: []string{"gpu", "vision"}, Weight: 1}},
		{"nodes", len(nodes), 8},
		{"gpu node kind", nodes[4].PluginKind, "sim"},
		{"exec node kind", nodes[6].PluginKind, "exec"},
		{"container node kind", nodes[7].PluginKind, "container"},
		{"gpu node resources", nodes[4].Deployment.Resources, state.Resources{CPUCores: 40, MemoryGB: 160, GPUClass: "A100", StorageGB: 512}},
		{"gpu node price", nodes[4].Price, state.PriceSchedule{Currency: "USDC", Unit: "job", BaseMu: 880}},
		{"gpu node certs", nodes[4].Attestations.Certifications, []string{"Mars-Colony-Safety", "SOC2-Type-II"}},
		{"status left to the FSM", nodes[4].Status, state.NodeUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !equal(c.got, c.want) {
				t.Fatalf("got %#v, want %#v", c.got, c.want)
			}
		})
	}
}

func TestScheduleCommands(t *testing.T) {
	m, diags := ParseMissionFile("../../examples/mission.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	meta := command.Meta{Time: 1, Actor: "schedule:x", Reason: "r"}
	wantTypes := []command.MessageType{
		command.ShardRegisterType, command.PauseType, command.PauseType, command.ShardUpdateType,
		command.NodeRegisterType, command.CheckpointSavedType, command.CheckpointConfigureType,
		command.ReportingConfigureType, command.JobRerouteType, command.JobCancelType, command.ShardDeregisterType,
	}
	for i, e := range m.Schedule {
		t.Run(e.ID, func(t *testing.T) {
			if e.Args.Action() != e.Action {
				t.Fatalf("Action() = %q, entry action %q", e.Args.Action(), e.Action)
			}
			typ, cmd := e.Args.Command(meta)
			if typ != wantTypes[i] || cmd == nil {
				t.Fatalf("command type %d, want %d", typ, wantTypes[i])
			}
		})
	}
	_, up := m.Schedule[3].Args.Command(meta)
	if su := up.(*command.ShardUpdate); !equal(su.Fields, []string{"max_queue", "queue_alert_threshold"}) || su.Shard.MaxQueue != 6400 {
		t.Fatalf("shard.update: %+v", su)
	}
	_, rr := m.Schedule[8].Args.Command(meta)
	if jr := rr.(*command.JobReroute); jr.Target != "helios" || *jr.Locator != (command.Locator{Shard: "mars", Tail: 1, Offset: 8, InFlight: true}) {
		t.Fatalf("job.reroute: %+v", jr)
	}
}

func TestParseAgent(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want func(a *AgentConfig) any
		val  any
	}{
		{"defaults", "agent {}", func(a *AgentConfig) any { return a }, DefaultAgentConfig()},
		{"default servers", "agent {\n http_addr = \"10.0.0.1:4646\"\n}", func(a *AgentConfig) any { return a.Client.Servers }, []string{"10.0.0.1:4646"}},
		{"heartbeat", "agent {\n client {\n heartbeat_interval = \"250ms\"\n }\n}", func(a *AgentConfig) any { return a.Client.HeartbeatIntervalMs }, int64(250)},
		{"raft snapshots", "agent {\n server {\n snapshot_threshold = 2048\n trailing_logs = 256\n snapshot_interval = \"5s\"\n }\n}",
			func(a *AgentConfig) any {
				return [3]int64{a.Server.SnapshotThreshold, a.Server.TrailingLogs, a.Server.SnapshotIntervalMs}
			}, [3]int64{2048, 256, 5000}},
		{"event retention", "agent {\n event_retention {\n max_age = \"168h\"\n max_bytes = 1073741824\n archive_dir = \"checkpoints/events\"\n }\n}",
			func(a *AgentConfig) any { return a.EventRetention },
			EventRetentionConfig{MaxAgeMs: 168 * 3600 * 1000, MaxBytes: 1 << 30, ArchiveDir: "checkpoints/events", SegmentBytes: 64 << 20}},
		{"server region", "agent {\n server {\n region = \"mars\"\n }\n}", func(a *AgentConfig) any { return a.Server.Region }, "mars"},
		{"builtin", "agent {}\nplugin \"sim\" {}", func(a *AgentConfig) any { return noSource(a.Plugins[0]) }, PluginSpec{Name: "sim", Builtin: true, Config: map[string]any{}}},
		{"external", "agent {}\nplugin \"geo\" {\n path = \"./geo\"\n sha256 = \"" + strings.Repeat("ab", 32) + "\"\n config {\n zone = \"z\"\n }\n}",
			func(a *AgentConfig) any { return noSource(a.Plugins[0]) },
			PluginSpec{Name: "geo", Path: "./geo", SHA256: strings.Repeat("ab", 32), Config: map[string]any{"zone": "z"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, diags := ParseAgent([]byte(c.src), "agent.hcl")
			if len(diags) > 0 {
				t.Fatal(diags.Error())
			}
			if got := c.want(a); !equal(got, c.val) {
				t.Fatalf("got %#v, want %#v", got, c.val)
			}
		})
	}
	d := DefaultAgentConfig()
	if d.HTTPAddr != "127.0.0.1:4646" || !d.Server.Enabled || !d.Client.Enabled || !d.ACL.Enabled || d.Client.HeartbeatIntervalMs != 1000 ||
		d.Server.SnapshotThreshold != 512 || d.Server.TrailingLogs != 128 || d.Server.SnapshotIntervalMs != 30000 ||
		d.EventRetention != (EventRetentionConfig{SegmentBytes: 64 << 20}) ||
		!equal(d.AllowedRoots, []string{"reports", "checkpoints"}) || !equal(d.Client.Nodes, []string{"*"}) {
		t.Fatalf("defaults: %+v", d)
	}
}

func TestCombinedFile(t *testing.T) {
	src := "agent {}\nplugin \"sim\" {}\n" + small
	f, diags := Parse([]byte(src), "both.hcl")
	if len(diags) > 0 {
		t.Fatal(diags.Error())
	}
	if f.Agent == nil || f.Mission == nil || f.Sources["both.hcl"] == nil {
		t.Fatalf("combined file: %+v", f)
	}
	if _, diags := ParseAgent([]byte(small), "m.hcl"); !diags.HasErrors() || diags[0].Summary != "Missing agent block" {
		t.Fatalf("mission-only file as agent config: %v", diags)
	}
	if _, diags := ParseMission([]byte("agent {}"), "a.hcl"); !diags.HasErrors() || diags[0].Summary != "Missing mission block" {
		t.Fatalf("agent-only file as mission: %v", diags)
	}
}

func TestParseJobs(t *testing.T) {
	jobs, diags := ParseJobFile("../../examples/jobs/batch.hcl")
	if len(diags) > 0 {
		t.Fatal(diags.Error())
	}
	want := JobSpec{ID: "batch-astronomy-1", Key: "batch/astronomy/1", Shard: "helios", Capabilities: []string{"gpu", "astronomy"},
		Priority: 10, ValueMu: 4_000_000_000, Payload: []byte(`{"duration_ms":7,"target":"Proxima b"}`)}
	if len(jobs) != 4 || !equal(jobs[3], want) {
		t.Fatalf("got %+v", jobs)
	}
	if jobs[0].MaxPriceMu != 10_000 {
		t.Fatalf("max_price: %d", jobs[0].MaxPriceMu)
	}
}

// TestReference checks that the documentation table is complete: every
// attribute has a type and a description, and every schedule action the
// decoder knows is documented.
func TestReference(t *testing.T) {
	var walk func(path string, b BlockDoc)
	walk = func(path string, b BlockDoc) {
		if b.Description == "" {
			t.Errorf("%s: block without description", path)
		}
		for _, a := range b.Attributes {
			if a.Type == "" || a.Description == "" {
				t.Errorf("%s.%s: missing type or description", path, a.Name)
			}
			if !a.Required && a.Default == nil && a.DefaultText == "" && a.Type != TypeObject && path != "schedule" {
				t.Errorf("%s.%s: optional attribute without a default", path, a.Name)
			}
		}
		for _, c := range b.Blocks {
			walk(path+"."+c.Name, c)
		}
		for _, act := range b.Actions {
			walk(path+"["+act.Name+"]", BlockDoc{Name: act.Name, Description: act.Description, Attributes: act.Attributes, Blocks: act.Blocks})
		}
	}
	for _, b := range Reference() {
		walk(b.Name, b)
	}
	if n := len(ActionReference()); n != 16 {
		t.Fatalf("%d actions documented, want 16", n)
	}
}

func noSource(p PluginSpec) PluginSpec {
	p.ConfigSource = ConfigSource{}
	return p
}

func TestCheckPluginConfig(t *testing.T) {
	schema := sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "enabled", Type: sdk.TypeBool, Default: false, Description: "on"},
		{Name: "allow", Type: sdk.TypeStringList, Description: "commands"},
		{Name: "timeout", Type: sdk.TypeNumber, Default: 30.0, Description: "seconds"},
		{Name: "token", Type: sdk.TypeString, Required: true, Description: "secret"},
	}}
	cases := []struct {
		name     string
		config   string
		want     map[string]any
		problems []string // "line:summary"
	}{
		{"defaults filled", `token = "t"`, map[string]any{"enabled": false, "timeout": 30.0, "token": "t"}, nil},
		{"all set", "token = \"t\"\n enabled = true\n allow = [\"echo\"]\n timeout = 5", map[string]any{"enabled": true, "allow": []string{"echo"}, "timeout": 5.0, "token": "t"}, nil},
		{"problems", "enabled = \"yes\"\n colour = 1", map[string]any{"timeout": 30.0},
			[]string{"6:Unsupported plugin setting", "4:Incorrect plugin setting type", "3:Missing plugin setting"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "agent {}\nplugin \"exec\" {\n config {\n " + c.config + "\n }\n}\n"
			src = strings.Replace(src, "\n colour", "\n\n colour", 1)
			a, diags := ParseAgent([]byte(src), "agent.hcl")
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			got, diags := a.Plugins[0].CheckConfig(schema)
			var problems []string
			for _, d := range diags {
				problems = append(problems, fmt.Sprintf("%d:%s", d.Subject.Start.Line, d.Summary))
			}
			if !equal(problems, c.problems) {
				t.Fatalf("problems %q, want %q", problems, c.problems)
			}
			if !equal(got, c.want) {
				t.Fatalf("values %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestAllows(t *testing.T) {
	a := &AgentConfig{AllowedRoots: []string{"reports", "checkpoints", "/var/lib/planetary"}}
	cases := []struct {
		path string
		want bool
	}{
		{"reports", true},
		{"reports/governance-archive", true},
		{"./checkpoints/a.snap", true},
		{"/var/lib/planetary/x/y.snap", true},
		{"checkpoints/../reports/x", true},
		{"checkpoints/../../etc/passwd", false},
		{"../reports", false},
		{"reportsx/a", false},
		{"/etc/passwd", false},
		{"other/a.snap", false},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			if got := a.Allows(c.path); got != c.want {
				t.Fatalf("Allows(%q) = %v, want %v", c.path, got, c.want)
			}
		})
	}
}

func TestParseJobUnits(t *testing.T) {
	jobs, diags := ParseJobs([]byte(`job "s1" {
  shard = "earth"
  units = { token = 800, gpu_second = 12.5 }
}
job "s2" {
  shard = "earth"
}`), "units.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	want := []state.Quantity{{Unit: "gpu_second", Micro: 12_500_000}, {Unit: "token", Micro: 800_000_000}}
	if !reflect.DeepEqual(jobs[0].Units, want) || jobs[1].Units != nil {
		t.Fatalf("units: %+v, %+v", jobs[0].Units, jobs[1].Units)
	}
	if got := jobs[0].Command("tok").Units; !reflect.DeepEqual(got, want) {
		t.Fatalf("command units: %+v", got)
	}
}
