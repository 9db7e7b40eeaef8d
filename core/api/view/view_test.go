package view_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/api/view"
	"github.com/planetary/planetary/core/report"
	"github.com/planetary/planetary/raftfsm/state"
)

// fullNode is a node record with every field set.
func fullNode() state.Node {
	return state.Node{
		ID: "earth.n1", Shard: "earth", Client: "c1", PluginKind: "sim",
		Capabilities: []string{"gpu", "sim"}, Capacity: 8, MaxConcurrency: 4, Quota: 100,
		LatencyMs: 30, HeartbeatSec: 5, Endpoint: "unix:///run/n1.sock",
		Deployment: state.Deployment{Orchestration: "podman", Image: "busybox:1", Runtime: "runc",
			Entrypoint: "/bin/run-job", Version: "1.2.3", Zones: []string{"earth-a"},
			Resources: state.Resources{CPUCores: 2.5, MemoryGB: 16, GPUClass: "a100", GPUs: 2, StorageGB: 100}},
		Price: state.PriceSchedule{Currency: "credits", Unit: "job", BaseMu: 123_456_789_123_456, Expr: "1",
			Rates: []state.PriceRate{{Unit: "token", PerUnitMu: 1}}},
		Attestations: state.Attestations{Certifications: []string{"SOC2"}, Jurisdiction: "EU",
			DataResidency: []string{"eu"}, Tags: []string{"green"}},
		Labels: []string{"blue"},
		Status: state.NodeUp, StatusReason: "heartbeat", RegisteredAt: 1, LastStatusAt: 2, MeasuredLatencyMs: 31,
		PluginState: "up", PluginCrashes: 3, PluginReason: "ok",
		PriceSource:   state.PricePlugin,
		DeclaredPrice: state.PriceSchedule{Currency: "credits", Unit: "job", BaseMu: 7},
	}
}

// TestNodeRoundTrip checks that every field a node's request body carries
// survives record -> view -> record, and that the view shares no memory
// with the record.
func TestNodeRoundTrip(t *testing.T) {
	n := fullNode()
	v := view.Node(&n)
	back := view.NodeRecord(v)
	// The FSM decides status, times, plugin state and the price's source.
	want := n
	want.Status, want.StatusReason, want.RegisteredAt, want.LastStatusAt, want.MeasuredLatencyMs = 0, "", 0, 0, 0
	want.PluginState, want.PluginCrashes, want.PluginReason = "", 0, ""
	want.PriceSource, want.DeclaredPrice = "", state.PriceSchedule{}
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, want)
	}
	if v.Deployment.Entrypoint != "/bin/run-job" || v.Price.BaseMicro != 123_456_789_123_456 ||
		v.Price.Base != 123456789.123456 || v.Price.Rates[0].PerUnitMicro != 1 || v.DeclaredPrice.BaseMicro != 7 ||
		v.PluginState != "up" || v.Status != "up" || v.Client != "c1" || v.Plugin != "sim" {
		t.Fatalf("view lost a field: %+v", v)
	}
	v.Capabilities[0], v.Deployment.Zones[0], v.Attestations.Tags[0], v.Labels[0] = "x", "x", "x", "x"
	if n.Capabilities[0] != "gpu" || n.Deployment.Zones[0] != "earth-a" || n.Attestations.Tags[0] != "green" || n.Labels[0] != "blue" {
		t.Fatalf("the view shares memory with the record: %+v", n)
	}
}

// TestReportNodeIsTheAPIView checks that a bundle's node is the API's view:
// its JSON has the API's fields (entrypoint, base_micro, plugin ...) and
// earned_mu.
func TestReportNodeIsTheAPIView(t *testing.T) {
	n := fullNode()
	rv := report.NodeView{Node: view.Node(&n), EarnedMu: 5}
	b, err := json.Marshal(rv)
	if err != nil {
		t.Fatal(err)
	}
	api, err := json.Marshal(view.Node(&n))
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	_ = json.Unmarshal(b, &got)
	_ = json.Unmarshal(api, &want)
	if got["earned_mu"] != float64(5) {
		t.Fatalf("earned_mu: %s", b)
	}
	delete(got, "earned_mu")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("bundle node %s\n    API node %s", b, api)
	}
	for _, f := range []string{`"entrypoint":"/bin/run-job"`, `"base_micro":123456789123456`, `"plugin":"sim"`} {
		if !strings.Contains(string(b), f) {
			t.Errorf("bundle node lacks %s: %s", f, b)
		}
	}
}

// TestRegionLedgerFreshness: a stored checkpoint's line is as old as the
// entry that stored it at the read, the local line is 0 old and 0 behind,
// a line without a stamp or a read without a time has no age, and WithLag
// measures a line against its region's own.
func TestRegionLedgerFreshness(t *testing.T) {
	own := state.RegionCheckpoint{Region: "earth", RaftIndex: 90, EventCount: 300, Shards: []string{"earth"}}
	mars := state.RegionCheckpoint{Region: "mars", RaftIndex: 40, EventCount: 120, StoredAtNs: 5_000, Shards: []string{"mars", "mars.north-1"}}
	luna := state.RegionCheckpoint{Region: "luna", RaftIndex: 12, EventCount: 30} // stored before the stamp was kept
	g, err := state.GlobalLedger(own, []state.RegionCheckpoint{mars, luna})
	if err != nil {
		t.Fatal(err)
	}
	lines, _ := view.GlobalLedger(g, 7_500)
	byName := map[string]int{}
	for i, l := range lines {
		byName[l.Region] = i
	}
	e, m, l := lines[byName["earth"]], lines[byName["mars"]], lines[byName["luna"]]
	if !e.Local || e.AgeNs == nil || *e.AgeNs != 0 || *e.IndexLag != 0 || *e.EventLag != 0 || e.Shards[0] != "earth" {
		t.Fatalf("local line %+v", e)
	}
	if m.AgeNs == nil || *m.AgeNs != 2_500 || m.StoredAt != 5_000 || m.IndexLag != nil || len(m.Shards) != 2 {
		t.Fatalf("mars %+v", m)
	}
	if l.AgeNs != nil || l.StoredAt != 0 {
		t.Fatalf("luna has an age without a stamp: %+v", l)
	}
	if noRead, _ := view.GlobalLedger(g, 0); noRead[byName["mars"]].AgeNs != nil {
		t.Fatal("an age without a read time")
	}
	if early, _ := view.GlobalLedger(g, 4_000); *early[byName["mars"]].AgeNs != 0 {
		t.Fatal("a stamp after the read (another clock) gives a negative age")
	}

	// mars's own line, read later at index 55 with 150 events.
	marsNow, _ := state.GlobalLedger(state.RegionCheckpoint{Region: "mars", RaftIndex: 55, EventCount: 150}, nil)
	current, _ := view.GlobalLedger(marsNow, 9_000)
	lagged := client.WithLag(lines, current)
	lm := lagged[byName["mars"]]
	if lm.IndexLag == nil || *lm.IndexLag != 15 || *lm.EventLag != 30 {
		t.Fatalf("mars against its own line: %+v", lm)
	}
	if lagged[byName["luna"]].IndexLag != nil || *lagged[byName["earth"]].IndexLag != 0 || lines[byName["mars"]].IndexLag != nil {
		t.Fatal("WithLag set a lag it cannot know, or changed its input")
	}
}
