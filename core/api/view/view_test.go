package view_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

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
