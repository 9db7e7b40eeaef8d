package region

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/planetary/planetary/core/api"
	apiclient "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/mission"
)

// linMission is a small host of three regions; earth holds two shards
// (earth and orbit), so a record's region is its shard's region, not its
// name. No nodes and no owner schedule: a submitted job stays pending and
// only the test's clients change what the regions hold.
const linMission = `
mission "region-linearizability" {
  seed  = 7
  owner = "Linearizability"
}

shard "earth" {}

shard "orbit" {
  region = "earth"
}

shard "luna" {}

shard "mars" {}
`

// linShards are the shards of linMission and the region each is in.
var linShards = []struct{ shard, region string }{
	{"earth", "earth"}, {"orbit", "earth"}, {"luna", "luna"}, {"mars", "mars"},
}

// linOp is one operation on a record of one region: a job (submit,
// cancel, get; a register per job id: absent, active or cancelled) or a
// shard's display name (rename, show; a register per shard).
type linOp struct {
	Kind  string
	Key   string // job id or shard name
	Value string // rename: the new display name
}

const (
	linOK       = "ok"
	linNotFound = "notfound"
	linActive   = "active"
	linCancel   = "cancelled"
	linUnknown  = "unknown" // a write whose outcome the caller never learned
)

// regionModel is one region's records as linearizable registers, one per
// key. Every register starts "": for a job that is absent, for a shard its
// declared display name (linMission declares none).
var regionModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(linOp).Key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(st, in, out any) (bool, any) {
		s, op, o := st.(string), in.(linOp), out.(string)
		job := s
		if job == "" {
			job = linNotFound
		}
		switch op.Kind {
		case "submit": // an unknown outcome returns at the end of time: it may take effect last
			if job == linNotFound {
				job = linActive
			}
			return o == linOK || o == linUnknown, job
		case "cancel":
			if o == linUnknown {
				if job == linNotFound {
					return true, s
				}
				return true, linCancel
			}
			if job == linNotFound {
				return o == linNotFound, s
			}
			return o == linOK, linCancel
		case "get":
			return o == job, s
		case "rename":
			return o == linOK || o == linUnknown, op.Value
		default: // show
			return o == s, s
		}
	},
	DescribeOperation: func(in, out any) string {
		op := in.(linOp)
		if op.Kind == "rename" {
			return fmt.Sprintf("rename(%s, %q) -> %v", op.Key, op.Value, out)
		}
		return fmt.Sprintf("%s(%s) -> %v", op.Kind, op.Key, out)
	},
}

// linHistories records one history per region, times relative to start.
type linHistories struct {
	mu    sync.Mutex
	start time.Time
	ops   map[string][]porcupine.Operation
}

func newLinHistories() *linHistories {
	return &linHistories{start: time.Now(), ops: map[string][]porcupine.Operation{}}
}

func (h *linHistories) now() int64 { return int64(time.Since(h.start)) }

