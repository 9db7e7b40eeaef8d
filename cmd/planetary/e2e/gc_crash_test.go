package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// gcCrashConfig is a single-host agent with small event-log segments behind
// a size limit, and a mission of one sim node whose retention commits JobGC
// entries of batch ids, with no periodic pass: collection runs when asked
// (operator gc -threshold 0s collects every finished job).
func gcCrashConfig(t *testing.T, dir string, batch int) string {
	t.Helper()
	src := fmt.Sprintf(`
agent {
  name          = "gc-crash"
  allowed_roots = ["reports", "checkpoints"]
  server {
    enabled          = true
    bootstrap_expect = 1
  }
  client {
    enabled            = true
    nodes              = ["*"]
    heartbeat_interval = "1s"
  }
  event_retention {
    max_bytes     = 65536
    segment_bytes = 16384
  }
  acl {
    enabled = true
  }
}

plugin "sim" {}

mission "gc-crash" {
  seed = 7
}

shard "earth" {
  latency_budget_ms = 1000
}

node "earth.sim-1" {
  shard           = "earth"
  plugin          = "sim"
  capabilities    = ["gc"]
  capacity        = 500
  max_concurrency = 500
  heartbeat_sec   = 15
  price {
    base = 0.001
  }
}

checkpoint {
  path = "checkpoints/gc-crash.snap"
}

reporting {
  directory = "reports"
}

retention {
  job_gc_threshold   = "1h"
  job_gc_interval    = "0s"
  job_gc_batch       = %d
  idempotency_window = "24h"
}
`, batch)
	path := filepath.Join(dir, "gc-crash.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func gcJobID(i int) string { return fmt.Sprintf("gc-%05d", i) }

// collectedOrPresent reads every job's status: the number collected (a 404
// naming the collection) and whether they are exactly the first ones in
// submit order. A job is either present and completed, or collected.
func collectedOrPresent(t *testing.T, c *api.Client, total int) int {
	t.Helper()
	collected, prefix := 0, true
	for i := 0; i < total; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		j, err := c.Job(ctx, gcJobID(i))
		cancel()
		var ae *api.Error
		switch {
		case err == nil:
			if j.State != state.JobCompleted.String() || j.Key != fmt.Sprintf("gc/%d", i) {
				t.Fatalf("job %s present as %s key %q", j.ID, j.State, j.Key)
			}
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound && strings.Contains(ae.Message, "collected at"):
			if collected != i {
				prefix = false
			}
			collected++
		default:
			t.Fatalf("job %s: %v", gcJobID(i), err)
		}
	}
	if !prefix {
		t.Fatalf("the %d collected jobs are not the first in seq order", collected)
	}
	return collected
}

// resubmitAll submits every job's key again (no id): each must be a
// duplicate of its job, collected or not, so the key index lost nothing.
func resubmitAll(t *testing.T, c *api.Client, total int) {
	t.Helper()
	for i := 0; i < total; i += 500 {
		var jobs []api.JobSubmit
		for k := i; k < min(i+500, total); k++ {
			jobs = append(jobs, api.JobSubmit{Key: fmt.Sprintf("gc/%d", k), Shard: "earth", Capabilities: []string{"gc"}, Kind: "sim", Value: 1})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, err := c.SubmitJobs(ctx, jobs)
		cancel()
		if err != nil {
			t.Fatalf("resubmit: %v", err)
		}
		for k, r := range res {
			if r.Status != api.StatusDuplicate || r.ID != gcJobID(i+k) {
				t.Fatalf("resubmit of key gc/%d: %+v, want a duplicate of %s", i+k, r, gcJobID(i+k))
			}
		}
	}
}

// checkLedger: every job is counted once, completed, and the invariants
// (over live records plus the collected aggregates) hold.
func checkLedger(t *testing.T, c *api.Client, total int) {
	t.Helper()
	l, err := ledgerNow(t, c)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, cv := range l.Global {
		n += cv.Jobs
	}
	if n != int64(total) || jobsIn(l, state.JobCompleted) != int64(total) {
		t.Fatalf("ledger counts %d jobs (%d completed), want %d", n, jobsIn(l, state.JobCompleted), total)
	}
	for _, inv := range l.Invariants {
		if !inv.OK {
			t.Fatalf("invariant %s: %s", inv.ID, inv.Message)
		}
	}
}

// verifyBundle writes a report bundle of the live agent and runs ledger
// verify on it; it must verify from the event-retention anchor.
func verifyBundle(t *testing.T, p *agentProc, out string) string {
	t.Helper()
	if o, code := runCLI(t, "report", "-out", out, "-address", p.addr, "-token", p.token); code != 0 {
		t.Fatalf("planetary report exited %d:\n%s", code, o)
	}
	o, code := runCLI(t, "ledger", "verify", out)
	if code != 0 || !strings.Contains(o, "verified from anchor at event") || !strings.Contains(o, "chain and invariants hold") {
		t.Fatalf("planetary ledger verify exited %d, want a pass from the anchor:\n%s", code, o)
	}
	return strings.TrimSpace(o)
}

// TestGCCrashMidBatch: 3,000 finished jobs and a retention of 2 ids per
// JobGC make one operator gc pass 1,500 raft entries long. The agent is
// SIGKILLed as soon as the first jobs.collected event is read, and restarted
// on the same data dir: every job is either present (record, id and key
// indexes) or collected (404 naming its collection, key still a duplicate),
// the collected ones are whole batches at the front of the seq order, the
// ledger counts every job once with its invariants holding, and a report
// bundle of the live agent verifies from the event-retention anchor. The next
// pass collects exactly the rest, and the bundle verifies again.
func TestGCCrashMidBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	const total, batch = 3000, 2
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "agent")
	cfg := gcCrashConfig(t, dir, batch)
	httpAddr, bind := freePort(t), freePort(t)
	p := startAgent(t, dataDir, httpAddr, bind, "-dev", "-config", cfg)
	c := p.client()
	ctx := context.Background()

	for i := 0; i < total; i += 100 {
		var jobs []api.JobSubmit
		for k := i; k < i+100; k++ {
			jobs = append(jobs, api.JobSubmit{ID: gcJobID(k), Key: fmt.Sprintf("gc/%d", k), Shard: "earth",
				Capabilities: []string{"gc"}, Kind: "sim", Value: 1, Payload: json.RawMessage(`{"duration_ms": 0}`)})
		}
		if _, err := c.SubmitJobs(ctx, jobs); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 120*time.Second, "every job completed", func() bool {
		l, err := ledgerNow(t, c)
		return err == nil && jobsIn(l, state.JobCompleted) == total
	})
	// A checkpoint is a raft snapshot: event retention prunes behind it, so
	// the bundles below start at an anchor.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if _, err := c.SaveCheckpoint(sctx); err != nil {
		t.Fatalf("checkpoint save: %v", err)
	}
	cancel()
	waitFor(t, 30*time.Second, "event segments pruned behind the snapshot", func() bool {
		return retentionNow(t, c).Pruned
	})
	head := retentionNow(t, c).Head

	// One pass of total/batch JobGC entries; kill at its first batch.
	passDone := make(chan error, 1)
	go func() {
		_, err := c.GC(context.Background(), api.GCRequest{Threshold: "0s", Reason: "crash test"})
		passDone <- err
	}()
	var first state.Event
	waitFor(t, 60*time.Second, "the first jobs.collected event", func() bool {
		ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		page, err := c.Events(ectx, head, time.Second, state.EvJobsCollected, 1)
		if err != nil || len(page.Events) == 0 {
			return false
		}
		first = state.Event(page.Events[0])
		return true
	})
	p.crash()
	if err := <-passDone; err == nil {
		t.Fatal("the gc pass finished before the crash")
	}
	t.Logf("crashed after %s (%s)", first.Type, first.Detail)

	p2 := startAgent(t, dataDir, httpAddr, bind, "-dev", "-config", cfg)
	c = p2.client()
	k := collectedOrPresent(t, c, total)
	if k == 0 || k == total || k%batch != 0 {
		t.Fatalf("%d of %d jobs collected after the crash: want whole batches of %d, some but not all", k, total, batch)
	}
	resubmitAll(t, c, total)
	checkLedger(t, c, total)
	t.Logf("after the restart: %d jobs collected, %d present; %s", k, total-k, verifyBundle(t, p2, filepath.Join(dir, "bundle-crash")))

	// The next pass takes up the rest.
	gctx, gcancel := context.WithTimeout(ctx, 5*time.Minute)
	res, err := c.GC(gctx, api.GCRequest{Threshold: "0s", Reason: "resume"})
	gcancel()
	if err != nil || res.Collected != total-k || res.Skipped != 0 || res.First != gcJobID(k) || res.Last != gcJobID(total-1) ||
		res.LiveJobs != 0 || res.Tombs != total || res.Batches != (total-k)/batch {
		t.Fatalf("resumed pass: %+v %v (want %d collected from %s)", res, err, total-k, gcJobID(k))
	}
	if n := collectedOrPresent(t, c, total); n != total {
		t.Fatalf("%d of %d collected after the resumed pass", n, total)
	}
	resubmitAll(t, c, total)
	checkLedger(t, c, total)
	t.Log(verifyBundle(t, p2, filepath.Join(dir, "bundle-done")))
}
