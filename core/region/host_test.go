package region

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/core/testport"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// deadline bounds every wait: generous, since the tests share a busy machine.
const deadline = 2 * time.Minute

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func example(t *testing.T) *mission.Mission {
	t.Helper()
	m, diags := mission.ParseMissionFile("../../examples/mission.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return m
}

// hostConfig is a host of the example mission on dir, each region's raft on
// its own loopback port (kept across a restart). The heartbeat TTL outlasts
// every test, so a node never expires for want of a beat on a loaded
// machine: the tests' nodes stay up by construction.
func hostConfig(t *testing.T, dir string, m *mission.Mission) Config {
	sc := server.DefaultConfig()
	sc.NodeID = "s1"
	sc.HeartbeatTTL = 10 * time.Minute
	sc.SchedulerTick = 50 * time.Millisecond
	sc.AllowedRoots = []string{"checkpoints", "reports"}
	addrs := map[string]string{}
	for _, name := range m.RegionNames() {
		addrs[name] = testport.Addr(t)
	}
	return Config{
		DataDir: dir, Mission: m, Server: sc, BindAddrs: addrs,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Warn, Output: testWriter{t}}),
	}
}

func startHost(t *testing.T, cfg Config) *Host {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	h, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("start host: %v", err)
	}
	t.Cleanup(func() { _ = h.Shutdown() })
	return h
}