func (h *linHistories) add(region string, client int, in linOp, call int64, out string) {
	ret := h.now()
	if out == linUnknown {
		ret = int64(time.Hour) // may take effect at any time after the call
	}
	h.mu.Lock()
	h.ops[region] = append(h.ops[region], porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	h.mu.Unlock()
}

// linKeys is the workload's key space: jobs in every shard, each job's
// region the region of its shard, and the shards themselves.
type linKeys struct {
	jobs   []string
	region map[string]string // job id or shard name -> region
	shard  map[string]string // job id -> shard
}

func newLinKeys(perShard int) linKeys {
	k := linKeys{region: map[string]string{}, shard: map[string]string{}}
	for _, s := range linShards {
		k.region[s.shard] = s.region
		for i := range perShard {
			id := fmt.Sprintf("lin-%s-%d", s.shard, i)
			k.jobs = append(k.jobs, id)
			k.region[id], k.shard[id] = s.region, s.shard
		}
	}
	return k
}

// linClient runs one operation through cl and classifies its outcome; ok
// is false for a read that failed (it is left out of the history). A read
// the region answers 404 is recorded as notfound, a shard's too: each
// region holds its shards from the start, so only a wrong answer says so.
func linClient(ctx context.Context, cl *apiclient.Client, k linKeys, op linOp) (string, bool) {
	var ae *api.Error
	notFound := func(err error) bool { return errors.As(err, &ae) && ae.Status == http.StatusNotFound }
	switch op.Kind {
	case "submit":
		res, err := cl.SubmitJobs(ctx, []api.JobSubmit{linJob(k, op.Key)})
		if err != nil || len(res) != 1 {
			return linUnknown, true
		}
		return submitOutcome(res[0]), true
	case "cancel":
		_, err := cl.CancelJob(ctx, op.Key, "linearizability")
		switch {
		case err == nil:
			return linOK, true
		case notFound(err):
			return linNotFound, true
		case errors.As(err, &ae) && ae.Status == http.StatusConflict:
			return linOK, true // already cancelled, the only terminal state here
		}
		return linUnknown, true
	case "get":
		j, err := cl.Job(ctx, op.Key)
		switch {
		case err == nil && j.State == "cancelled":
			return linCancel, true
		case err == nil:
			return linActive, true
		case notFound(err):
			return linNotFound, true
		}
		return "", false
	case "rename":
		name := op.Value
		if _, err := cl.UpdateShard(ctx, op.Key, api.ShardUpdate{DisplayName: &name, Reason: "linearizability"}); err != nil {
			return linUnknown, true
		}
		return linOK, true
	default: // show
		s, err := cl.Shard(ctx, op.Key)
		switch {
		case err == nil:
			return s.DisplayName, true
		case notFound(err):
			return linNotFound, true
		}
		return "", false
	}
}

func linJob(k linKeys, id string) api.JobSubmit {
	return api.JobSubmit{ID: id, Shard: k.shard[id], Kind: "sim", ValueMicro: 1000, Payload: []byte(`{}`)}
}

// submitOutcome classifies one job's result: accepted or a duplicate of a
// job the region holds is ok; a job a region rejected is unknown (a part
// refused for a timeout may still commit).
func submitOutcome(r api.SubmitResult) string {
	if r.Status == api.StatusAccepted || r.Status == api.StatusDuplicate {
		return linOK
	}
	return linUnknown
}

// linHost starts a host of linMission and its front over real HTTP.
func linHost(t *testing.T) (*Host, *httptest.Server) {
	t.Helper()
	m, diags := mission.ParseMission([]byte(linMission), "region-linearizability.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	h := startHost(t, hostConfig(t, t.TempDir(), m))
	if got := h.Regions(); !slices.Equal(got, []string{"earth", "luna", "mars"}) {
		t.Fatalf("regions %v", got)
	}
	return h, frontServer(t, h)
}

// linClients are the front's clients: one naming no region (the front
// forwards by what each request names) and one per region naming it.
func linClients(t *testing.T, h *Host, url string) (forwarded *apiclient.Client, named map[string]*apiclient.Client) {
	t.Helper()
	t.Setenv(apiclient.EnvRegion, "") // the forwarded client names no region
	mk := func(region string) *apiclient.Client {
		cl, err := apiclient.NewClient(apiclient.ClientConfig{Address: url, Token: frontSecret, Region: region})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	named = map[string]*apiclient.Client{}
	for _, r := range h.Regions() {
		named[r] = mk(r)
	}
	return mk(""), named
}

// checkRegion checks one region's history and returns porcupine's verdict.
func checkRegion(ops []porcupine.Operation) porcupine.CheckResult {
	return porcupine.CheckOperationsTimeout(regionModel, ops, 30*time.Second)
}

// outcomes summarizes a history for the log: how often each operation
// kind had each outcome (a show's names count as one "named", the
// declared empty name as "unnamed").
func outcomes(ops []porcupine.Operation) string {
	n := map[string]int{}
	var keys []string
	for _, op := range ops {
		kind, out := op.Input.(linOp).Kind, op.Output.(string)
		switch {
		case kind == "show" && out == "":
			out = "unnamed"
		case kind == "show" && out != linNotFound:
			out = "named"
		}
		key := kind + " " + out
		if n[key] == 0 {
			keys = append(keys, key)
		}
		n[key]++
	}
	slices.Sort(keys)
	s := ""
	for i, key := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", key, n[key])
	}
	return s
}

// TestRegionsLinearizable: concurrent clients submit, cancel and read jobs
// and rename and read shards of every region through the host's front,
// most naming no region (the front forwards each request to the region of
// the job's or shard's shard: a job found by id in whichever region holds
// it, a single job's submit and a batch spanning two regions by their
// shards) and some naming the record's region; after a third of the
// operations mars is stopped (its routes answer 503, its reads fail, its
// writes are unknown) while earth and luna run on. Porcupine checks each
// region's history against its own model, and every job submitted is held
// by its own region alone.
func TestRegionsLinearizable(t *testing.T) {
	if testing.Short() {
		t.Skip("host test")
	}
	h, ts := linHost(t)
	forwarded, named := linClients(t, h, ts.URL)
	k := newLinKeys(8)
	shards := make([]string, len(linShards))
	for i, s := range linShards {
		shards[i] = s.shard
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()

	hist := newLinHistories()
	failed := map[string]*atomic.Int64{} // reads that failed, per region (mars's once stopped)
	for _, r := range h.Regions() {
		failed[r] = &atomic.Int64{}
	}
	const workers, perWorker = 8, 150
	var done atomic.Int64
	var stopped atomic.Bool
	stopDone := make(chan error, 1)
	go func() {
		for done.Load() < workers*perWorker/3 && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond) // polling a condition, not synchronizing
		}
		stopped.Store(true) // workers send no more writes to mars
		stopDone <- h.StopRegion("mars")
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(11, uint64(w)))
			pick := func(keys []string, write bool) string {
				for {
					key := keys[rng.IntN(len(keys))]
					if !write || !stopped.Load() || k.region[key] != "mars" {
						return key
					}
				}
			}
			for n := range perWorker {
				var op linOp
				switch r := rng.IntN(20); {
				case r < 4:
					op = linOp{Kind: "submit", Key: pick(k.jobs, true)}
				case r < 7:
					op = linOp{Kind: "cancel", Key: pick(k.jobs, true)}
				case r < 12:
					op = linOp{Kind: "get", Key: pick(k.jobs, false)}
				case r < 15:
					op = linOp{Kind: "rename", Key: pick(shards, true), Value: fmt.Sprintf("w%d-%d", w, n)}
				default:
					op = linOp{Kind: "show", Key: pick(shards, false)}
				}
				region := k.region[op.Key]
				cl := forwarded
				if rng.IntN(4) == 0 {
					cl = named[region]
				}
				octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
				if op.Kind == "submit" && rng.IntN(3) == 0 {
					// One batch with a job of another region: the front splits it.
					other := pick(k.jobs, true)
					for k.region[other] == region {
						other = pick(k.jobs, true)
					}
					call := hist.now()
					res, err := forwarded.SubmitJobs(octx, []api.JobSubmit{linJob(k, op.Key), linJob(k, other)})
					for i, id := range []string{op.Key, other} {
						out := linUnknown
						if err == nil && len(res) == 2 && res[i].ID == id {
							out = submitOutcome(res[i])
						}
						hist.add(k.region[id], w, linOp{Kind: "submit", Key: id}, call, out)
					}
				} else {
					call := hist.now()
					if out, ok := linClient(octx, cl, k, op); ok {
						hist.add(region, w, op, call, out)
					} else {
						failed[region].Add(1)
					}
				}
				ocancel()
				done.Add(1)
			}
		}(w)
	}
	wg.Wait()
	if err := <-stopDone; err != nil {
		t.Fatalf("stop mars: %v", err)
	}

	for _, region := range h.Regions() {
		ops := hist.ops[region]
		if res := checkRegion(ops); res != porcupine.Ok {
			t.Fatalf("region %s: history of %d operations is not linearizable: %v", region, len(ops), res)
		}
		t.Logf("region %s: %d operations linearizable (%s), %d reads failed", region, len(ops), outcomes(ops), failed[region].Load())
	}
	for _, id := range k.jobs {
		if got := holders(h, id); len(got) > 0 && !slices.Equal(got, []string{k.region[id]}) {
			t.Fatalf("job %s of shard %s is held by %v, want %s alone", id, k.shard[id], got, k.region[id])
		}
	}
}

