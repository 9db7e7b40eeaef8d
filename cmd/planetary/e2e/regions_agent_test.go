package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
)

// TestAgentRegions starts `agent -dev -regions`: the example mission's four
// regions each run as their own raft group (their own raft.db under
// <data>/server/regions/<name>), one API address routes each request to its
// region, each region's nodes come up through its own client role, a job
// of every region completes in its region only, and every region's ledger
// comes to list all four regions.
func TestAgentRegions(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	p := startAgent(t, data, freePort(t), freePort(t), "-dev", "-regions")
	c := p.client()
	regions := []string{"earth", "luna", "mars", "helios"}
	for _, r := range regions {
		if _, err := os.Stat(filepath.Join(data, "server", "regions", r, "raft.db")); err != nil {
			t.Errorf("region %s has no raft log of its own: %v", r, err)
		}
	}
	waitFor(t, 60*time.Second, "every sim node up", func() bool {
		ns, err := c.Nodes(ctxT(t))
		if err != nil {
			return false
		}
		up := map[string]bool{}
		for _, n := range ns {
			if n.Plugin == "sim" && n.Status == "up" {
				up[n.Shard] = true
			}
		}
		return len(up) == 4
	})
	jobs := []api.JobSubmit{
		simJob("r/earth", "earth", 50*time.Millisecond, "general"),
		simJob("r/luna", "luna", 50*time.Millisecond, "navigation"),
		simJob("r/mars", "mars", 50*time.Millisecond, "simulation"),
		simJob("r/helios", "helios", 50*time.Millisecond, "astronomy"),
	}
	ids := submit(t, c, jobs...)
	waitState(t, c, 60*time.Second, "completed", ids...)
	for i, r := range regions {
		rc := regionClient(t, p, r)
		if _, err := rc.Job(ctxT(t), ids[i]); err != nil {
			t.Errorf("job %s is not in region %s: %v", ids[i], r, err)
		}
		for j, id := range ids {
			if j != i {
				if _, err := rc.Job(ctxT(t), id); err == nil {
					t.Errorf("job %s of region %s is also in region %s", id, regions[j], r)
				}
			}
		}
	}
	waitFor(t, 30*time.Second, "every region's ledger to list the four regions", func() bool {
		for _, r := range regions {
			led, err := regionClient(t, p, r).Ledger(ctxT(t))
			if err != nil || len(led.Regions) != 4 {
				return false
			}
		}
		return true
	})
}

// regionClient is p's client whose requests name region r.
func regionClient(t *testing.T, p *agentProc, r string) *api.Client {
	t.Helper()
	cc := api.DefaultClientConfig()
	cc.Address, cc.Token, cc.Region = p.addr, p.token, r
	c, err := api.NewClient(cc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
