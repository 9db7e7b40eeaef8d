package runner

import (
	"encoding/json"
	"strings"
	"testing"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/report"
	"github.com/planetary/planetary/raftfsm/state"
)

// trialResult builds a finished trial with the given headline figures over
// two shards.
func trialResult(submitted, completed, failed, parked, spills, reassigned int64) *Result {
	r := &Result{StopReason: StopDone}
	r.Summary.Metrics = report.Metrics{Submitted: submitted, Completed: completed, Failed: failed, Parked: parked,
		Outstanding: parked, Spillovers: spills, Reassigned: reassigned}
	half := submitted / 2
	r.Input.Shards = []report.ShardView{
		{Name: "earth", Counts: map[string]int64{"completed": half, "cancelled": 0}},
		{Name: "mars", Counts: map[string]int64{"completed": completed - half, "failed": failed, "parked": parked}},
	}
	r.Input.Ledger.Invariants = []report.Invariant{{ID: "jobs-conserved", OK: true}}
	r.Verify = report.VerifyResult{ChainOK: true, Events: 10}
	return r
}

func find(as []Assertion, id string) Assertion {
	for _, a := range as {
		if a.ID == id {
			return a
		}
	}
	return Assertion{}
}

func TestTrialAssertions(t *testing.T) {
	tests := []struct {
		name     string
		res      *Result
		wantFail []string
		wantLine string
	}{
		{"all pass", trialResult(1000, 995, 5, 0, 3, 2), nil, ""},
		{"parked gpu work fails completion and the shard", trialResult(1000, 912, 0, 88, 3, 2),
			[]string{"completion", "shard-completion"}, "FAIL completion: 91.2% < 98%"},
		{"failures above 1%", trialResult(1000, 980, 20, 0, 3, 2), []string{"failures", "shard-completion"}, "FAIL failures: 2% > 1%"},
		{"no spillover, no reassignment", trialResult(1000, 1000, 0, 0, 0, 0),
			[]string{"spillovers", "reassignments"}, "FAIL spillovers: 0 <= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := TrialAssertions(tt.res, DefaultThresholds())
			var failed []string
			for _, a := range as {
				if !a.OK {
					failed = append(failed, a.ID)
				}
			}
			if strings.Join(failed, ",") != strings.Join(tt.wantFail, ",") {
				t.Fatalf("failed = %v, want %v", failed, tt.wantFail)
			}
			if tt.wantLine != "" {
				if got := find(as, tt.wantFail[0]).Line(); !strings.HasPrefix(got, tt.wantLine) {
					t.Errorf("line = %q, want prefix %q", got, tt.wantLine)
				}
			}
		})
	}
}

func TestTrialAssertionsVerifyAndInvariants(t *testing.T) {
	r := trialResult(100, 100, 0, 0, 1, 1)
	r.Input.Ledger.Invariants = append(r.Input.Ledger.Invariants, report.Invariant{ID: "payments", Message: "off by 3"})
	r.VerifyErr = "chain broken at seq 7"
	as := TrialAssertions(r, DefaultThresholds())
	if a := find(as, "invariants"); a.OK || !strings.Contains(a.Detail, "payments: off by 3") {
		t.Errorf("invariants = %+v", a)
	}
	if a := find(as, "chain-verified"); a.OK || a.Detail != "chain broken at seq 7" {
		t.Errorf("chain-verified = %+v", a)
	}
}

const sec = int64(1e9)

func ev(typ string, node string, at int64) state.Event {
	return state.Event{Type: typ, Node: node, Time: at}
}

