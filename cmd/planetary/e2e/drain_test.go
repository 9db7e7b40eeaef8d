package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// TestNodeDrainBusyNode drains a busy node through the CLI with a deadline:
// the node takes no new work from the drain on, the jobs it runs are still
// running at the deadline, the leader forces the drain then (requeueing
// them), and every job completes exactly once, the long ones on the other
// node at their second attempt. The drain shows in node status and ends
// with -disable, and a second -disable is refused.
func TestNodeDrainBusyNode(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	dir := t.TempDir()
	p := startAgent(t, filepath.Join(dir, "dev"), freePort(t), freePort(t), "-dev", "-config", "testdata/drain-fabric.hcl")
	c := p.client()
	env := []string{api.EnvToken + "=" + p.token}
	cli := func(args ...string) (string, error) {
		return runPlanetary(t, planetaryBin(t), env, append([]string{args[0], args[1], "-address", p.addr}, args[2:]...)...)
	}
	mustCLI := func(args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("planetary %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	waitFor(t, 30*time.Second, "both nodes up", func() bool {
		ns, err := c.Nodes(ctxT(t))
		up := 0
		for _, n := range ns {
			if n.Status == "up" {
				up++
			}
		}
		return err == nil && up == 2
	})

	// Hold earth.b back so the two long jobs both land on earth.a; then
	// let earth.b take work again.
	mustCLI("node", "drain", "-reason", "fill earth.a first", "earth.b")
	long := submit(t, c, simJob("drain/long-1", "earth", 15*time.Second, "x"), simJob("drain/long-2", "earth", 15*time.Second, "x"))
	waitFor(t, 30*time.Second, "earth.a to run both long jobs", func() bool {
		n, err := c.Node(ctxT(t), "earth.a")
		return err == nil && n.Active == 2
	})
	mustCLI("node", "drain", "-disable", "earth.b")

	// The drain: earth.a's long jobs outlive its 1s deadline.
	out := mustCLI("node", "drain", "-deadline", "1s", "-reason", "swap the rack", "earth.a")
	if !strings.Contains(out, "node.drain applied at index") {
		t.Errorf("node drain printed %q", out)
	}
	st := mustCLI("node", "status", "earth.a")
	if !strings.Contains(st, "draining (swap the rack)") {
		t.Errorf("node status during the drain:\n%s", st)
	}
	var late []api.JobSubmit
	for i := range 6 {
		late = append(late, simJob(fmt.Sprintf("drain/late-%d", i), "earth", 200*time.Millisecond, "x"))
	}
	ids := append(long, submit(t, c, late...)...)
	waitState(t, c, 120*time.Second, "completed", ids...)

	evs := allEvents(t, c)
	var drainAt, forcedAt uint64
	for _, e := range evs {
		if e.Type != state.EvNodeUpdated || e.Node != "earth.a" {
			continue
		}
		if drainAt == 0 && strings.HasPrefix(e.Detail, "draining") {
			drainAt = e.Index
		}
		if strings.Contains(e.Detail, "drain forced") {
			if e.Actor != "system" || e.Reason != "drain deadline passed" {
				t.Errorf("forced by %q (%q), want the system at the deadline", e.Actor, e.Reason)
			}
			forcedAt = e.Index
		}
	}
	if drainAt == 0 || forcedAt <= drainAt {
		t.Fatalf("drain at index %d, forced at %d: want a drain, then the forced requeue", drainAt, forcedAt)
	}
	completed := map[string]int{}
	for _, e := range evs {
		if e.Type == state.EvJobAssigned && e.Node == "earth.a" && e.Index > drainAt {
			t.Errorf("job %s assigned to earth.a at index %d, after its drain at %d", e.Job, e.Index, drainAt)
		}
		if e.Type == state.EvJobCompleted {
			completed[e.Job]++
		}
	}
	for _, id := range ids {
		if completed[id] != 1 {
			t.Errorf("job %s completed %d times, want once", id, completed[id])
		}
	}
	for _, id := range long {
		if j := job(t, c, id); j.Node != "earth.b" || j.Attempt != 2 {
			t.Errorf("long job %s ended on %s at attempt %d, want earth.b at attempt 2", id, j.Node, j.Attempt)
		}
	}

	mustCLI("node", "drain", "-disable", "earth.a")
	if n, err := c.Node(ctxT(t), "earth.a"); err != nil || !n.Schedulable {
		t.Errorf("earth.a after -disable: schedulable %v, %v", n.Schedulable, err)
	}
	if out, err := cli("node", "drain", "-disable", "earth.a"); err == nil || !strings.Contains(out, "not draining") {
		t.Errorf("second -disable: %v\n%s", err, out)
	}
}
