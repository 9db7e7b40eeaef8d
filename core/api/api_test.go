package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/api/client"
)

// testMission is a small mission; applyMission places its checkpoint and report
// paths under the agent's allowed root.
const testMission = `
mission "test" {
  seed = 7
}

checkpoint {
  interval = "1h"
  path     = "ROOT/checkpoints/fabric.snap"
}

reporting {
  directory = "ROOT/reports"
  label     = "test"
}

shard "earth" {
  latency_budget_ms = 120
  max_queue         = 100
  spillover_targets = ["mars"]
}

shard "mars" {
  latency_budget_ms = 400
}

node "earth.n1" {
  shard        = "earth"
  plugin       = "sim"
  capabilities = ["sim"]
  capacity     = 4
  price {
    base = 0.5
  }
}
`

func apiStatus(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return http.StatusOK
	}
	var ae *api.Error
	if !errors.As(err, &ae) {
		t.Fatalf("not an api error: %v", err)
	}
	return ae.Status
}

func applyMission(t testing.TB, a *agent, src string) api.MissionApplied {
	t.Helper()
	src = strings.ReplaceAll(src, "ROOT", a.root)
	out, err := a.mgmt.ApplyMission(context.Background(), "test.hcl", []byte(src), "test")
	if err != nil {
		t.Fatalf("ApplyMission: %v", err)
	}
	return out
}

