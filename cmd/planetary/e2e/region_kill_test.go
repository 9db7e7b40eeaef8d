package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
)

// regionFabric is a mission of three shards, each its own region (a shard
// is its own region unless grouped), one sim node each.
const regionFabric = `
mission "sovereign" {
  seed = 3
}
shard "a" {}
shard "b" {}
shard "c" {}
node "a.1" {
  shard        = "a"
  plugin       = "sim"
  capabilities = ["x"]
  capacity     = 4
  price {
    base = 0.1
  }
}
node "b.1" {
  shard        = "b"
  plugin       = "sim"
  capabilities = ["x"]
  capacity     = 4
  price {
    base = 0.1
  }
}
node "c.1" {
  shard        = "c"
  plugin       = "sim"
  capabilities = ["x"]
  capacity     = 4
  price {
    base = 0.1
  }
}
`

// TestRegionProcessKilledAlone runs each region of a three-region mission
// in its own agent process (server { region = ... }), each its own raft
// group. SIGKILL of region c's process (its raft leader, its plugins) stops
// only c: a and b complete every job they hold while c is gone, and c,
// restarted on its data dir, completes every job it had acknowledged,
// each exactly once. The completion rates of a and b before and during c's
// absence are logged (a measurement, not a verdict).
func TestRegionProcessKilledAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	dir := t.TempDir()
	type region struct {
		name, cfg, data, http, bind string
		p                           *agentProc
		c                           *api.Client
		ids                         []string
	}
	var rs []*region
	for _, name := range []string{"a", "b", "c"} {
		r := &region{name: name, data: filepath.Join(dir, name), http: freePort(t), bind: freePort(t)}
		r.cfg = filepath.Join(dir, name+".hcl")
		src := fmt.Sprintf("agent {\n  server {\n    region = %q\n  }\n}\n\nplugin \"sim\" {}\n%s", name, regionFabric)
		if err := os.WriteFile(r.cfg, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		r.p = startAgent(t, r.data, r.http, r.bind, "-dev", "-config", r.cfg)
		r.c = r.p.client()
		rs = append(rs, r)
	}
	for _, r := range rs {
		waitFor(t, 30*time.Second, r.name+".1 up", func() bool {
			ns, err := r.c.Nodes(ctxT(t))
			return err == nil && len(ns) == 1 && ns[0].Status == "up"
		})
		var js []api.JobSubmit
		for i := range 60 {
			js = append(js, simJob(fmt.Sprintf("%s/%02d", r.name, i), r.name, 250*time.Millisecond, "x"))
		}
		r.ids = submit(t, r.c, js...)
	}
	completed := func(r *region) int64 {
		l, err := r.c.Ledger(ctxT(t))
		if err != nil {
			return -1
		}
		return l.Global["completed"].Jobs
	}
	waitFor(t, 60*time.Second, "every region to complete some jobs", func() bool {
		for _, r := range rs {
			if completed(r) < 4 {
				return false
			}
		}
		return true
	})
	a, b, c := rs[0], rs[1], rs[2]
	before := time.Now()
	a0, b0 := completed(a), completed(b)
	time.Sleep(time.Second)
	rateA, rateB := float64(completed(a)-a0)/time.Since(before).Seconds(), float64(completed(b)-b0)/time.Since(before).Seconds()

	c.p.kill()
	killed := time.Now()
	a1, b1 := completed(a), completed(b)
	waitState(t, a.c, 120*time.Second, "completed", a.ids...)
	waitState(t, b.c, 120*time.Second, "completed", b.ids...)
	t.Logf("completion rate before c was killed: a %.1f/s, b %.1f/s; after: a %.1f jobs in %s, b %.1f jobs in %s",
		rateA, rateB, float64(completed(a)-a1), time.Since(killed).Round(time.Millisecond), float64(completed(b)-b1), time.Since(killed).Round(time.Millisecond))
	if _, err := c.c.Ledger(ctxT(t)); err == nil {
		t.Fatal("region c still answers after its process was killed")
	}

	c.p = startAgent(t, c.data, c.http, c.bind, "-dev", "-config", c.cfg)
	c.c = c.p.client()
	waitState(t, c.c, 120*time.Second, "completed", c.ids...)
	for _, r := range rs {
		done := map[string]int{}
		for _, e := range allEvents(t, r.c) {
			if e.Type == "job.completed" {
				done[e.Job]++
			}
		}
		for _, id := range r.ids {
			if done[id] != 1 {
				t.Errorf("region %s: job %s completed %d times, want once", r.name, id, done[id])
			}
		}
		l, err := r.c.Ledger(ctxT(t))
		if err != nil || len(l.Regions) != 1 || l.Regions[0].Region != r.name || l.Global["completed"].Jobs != int64(len(r.ids)) {
			t.Errorf("region %s ledger: regions %+v completed %d (%v)", r.name, l.Regions, l.Global["completed"].Jobs, err)
		}
	}
}
