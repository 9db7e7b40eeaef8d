package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// routingFabric is the scenarios' mission: earth, mars and helios, one sim
// node per shard, no workloads and no owner schedule.
const routingFabric = "testdata/routing-fabric.hcl"

// startRouting starts a dev agent on the routing fabric with extra flags.
func startRouting(t *testing.T, args ...string) *agentProc {
	t.Helper()
	cfg, err := filepath.Abs(routingFabric)
	if err != nil {
		t.Fatal(err)
	}
	all := append([]string{"-dev", "-config", cfg}, args...)
	return startAgent(t, t.TempDir(), freePort(t), freePort(t), all...)
}

// routingNodes is the number of nodes routingFabric declares.
const routingNodes = 4

// waitNodesUp waits until n nodes are registered and every one is up.
func waitNodesUp(t *testing.T, c *api.Client, n int) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("%d nodes up", n), func() bool {
		ns, err := c.Nodes(ctxT(t))
		if err != nil {
			return false
		}
		up := 0
		for _, nd := range ns {
			if nd.Status == "up" {
				up++
			}
		}
		return len(ns) >= n && up == len(ns)
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// submit submits jobs and fails unless every one is accepted; it returns
// their ids in input order.
func submit(t *testing.T, c *api.Client, jobs ...api.JobSubmit) []string {
	t.Helper()
	res, err := c.SubmitJobs(ctxT(t), jobs)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(res))
	for i, r := range res {
		if r.Status != api.StatusAccepted {
			t.Fatalf("submit %d: %+v", i, r)
		}
		ids[i] = r.ID
	}
	return ids
}

// simJob is a sim job of shard needing caps that runs for d.
func simJob(key, shard string, d time.Duration, caps ...string) api.JobSubmit {
	return api.JobSubmit{Key: key, Shard: shard, Capabilities: caps, Kind: "sim", Value: 1,
		Payload: json.RawMessage(fmt.Sprintf(`{"duration_ms": %d}`, d.Milliseconds()))}
}

