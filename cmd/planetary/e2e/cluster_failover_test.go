package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// TestClusterLeaderKill: three server processes and one client process on
// loopback. 5,000 jobs are submitted through all three servers (followers
// forward to the leader) while the leader is SIGKILLed once with work
// outstanding. A new leader is elected, every acknowledged job completes
// exactly once (one job.completed event per job), the surviving servers'
// digests agree, and the killed server, restarted on its data dir, catches
// up to the same digest.
func TestClusterLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	runClusterJobs(t, false, 5000, true)
}

// TestClusterTLS: the same cluster over mutual TLS (API, client protocol and
// raft), a few hundred jobs; a client with a certificate from another CA is
// refused.
func TestClusterTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	c := runClusterJobs(t, true, 300, false)
	other, err := newForeignClient(t, c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := other.Health(ctx); err == nil {
		t.Fatal("a client with a foreign-CA certificate was served")
	}
}

func runClusterJobs(t *testing.T, withTLS bool, total int, kill bool) *clusterSpec {
	c := newClusterSpec(t, withTLS)
	c.start(t)
	waitFor(t, 30*time.Second, "a leader", func() bool { return c.leader(t) >= 0 })
	c.applyMission(t, (c.leader(t)+1)%3) // through a follower
	cl := c.startClient(t)

	const submitters = 6
	var (
		mu    sync.Mutex
		acked = map[string]string{}
		nAck  atomic.Int64
		next  atomic.Int64
	)
	var wg sync.WaitGroup
	for w := range submitters {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				n := int(next.Add(25)) - 25
				if n >= total {
					return
				}
				var batch []api.JobSubmit
				for i := n; i < min(n+25, total); i++ {
					batch = append(batch, api.JobSubmit{Key: fmt.Sprintf("ha/%d", i), Shard: "earth", Capabilities: []string{"sim"}, Kind: "sim", Value: 1})
				}
				deadline := time.Now().Add(90 * time.Second)
				for try := 0; ; try++ {
					cl := c.api(t, (w+try)%3, false)
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					res, err := cl.SubmitJobs(ctx, batch)
					cancel()
					if err == nil && len(res) == len(batch) {
						mu.Lock()
						for i, r := range res {
							if prev, ok := acked[batch[i].Key]; ok && prev != r.ID {
								t.Errorf("key %s acknowledged as %s and %s", batch[i].Key, prev, r.ID)
							}
							acked[batch[i].Key] = r.ID
						}
						mu.Unlock()
						nAck.Add(int64(len(res)))
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("submit batch at %d: gave up: %v", n, err)
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		}(w)
	}

	killed := -1
	var killedAt time.Time
	if kill {
		waitFor(t, 60*time.Second, "1,500 acknowledged jobs", func() bool { return nAck.Load() >= 1500 })
		killed = c.leader(t)
		if killed < 0 {
			t.Fatal("no leader to kill")
		}
		killedAt = time.Now()
		c.servers[killed].kill()
		t.Logf("SIGKILLed leader s%d with %d of %d acknowledged", killed, nAck.Load(), total)
		waitFor(t, 30*time.Second, "a new leader", func() bool { l := c.leader(t); return l >= 0 && l != killed })
		t.Logf("new leader s%d after %v", c.leader(t), time.Since(killedAt).Round(time.Millisecond))
	}
	wg.Wait()
	if t.Failed() {
		return c
	}
	live := []int{}
	for i := range 3 {
		if i != killed {
			live = append(live, i)
		}
	}
	reader := c.api(t, live[0], false)
	var lastLedger api.Ledger
	deadline := time.Now().Add(120 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		led, err := reader.Ledger(ctx)
		cancel()
		if err == nil {
			lastLedger = led
			if led.Global["completed"].Jobs == int64(total) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs not all completed: %+v\nclient output:\n%s", lastLedger.Global, cl.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The event log is each server's own (GET /v1/events is never
	// forwarded): live[0] may be a follower that has not applied the last
	// completions yet, so read until its log holds them all (or stops
	// growing), then check each job's count.
	completed := map[string]int{}
	var firstAssign time.Time
	evDeadline := time.Now().Add(30 * time.Second)
	for {
		clear(completed)
		firstAssign = time.Time{}
		for _, e := range allEvents(t, c.api(t, live[0], true)) {
			switch e.Type {
			case state.EvJobCompleted:
				completed[e.Job]++
			case state.EvJobAssigned:
				if kill && firstAssign.IsZero() && e.Time > killedAt.UnixNano() {
					firstAssign = time.Unix(0, e.Time)
				}
			}
		}
		if len(completed) >= total || time.Now().After(evDeadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for key, id := range acked {
		if completed[id] != 1 {
			t.Errorf("job %s (key %s) completed %d times", id, key, completed[id])
		}
	}
	if len(completed) != total {
		t.Errorf("%d jobs completed, want %d", len(completed), total)
	}
	if kill {
		t.Logf("leader SIGKILL to first assignment by the new leader: %v (raft heartbeat/election timeouts 1s/1s)", firstAssign.Sub(killedAt).Round(time.Millisecond))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	led, err := reader.Ledger(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range led.Invariants {
		if !inv.OK {
			t.Errorf("invariant %s: %s", inv.ID, inv.Message)
		}
	}
	agree := func(which []int) {
		var last string
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			ok, s := c.digestsAgree(t, which)
			if ok {
				t.Logf("digests agree: %s", s)
				return
			}
			last = s
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("digests differ: %s", last)
	}
	agree(live)
	if kill {
		c.startServer(t, killed).waitBanner(60 * time.Second)
		agree([]int{0, 1, 2})
	}
	return c
}
