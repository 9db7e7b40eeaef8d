package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
)

// TestCrashKeepsAcknowledgedSubmits: 8 concurrent clients submit 1,000 jobs
// one at a time with idempotency keys; the agent is SIGKILLed while they run
// and restarted on the same data dir; every acknowledged job is there exactly
// once, retries did not duplicate, and the ledger balances.
func TestCrashKeepsAcknowledgedSubmits(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	httpAddr, bind := freePort(t), freePort(t)
	p := startAgent(t, dir, httpAddr, bind, "-dev")

	const clients, perClient = 8, 125
	var (
		mu    sync.Mutex
		acked = map[string]string{} // key -> job id
		down  atomic.Bool
		nAck  atomic.Int64
	)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			cl := p.client()
			for i := 0; i < perClient; i++ {
				key := fmt.Sprintf("crash/%d/%d", c, i)
				job := api.JobSubmit{Key: key, Shard: "earth", Capabilities: []string{"finance"}, Kind: "sim", Value: 1}
				deadline := time.Now().Add(90 * time.Second)
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					res, err := cl.SubmitJobs(ctx, []api.JobSubmit{job})
					cancel()
					if err == nil && len(res) == 1 && res[0].ID != "" {
						mu.Lock()
						if prev, ok := acked[key]; ok && prev != res[0].ID {
							t.Errorf("key %s acknowledged as %s and then %s", key, prev, res[0].ID)
						}
						acked[key] = res[0].ID
						mu.Unlock()
						nAck.Add(1)
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("submit %s: gave up: %v", key, err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}(c)
	}

	waitFor(t, 60*time.Second, "300 acknowledged submits", func() bool { return nAck.Load() >= 300 })
	p.crash()
	down.Store(true)
	ackedAtCrash := nAck.Load()
	p2 := startAgent(t, dir, httpAddr, bind, "-dev")
	wg.Wait()
	if t.Failed() {
		return
	}
	if ackedAtCrash >= clients*perClient {
		t.Fatalf("the crash came after every submit was acknowledged (%d); nothing was in flight", ackedAtCrash)
	}

	c := p2.client()
	ctx := context.Background()
	seen := map[string]int{}
	byKey := map[string]int{}
	q := api.JobQuery{Limit: 500}
	for {
		list, err := c.Jobs(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range list.Jobs {
			seen[j.ID]++
			byKey[j.Key]++
		}
		if list.Next == 0 || len(list.Jobs) == 0 {
			break
		}
		q.After = list.Next
	}
	if len(seen) != clients*perClient {
		t.Errorf("jobs after restart = %d, want %d (acknowledged before the crash: %d)", len(seen), clients*perClient, ackedAtCrash)
	}
	for key, id := range acked {
		if seen[id] != 1 {
			t.Errorf("acknowledged job %s (key %s) found %d times", id, key, seen[id])
		}
		if byKey[key] != 1 {
			t.Errorf("key %s has %d jobs", key, byKey[key])
		}
	}
	led, err := c.Ledger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range led.Invariants {
		if !inv.OK {
			t.Errorf("invariant %s failed: %s", inv.ID, inv.Message)
		}
	}
	t.Logf("acknowledged at crash: %d of %d; jobs after restart: %d", ackedAtCrash, clients*perClient, len(seen))
}