func TestMissionApply(t *testing.T) {
	a := newAgent(t, nil)
	ctx := context.Background()
	first := applyMission(t, a, testMission)
	if !first.Changed || first.Digest == "" {
		t.Fatalf("first apply: %+v", first)
	}
	for _, want := range []string{"+ shard earth", "+ shard mars", "+ node earth.n1"} {
		if !contains(first.Diff, want) {
			t.Errorf("diff %q lacks %q", first.Diff, want)
		}
	}
	last := a.srv.LastIndex()
	again := applyMission(t, a, "# same mission, other whitespace\n"+testMission)
	if again.Changed || again.Digest != first.Digest || a.srv.LastIndex() != last {
		t.Fatalf("re-apply changed something: %+v", again)
	}
	changed := applyMission(t, a, strings.Replace(testMission, "max_queue         = 100", "max_queue = 200", 1))
	if !changed.Changed || !contains(changed.Diff, "~ shard earth: max_queue 100 -> 200") {
		t.Fatalf("changed apply: %+v", changed)
	}
	m, err := a.mgmt.Mission(ctx)
	if err != nil || m.Name != "test" || m.Digest != changed.Digest || m.Seed != 7 {
		t.Fatalf("Mission: %+v %v", m, err)
	}

	// A broken mission answers 400 with diagnostics naming file and line.
	_, err = a.mgmt.ApplyMission(ctx, "bad.hcl", []byte("shard \"x\" {\n  max_queue = \"lots\"\n}\n"), "")
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || len(ae.Diagnostics) == 0 {
		t.Fatalf("bad mission: %v", err)
	}
	d := ae.Diagnostics[0]
	if d.File != "bad.hcl" || d.Line == 0 || d.Summary == "" {
		t.Fatalf("diagnostic %+v", d)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSubmitAndList(t *testing.T) {
	a := newAgent(t, nil)
	applyMission(t, a, testMission)
	ctx := context.Background()
	sub := a.tokenClient(t, api.TokenTypeSubmit)

	var jobs []api.JobSubmit
	for i := range 25 {
		jobs = append(jobs, api.JobSubmit{ID: fmt.Sprintf("j-%02d", i), Key: fmt.Sprintf("k-%02d", i), Shard: "earth",
			Value: 1.25, Kind: "sim", Payload: []byte(`{"duration_ms":0}`)})
	}
	// A batch naming an unknown shard is refused whole, before raft.
	last := a.srv.LastIndex()
	if _, err := sub.SubmitJobs(ctx, append(jobs, api.JobSubmit{ID: "bad", Shard: "nowhere"})); err == nil ||
		!strings.Contains(err.Error(), "jobs[25].shard") {
		t.Fatalf("batch with an unknown shard: %v", err)
	}
	if a.srv.LastIndex() != last {
		t.Fatalf("a refused batch moved the raft index")
	}
	res, err := sub.SubmitJobs(ctx, jobs)
	if err != nil {
		t.Fatalf("SubmitJobs: %v", err)
	}
	for i, r := range res[:25] {
		if r.Status != api.StatusAccepted || r.ID != jobs[i].ID {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	// Same key again: duplicate, answering with the first job's id.
	dup, err := sub.SubmitJobs(ctx, []api.JobSubmit{{Key: "k-03", Shard: "earth"}})
	if err != nil || dup[0].Status != api.StatusDuplicate || dup[0].ID != "j-03" {
		t.Fatalf("duplicate: %+v %v", dup, err)
	}

	// Pagination by seq.
	var seen []string
	q := client.JobQuery{Limit: 10, Shard: "earth"}
	for {
		page, err := a.mgmt.Jobs(ctx, q)
		if err != nil {
			t.Fatalf("Jobs: %v", err)
		}
		for _, j := range page.Jobs {
			seen = append(seen, j.ID)
		}
		if page.Next == 0 {
			break
		}
		q.After = page.Next
	}
	if len(seen) != 25 || seen[0] != "j-00" || seen[24] != "j-24" {
		t.Fatalf("paged %d jobs: %v", len(seen), seen)
	}
	j, err := a.mgmt.Job(ctx, "j-07")
	if err != nil || j.Value != 1.25 || j.Shard != "earth" || string(j.Payload) != `{"duration_ms":0}` {
		t.Fatalf("Job: %+v %v", j, err)
	}
	if st := apiStatus(t, func() error { _, err := a.mgmt.Job(ctx, "nope"); return err }()); st != http.StatusNotFound {
		t.Fatalf("missing job: %d", st)
	}

	// Owner commands on jobs.
	if _, err := a.mgmt.CancelJob(ctx, "j-00", "test"); err != nil {
		t.Fatalf("CancelJob: %v", err)
	}
	if _, err := a.mgmt.RerouteJob(ctx, "j-01", "mars", "test"); err != nil {
		t.Fatalf("RerouteJob: %v", err)
	}
	if _, err := a.mgmt.CancelLocator(ctx, api.Locator{Shard: "earth", Tail: 2}); err != nil {
		t.Fatalf("CancelLocator: %v", err)
	}
	if _, err := a.mgmt.RerouteLocator(ctx, api.Locator{Shard: "earth", Tail: 3, Target: "mars"}); err != nil {
		t.Fatalf("RerouteLocator: %v", err)
	}
	l, err := a.mgmt.Ledger(ctx)
	if err != nil {
		t.Fatalf("Ledger: %v", err)
	}
	// Without a client the node is down and the jobs are parked, so the
	// locators (which take the queue tail) may select nothing.
	if l.Global["cancelled"].Jobs < 1 || len(l.Flows) != 1 || l.Flows[0].Jobs < 1 {
		t.Fatalf("ledger after owner commands: %+v", l)
	}
	for _, inv := range l.Invariants {
		if !inv.OK {
			t.Errorf("invariant %s: %s", inv.ID, inv.Message)
		}
	}
	if l.Chain.Seq == 0 || l.AppliedIndex == 0 {
		t.Fatalf("ledger chain/index empty: %+v", l)
	}
}

func TestBadRequests(t *testing.T) {
	a := newAgent(t, func(c *api.Config) { c.MaxBodyBytes = 1 << 10 })
	applyMission(t, a, testMission)
	tok := a.token.SecretID
	tests := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"missing shard", "POST", "/v1/jobs", `[{"shard":"earth"},{"id":"x"}]`, 400, "jobs[1].shard"},
		{"negative value", "POST", "/v1/jobs", `[{"shard":"earth","value":-1}]`, 400, "jobs[0].value"},
		{"unknown field", "POST", "/v1/jobs", `[{"shard":"earth","colour":"red"}]`, 400, "jobs[0].colour"},
		{"wrong type", "POST", "/v1/jobs", `[{"shard":"earth"},{"shard":"earth"},{"shard":"earth"},{"shard":"earth","priority":"high"}]`, 400, "jobs[3].priority"},
		{"malformed", "POST", "/v1/jobs", `[{"shard":`, 400, "jobs[0]"},
		{"not an array", "POST", "/v1/jobs", `{"shard":"earth"}`, 400, "jobs"},
		{"trailing batch", "POST", "/v1/jobs", `[{"shard":"earth"}][{"shard":"earth"}]`, 400, ""},
		{"trailing garbage", "POST", "/v1/jobs", `[{"shard":"earth"}] x`, 400, ""},
		{"trailing object", "POST", "/v1/shards", `{"name":"venus"}{"name":"pluto"}`, 400, ""},
		{"unknown shard in batch", "POST", "/v1/jobs", `[{"shard":"earth"},{"shard":"earth"},{"shard":"pluto"}]`, 404, "jobs[2].shard"},
		{"bad job id", "POST", "/v1/jobs", `[{"shard":"earth"},{"id":"../x","shard":"earth"}]`, 400, "jobs[1].id"},
		{"priority out of range", "POST", "/v1/jobs", `[{"shard":"earth","priority":1000000001}]`, 400, "jobs[0].priority"},
		{"value overflow", "POST", "/v1/jobs", `[{"shard":"earth","value":1e13}]`, 400, "jobs[0].value"},
		{"max_price overflow", "POST", "/v1/jobs", `[{"shard":"earth","max_price":9.3e12}]`, 400, "jobs[0].max_price"},
		{"unknown spillover target", "POST", "/v1/shard/earth/update", `{"spillover_targets":["mars","pluto"]}`, 404, "spillover_targets[1]"},
		{"unknown policy target", "POST", "/v1/shard/earth/update", `{"policies":[{"target":"pluto"}]}`, 404, "policies[0].target"},
		{"negative latency", "POST", "/v1/node/earth.n1/update", `{"latency_ms":-5}`, 400, "latency_ms"},
		{"latency overflow", "POST", "/v1/node/earth.n1/update", `{"latency_ms":9223372036854775807}`, 400, "latency_ms"},
		{"interval overflow", "POST", "/v1/operator/checkpoint", `{"interval_ms":9223372036854775807}`, 400, "interval_ms"},
		{"reporting label with a slash", "POST", "/v1/operator/reporting", `{"label":"../../etc"}`, 400, "label"},
		{"reporting label dot-dot", "POST", "/v1/operator/reporting", `{"label":".."}`, 400, "label"},
		{"too large", "POST", "/v1/jobs", `[{"shard":"earth","kind":"` + strings.Repeat("x", 2000) + `"}]`, 413, ""},
		{"unknown token type", "POST", "/v1/acl/tokens", `{"name":"n","type":"root"}`, 400, "type"},
		{"unknown shard", "POST", "/v1/shard/pluto/update", `{"max_queue":1}`, 404, ""},
		{"spill to itself", "POST", "/v1/shard/earth/deregister", `{"spill_to":"earth"}`, 400, "spill_to"},
		{"unknown node", "POST", "/v1/node/zz/retire", `{}`, 404, ""},
		{"drain: unknown field", "POST", "/v1/node/earth.n1/drain", `{"deadlin":"1s"}`, 400, "deadlin"},
		{"drain: bad duration", "POST", "/v1/node/earth.n1/drain", `{"deadline":"soon"}`, 400, "deadline"},
		{"drain: wrong type", "POST", "/v1/node/earth.n1/drain", `{"force":"yes"}`, 400, "force"},
		{"drain: force and deadline", "POST", "/v1/node/earth.n1/drain", `{"force":true,"deadline":"1s"}`, 400, "deadline"},
		{"drain: not draining", "POST", "/v1/node/earth.n1/drain", `{"disable":true}`, 409, "disable"},
		{"drain: unknown node", "POST", "/v1/node/zz/drain", ``, 404, "node"},
		{"duplicate shard", "POST", "/v1/shards", `{"name":"earth"}`, 409, "name"},
		{"locator without tail", "POST", "/v1/jobs/cancel", `{"shard":"earth"}`, 400, "tail"},
		{"reroute to unknown", "POST", "/v1/jobs/reroute", `{"shard":"earth","tail":1,"target":"pluto"}`, 404, "target"},
		{"bad state filter", "GET", "/v1/jobs?state=sleeping", ``, 400, "state"},
		{"bad wait", "GET", "/v1/events?wait=soon", ``, 400, "wait"},
		{"no route", "GET", "/v1/nothing", ``, 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			last := a.srv.LastIndex()
			status, eb := rawCall(t, a.http.URL, tc.method, tc.path, tok, tc.body)
			if status != tc.status || eb.Field != tc.field || eb.Error == "" {
				t.Fatalf("got %d field %q (%s), want %d field %q", status, eb.Field, eb.Error, tc.status, tc.field)
			}
			if a.srv.LastIndex() != last {
				t.Fatalf("a refused request proposed")
			}
		})
	}
}

func TestFabricRoutes(t *testing.T) {
	a := newAgent(t, nil)
	applyMission(t, a, testMission)
	ctx := context.Background()
	c := a.mgmt
	if _, err := c.RegisterShard(ctx, api.Shard{Name: "luna", LatencyBudgetMs: 200, SpilloverTargets: []string{"earth"}}); err != nil {
		t.Fatalf("RegisterShard: %v", err)
	}
	mq := int64(50)
	if _, err := c.UpdateShard(ctx, "luna", api.ShardUpdate{MaxQueue: &mq}); err != nil {
		t.Fatalf("UpdateShard: %v", err)
	}
	sh, err := c.Shard(ctx, "luna")
	if err != nil || sh.MaxQueue != 50 || sh.LatencyBudgetMs != 200 {
		t.Fatalf("Shard: %+v %v", sh, err)
	}
	if _, err := c.RegisterNode(ctx, api.Node{ID: "luna.n1", Shard: "luna", Plugin: "sim", Capacity: 2,
		Price: api.Price{Base: 0.25, Rates: []api.PriceRate{{Unit: "second", PerUnit: 0.001}}}}); err != nil {
		t.Fatalf("RegisterNode: %v", err)
	}
	capacity := int64(3)
	if _, err := c.UpdateNode(ctx, "luna.n1", api.NodeUpdate{Capacity: &capacity}); err != nil {
		t.Fatalf("UpdateNode: %v", err)
	}
	n, err := c.Node(ctx, "luna.n1")
	if err != nil || n.Capacity != 3 || n.Price.Base != 0.25 || n.Price.Rates[0].PerUnit != 0.001 || n.HeartbeatAgeMs != -1 {
		t.Fatalf("Node: %+v %v", n, err)
	}
	if _, err := c.Command(ctx, "/v1/node/luna.n1/drain", map[string]any{"deadline": "1m", "reason": "swap"}); err != nil {
		t.Fatalf("drain: %v", err)
	}
	n, err = c.Node(ctx, "luna.n1")
	if err != nil || n.Schedulable || len(n.Conditions) != 2 || n.Conditions[1].Type != "draining" ||
		n.Conditions[1].Reason != "swap" || n.Conditions[1].Until-n.Conditions[1].Since != int64(time.Minute) {
		t.Fatalf("node during a drain: %+v %v", n, err)
	}
	if _, err := c.Command(ctx, "/v1/node/luna.n1/drain", map[string]any{"disable": true}); err != nil {
		t.Fatalf("drain -disable: %v", err)
	}
	if n, err = c.Node(ctx, "luna.n1"); err != nil || !n.Schedulable && n.Status == "up" || len(n.Conditions) != 1 {
		t.Fatalf("node after the drain: %+v %v", n, err)
	}
	if _, err := c.RetireNode(ctx, "luna.n1", api.NodeRetire{Reason: "test"}); err != nil {
		t.Fatalf("RetireNode: %v", err)
	}
	if _, err := c.DeregisterShard(ctx, "luna", api.ShardDeregister{SpillTo: "earth"}); err != nil {
		t.Fatalf("DeregisterShard: %v", err)
	}
	shards, err := c.Shards(ctx)
	if err != nil || len(shards) != 2 {
		t.Fatalf("Shards: %+v %v", shards, err)
	}
	nodes, err := c.Nodes(ctx)
	if err != nil || len(nodes) < 1 {
		t.Fatalf("Nodes: %+v %v", nodes, err)
	}
	if _, err := c.Pause(ctx, "earth", "test"); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if sh, _ := c.Shard(ctx, "earth"); !sh.Paused {
		t.Fatalf("earth not paused")
	}
	if _, err := c.Resume(ctx, "earth", "test"); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if _, err := c.Pause(ctx, "", "system"); err != nil {
		t.Fatalf("system Pause: %v", err)
	}
	m, _ := c.Mission(ctx)
	if !m.SystemPaused || m.Pauses < 2 {
		t.Fatalf("mission after pauses: %+v", m)
	}
	peers, err := c.Peers(ctx)
	if err != nil || len(peers) != 1 || !peers[0].Leader {
		t.Fatalf("Peers: %+v %v", peers, err)
	}
	li, err := c.Leader(ctx)
	if err != nil || li.ID != "s1" {
		t.Fatalf("Leader: %+v %v", li, err)
	}
	metrics, err := c.Metrics(ctx)
	if err != nil {
		t.Fatalf("Metrics: %v", err)
	}
	for _, want := range []string{`planetary_jobs{state="queued"}`, `planetary_queue_depth{shard="earth"}`,
		`planetary_nodes{status="up"}`, "planetary_raft_applied_index", "planetary_events_head", "planetary_submit_latency_seconds"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestOperatorPaths(t *testing.T) {
	a := newAgent(t, nil)
	applyMission(t, a, testMission)
	ctx := context.Background()
	c := a.mgmt
	outside := t.TempDir()
	_, err := c.ConfigureReporting(ctx, api.ReportingConfig{Dir: outside})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Path != outside || !strings.Contains(ae.Message, outside) {
		t.Fatalf("reporting outside roots: %v", err)
	}
	if _, err := c.ConfigureReporting(ctx, api.ReportingConfig{Dir: filepath.Join(a.root, "reports"), Label: "x"}); err != nil {
		t.Fatalf("ConfigureReporting: %v", err)
	}
	_, err = c.ConfigureCheckpoint(ctx, api.CheckpointConfig{Path: filepath.Join(outside, "f.snap")})
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Fatalf("checkpoint outside roots: %v", err)
	}
	path := filepath.Join(a.root, "f.snap")
	if _, err := c.ConfigureCheckpoint(ctx, api.CheckpointConfig{Path: path, IntervalMs: 60000}); err != nil {
		t.Fatalf("ConfigureCheckpoint: %v", err)
	}
	snap, err := c.SaveCheckpoint(ctx)
	if err != nil || snap.SHA256 == "" || snap.Index == 0 {
		t.Fatalf("SaveCheckpoint: %+v %v", snap, err)
	}

	// Download a snapshot, change state, restore, and find the old state.
	if _, err := c.SubmitJobs(ctx, []api.JobSubmit{{ID: "keep", Shard: "earth"}}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.SnapshotSave(ctx, &buf); err != nil || buf.Len() == 0 {
		t.Fatalf("SnapshotSave: %v", err)
	}
	if _, err := c.SubmitJobs(ctx, []api.JobSubmit{{ID: "lost", Shard: "earth"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.SnapshotRestore(ctx, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("SnapshotRestore: %v", err)
	}
	if _, err := c.Job(ctx, "keep"); err != nil {
		t.Fatalf("restored state lacks job keep: %v", err)
	}
	if st := apiStatus(t, func() error { _, err := c.Job(ctx, "lost"); return err }()); st != http.StatusNotFound {
		t.Fatalf("restored state still has job lost (%d)", st)
	}
	corrupt := bytes.Clone(buf.Bytes())
	corrupt[len(corrupt)/2] ^= 0xff
	if err := c.SnapshotRestore(ctx, bytes.NewReader(corrupt)); apiStatus(t, err) != http.StatusBadRequest {
		t.Fatalf("corrupt restore: %v", err)
	}
}

func TestEventsWait(t *testing.T) {
	a := newAgent(t, nil)
	applyMission(t, a, testMission)
	ctx := context.Background()
	c := a.mgmt
	first, err := c.Events(ctx, 0, 0, "", 0)
	if err != nil || len(first.Events) == 0 || first.Head == 0 {
		t.Fatalf("Events: %+v %v", first, err)
	}
	done := make(chan api.Events, 1)
	go func() {
		evs, err := c.Events(ctx, first.Head, 10*time.Second, "job.cancelled,job.submitted", 0)
		if err != nil {
			t.Errorf("waiting Events: %v", err)
		}
		done <- evs
	}()
	if _, err := c.SubmitJobs(ctx, []api.JobSubmit{{ID: "w1", Shard: "earth"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case evs := <-done:
		if len(evs.Events) != 1 || evs.Events[0].Job != "w1" || evs.Events[0].Type != "job.submitted" {
			t.Fatalf("waited events: %+v", evs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocking events query did not return")
	}
	// A wait with nothing new returns empty after the wait.
	start := time.Now()
	evs, err := c.Events(ctx, 1<<40, 50*time.Millisecond, "", 0)
	if err != nil || len(evs.Events) != 0 || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("empty wait: %+v %v after %v", evs, err, time.Since(start))
	}
}

// BenchmarkSubmitHTTP measures jobs committed per second through POST
// /v1/jobs (JSON decode, ACL, coalesced raft commit on in-memory raft).
func BenchmarkSubmitHTTP(b *testing.B) {
	for _, batch := range []int{1, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			a := newAgent(b, nil)
			applyMission(b, a, testMission)
			ctx := context.Background()
			jobs := make([]api.JobSubmit, batch)
			b.ResetTimer()
			for i := range b.N {
				for k := range jobs {
					jobs[k] = api.JobSubmit{ID: fmt.Sprintf("b-%d-%d", i, k), Shard: "earth", Value: 1, Kind: "sim"}
				}
				if _, err := a.mgmt.SubmitJobs(ctx, jobs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}