// worker is the client side of one region, in process: it claims the
// region's sim nodes over the server's client protocol, follows its
// assignment stream and reports every attempt completed, as the client
// role does for a plugin that succeeds at once. The returned func stops it
// and waits until it has.
func worker(t *testing.T, h *Host, region string) (stop func()) {
	t.Helper()
	srv := h.Region(region)
	sub, err := h.cfg.Mission.ForRegion(region)
	if err != nil {
		t.Fatal(err)
	}
	client := "client-" + region
	var nodes []state.Node
	for _, n := range sub.NodeRecords() {
		if n.PluginKind == "sim" {
			n.Client = client
			nodes = append(nodes, n)
		}
	}
	rctx, rcancel := context.WithTimeout(context.Background(), deadline)
	defer rcancel()
	if _, err := srv.RegisterClient(rctx, client, nodes, []string{"sim"}); err != nil {
		t.Fatalf("region %s: register client: %v", region, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	go func() {
		defer close(done)
		_ = srv.Assignments(ctx, client, func(as []server.Assignment) error {
			started := make([]command.JobAttempt, len(as))
			results := make([]command.Result, len(as))
			for i, a := range as {
				started[i] = command.JobAttempt{JobID: a.JobID, Attempt: a.Attempt}
				results[i] = command.Result{JobID: a.JobID, Attempt: a.Attempt, OK: true, Output: "done in " + region}
			}
			if err := srv.Results(ctx, client, started, results); err != nil && ctx.Err() == nil {
				t.Errorf("region %s: results: %v", region, err)
			}
			return nil
		})
	}()
	return stop
}

// submit sends n jobs to shard through the region's submit endpoint.
func submit(t *testing.T, srv *server.Server, shard, prefix string, n int) {
	t.Helper()
	jobs := make([]command.JobSubmit, n)
	for i := range jobs {
		jobs[i] = command.JobSubmit{ID: fmt.Sprintf("%s-%s-%03d", shard, prefix, i), Shard: shard, Kind: "sim",
			Capabilities: []string{}, ValueMu: 1000, Payload: []byte(`{}`)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	outs, err := srv.SubmitJobs(ctx, server.Actor{Name: "test", Caps: server.CapSubmit}, jobs)
	if err != nil {
		t.Fatalf("submit to %s: %v", shard, err)
	}
	for _, o := range outs {
		if o.Status != raftfsm.Applied {
			t.Fatalf("submit to %s: %+v", shard, o)
		}
	}
}

func completed(srv *server.Server) (n int64) {
	srv.Read(func(st *state.Store) { n = st.Global().N[state.JobCompleted] })
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not synchronizing
	}
}

// shardsOf lists the shards a region's FSM holds.
func shardsOf(srv *server.Server) []string {
	var out []string
	srv.Read(func(st *state.Store) {
		for _, s := range st.Shards() {
			out = append(out, s.Name)
		}
	})
	return out
}

// TestHostRunsEveryRegion: the example's four regions each elect their own
// leader (a raft group of one server, with its own data dir), hold only
// their own shards, nodes and mission, and run the jobs submitted to them
// to completion through the servers' endpoints; a job for another region's
// shard is refused naming the field.
func TestHostRunsEveryRegion(t *testing.T) {
	m := example(t)
	dir := t.TempDir()
	h := startHost(t, hostConfig(t, dir, m))
	if got, want := h.Regions(), []string{"earth", "luna", "mars", "helios"}; !slices.Equal(got, want) {
		t.Fatalf("regions %v", got)
	}
	ids := map[string]bool{}
	for _, name := range h.Regions() {
		srv := h.Region(name)
		addr, id := h.Leader(name)
		if addr == "" || id != "s1."+name || !srv.IsLeader() {
			t.Fatalf("region %s: leader %q %q", name, addr, id)
		}
		ids[id] = true
		if got := shardsOf(srv); !slices.Equal(got, []string{name}) {
			t.Fatalf("region %s holds shards %v", name, got)
		}
		for _, f := range []string{"raft.db", "snapshots", "events"} {
			if _, err := os.Stat(filepath.Join(dir, "regions", name, f)); err != nil {
				t.Fatalf("region %s: %v", name, err)
			}
		}
		var digest string
		srv.Read(func(st *state.Store) { digest = st.Policy().MissionDigest })
		sub, _ := m.ForRegion(name)
		if digest != sub.Digest() {
			t.Fatalf("region %s applied mission %s, want its own %s", name, digest, sub.Digest())
		}
		if h.RegionOf(name) != name || h.ServerOf(name) != srv {
			t.Fatalf("shard %s: region %q", name, h.RegionOf(name))
		}
	}
	if len(ids) != 4 || h.RegionOf("edge-surge") != "earth" || h.ServerOf("nowhere") != nil {
		t.Fatalf("leaders %v, edge-surge in %q", ids, h.RegionOf("edge-surge"))
	}
	const n = 25
	for _, name := range h.Regions() {
		worker(t, h, name)
		submit(t, h.Region(name), name, "a", n)
	}
	for _, name := range h.Regions() {
		srv := h.Region(name)
		waitFor(t, name+" jobs completed", func() bool { return completed(srv) >= n })
		if c := completed(srv); c != n {
			t.Fatalf("region %s completed %d jobs, want %d", name, c, n)
		}
	}
	// Each region exports its checkpoints under its own dir: the
	// mission's one relative path resolves against the region's dir.
	for _, name := range h.Regions() {
		snap := filepath.Join(dir, "regions", name, "checkpoints", "kardashev.snap")
		waitFor(t, name+" checkpoint", func() bool { _, err := os.Stat(snap); return err == nil })
	}
	// Earth holds no Luna shard: its submit endpoint refuses a Luna job.
	_, err := h.Region("earth").SubmitJobs(context.Background(), server.Actor{Name: "test", Caps: server.CapSubmit},
		[]command.JobSubmit{{ID: "stray", Shard: "luna", Kind: "sim", Payload: []byte(`{}`)}})
	var re *server.RequestError
	if !errors.As(err, &re) || re.Field != "jobs[0].shard" {
		t.Fatalf("luna job on earth: %v", err)
	}
}

// TestHostRegionStopsAlone: shutting one region's raft group down leaves
// the other three completing the jobs submitted to them; the stopped
// region has no leader and refuses work.
func TestHostRegionStopsAlone(t *testing.T) {
	m := example(t)
	h := startHost(t, hostConfig(t, t.TempDir(), m))
	for _, name := range h.Regions() {
		worker(t, h, name)
	}
	if err := h.StopRegion("mars"); err != nil {
		t.Fatal(err)
	}
	if addr, id := h.Leader("mars"); addr != "" || id != "" {
		t.Fatalf("stopped mars has leader %q %q", addr, id)
	}
	_, err := h.Region("mars").SubmitJobs(context.Background(), server.Actor{Name: "test", Caps: server.CapSubmit},
		[]command.JobSubmit{{ID: "late", Shard: "mars", Kind: "sim", Payload: []byte(`{}`)}})
	if err == nil {
		t.Fatal("stopped mars took a job")
	}
	const n = 30
	for _, name := range []string{"earth", "luna", "helios"} {
		submit(t, h.Region(name), name, "b", n)
	}
	for _, name := range []string{"earth", "luna", "helios"} {
		srv := h.Region(name)
		waitFor(t, name+" jobs completed", func() bool { return completed(srv) >= n })
		if c := completed(srv); c != n {
			t.Fatalf("region %s completed %d jobs, want %d", name, c, n)
		}
	}
	if err := h.StopRegion("pluto"); !errors.Is(err, ErrNoRegion) {
		t.Fatalf("stop pluto: %v", err)
	}
}

// TestHostRestartRecovers: a host restarted on its data dir recovers every
// region's jobs from that region's own raft log and snapshots: the
// completed ones stay completed and counted once, and those submitted
// while no worker ran are still live and run once workers serve the
// region again.
func TestHostRestartRecovers(t *testing.T) {
	m := example(t)
	cfg := hostConfig(t, t.TempDir(), m)
	h := startHost(t, cfg)
	const n, more = 20, 10
	var stops []func()
	for _, name := range h.Regions() {
		stops = append(stops, worker(t, h, name))
		submit(t, h.Region(name), name, "c", n)
	}
	for _, name := range h.Regions() {
		srv := h.Region(name)
		waitFor(t, name+" jobs completed", func() bool { return completed(srv) >= n })
	}
	for _, stop := range stops {
		stop()
	}
	for _, name := range h.Regions() {
		submit(t, h.Region(name), name, "d", more)
	}
	if err := h.Shutdown(); err != nil {
		t.Fatal(err)
	}

	r := startHost(t, cfg)
	for _, name := range r.Regions() {
		srv := r.Region(name)
		var c state.Counts
		srv.Read(func(st *state.Store) { c = st.Global() })
		live := c.N[state.JobQueued] + c.N[state.JobAssigned] + c.N[state.JobRunning] + c.N[state.JobParked]
		if c.N[state.JobCompleted] != n || live != more {
			t.Fatalf("region %s recovered %d completed and %d live jobs, want %d and %d", name, c.N[state.JobCompleted], live, n, more)
		}
		if got := shardsOf(srv); !slices.Equal(got, []string{name}) {
			t.Fatalf("region %s recovered shards %v", name, got)
		}
	}
	for _, name := range r.Regions() {
		worker(t, r, name)
	}
	for _, name := range r.Regions() {
		srv := r.Region(name)
		waitFor(t, name+" jobs completed after restart", func() bool { return completed(srv) >= n+more })
		if c := completed(srv); c != n+more {
			t.Fatalf("region %s completed %d jobs, want %d", name, c, n+more)
		}
	}
}
