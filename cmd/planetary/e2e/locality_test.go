package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// homeHost writes the config of the -client agent that serves shard home's
// only node, home.1, for the dev agent at addr.
func homeHost(t *testing.T, dir, addr string) string {
	t.Helper()
	body := fmt.Sprintf(`agent {
  name      = "home-host"
  data_dir  = %q
  http_addr = %q
  log_level = "warn"
  client {
    enabled            = true
    servers            = [%q]
    heartbeat_interval = "200ms"
  }
}

plugin "sim" {}

mission "locality" {}

shard "home" {}

node "home.1" {
  shard           = "home"
  plugin          = "sim"
  capabilities    = ["x"]
  capacity        = 2
  max_concurrency = 2
  price {
    base = 0.1
  }
}
`, filepath.Join(dir, "home-host"), freePort(t), addr)
	path := filepath.Join(dir, "home-host.hcl")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLocalityLongOutageSpillsAlongTargets: shard home's host is SIGKILLed
// and stays away past the 2s heartbeat TTL and home's 1s spill_grace. Its
// router then places queued work only on its listed targets, b first, then
// a, never on c (which has room but is not a target), and each spill names
// its rule. The test then pauses a and b (so nothing else can spill while
// home comes back) and restarts home's host: every job that had not spilled
// runs at home, and no job spilled again unless its spilled attempt came
// back home first.
func TestLocalityLongOutageSpillsAlongTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	dir := t.TempDir()
	cfg, err := filepath.Abs("testdata/locality-fabric.hcl")
	if err != nil {
		t.Fatal(err)
	}
	p := startAgent(t, filepath.Join(dir, "dev"), freePort(t), freePort(t), "-dev", "-config", cfg, "-heartbeat-ttl", "2s")
	c := p.client()
	hostCfg := homeHost(t, dir, p.addr)
	env := []string{api.EnvToken + "=" + p.token}
	host := launch(t, env, "", "-client", "-config", hostCfg)
	host.waitBanner(60 * time.Second)
	waitFor(t, 30*time.Second, "home.1 up", func() bool {
		n, err := c.Node(ctxT(t), "home.1")
		return err == nil && n.Status == "up"
	})

	var js []api.JobSubmit
	for i := range 12 {
		js = append(js, simJob(fmt.Sprintf("outage/%02d", i), "home", 2*time.Second, "x"))
	}
	ids := submit(t, c, js...)
	waitFor(t, 15*time.Second, "home.1 to run its 2 slots", func() bool {
		n, err := c.Node(ctxT(t), "home.1")
		return err == nil && n.Active == 2
	})
	// The outage: the host and its plugin die; home.1 expires by TTL.
	host.kill()
	spills := func() []state.Event {
		var out []state.Event
		for _, e := range allEvents(t, c) {
			if e.Type == state.EvJobSpilled {
				out = append(out, e)
			}
		}
		return out
	}
	waitFor(t, 30*time.Second, "b and a to take 4 spilled jobs", func() bool { return len(spills()) >= 4 })
	for _, shard := range []string{"a", "b"} {
		if _, err := c.Pause(ctxT(t), shard, "freeze the targets while home returns"); err != nil {
			t.Fatal(err)
		}
	}
	host = launch(t, env, "", "-client", "-config", hostCfg)
	host.waitBanner(60 * time.Second)
	waitState(t, c, 90*time.Second, "completed", ids...)

	sp := spills()
	// A spilled attempt that ends without a result (its target node went
	// down, as a loaded machine can make it miss its heartbeats) returns to
	// home's queue, so such a job may finish at home, or spill once more
	// while home is still down.
	returned := map[string]int{}
	for _, e := range allEvents(t, c) {
		if e.Type == state.EvJobRequeued && e.Shard == "home" && (e.From == "a" || e.From == "b") {
			returned[e.Job]++
		}
	}
	perJob := map[string]int{}
	for i, e := range sp {
		perJob[e.Job]++
		if e.From != "home" || (e.To != "a" && e.To != "b") || e.Reason != "home outage" {
			t.Errorf("spill %d: %s %s -> %s (%s; %s)", i, e.Job, e.From, e.To, e.Reason, e.Detail)
		}
	}
	if len(sp) < 4 || sp[0].To != "b" || sp[1].To != "b" {
		t.Errorf("first spills go to %v, want b then b (then a)", spillTargets(sp))
	}
	home, away := 0, 0
	for _, id := range ids {
		j := job(t, c, id)
		switch {
		case perJob[id] > 1+returned[id]:
			t.Errorf("job %s spilled %d times but came back home only %d times", id, perJob[id], returned[id])
		case perJob[id] >= 1:
			away++
			if j.Home != "home" || (j.Node != "a.1" && j.Node != "b.1" && !(returned[id] > 0 && j.Node == "home.1")) {
				t.Errorf("spilled job %s: home %s node %s", id, j.Home, j.Node)
			}
		default:
			home++
			if j.Shard != "home" || j.Node != "home.1" || j.Hops != 0 {
				t.Errorf("job %s that did not spill: shard %s node %s hops %d", id, j.Shard, j.Node, j.Hops)
			}
		}
	}
	t.Logf("%d jobs: %d spilled (targets in order %v; %d came back home when a target's node went down), %d ran at home after the outage",
		len(ids), away, spillTargets(sp), len(returned), home)
	l := ledger(t, c)
	checkInvariants(t, l)
	if n := flowJobs(l, "home", "c"); n != 0 {
		t.Errorf("home -> c flow = %d: c is not a target", n)
	}
	if flowJobs(l, "home", "a")+flowJobs(l, "home", "b") != int64(len(sp)) {
		t.Errorf("flows %+v, want the %d spills to a and b", l.Flows, len(sp))
	}
}

func spillTargets(evs []state.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.To)
	}
	return out
}
