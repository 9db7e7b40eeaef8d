package api_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/api/client"
)

// The job registry as a linearizable object, one register per job id:
// absent, active (any non-cancelled state) or cancelled.
type regOp struct {
	Kind string // submit, cancel, get
	ID   string
}

const (
	outOK       = "ok"
	outNotFound = "notfound"
	outActive   = "active"
	outCancel   = "cancelled"
	outUnknown  = "unknown" // a write whose outcome the caller never learned
)

var registryModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			id := op.Input.(regOp).ID
			if _, ok := by[id]; !ok {
				keys = append(keys, id)
			}
			by[id] = append(by[id], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return outNotFound },
	Step: func(st, in, out any) (bool, any) {
		s, op, o := st.(string), in.(regOp), out.(string)
		switch op.Kind {
		case "submit":
			next := s
			if s == outNotFound {
				next = outActive
			}
			return o == outOK || o == outUnknown, next
		case "cancel":
			if o == outUnknown {
				if s == outNotFound {
					return true, s
				}
				return true, outCancel
			}
			if s == outNotFound {
				return o == outNotFound, s
			}
			return o == outOK, outCancel
		default: // get
			return o == s, s
		}
	},
	DescribeOperation: func(in, out any) string {
		op := in.(regOp)
		return fmt.Sprintf("%s(%s) -> %v", op.Kind, op.ID, out)
	},
}

// history records operations with times relative to start.
type history struct {
	mu    sync.Mutex
	start time.Time
	ops   []porcupine.Operation
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) add(client int, in regOp, call int64, out string) {
	ret := h.now()
	if out == outUnknown {
		ret = int64(time.Hour) // may take effect at any time after the call
	}
	h.mu.Lock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	h.mu.Unlock()
}

// do runs one operation through cl and classifies its outcome; ok is false
// for a read that failed (it is left out of the history).
func do(ctx context.Context, cl *client.Client, op regOp) (string, bool) {
	var ae *api.Error
	switch op.Kind {
	case "submit":
		_, err := cl.SubmitJobs(ctx, []api.JobSubmit{{ID: op.ID, Shard: "earth", Kind: "sim"}})
		if err != nil {
			return outUnknown, true
		}
		return outOK, true
	case "cancel":
		_, err := cl.CancelJob(ctx, op.ID, "linearizability")
		switch {
		case err == nil:
			return outOK, true
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			return outNotFound, true
		case errors.As(err, &ae) && ae.Status == http.StatusConflict:
			return outOK, true // already terminal
		}
		return outUnknown, true
	default:
		j, err := cl.Job(ctx, op.ID)
		switch {
		case err == nil && j.State == "cancelled":
			return outCancel, true
		case err == nil:
			return outActive, true
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			return outNotFound, true
		}
		return "", false
	}
}

// TestRegistryLinearizable: concurrent clients submit, cancel and get jobs
// through all three servers (followers forward) while the leader is shut
// down without leaving; porcupine checks the history on several seeds.
func TestRegistryLinearizable(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			c := newAPICluster(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			boot, _ := client.NewClient(client.ClientConfig{Address: c.urls[c.leader()]})
			if _, err := boot.RegisterShard(ctx, api.Shard{Name: "earth"}); err != nil {
				t.Fatal(err)
			}
			clients := make([]*client.Client, len(c.urls))
			for i, u := range c.urls {
				clients[i], _ = client.NewClient(client.ClientConfig{Address: u})
			}
			h := &history{start: time.Now()}
			const workers, perWorker, keys = 6, 120, 24
			var done atomic.Int64
			dead := atomic.Int64{}
			dead.Store(-1)
			killed := make(chan struct{})
			go func() {
				defer close(killed)
				eventually(t, 30*time.Second, "a third of the operations", func() bool { return done.Load() >= workers*perWorker/3 })
				l := c.leader()
				if l >= 0 {
					dead.Store(int64(l)) // clients move on to the live servers
					_ = c.servers[l].Shutdown()
				}
			}()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(seed, uint64(w)))
					for range perWorker {
						op := regOp{ID: fmt.Sprintf("j%d", rng.IntN(keys))}
						switch r := rng.IntN(10); {
						case r < 3:
							op.Kind = "submit"
						case r < 5:
							op.Kind = "cancel"
						default:
							op.Kind = "get"
						}
						k := rng.IntN(len(clients))
						if int64(k) == dead.Load() {
							k = (k + 1) % len(clients)
						}
						cl := clients[k]
						call := h.now()
						octx, ocancel := context.WithTimeout(ctx, 3*time.Second)
						out, ok := do(octx, cl, op)
						ocancel()
						if ok {
							h.add(w, op, call, out)
						}
						done.Add(1)
					}
				}(w)
			}
			wg.Wait()
			<-killed
			res := porcupine.CheckOperationsTimeout(registryModel, h.ops, 30*time.Second)
			if res != porcupine.Ok {
				t.Fatalf("history of %d operations is not linearizable: %v", len(h.ops), res)
			}
			t.Logf("%d operations linearizable", len(h.ops))
		})
	}
}

// TestStaleReadNotLinearizable shows the check can fail: a read served by
// a follower that stopped replicating (?stale=true, no forwarding) misses
// an acknowledged submit, and porcupine rejects the history.
func TestStaleReadNotLinearizable(t *testing.T) {
	c := newAPICluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := c.leader()
	f := (l + 1) % 3
	leader, _ := client.NewClient(client.ClientConfig{Address: c.urls[l]})
	if _, err := leader.RegisterShard(ctx, api.Shard{Name: "earth"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "follower caught up", func() bool { return c.servers[f].AppliedIndex() >= c.servers[l].AppliedIndex() })
	if err := c.servers[f].Shutdown(); err != nil { // stops replicating; its API still answers stale reads
		t.Fatal(err)
	}
	h := &history{start: time.Now()}
	op := regOp{Kind: "submit", ID: "late"}
	call := h.now()
	out, _ := do(ctx, leader, op)
	if out != outOK {
		t.Fatalf("submit: %s", out)
	}
	h.add(0, op, call, out)
	stale, _ := client.NewClient(client.ClientConfig{Address: c.urls[f], Stale: true})
	get := regOp{Kind: "get", ID: "late"}
	call = h.now()
	out, ok := do(ctx, stale, get)
	if !ok || out != outNotFound {
		t.Fatalf("stale read: %q %v, want notfound", out, ok)
	}
	h.add(1, get, call, out)
	if res := porcupine.CheckOperationsTimeout(registryModel, h.ops, 10*time.Second); res != porcupine.Illegal {
		t.Fatalf("checker accepted a stale read: %v", res)
	}
	// The same read through the leader, consistent, is linearizable.
	call = h.now()
	out, ok = do(ctx, leader, get)
	if !ok || out != outActive {
		t.Fatalf("consistent read: %q", out)
	}
	h.ops = h.ops[:1]
	h.add(1, get, call, out)
	if res := porcupine.CheckOperationsTimeout(registryModel, h.ops, 10*time.Second); res != porcupine.Ok {
		t.Fatalf("consistent history rejected: %v", res)
	}
}