// TestMisroutedReadNotLinearizable shows the per-region check can fail:
// writers go through the front's forwarding while every read is sent
// twice over, once forwarded and once naming the wrong region
// (X-Planetary-Region of the next region, bypassing forwarding). Each
// region's history with the forwarded reads is linearizable; with the
// misrouted reads, which another region answers (it holds no such job or
// shard), porcupine rejects it.
func TestMisroutedReadNotLinearizable(t *testing.T) {
	if testing.Short() {
		t.Skip("host test")
	}
	h, ts := linHost(t)
	forwarded, named := linClients(t, h, ts.URL)
	regions := h.Regions()
	wrong := map[string]*apiclient.Client{}
	for i, r := range regions {
		wrong[r] = named[regions[(i+1)%len(regions)]]
	}
	k := newLinKeys(4)
	shards := make([]string, len(linShards))
	for i, s := range linShards {
		shards[i] = s.shard
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()

	good, bad := newLinHistories(), newLinHistories()
	bad.start = good.start
	var misrouted sync.Map // region -> struct{}: a misrouted read was recorded
	const workers, perWorker = 4, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(13, uint64(w)))
			for n := range perWorker {
				var op linOp
				switch r := rng.IntN(10); {
				case r < 2:
					op = linOp{Kind: "submit", Key: k.jobs[rng.IntN(len(k.jobs))]}
				case r < 3:
					op = linOp{Kind: "cancel", Key: k.jobs[rng.IntN(len(k.jobs))]}
				case r < 4:
					op = linOp{Kind: "rename", Key: shards[rng.IntN(len(shards))], Value: fmt.Sprintf("w%d-%d", w, n)}
				case r < 7:
					op = linOp{Kind: "get", Key: k.jobs[rng.IntN(len(k.jobs))]}
				default:
					op = linOp{Kind: "show", Key: shards[rng.IntN(len(shards))]}
				}
				region := k.region[op.Key]
				octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
				call := good.now()
				out, ok := linClient(octx, forwarded, k, op)
				if op.Kind == "submit" || op.Kind == "cancel" || op.Kind == "rename" {
					good.add(region, w, op, call, out) // every write is in both histories
					bad.add(region, w, op, call, out)
				} else {
					if ok {
						good.add(region, w, op, call, out)
					}
					call = bad.now()
					if out, ok := linClient(octx, wrong[region], k, op); ok {
						bad.add(region, w+workers, op, call, out)
						misrouted.Store(region, struct{}{})
					}
				}
				ocancel()
			}
		}(w)
	}
	wg.Wait()

	for _, region := range regions {
		if _, ok := misrouted.Load(region); !ok {
			t.Fatalf("region %s: no misrouted read was answered", region)
		}
		if res := checkRegion(good.ops[region]); res != porcupine.Ok {
			t.Fatalf("region %s: history with forwarded reads (%d operations) rejected: %v", region, len(good.ops[region]), res)
		}
		if res := checkRegion(bad.ops[region]); res != porcupine.Illegal {
			t.Fatalf("region %s: checker accepted reads answered by another region (%d operations): %v", region, len(bad.ops[region]), res)
		}
		// The jobs alone too: another region answers an acknowledged job not found.
		jobs := slices.DeleteFunc(slices.Clone(bad.ops[region]), func(op porcupine.Operation) bool {
			kind := op.Input.(linOp).Kind
			return kind == "rename" || kind == "show"
		})
		if res := checkRegion(jobs); res != porcupine.Illegal {
			t.Fatalf("region %s: checker accepted job reads answered by another region (%d operations): %v", region, len(jobs), res)
		}
		t.Logf("region %s: %d operations with forwarded reads linearizable (%s); %d with misrouted reads rejected (%s)",
			region, len(good.ops[region]), outcomes(good.ops[region]), len(bad.ops[region]), outcomes(bad.ops[region]))
	}
}
