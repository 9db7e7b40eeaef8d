package e2e

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// regionFabric is a mission of three shards, each its own region (a shard
// is its own region unless grouped), one sim node of eight slots each.
const regionFabric = `
mission "sovereign" {
  seed = 3
}
shard "a" {
  max_queue = 10000
}
shard "b" {
  max_queue = 10000
}
shard "c" {
  max_queue = 10000
}
` + regionNodes

const regionNodes = `
node "a.1" {
  shard        = "a"
  plugin       = "sim"
  capabilities = ["x"]
  capacity     = 8
  price {
    base = 0.1
  }
}
node "b.1" {
  shard        = "b"
  plugin       = "sim"
  capabilities = ["x"]
  capacity     = 8
  price {
    base = 0.1
  }
}
` + nodeC

// nodeC is region c's node.
const nodeC = `
node "c.1" {
  shard        = "c"
  plugin       = "sim"
  capabilities = ["x"]
  capacity     = 8
  price {
    base = 0.1
  }
}
`

// regionC is region c's part of regionFabric: what its client process
// serves.
const regionC = `
mission "sovereign" {
  seed = 3
}
shard "c" {
  max_queue = 10000
}
` + nodeC

// Region kill test workload: every region holds killJobs jobs of 150, 200
// or 250 ms (mixed, so the node's eight slots free at spread-out times and
// completions come as a stream rather than in waves): about 40 jobs/s per
// region, bound by capacity, not by the machine, for about 25 s.
const (
	killJobs   = 1000
	killWindow = 4 * time.Second
)

// TestRegionLeaderKilledAlone runs a three-region mission as separate raft
// groups in separate processes: regions a and b one agent each (server and
// client, server { region = ... }), region c a cluster of three server
// agents (server { region = "c", bootstrap_expect = 3, join = [...] }) and
// a client agent serving c's node. With every region streaming
// completions, the test SIGKILLs region c's raft leader. c elects a new
// leader among its two survivors and completes every job it acknowledged,
// each exactly once; a and b never notice: their completion rate over the
// window that holds c's election (from the kill until c's new leader
// answers, at least killWindow) stays within 10% of their rate over the
// same span before the kill, while c completes nothing for the length of
// its election. Rates come from the leaders' job.completed
// timestamps. The workload sets them (capacity and job durations, far
// below what the machine can do), so a slow machine slows both windows
// alike; the test runs alone in its package (not parallel).
func TestRegionLeaderKilledAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	type region struct {
		name string
		p    *agentProc
		c    *api.Client
		ids  []string
	}
	jobs := func(name string) []api.JobSubmit {
		var js []api.JobSubmit
		for i := range killJobs {
			js = append(js, simJob(fmt.Sprintf("%s/%04d", name, i), name, time.Duration(150+50*(i%3))*time.Millisecond, "x"))
		}
		return js
	}
	var rs []*region
	for _, name := range []string{"a", "b"} {
		cfg := filepath.Join(dir, name+".hcl")
		writeConfig(t, cfg, fmt.Sprintf("agent {\n  server {\n    region = %q\n  }\n}\n\nplugin \"sim\" {}\n%s", name, regionFabric))
		p := startAgent(t, filepath.Join(dir, name), freePort(t), freePort(t), "-dev", "-config", cfg)
		rs = append(rs, &region{name: name, p: p, c: p.client()})
	}

	// Region c: three servers and a client, as the cluster tests run them.
	var c3 clusterSpec
	var c3cfg [3]string
	c3.dir = filepath.Join(dir, "c")
	for i := range 3 {
		c3.http[i], c3.bind[i] = freePort(t), freePort(t)
	}
	for i := range 3 {
		var join []string
		for j := range 3 {
			if j != i {
				join = append(join, fmt.Sprintf("%q", c3.http[j]))
			}
		}
		cfg := filepath.Join(dir, fmt.Sprintf("c-s%d.hcl", i))
		c3cfg[i] = cfg
		writeConfig(t, cfg, fmt.Sprintf(`agent {
  name      = "c-s%d"
  data_dir  = %q
  http_addr = %q
  log_level = "warn"
  server {
    enabled          = true
    region           = "c"
    bind             = %q
    bootstrap_expect = 3
    join             = [%s]
  }
  acl {
    enabled = false
  }
}
`, i, filepath.Join(c3.dir, fmt.Sprintf("s%d", i)), c3.http[i], c3.bind[i], strings.Join(join, ", ")))
		c3.servers[i] = launch(t, nil, "http://"+c3.http[i], "-config", cfg)
	}
	for _, p := range c3.servers {
		p.waitBanner(60 * time.Second)
	}
	waitFor(t, 60*time.Second, "a leader of region c", func() bool { return c3.leader(t) >= 0 })
	// The whole mission applied to a server of region c applies c's part.
	c3.applyMissionSrc(t, (c3.leader(t)+1)%3, regionFabric)
	var servers []string
	for _, h := range c3.http {
		servers = append(servers, fmt.Sprintf("%q", "http://"+h))
	}
	ccfg := filepath.Join(dir, "c-client.hcl")
	writeConfig(t, ccfg, fmt.Sprintf(`agent {
  name      = "c-client"
  data_dir  = %q
  http_addr = %q
  log_level = "warn"
  client {
    enabled            = true
    servers            = [%s]
    heartbeat_interval = "200ms"
  }
  acl {
    enabled = false
  }
}

plugin "sim" {}
%s`, filepath.Join(c3.dir, "client"), freePort(t), strings.Join(servers, ", "), regionC))
	launch(t, nil, "", "-client", "-config", ccfg).waitBanner(60 * time.Second)
	c := &region{name: "c", c: c3.api(t, c3.leader(t), false)}
	rs = append(rs, c)

	for _, r := range rs {
		waitFor(t, 60*time.Second, r.name+".1 up", func() bool {
			ns, err := r.c.Nodes(ctxT(t))
			return err == nil && len(ns) == 1 && ns[0].Status == "up"
		})
	}
	for _, r := range rs {
		r.ids = submit(t, r.c, jobs(r.name)...)
	}
	completed := func(cl *api.Client) int64 {
		l, err := cl.Ledger(ctxT(t))
		if err != nil {
			return -1
		}
		return l.Global["completed"].Jobs
	}
	// Kill once every region streams completions at its capacity's rate,
	// with more than two windows of work left in a and b (600 jobs, 15 s).
	// Polls are sparse, so they weigh on no window.
	poll(t, 120*time.Second, "every region to complete 300 jobs", func() bool {
		for _, r := range rs {
			if completed(r.c) < 300 {
				return false
			}
		}
		return true
	})
	victim := c3.leader(t)
	if victim < 0 {
		t.Fatal("region c has no leader to kill")
	}
	killedAt := time.Now()
	c3.servers[victim].kill()
	newLeader := -1
	poll(t, 60*time.Second, "a new leader of region c", func() bool {
		newLeader = c3.leader(t)
		return newLeader >= 0 && newLeader != victim
	})
	elected := time.Now()
	t.Logf("region c: SIGKILLed leader c-s%d; c-s%d leads after %v", victim, newLeader, elected.Sub(killedAt).Round(time.Millisecond))
	c.c = c3.api(t, newLeader, false)

	for _, r := range rs {
		poll(t, 180*time.Second, "region "+r.name+" completes its jobs", func() bool { return completed(r.c) == killJobs })
	}
	window := max(killWindow, elected.Sub(killedAt))
	for _, r := range rs {
		evs := allEvents(t, r.c)
		done := map[string]int{}
		var times []int64
		for _, e := range evs {
			if e.Type == state.EvJobCompleted {
				done[e.Job]++
				times = append(times, e.Time)
			}
		}
		for _, id := range r.ids {
			if done[id] != 1 {
				t.Errorf("region %s: job %s completed %d times, want once", r.name, id, done[id])
			}
		}
		l, err := r.c.Ledger(ctxT(t))
		if err != nil || len(l.Regions) != 1 || l.Regions[0].Region != r.name {
			t.Errorf("region %s ledger: regions %+v (%v)", r.name, l.Regions, err)
		}
		for _, inv := range l.Invariants {
			if !inv.OK {
				t.Errorf("region %s: invariant %s: %s", r.name, inv.ID, inv.Message)
			}
		}
		if r.name == "c" {
			// c stopped: no completion is stamped from a little after the
			// kill until its new leader applies one, at least raft's
			// heartbeat timeout (1 s) later; a slower machine only
			// widens the gap.
			gap := stallAround(times, killedAt)
			t.Logf("region c: no completion for %v around the kill", gap.Round(time.Millisecond))
			if gap < 500*time.Millisecond {
				t.Errorf("region c completed jobs while its leader was dead: longest gap around the kill %v", gap)
			}
			continue
		}
		before, during := ratesAround(times, killedAt, window)
		ratio := during / before
		t.Logf("region %s: %.1f jobs/s over the %v before the kill, %.1f jobs/s over the %v from it (c's election): ratio %.3f",
			r.name, before, window.Round(time.Millisecond), during, window.Round(time.Millisecond), ratio)
		if ratio < 0.9 || ratio > 1.1 {
			t.Errorf("region %s: completion rate during region c's election is %.3f of its rate before, want within 10%%", r.name, ratio)
		}
	}
	// The killed server, restarted on its data dir, rejoins region c.
	c3.servers[victim] = launch(t, nil, "http://"+c3.http[victim], "-config", c3cfg[victim])
	c3.servers[victim].waitBanner(60 * time.Second)
	waitFor(t, 60*time.Second, "the restarted server to catch up", func() bool {
		ok, _ := c3.digestsAgree(t, []int{0, 1, 2})
		return ok
	})
}