func TestShardBalance(t *testing.T) {
	tests := []struct {
		name     string
		nodes    []report.NodeView
		events   []state.Event
		wantSkew []float64
		wantOK   bool
	}{
		{
			name: "equal utilisation per slot-second",
			nodes: []report.NodeView{
				{Node: api.Node{ID: "h1", Shard: "helios", Status: "up", Capabilities: []string{"gpu"}, Capacity: 20, Completed: 400}},
				{Node: api.Node{ID: "h2", Shard: "helios", Status: "up", Capabilities: []string{"gpu"}, Capacity: 10, Completed: 100}},
				{Node: api.Node{ID: "e1", Shard: "earth", Status: "up", Capabilities: []string{"finance"}, Capacity: 10, Completed: 5}},
			},
			// h2 joins halfway: 100/(10*5s) == 400/(20*10s).
			events:   []state.Event{ev(state.EvNodeUp, "h1", 0), ev(state.EvNodeUp, "e1", 0), ev(state.EvNodeUp, "h2", 5*sec)},
			wantSkew: []float64{1},
			wantOK:   true,
		},
		{
			name: "a peer that completed nothing is unbounded skew",
			nodes: []report.NodeView{
				{Node: api.Node{ID: "a", Shard: "s", Status: "up", Capabilities: []string{"x"}, Capacity: 4, Completed: 40}},
				{Node: api.Node{ID: "b", Shard: "s", Status: "up", Capabilities: []string{"x"}, Capacity: 4}},
			},
			events:   []state.Event{ev(state.EvNodeUp, "a", 0), ev(state.EvNodeUp, "b", 0)},
			wantSkew: []float64{-1},
		},
		{
			name: "a node that joined as its shard's work ran out is not compared",
			nodes: []report.NodeView{
				{Node: api.Node{ID: "a", Shard: "s", Status: "up", Capabilities: []string{"x"}, Capacity: 4, Completed: 40}},
				{Node: api.Node{ID: "b", Shard: "s", Status: "up", Capabilities: []string{"x"}, Capacity: 4, Completed: 20}},
				{Node: api.Node{ID: "late", Shard: "s", Status: "up", Capabilities: []string{"x"}, Capacity: 4}},
			},
			events:   []state.Event{ev(state.EvNodeUp, "a", 0), ev(state.EvNodeUp, "b", 0), ev(state.EvNodeUp, "late", 9500*sec/1000)},
			wantSkew: []float64{2},
			wantOK:   true,
		},
		{
			name: "down time is not counted and a down node is not compared",
			nodes: []report.NodeView{
				{Node: api.Node{ID: "a", Shard: "s", Status: "up", Capabilities: []string{"x"}, Capacity: 4, Completed: 40}},
				{Node: api.Node{ID: "b", Shard: "s", Status: "up", Capabilities: []string{"x"}, Capacity: 4, Completed: 20}},
				{Node: api.Node{ID: "c", Shard: "s", Status: "down", Capabilities: []string{"x"}, Capacity: 4}},
			},
			events: []state.Event{ev(state.EvNodeUp, "a", 0), ev(state.EvNodeUp, "b", 0), ev(state.EvNodeDown, "b", 5*sec),
				ev(state.EvNodeUp, "c", 0), ev(state.EvNodeDown, "c", sec)},
			wantSkew: []float64{1},
			wantOK:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := append([]state.Event{{Type: state.EvJobSubmitted, Time: 1}}, tt.events...)
			shards := map[string]bool{}
			for _, n := range tt.nodes {
				if !shards[n.Shard] {
					shards[n.Shard] = true
					evs = append(evs, state.Event{Type: state.EvJobCompleted, Shard: n.Shard, Time: 10 * sec})
				}
			}
			groups := ShardBalance(report.Input{Nodes: tt.nodes, Events: evs})
			var skews []float64
			for _, g := range groups {
				skews = append(skews, g.Skew)
			}
			if len(skews) != len(tt.wantSkew) {
				t.Fatalf("groups = %+v, want skews %v", groups, tt.wantSkew)
			}
			for i := range skews {
				if d := skews[i] - tt.wantSkew[i]; d > 0.01 || d < -0.01 {
					t.Errorf("skew %d = %v, want %v (%+v)", i, skews[i], tt.wantSkew[i], groups[i])
				}
			}
			a := balanceAssertion(groups, 3)
			if a.OK != tt.wantOK {
				t.Errorf("assertion = %+v, want ok %v", a, tt.wantOK)
			}
			if _, err := json.Marshal(groups); err != nil {
				t.Errorf("groups do not encode: %v", err)
			}
		})
	}
}

func TestAssertionJSONAndLine(t *testing.T) {
	a := Assertion{Check: Check{ID: "restart/finished", OK: false, Measured: "deadline", Threshold: "done"}}
	if got, want := a.Line(), "FAIL restart/finished: deadline (want done)"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "ok", "measured", "threshold"} {
		if _, ok := m[k]; !ok {
			t.Errorf("json %s lacks %q", b, k)
		}
	}
}
