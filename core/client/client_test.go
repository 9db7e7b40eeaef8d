package client

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	httpapi "github.com/planetary/planetary/core/api"
	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm/state"
	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/host"
)

const e2eMission = `
mission "client-e2e" {
  seed = 11
}

checkpoint {
  interval = "1h"
  path     = "ROOT/checkpoints/f.snap"
}

reporting {
  directory = "ROOT/reports"
}

shard "earth" {
  latency_budget_ms = 1000
}

node "earth.n1" {
  shard        = "earth"
  plugin       = "sim"
  capabilities = ["sim"]
  capacity     = 8
  heartbeat_sec = 1
  price {
    base = 0.5
  }
}

node "earth.n2" {
  shard        = "earth"
  plugin       = "sim"
  capabilities = ["sim"]
  capacity     = 8
  heartbeat_sec = 1
  price {
    base = 0.75
  }
}
`

// buildPlugin builds the sim test plugin once per test binary run.
var buildPlugin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "planetary-simplugin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "simplugin")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/simplugin").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build sim plugin: %v: %s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := buildPlugin(); err == nil {
		_ = os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

type fixture struct {
	srv     *server.Server
	http    *httptest.Server
	mgmt    *api.Client
	token   string
	nodes   []state.Node
	catalog *testCatalog
}

// newFixture is newFixtureTTL with a heartbeat TTL that outlasts every
// test: a node never expires for want of a beat on a loaded machine (an
// expiry requeues its jobs as lost attempts, which a job may run out of),
// so its nodes stay up by construction.
func newFixture(t testing.TB) *fixture { return newFixtureTTL(t, 10*time.Minute) }

// newFixtureTTL starts a server with heartbeat TTL ttl and its API, and
// applies the test mission.
func newFixtureTTL(t testing.TB, ttl time.Duration) *fixture {
	t.Helper()
	bin, err := buildPlugin()
	if err != nil {
		t.Fatal(err)
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Error})
	root := t.TempDir()
	cfg := server.DefaultConfig()
	cfg.NodeID, cfg.DataDir, cfg.InMemory, cfg.Bootstrap = "s1", t.TempDir(), true, true
	cfg.Logger, cfg.AllowedRoots = logger, []string{root}
	cfg.HeartbeatTTL = ttl
	cfg.SchedulerTick = 50 * time.Millisecond
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	acfg := httpapi.DefaultConfig()
	acfg.Backend, acfg.Logger = server.Track(srv), logger
	h, err := httpapi.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	anon, _ := api.NewClient(api.ClientConfig{Address: hs.URL})
	anon.SetToken("")
	tok, err := anon.ACLBootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mgmt, _ := api.NewClient(api.ClientConfig{Address: hs.URL, Token: tok.SecretID})
	src := []byte(replaceRoot(e2eMission, root))
	if _, err := mgmt.ApplyMission(ctx, "e2e.hcl", src, "test"); err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, http: hs, mgmt: mgmt, token: tok.SecretID,
		catalog: &testCatalog{bin: bin, log: logger, plugins: map[string]*host.Plugin{}}}
	srv.Read(func(s *state.Store) {
		for _, n := range s.Nodes() {
			f.nodes = append(f.nodes, *n)
		}
	})
	t.Cleanup(f.catalog.close)
	return f
}

func replaceRoot(s, root string) string {
	out := []byte{}
	for i := 0; i < len(s); i++ {
		if i+4 <= len(s) && s[i:i+4] == "ROOT" {
			out = append(out, root...)
			i += 3
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}

// testCatalog launches one sim plugin process per node.
type testCatalog struct {
	bin string
	log hclog.Logger

	mu      sync.Mutex
	plugins map[string]*host.Plugin
	// values are per-node plugin config values (none by default).
	values map[string]map[string]any
}

func (c *testCatalog) Executor(ctx context.Context, n state.Node) (Executor, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.plugins[n.ID]; ok && !p.Exited() {
		return p, nil
	}
	hc := host.DefaultConfig()
	hc.Name, hc.Path, hc.Logger = n.ID, c.bin, c.log
	lctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := host.Launch(lctx, hc)
	if err != nil {
		return nil, err
	}
	schema, err := p.Schema(lctx)
	if err != nil {
		p.Kill()
		return nil, err
	}
	values := map[string]any{}
	for k, v := range c.values[n.ID] {
		values[k] = v
	}
	if errs := host.ValidateConfig(schema, values); len(errs) > 0 {
		p.Kill()
		return nil, errors.Join(errs...)
	}
	if err := p.Configure(lctx, sdk.Config{Node: sdk.NodeInfo{ID: n.ID, Shard: n.Shard}, Values: values}); err != nil {
		p.Kill()
		return nil, err
	}
	c.plugins[n.ID] = p
	return p, nil
}

func (c *testCatalog) plugin(id string) *host.Plugin {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.plugins[id]
}

func (c *testCatalog) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.plugins {
		p.Kill()
	}
}

func (f *fixture) startClient(t testing.TB, mutate func(*Config)) *Client {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Name = "c1"
	cfg.Servers = []string{f.http.URL}
	cfg.Token = f.token
	cfg.Catalog = f.catalog
	cfg.Nodes = f.nodes
	cfg.HeartbeatInterval = 200 * time.Millisecond
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Error})
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	return c
}