// stallAround returns the longest gap between consecutive completion times
// (Unix nanoseconds, sorted) among those within 5 s of at.
func stallAround(times []int64, at time.Time) time.Duration {
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	var gap int64
	for i := 1; i < len(times); i++ {
		if times[i] >= at.UnixNano()-int64(5*time.Second) && times[i-1] <= at.UnixNano()+int64(5*time.Second) {
			gap = max(gap, times[i]-times[i-1])
		}
	}
	return time.Duration(gap)
}

// poll checks cond every 200 ms until it holds or d passes.
func poll(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond) // polling a condition, not synchronizing
	}
}

// ratesAround returns the completion rates (per second) over [at-w, at)
// and [at, at+w) of the sorted-or-not completion times (Unix nanoseconds).
func ratesAround(times []int64, at time.Time, w time.Duration) (before, during float64) {
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	count := func(from, to int64) int {
		lo := sort.Search(len(times), func(i int) bool { return times[i] >= from })
		hi := sort.Search(len(times), func(i int) bool { return times[i] >= to })
		return hi - lo
	}
	t0 := at.UnixNano()
	n0, n1 := count(t0-int64(w), t0), count(t0, t0+int64(w))
	return float64(n0) / w.Seconds(), float64(n1) / w.Seconds()
}

// applyMissionSrc applies src through server i, retrying while the
// cluster settles.
func (c *clusterSpec) applyMissionSrc(t *testing.T, i int, src string) {
	t.Helper()
	cl := c.api(t, i, false)
	waitFor(t, 30*time.Second, "mission applied", func() bool {
		_, err := cl.ApplyMission(ctxT(t), "mission.hcl", []byte(src), "region test")
		return err == nil
	})
}