func job(t *testing.T, c *api.Client, id string) api.Job {
	t.Helper()
	j, err := c.Job(ctxT(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func ledger(t *testing.T, c *api.Client) api.Ledger {
	t.Helper()
	l, err := c.Ledger(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func count(cs api.Counts, st string) int64 { return cs[st].Jobs }

func flowJobs(l api.Ledger, from, to string) int64 {
	var n int64
	for _, f := range l.Flows {
		if f.From == from && f.To == to {
			n += f.Jobs
		}
	}
	return n
}

func checkInvariants(t *testing.T, l api.Ledger) {
	t.Helper()
	if len(l.Invariants) == 0 {
		t.Error("ledger reports no invariants")
	}
	for _, inv := range l.Invariants {
		if !inv.OK {
			t.Errorf("invariant %s: %s", inv.ID, inv.Message)
		}
	}
}

// waitState polls until every job is in want.
func waitState(t *testing.T, c *api.Client, d time.Duration, want string, ids ...string) {
	t.Helper()
	waitFor(t, d, fmt.Sprintf("%d jobs %s", len(ids), want), func() bool {
		for _, id := range ids {
			if job(t, c, id).State != want {
				return false
			}
		}
		return true
	})
}

// assignedEvents returns the job.assigned events of one job, in order.
func assignedEvents(evs []state.Event, id string) []state.Event {
	var out []state.Event
	for _, e := range evs {
		if e.Type == state.EvJobAssigned && e.Job == id {
			out = append(out, e)
		}
	}
	return out
}

// pluginPid polls the node view until it names the node's plugin process.
func pluginPid(t *testing.T, c *api.Client, node string) int {
	t.Helper()
	pid := 0
	waitFor(t, 15*time.Second, "plugin_pid of "+node, func() bool {
		n, err := c.Node(ctxT(t), node)
		if err != nil {
			t.Fatal(err)
		}
		pid = n.PluginPid
		return pid > 0
	})
	return pid
}

// TestRoutingBlipKeepsWorkHome: a shard's only node loses its plugin to a
// SIGKILL while its jobs run and queue; the client's catalog restarts the
// plugin. Whether the shard declares no spillover target (luna) or one
// (mars -> helios, with the outage well within its spill_grace, twice the
// agent's 15s heartbeat TTL), no job leaves it: every job completes on the
// home node, with no spill and no flow. Mars gets as many jobs as its node
// holds, so its 420ms latency budget can never ask for a spill: the only
// cause there could be the outage.
func TestRoutingBlipKeepsWorkHome(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	cases := []struct {
		name, shard, node string
		jobs              int
		caps              []string
	}{
		{"no targets", "luna", "luna.relay", 12, []string{"navigation"}},
		{"targets within spill_grace", "mars", "mars.gpu-helion", 8, []string{"gpu", "vision"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startRouting(t)
			c := p.client()
			var js []api.JobSubmit
			for i := range tc.jobs {
				js = append(js, simJob(fmt.Sprintf("blip/%s/%d", tc.shard, i), tc.shard, 1500*time.Millisecond, tc.caps...))
			}
			ids := submit(t, c, js...)
			waitFor(t, 15*time.Second, "jobs running on "+tc.node, func() bool {
				n, err := c.Node(ctxT(t), tc.node)
				return err == nil && n.Active > 0
			})
			// The outage is set up, not timed: kill the node's plugin until
			// its node is recorded down (a kill the catalog absorbs before
			// any beat reports it is no outage), at most 3 times.
			downs := func() int {
				n := 0
				for _, e := range allEvents(t, c) {
					if e.Type == state.EvNodeDown && e.Node == tc.node {
						n++
					}
				}
				return n
			}
			for try := 0; try < 3 && downs() == 0; try++ {
				pid := pluginPid(t, c, tc.node)
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatalf("kill plugin %d: %v", pid, err)
				}
				deadline := time.Now().Add(5 * time.Second)
				for time.Now().Before(deadline) && downs() == 0 {
					time.Sleep(50 * time.Millisecond)
				}
			}
			waitState(t, c, 60*time.Second, "completed", ids...)

			evs := allEvents(t, c)
			down := 0
			for _, e := range evs {
				if e.Type == state.EvNodeDown && e.Node == tc.node {
					down++
				}
				if e.Type == state.EvJobSpilled {
					t.Errorf("job %s spilled %s -> %s (%s)", e.Job, e.From, e.To, e.Reason)
				}
			}
			if down == 0 {
				t.Fatalf("%s never went down: the kill was not an outage", tc.node)
			}
			left := 0
			for _, id := range ids {
				if j := job(t, c, id); j.Shard != tc.shard || j.Node != tc.node || j.Hops != 0 {
					left++
					t.Errorf("job %s: shard %s node %s hops %d", id, j.Shard, j.Node, j.Hops)
				}
			}
			t.Logf("%s: %d jobs, %d node.down events, %d left the shard", tc.shard, len(ids), down, left)
			l := ledger(t, c)
			checkInvariants(t, l)
			if len(l.Flows) != 0 || count(l.Global, "failed") != 0 {
				t.Errorf("flows %+v, failed %d", l.Flows, count(l.Global, "failed"))
			}
		})
	}
}

func eventTypes(evs []state.Event, id string) string {
	var b strings.Builder
	for _, e := range evs {
		if e.Job == id || (e.Job == "" && e.Node != "") {
			fmt.Fprintf(&b, "%s(%s %d %s) ", e.Type, e.Node, e.Attempt, e.Reason)
		}
	}
	return b.String()
}

// mars work: n jobs of d each that only mars.gpu-helion and helios take.
func marsJobs(prefix string, n int, d time.Duration) []api.JobSubmit {
	out := make([]api.JobSubmit, n)
	for i := range out {
		out[i] = simJob(fmt.Sprintf("%s/%d", prefix, i), "mars", d, "manufacturing")
	}
	return out
}

// waitSplit waits until mars.gpu-helion runs its 8 slots and the rest of
// ids wait in the mars queue, and returns the running and queued ids.
func waitSplit(t *testing.T, c *api.Client, ids []string) (running, queued []string) {
	t.Helper()
	waitFor(t, 15*time.Second, "mars.gpu-helion to fill its 8 slots", func() bool {
		running, queued = nil, nil
		for _, id := range ids {
			j := job(t, c, id)
			switch j.State {
			case "running":
				running = append(running, id)
			case "queued":
				queued = append(queued, id)
			}
		}
		return len(running) == 8 && len(queued) == len(ids)-8
	})
	return running, queued
}

// TestRoutingDeregisterSpillover: deregistering mars with spill_to helios
// moves its queued and in-flight jobs to helios, where all complete, and
// the ledger shows one flow per moved job.
func TestRoutingDeregisterSpillover(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	p := startRouting(t)
	c := p.client()
	ids := submit(t, c, marsJobs("spill", 12, 2*time.Second)...)
	running, queued := waitSplit(t, c, ids)

	if _, err := c.DeregisterShard(ctxT(t), "mars", api.ShardDeregister{SpillTo: "helios", Reason: "retire mars"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, 30*time.Second, "completed", ids...)
	for _, id := range ids {
		j := job(t, c, id)
		if j.Shard != "helios" || j.Node != "helios.solaris-array" || j.Hops != 1 {
			t.Errorf("job %s: shard %s node %s hops %d", id, j.Shard, j.Node, j.Hops)
		}
	}
	l := ledger(t, c)
	checkInvariants(t, l)
	moved := int64(len(running) + len(queued))
	if n := flowJobs(l, "mars", "helios"); n != moved {
		t.Errorf("mars->helios flow = %d, want %d (%d in flight, %d queued)", n, moved, len(running), len(queued))
	}
	if len(l.Flows) != 1 {
		t.Errorf("flows = %+v, want only mars->helios", l.Flows)
	}
	g := l.Global
	if count(g, "completed") != 12 || count(g, "failed") != 0 || count(g, "cancelled") != 0 {
		t.Errorf("global counts %+v", g)
	}
	if n := count(l.Shards["helios"], "completed"); n != 12 {
		t.Errorf("helios completed = %d, want 12", n)
	}
	if _, err := c.Shard(ctxT(t), "mars"); err == nil {
		t.Error("mars is still registered")
	}
}

// TestRoutingDeregisterCancel: deregistering mars with cancel counts each of
// its jobs once, as cancelled and never also as failed, including the
// in-flight ones whose plugins answer later.
func TestRoutingDeregisterCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	p := startRouting(t)
	c := p.client()
	ids := submit(t, c, marsJobs("cancel", 12, 1500*time.Millisecond)...)
	waitSplit(t, c, ids)
	// An earth job that finishes normally keeps the totals honest.
	other := submit(t, c, simJob("cancel/earth", "earth", 0, "logistics"))

	if _, err := c.DeregisterShard(ctxT(t), "mars", api.ShardDeregister{Cancel: true, Reason: "abandon mars"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, 15*time.Second, "cancelled", ids...)
	waitState(t, c, 15*time.Second, "completed", other...)
	// The in-flight attempts end on the plugin (cancelled or finished);
	// wait until mars.gpu-helion holds no active job, then count.
	waitFor(t, 15*time.Second, "mars.gpu-helion to drain", func() bool {
		n, err := c.Node(ctxT(t), "mars.gpu-helion")
		return err == nil && n.Active == 0
	})
	l := ledger(t, c)
	checkInvariants(t, l)
	g := l.Global
	if count(g, "cancelled") != 12 || count(g, "failed") != 0 || count(g, "completed") != 1 {
		t.Errorf("global counts %+v, want 12 cancelled, 0 failed, 1 completed", g)
	}
	cancelled := map[string]int{}
	for _, e := range allEvents(t, c) {
		switch e.Type {
		case state.EvJobCancelled:
			cancelled[e.Job]++
		case state.EvJobFailed, state.EvJobCompleted:
			if e.Job != other[0] {
				t.Errorf("%s for cancelled job %s", e.Type, e.Job)
			}
		}
	}
	for _, id := range ids {
		if cancelled[id] != 1 {
			t.Errorf("job %s: %d cancel events, want 1", id, cancelled[id])
		}
	}
}

// TestRoutingRerouteTail: `planetary job reroute -from mars -tail 1 -shard
// helios` moves exactly the last queued mars job, which completes on helios.
func TestRoutingRerouteTail(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	p := startRouting(t)
	c := p.client()
	ids := submit(t, c, marsJobs("reroute", 10, 1500*time.Millisecond)...)
	_, queued := waitSplit(t, c, ids)

	out, err := exec.Command(planetaryBin(t), "job", "reroute", "-address", p.addr, "-token", p.token,
		"-from", "mars", "-tail", "1", "-reason", "escalation", "-shard", "helios").CombinedOutput()
	if err != nil {
		t.Fatalf("job reroute: %v\n%s", err, out)
	}
	waitState(t, c, 30*time.Second, "completed", ids...)
	tail := queued[len(queued)-1]
	var onHelios []string
	for _, id := range ids {
		if j := job(t, c, id); j.Shard == "helios" {
			onHelios = append(onHelios, id)
			if j.Node != "helios.solaris-array" || j.Hops != 1 {
				t.Errorf("rerouted job %s: node %s hops %d", id, j.Node, j.Hops)
			}
		}
	}
	if len(onHelios) != 1 || onHelios[0] != tail {
		t.Errorf("jobs on helios %v, want only the mars tail %s", onHelios, tail)
	}
	l := ledger(t, c)
	checkInvariants(t, l)
	if n := flowJobs(l, "mars", "helios"); n != 1 {
		t.Errorf("mars->helios flow = %d, want 1", n)
	}
	var rerouted []state.Event
	for _, e := range allEvents(t, c) {
		if e.Type == state.EvJobRerouted {
			rerouted = append(rerouted, e)
		}
	}
	if len(rerouted) != 1 || rerouted[0].Job != tail || rerouted[0].From != "mars" || rerouted[0].To != "helios" {
		t.Errorf("job.rerouted events %+v, want one for %s mars->helios", rerouted, tail)
	}
}

// TestRoutingPauseKeepsNodesUp: a system pause longer than the heartbeat TTL
// leaves every node up, holds queued work, and dispatches it on resume.
func TestRoutingPauseKeepsNodesUp(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	p := startRouting(t, "-heartbeat-ttl", "2s")
	c := p.client()
	allUp := func() error {
		ns, err := c.Nodes(ctxT(t))
		if err != nil {
			return err
		}
		for _, n := range ns {
			if n.Status != "up" {
				return fmt.Errorf("node %s is %s (%s)", n.ID, n.Status, n.StatusReason)
			}
		}
		return nil
	}
	waitFor(t, 15*time.Second, "every node up", func() bool { return allUp() == nil })

	if _, err := c.Pause(ctxT(t), "", "maintenance"); err != nil {
		t.Fatal(err)
	}
	ids := submit(t, c,
		simJob("pause/earth", "earth", 0, "logistics"),
		simJob("pause/mars", "mars", 0, "gpu"),
		simJob("pause/helios", "helios", 0, "astronomy"))
	// Watch for twice the TTL: nodes stay up, jobs stay queued.
	until := time.Now().Add(4 * time.Second)
	for time.Now().Before(until) {
		if err := allUp(); err != nil {
			t.Fatalf("while paused: %v", err)
		}
		for _, id := range ids {
			if st := job(t, c, id).State; st != "queued" {
				t.Fatalf("job %s is %s while paused", id, st)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := c.Resume(ctxT(t), "", "maintenance over"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, 15*time.Second, "completed", ids...)
	if err := allUp(); err != nil {
		t.Errorf("after resume: %v", err)
	}
	for _, e := range allEvents(t, c) {
		if e.Type == state.EvNodeDown {
			t.Errorf("node %s went down: %s", e.Node, e.Reason)
		}
	}
	checkInvariants(t, ledger(t, c))
}

// TestRoutingParkedUntilTopologyChanges: a job no node anywhere can take is
// parked with a reason the CLI shows, and completes once a node that can
// take it registers.
func TestRoutingParkedUntilTopologyChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	p := startRouting(t)
	c := p.client()
	// Every node registers first: a node that comes up later changes the
	// topology and unparks the job, which then parks again.
	waitNodesUp(t, c, routingNodes)
	id := submit(t, c, simJob("park/quantum", "earth", 0, "quantum"))[0]
	waitState(t, c, 15*time.Second, "parked", id)
	j := job(t, c, id)
	if !strings.Contains(j.ParkedReason, "quantum") {
		t.Errorf("parked reason %q does not name the capability", j.ParkedReason)
	}
	out, err := exec.Command(planetaryBin(t), "job", "status", "-address", p.addr, "-token", p.token, id).CombinedOutput()
	if err != nil {
		t.Fatalf("job status: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "parked") || !strings.Contains(string(out), j.ParkedReason) {
		t.Errorf("job status output lacks the state or parked reason %q:\n%s", j.ParkedReason, out)
	}
	// Parked jobs stay parked (no bouncing between shards) until the
	// topology changes.
	evs := allEvents(t, c)
	spills := 0
	for _, e := range evs {
		if e.Job == id && (e.Type == state.EvJobSpilled || e.Type == state.EvJobParked) {
			spills++
		}
	}
	if spills > 2 {
		t.Errorf("job %s spilled or parked %d times before any topology change", id, spills)
	}

	if _, err := c.RegisterNode(ctxT(t), api.Node{ID: "earth.qpu", Shard: "earth", Plugin: "sim",
		Capabilities: []string{"quantum"}, Capacity: 1, Reason: "quantum lane"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, 30*time.Second, "completed", id)
	if j := job(t, c, id); j.Node != "earth.qpu" {
		t.Errorf("job ran on %s, want earth.qpu", j.Node)
	}
	checkInvariants(t, ledger(t, c))
}

// TestRoutingUnparkIsBounded: a topology change that unparks 1,000 jobs
// writes one jobs.unparked event per shard, not one per job; every job
// completes exactly once, its timeline shows the shard-level event that
// unparked it (to a read from its start and to one waiting at the head),
// and the invariants hold.
func TestRoutingUnparkIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	p := startRouting(t)
	c := p.client()
	waitNodesUp(t, c, routingNodes)
	const n = 1000
	var jobs []api.JobSubmit
	for i := range n {
		jobs = append(jobs, simJob(fmt.Sprintf("unpark/%04d", i), "earth", 0, "quantum"))
	}
	ids := submit(t, c, jobs...)
	waitFor(t, 60*time.Second, "1,000 jobs parked", func() bool {
		l, err := c.Ledger(ctxT(t))
		return err == nil && count(l.Global, "parked") == n
	})
	first := ids[0]
	tl, err := c.JobEvents(ctxT(t), first, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A timeline read waiting at the head while the job is parked.
	follow := make(chan api.Events, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		evs, err := c.JobEvents(ctx, first, tl.Index, time.Minute)
		if err != nil {
			t.Errorf("waiting timeline read: %v", err)
		}
		follow <- evs
	}()

	res, err := c.RegisterNode(ctxT(t), api.Node{ID: "earth.qpu", Shard: "earth", Plugin: "sim",
		Capabilities: []string{"quantum"}, Capacity: 64, Reason: "quantum lane"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Minute, "1,000 jobs completed", func() bool {
		l, err := c.Ledger(ctxT(t))
		return err == nil && count(l.Global, "completed") == n
	})

	evs := allEvents(t, c)
	var ofChange []state.Event
	completed := map[string]int{}
	unparkedBy := map[string]uint64{} // shard -> seq of its jobs.unparked
	var unparked int
	for _, e := range evs {
		if e.Index == res.Index {
			ofChange = append(ofChange, e)
		}
		switch e.Type {
		case state.EvJobUnparked:
			t.Errorf("per-job %s event for %s", e.Type, e.Job)
		case state.EvJobsUnparked:
			if e.Index == res.Index {
				unparkedBy[e.Shard] = e.Seq
				var k, topo int
				if _, err := fmt.Sscanf(e.Detail, "%d jobs unparked, topology %d", &k, &topo); err != nil {
					t.Errorf("%s detail %q: %v", e.Type, e.Detail, err)
				}
				unparked += k
				if e.ValueMu != int64(k)*1_000_000 {
					t.Errorf("%s of %d jobs carries value %d", e.Type, k, e.ValueMu)
				}
			}
		case state.EvJobCompleted:
			completed[e.Job]++
		}
	}
	// The change's events: the node's registration and one jobs.unparked
	// per shard that held parked jobs.
	if len(ofChange) == 0 || len(ofChange) > 1+len(unparkedBy) || len(ofChange) > 4 {
		t.Errorf("the registration wrote %d events: %+v", len(ofChange), ofChange)
	}
	t.Logf("the registration wrote %d events for %d unparked jobs", len(ofChange), unparked)
	if unparked != n {
		t.Errorf("the jobs.unparked events of the change count %d jobs, want %d", unparked, n)
	}
	for _, id := range ids {
		if completed[id] != 1 {
			t.Errorf("job %s completed %d times", id, completed[id])
		}
	}
	if len(completed) != n {
		t.Errorf("%d jobs completed, want %d", len(completed), n)
	}

	// The job's timeline from its start, and the waiting read.
	j := job(t, c, first)
	want := unparkedBy[j.Shard]
	if want == 0 {
		t.Fatalf("no jobs.unparked event for shard %s: %v", j.Shard, unparkedBy)
	}
	tl, err = c.JobEvents(ctxT(t), first, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	sawUnpark := false
	for _, e := range tl.Events {
		types = append(types, e.Type)
		if e.Type == state.EvJobsUnparked {
			sawUnpark = sawUnpark || e.Seq == want
		} else if e.Job != first {
			t.Errorf("timeline of %s holds %+v", first, e)
		}
	}
	if !sawUnpark || types[0] != state.EvJobSubmitted || types[len(types)-1] != state.EvJobCompleted {
		t.Errorf("timeline of %s: %v (want its jobs.unparked seq %d)", first, types, want)
	}
	if w := <-follow; len(w.Events) == 0 || w.Events[0].Type != state.EvJobsUnparked || w.Events[0].Seq != want {
		t.Errorf("the waiting timeline read answered %+v, want the jobs.unparked event seq %d", w.Events, want)
	}
	checkInvariants(t, ledger(t, c))
}

// TestRoutingACLAtTheProcess: a submit token cannot pause the fabric, and the
// refused call moves no raft index; a reporting directory outside the
// allowed roots is refused.
func TestRoutingACLAtTheProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	p := startRouting(t)
	c := p.client()
	tok, err := c.CreateToken(ctxT(t), "ci-submitter", "submit")
	if err != nil {
		t.Fatal(err)
	}
	sub := p.client()
	sub.SetToken(tok.SecretID)

	index := func() uint64 {
		h, err := c.Health(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		return h.AppliedIndex
	}
	// The idle fabric writes nothing; wait until startup has settled.
	last, since := index(), time.Now()
	waitFor(t, 20*time.Second, "the applied index to settle", func() bool {
		if i := index(); i != last {
			last, since = i, time.Now()
		}
		return time.Since(since) > time.Second
	})

	before := index()
	_, err = sub.Pause(ctxT(t), "", "not mine to pause")
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 403 {
		t.Fatalf("pause with a submit token: %v, want 403", err)
	}
	if after := index(); after != before {
		t.Errorf("applied index moved %d -> %d on a refused pause", before, after)
	}
	if m, err := c.Mission(ctxT(t)); err != nil || m.SystemPaused {
		t.Errorf("mission paused=%v err=%v after a refused pause", m.SystemPaused, err)
	}
	// The submit token may submit.
	submit(t, sub, simJob("acl/ok", "earth", 0, "logistics"))

	_, err = c.ConfigureReporting(ctxT(t), api.ReportingConfig{Dir: "/etc/planetary-reports", Reason: "escape"})
	if !errors.As(err, &ae) || ae.Status/100 != 4 {
		t.Fatalf("reporting dir outside the allowed roots: %v, want a 4xx", err)
	}
	for _, e := range allEvents(t, c) {
		if e.Type == state.EvReportingConfigured {
			t.Errorf("reporting was configured: %+v", e)
		}
	}
}
