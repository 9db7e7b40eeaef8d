package api_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/catalog"
)

// TestJobsTextSearch: q= keeps the jobs whose id contains it, with the
// other filters and paging.
func TestJobsTextSearch(t *testing.T) {
	a := newAgent(t, nil)
	applyMission(t, a, testMission)
	ctx := context.Background()
	var jobs []api.JobSubmit
	for i := range 6 {
		jobs = append(jobs, api.JobSubmit{ID: fmt.Sprintf("render-%d", i), Shard: "earth", Capabilities: []string{"sim"}})
		jobs = append(jobs, api.JobSubmit{ID: fmt.Sprintf("train-%d", i), Shard: "mars", Capabilities: []string{"sim"}})
	}
	if _, err := a.mgmt.SubmitJobs(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		q    client.JobQuery
		want []string
	}{
		{"substring", client.JobQuery{Q: "der-"}, []string{"render-0", "render-1", "render-2", "render-3", "render-4", "render-5"}},
		{"with shard", client.JobQuery{Q: "-3", Shard: "mars"}, []string{"train-3"}},
		{"no match", client.JobQuery{Q: "nothing"}, nil},
		{"case matters", client.JobQuery{Q: "RENDER"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := a.mgmt.Jobs(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, j := range l.Jobs {
				got = append(got, j.ID)
			}
			if !slices.Equal(got, tc.want) || l.Next != 0 {
				t.Fatalf("got %v next %d, want %v", got, l.Next, tc.want)
			}
		})
	}
	// Pages of two: the cursor goes on within the search.
	var got []string
	for after := uint64(0); ; {
		l, err := a.mgmt.Jobs(ctx, client.JobQuery{Q: "train", Limit: 2, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range l.Jobs {
			got = append(got, j.ID)
		}
		if l.Next == 0 {
			break
		}
		after = l.Next
	}
	if len(got) != 6 || got[0] != "train-0" || got[5] != "train-5" {
		t.Fatalf("paged search: %v", got)
	}
}

// TestJobEvents: job= keeps one job's events in order; a page of the log
// with none of them still moves the cursor; a waiting query answers with
// the job's next event and not with another job's.
func TestJobEvents(t *testing.T) {
	a := newAgent(t, nil)
	applyMission(t, a, testMission)
	ctx := context.Background()
	if _, err := a.mgmt.SubmitJobs(ctx, []api.JobSubmit{{ID: "a", Shard: "earth", Capabilities: []string{"quantum"}},
		{ID: "b", Shard: "earth", Capabilities: []string{"sim"}}}); err != nil {
		t.Fatal(err)
	}
	// "a" parks (no node has quantum): submitted, then parked.
	var evs api.Events
	eventually(t, 10*time.Second, "job a parked", func() bool {
		var err error
		evs, err = a.mgmt.JobEvents(ctx, "a", 0, 0)
		return err == nil && len(evs.Events) >= 2
	})
	var types []string
	for _, e := range evs.Events {
		if e.Job != "a" {
			t.Fatalf("event of another job: %+v", e)
		}
		types = append(types, e.Type)
	}
	if types[0] != "job.submitted" || types[1] != "job.parked" || evs.Index != evs.Head {
		t.Fatalf("events %v index %d head %d", types, evs.Index, evs.Head)
	}
	// Only the events of other jobs and nodes after index: an empty page
	// whose index moves on.
	if _, err := a.mgmt.SubmitJobs(ctx, []api.JobSubmit{{ID: "c", Shard: "earth", Capabilities: []string{"sim"}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "job c's events", func() bool {
		e, err := a.mgmt.JobEvents(ctx, "c", evs.Index, 0)
		return err == nil && len(e.Events) > 0
	})
	page, err := a.mgmt.JobEvents(ctx, "a", evs.Index, 0)
	if err != nil || len(page.Events) != 0 || page.Index <= evs.Index {
		t.Fatalf("page without a's events: %+v, %v", page, err)
	}
	// Cancelling a is its next event; the waiting query gets only that.
	got := make(chan api.Events, 1)
	go func() {
		e, _ := a.mgmt.JobEvents(ctx, "a", page.Index, time.Minute)
		got <- e
	}()
	if _, err := a.mgmt.CancelJob(ctx, "a", "console test"); err != nil {
		t.Fatal(err)
	}
	w := <-got
	if len(w.Events) != 1 || w.Events[0].Type != "job.cancelled" || w.Events[0].Reason != "console test" {
		t.Fatalf("waiting query answered %+v", w.Events)
	}
}

// TestMetricsPluginState: each node with a published plugin state has a
// planetary_plugin_state gauge per state label (1 for its state) and a
// crash count, and the page parses as Prometheus text.
func TestMetricsPluginState(t *testing.T) {
	if !slices.Equal(api.PluginStates, []string{catalog.StateStarting, catalog.StateUp, catalog.StateRefused,
		catalog.StateCrashed, catalog.StateBackingOff}) {
		t.Fatalf("PluginStates %v do not match the catalog's states", api.PluginStates)
	}
	a := newAgent(t, nil)
	ctx := context.Background()
	if _, err := a.mgmt.RegisterShard(ctx, api.Shard{Name: "earth"}); err != nil {
		t.Fatal(err)
	}
	var nodes []api.Node
	for _, id := range []string{"n-up", "n-refused", "n-crashed", "n-silent"} {
		nodes = append(nodes, api.Node{ID: id, Shard: "earth", Plugin: "sim", Capacity: 1, Capabilities: []string{"sim"},
			Price: api.Price{Unit: "job", Base: 0.5}})
	}
	if _, err := a.mgmt.ClientRegister(ctx, api.ClientRegister{Client: "c1", Nodes: nodes, Kinds: []string{"sim"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.mgmt.ClientNodeState(ctx, api.ClientNodeState{Client: "c1", Nodes: []api.NodeState{
		{ID: "n-up", Plugin: &api.PluginState{State: "up"}},
		{ID: "n-refused", Plugin: &api.PluginState{State: "refused", Reason: "sha256 mismatch"}},
		{ID: "n-crashed", Plugin: &api.PluginState{State: "crashed", Crashes: 3, Reason: "exit status 2"}},
	}}); err != nil {
		t.Fatal(err)
	}
	text, err := a.mgmt.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("metrics are not Prometheus text format: %v", err)
	}
	for _, name := range []string{"planetary_plugin_state", "planetary_plugin_crashes", "planetary_queue_depth"} {
		if fams[name] == nil || fams[name].GetType().String() != "GAUGE" {
			t.Fatalf("no gauge family %s", name)
		}
	}
	state := map[string]map[string]float64{}
	for _, m := range fams["planetary_plugin_state"].GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		if l["plugin"] != "sim" {
			t.Errorf("plugin label %q", l["plugin"])
		}
		if state[l["node"]] == nil {
			state[l["node"]] = map[string]float64{}
		}
		state[l["node"]][l["state"]] = m.GetGauge().GetValue()
	}
	for node, want := range map[string]string{"n-up": "up", "n-refused": "refused", "n-crashed": "crashed"} {
		if len(state[node]) != len(api.PluginStates) {
			t.Errorf("%s has gauges %v, want one per state", node, state[node])
		}
		for _, st := range api.PluginStates {
			v := 0.0
			if st == want {
				v = 1
			}
			if got, ok := state[node][st]; !ok || got != v {
				t.Errorf("%s state=%s: %v (present %v), want %v", node, st, got, ok, v)
			}
		}
	}
	if _, ok := state["n-silent"]; ok {
		t.Errorf("a node with no published plugin state has gauges: %v", state["n-silent"])
	}
	crashes := map[string]float64{}
	for _, m := range fams["planetary_plugin_crashes"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "node" {
				crashes[lp.GetValue()] = m.GetGauge().GetValue()
			}
		}
	}
	if crashes["n-crashed"] != 3 || crashes["n-up"] != 0 || len(crashes) != 3 {
		t.Errorf("crash gauges %v", crashes)
	}
	depth := map[string]bool{}
	for _, m := range fams["planetary_queue_depth"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "shard" {
				depth[lp.GetValue()] = true
			}
		}
	}
	if !depth["earth"] {
		t.Errorf("no queue depth for earth")
	}
}

// TestJobEventsStart: a timeline read from index 0 starts where the job
// was submitted (at the start of its submit batch), so a first page of 100
// events already holds its submit event, past hundreds of other events; the events it returns are the
// same as a scan of the whole log.
func TestJobEventsStart(t *testing.T) {
	a := newAgent(t, nil)
	applyMission(t, a, testMission)
	ctx := context.Background()
	for b := range 4 {
		var jobs []api.JobSubmit
		for i := range 100 {
			id := fmt.Sprintf("filler-%d-%d", b, i)
			if b == 2 && i == 50 {
				id = "x"
			}
			jobs = append(jobs, api.JobSubmit{ID: id, Shard: "earth", Capabilities: []string{"quantum"}})
		}
		if _, err := a.mgmt.SubmitJobs(ctx, jobs); err != nil {
			t.Fatal(err)
		}
	}
	var first api.Events
	if _, err := a.mgmt.Query(ctx, "/v1/events", url.Values{"job": {"x"}, "index": {"0"}, "limit": {"100"}}, 0, 0, &first); err != nil {
		t.Fatal(err)
	}
	if len(first.Events) == 0 || first.Events[0].Type != "job.submitted" || first.Events[0].Job != "x" {
		t.Fatalf("first page of 100: %+v (index %d head %d)", first.Events, first.Index, first.Head)
	}
	// The whole log, job by job, from a cursor past 0 (no start search).
	var all []string
	for idx := uint64(1); ; {
		var page api.Events
		if _, err := a.mgmt.Query(ctx, "/v1/events", url.Values{"job": {"x"}, "index": {fmt.Sprint(idx)}}, 0, 0, &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			all = append(all, e.Type)
		}
		if page.Index >= page.Head || page.Index == idx {
			break
		}
		idx = page.Index
	}
	got, err := a.mgmt.JobEvents(ctx, "x", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range got.Events {
		types = append(types, e.Type)
	}
	if !slices.Equal(types, all) || len(types) == 0 {
		t.Fatalf("from the start search %v, from a full scan %v", types, all)
	}
	// An unknown job scans from the start and finds nothing.
	none, err := a.mgmt.JobEvents(ctx, "nope", 0, 0)
	if err != nil || len(none.Events) != 0 {
		t.Fatalf("unknown job: %+v, %v", none.Events, err)
	}
}