func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *fixture) nodeStatus(id string) state.NodeStatus {
	var st state.NodeStatus
	f.srv.Read(func(s *state.Store) {
		if n := s.Node(id); n != nil {
			st = n.Status
		}
	})
	return st
}

func (f *fixture) counts() state.Counts {
	var c state.Counts
	f.srv.Read(func(s *state.Store) { c = s.Global() })
	return c
}

func submit(t testing.TB, c *api.Client, n int, prefix, payload string) {
	t.Helper()
	var jobs []api.JobSubmit
	for i := range n {
		jobs = append(jobs, api.JobSubmit{ID: fmt.Sprintf("%s-%04d", prefix, i), Shard: "earth", Capabilities: []string{"sim"},
			Value: 1, Kind: "sim", Payload: []byte(payload)})
	}
	res, err := c.SubmitJobs(context.Background(), jobs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != api.StatusAccepted {
			t.Fatalf("submit %s: %s %s", r.ID, r.Status, r.Reason)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	f := newFixture(t)
	f.startClient(t, nil)
	eventually(t, 120*time.Second, "nodes up", func() bool {
		return f.nodeStatus("earth.n1") == state.NodeUp && f.nodeStatus("earth.n2") == state.NodeUp
	})
	const n = 500
	submit(t, f.mgmt, n, "ok", `{"duration_ms":0}`)
	eventually(t, 120*time.Second, "all jobs completed", func() bool {
		return f.counts().N[state.JobCompleted] == n
	})
	l, err := f.mgmt.Ledger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range l.Invariants {
		if !inv.OK {
			t.Errorf("invariant %s: %s", inv.ID, inv.Message)
		}
	}
	if l.Payments["earth.n1"]+l.Payments["earth.n2"] == 0 {
		t.Errorf("no payments: %+v", l.Payments)
	}
	// Every job completed exactly once at attempt 1 (no duplicate runs).
	f.srv.Read(func(s *state.Store) {
		s.JobsIter(func(j *state.Job) bool {
			if j.Attempt != 1 {
				t.Errorf("job %s attempt %d", j.ID, j.Attempt)
			}
			return true
		})
	})
}

func TestFailuresRetry(t *testing.T) {
	f := newFixture(t)
	f.startClient(t, nil)
	eventually(t, 120*time.Second, "nodes up", func() bool { return f.nodeStatus("earth.n1") == state.NodeUp })
	submit(t, f.mgmt, 20, "fail", `{"duration_ms":0,"fail_rate":1}`)
	eventually(t, 120*time.Second, "all jobs failed", func() bool { return f.counts().N[state.JobFailed] == 20 })
}

func TestCancelRunningTask(t *testing.T) {
	f := newFixture(t)
	c := f.startClient(t, nil)
	eventually(t, 120*time.Second, "nodes up", func() bool { return f.nodeStatus("earth.n1") == state.NodeUp })
	submit(t, f.mgmt, 1, "long", `{"duration_ms":600000}`)
	eventually(t, 120*time.Second, "job running", func() bool { return f.counts().N[state.JobRunning] == 1 })
	if len(c.running()) != 1 {
		t.Fatalf("client runs %d tasks, want 1", len(c.running()))
	}
	if _, err := f.mgmt.CancelJob(context.Background(), "long-0000", "test"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 120*time.Second, "task cancelled on the plugin", func() bool { return len(c.running()) == 0 })
	if got := f.counts().N[state.JobCancelled]; got != 1 {
		t.Fatalf("cancelled %d", got)
	}
}

// TestStoppedPluginGoesDown stops a plugin process (SIGSTOP): its health
// probe times out, its node's heartbeats stop and the server marks it down
// when the TTL expires; SIGCONT brings it back up.
func TestStoppedPluginGoesDown(t *testing.T) {
	// The TTL must expire for the stopped node; the other node's beats,
	// every second, keep it up well within it.
	f := newFixtureTTL(t, 5*time.Second)
	f.startClient(t, nil)
	eventually(t, 120*time.Second, "nodes up", func() bool {
		return f.nodeStatus("earth.n1") == state.NodeUp && f.catalog.plugin("earth.n1") != nil
	})
	pid := f.catalog.plugin("earth.n1").Pid()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	eventually(t, 120*time.Second, "stopped node down", func() bool { return f.nodeStatus("earth.n1") == state.NodeDown })
	if f.nodeStatus("earth.n2") != state.NodeUp {
		t.Fatalf("the other node went down too")
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	eventually(t, 120*time.Second, "node up again", func() bool { return f.nodeStatus("earth.n1") == state.NodeUp })
}

// TestFailover gives the client a dead server first: it must move on to
// the live one and do the work. The dead server holds its port for the
// whole test and drops every connection it accepts: a port closed instead
// could be bound again meanwhile by any process's listener, and a client
// answered by a stranger is no longer testing failover.
func TestFailover(t *testing.T) {
	f := newFixture(t)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dead.Close() })
	go func() {
		for {
			conn, err := dead.Accept()
			if err != nil {
				return
			}
			_ = conn.Close()
		}
	}()
	deadURL := "http://" + dead.Addr().String()
	f.startClient(t, func(c *Config) { c.Servers = []string{deadURL, f.http.URL} })
	eventually(t, 120*time.Second, "nodes up", func() bool { return f.nodeStatus("earth.n1") == state.NodeUp })
	submit(t, f.mgmt, 50, "fo", `{"duration_ms":0}`)
	eventually(t, 120*time.Second, "all jobs completed", func() bool { return f.counts().N[state.JobCompleted] == 50 })
}

func TestOutboxKeepsUnacknowledged(t *testing.T) {
	o := newOutbox(3, 0)
	for i := range 5 {
		o.addResult(api.Result{JobID: fmt.Sprint(i), Attempt: 1})
	}
	o.addStarted(api.JobAttempt{JobID: "s", Attempt: 1})
	b := o.take(false)
	if len(b.results) != 3 || len(b.started) != 1 {
		t.Fatalf("first batch %+v", b)
	}
	o.putBack(b) // the send failed
	var got []string
	starts := 0
	for {
		b := o.take(false)
		if b.empty() {
			break
		}
		starts += len(b.started)
		for _, r := range b.results {
			got = append(got, r.JobID)
		}
	}
	if fmt.Sprint(got) != "[0 1 2 3 4]" || starts != 1 {
		t.Fatalf("resent order %v, %d starts", got, starts)
	}
}

func TestOutboxStarts(t *testing.T) {
	o := newOutbox(10, time.Hour)
	o.addStarted(api.JobAttempt{JobID: "short", Attempt: 1})
	o.addStarted(api.JobAttempt{JobID: "long", Attempt: 1})
	select {
	case <-o.ready:
		t.Fatal("a start alone signalled an immediate send")
	default:
	}
	if b := o.take(false); !b.empty() {
		t.Fatalf("young starts were taken: %+v", b)
	}
	o.addResult(api.Result{JobID: "short", Attempt: 1, OK: true})
	select {
	case <-o.ready:
	default:
		t.Fatal("a result did not signal an immediate send")
	}
	b := o.take(false)
	if len(b.results) != 1 || len(b.started) != 0 {
		t.Fatalf("result batch %+v", b)
	}
	// Once due, only the start whose result has not come is sent.
	b = o.take(true)
	if len(b.started) != 1 || b.started[0].JobID != "long" {
		t.Fatalf("due starts %+v", b.started)
	}
	if b := o.take(true); !b.empty() {
		t.Fatalf("a start was sent twice: %+v", b)
	}
}

// BenchmarkEndToEnd measures jobs per second from submit to completion
// through the real server, API, client role and two sim plugin processes
// (zero-duration tasks, capacity 512 per node).
func BenchmarkEndToEnd(b *testing.B) {
	f := newFixture(b)
	f.startClient(b, nil)
	eventually(b, 20*time.Second, "nodes up", func() bool {
		return f.nodeStatus("earth.n1") == state.NodeUp && f.nodeStatus("earth.n2") == state.NodeUp
	})
	capacity := int64(512)
	for _, id := range []string{"earth.n1", "earth.n2"} {
		if _, err := f.mgmt.UpdateNode(context.Background(), id, api.NodeUpdate{Capacity: &capacity, MaxConcurrency: &capacity}); err != nil {
			b.Fatal(err)
		}
	}
	const batch = 1000
	b.ResetTimer()
	for i := range b.N {
		submit(b, f.mgmt, batch, fmt.Sprintf("b%d", i), `{"duration_ms":0}`)
		want := int64((i + 1) * batch)
		eventually(b, 60*time.Second, "batch completed", func() bool { return f.counts().N[state.JobCompleted] == want })
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "jobs/s")
}

// TestRestartedClientReportsUnservedNodesDown: a node the client claimed in
// an earlier life and does not serve now is reported down at registration,
// so no work is assigned to it until something serves it again.
func TestRestartedClientReportsUnservedNodesDown(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.startClient(t, nil)
	eventually(t, 120*time.Second, "nodes up", func() bool {
		return f.nodeStatus("earth.n1") == state.NodeUp && f.nodeStatus("earth.n2") == state.NodeUp
	})
	// A second life of the same client serves only earth.n1.
	var only []state.Node
	for _, n := range f.nodes {
		if n.ID == "earth.n1" {
			only = append(only, n)
		}
	}
	f.startClient(t, func(c *Config) { c.Nodes = only })
	eventually(t, 10*time.Second, "earth.n2 reported down", func() bool {
		evs, err := f.mgmt.Events(ctx, 0, 0, "node.down", 1000)
		if err != nil {
			return false
		}
		for _, e := range evs.Events {
			if e.Node == "earth.n2" && e.Reason == "unhealthy heartbeat" {
				return true
			}
		}
		return false
	})
}

// TestMaxConcurrencyQueuesOnClient: a node holds up to its capacity; its
// client runs max_concurrency tasks at once and starts the queued ones as
// running ones finish.
func TestMaxConcurrencyQueuesOnClient(t *testing.T) {
	f := newFixture(t)
	var n1 []state.Node
	for _, n := range f.nodes {
		if n.ID == "earth.n1" {
			n.MaxConcurrency = 2
			n1 = append(n1, n)
		}
	}
	f.startClient(t, func(c *Config) { c.Nodes = n1 })
	eventually(t, 120*time.Second, "earth.n1 up", func() bool { return f.nodeStatus("earth.n1") == state.NodeUp })
	submit(t, f.mgmt, 8, "mc", `{"duration_ms":150}`)
	queued := false
	eventually(t, 120*time.Second, "all jobs completed", func() bool {
		var running, held int
		f.srv.Read(func(s *state.Store) {
			s.JobsIter(func(j *state.Job) bool {
				if j.Node == "earth.n1" && (j.State == state.JobRunning || j.State == state.JobAssigned) {
					held++
					if j.State == state.JobRunning {
						running++
					}
				}
				return true
			})
		})
		if running > 2 {
			t.Fatalf("%d tasks running on a node whose client runs 2 at once", running)
		}
		queued = queued || held > 2
		return f.counts().N[state.JobCompleted] == 8
	})
	if !queued {
		t.Fatal("the node never held more jobs than it runs at once")
	}
}

func TestUsageOf(t *testing.T) {
	var dropped []string
	got := usageOf(map[string]float64{"token": 812, "second": 1.5, "": 1, "bad": math.NaN(), "neg": -1, "huge": 1e13},
		func(unit string, _ float64) { dropped = append(dropped, unit) })
	if len(got) != 2 || got["token"] != 812 || got["second"] != 1.5 {
		t.Fatalf("usage %v", got)
	}
	if len(dropped) != 4 {
		t.Fatalf("dropped %v", dropped)
	}
	if usageOf(nil, nil) != nil || usageOf(map[string]float64{"x": math.Inf(1)}, func(string, float64) {}) != nil {
		t.Fatal("want nil usage")
	}
}

// TestAcknowledgedAttemptsForgotten: once the servers acknowledged the
// results of finished attempts, the client keeps none of them for
// de-duplication (SeenTTL is an hour here, so no rotation does it), and
// later work still runs exactly once.
func TestAcknowledgedAttemptsForgotten(t *testing.T) {
	f := newFixture(t)
	c := f.startClient(t, func(cfg *Config) { cfg.SeenTTL = time.Hour })
	eventually(t, 120*time.Second, "nodes up", func() bool {
		return f.nodeStatus("earth.n1") == state.NodeUp && f.nodeStatus("earth.n2") == state.NodeUp
	})
	const n = 300
	submit(t, f.mgmt, n, "ok", `{"duration_ms":0}`)
	eventually(t, 120*time.Second, "all jobs completed", func() bool {
		return f.counts().N[state.JobCompleted] == n
	})
	remembered := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.seen) + len(c.oldSeen)
	}
	eventually(t, 120*time.Second, "finished attempts forgotten", func() bool { return remembered() == 0 })
	if c.ackedIndex() == 0 {
		t.Fatal("no acknowledged index recorded")
	}
	// A second batch runs as well: nothing was lost with the forgetting.
	submit(t, f.mgmt, n, "again", `{"duration_ms":0}`)
	eventually(t, 120*time.Second, "second batch completed", func() bool {
		return f.counts().N[state.JobCompleted] == 2*n
	})
	f.srv.Read(func(s *state.Store) {
		s.JobsIter(func(j *state.Job) bool {
			if j.Attempt != 1 {
				t.Errorf("job %s attempt %d", j.ID, j.Attempt)
			}
			return true
		})
	})
}
