package scheduler_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/planetary/planetary/core/scheduler"
	"github.com/planetary/planetary/core/scheduler/schedtest"
	"github.com/planetary/planetary/raftfsm/state"
)

var (
	vocab    = []string{"general", "gpu", "vision", "finance", "edge", "quantum"}
	policies = []string{
		"",
		`"GDPR" in node.attestations.certifications || job.priority < 3`,
		`node.deployment.resources.gpu_class != "" || !("gpu" in job.capabilities)`,
		`job.value < 2.0`,
		"", "", "",
		`node.id ==`, // does not compile
	}
	priceExprs = []string{"", "", "", "", `double(job.priority) * 0.01`, `job.priority * 100`, `node.latency_ms * 10`, `job.nope`}
)

func pickN(r *rand.Rand, xs []string, max int) []string {
	n := r.IntN(max + 1)
	var out []string
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		x := xs[r.IntN(len(xs))]
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// randomFabric generates a fabric from seed: shards with policies, targets,
// queue limits and pauses; nodes of every status; queued, running and
// parked jobs.
func randomFabric(seed uint64) *schedtest.Fabric {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	nShards := 1 + r.IntN(5)
	names := make([]string, nShards)
	for i := range names {
		names[i] = fmt.Sprintf("s%d", i)
	}
	var shards []*state.Shard
	for _, n := range names {
		s := &state.Shard{Name: n, LatencyBudgetMs: int64(r.IntN(3) * 100), MaxQueue: int64(r.IntN(3) * 4),
			QueueAlertThreshold: int64(r.IntN(10)), Paused: r.IntN(8) == 0,
			SpilloverTargets: pickN(r, append(names, "ghost", state.SpillAny), 2),
			ServiceMeanNs:    int64(r.IntN(3)) * 40_000_000, SpillGraceMs: int64(r.IntN(2)) * 1000}
		for k := r.IntN(3); k > 0; k-- {
			s.Policies = append(s.Policies, state.SpilloverPolicy{Target: names[r.IntN(nShards)],
				Threshold: int64(r.IntN(3) * 5), MaxDrain: int64(r.IntN(4)), Weight: int64(r.IntN(3)),
				RequiredCapabilities: pickN(r, vocab, 1)})
		}
		shards = append(shards, s)
	}
	var nodes []*state.Node
	for i, n := 0, r.IntN(13); i < n; i++ {
		nd := &state.Node{ID: fmt.Sprintf("n%02d", i), Shard: names[r.IntN(nShards)],
			Capabilities: pickN(r, vocab, 3), Capacity: int64(r.IntN(6)), MaxConcurrency: int64(r.IntN(4)),
			Quota: int64(r.IntN(3) * 3), LatencyMs: int64(r.IntN(200)), MeasuredLatencyMs: int64(r.IntN(2) * r.IntN(300)),
			Status: []state.NodeStatus{state.NodeUp, state.NodeUp, state.NodeUp, state.NodeDown, state.NodeRetired, state.NodeUnknown}[r.IntN(6)],
			Price: state.PriceSchedule{BaseMu: int64(r.IntN(5) * 250_000), Expr: priceExprs[r.IntN(len(priceExprs))],
				Rates: []state.PriceRate{{Unit: vocab[r.IntN(len(vocab))], PerUnitMu: int64(r.IntN(3) * 100_000)}}},
			Attestations: state.Attestations{Certifications: pickN(r, []string{"GDPR", "SOC2"}, 2)},
		}
		if r.IntN(2) == 0 {
			nd.Deployment.Resources.GPUClass = "A100"
		}
		nodes = append(nodes, nd)
	}
	var jobs []*state.Job
	for i, n := 0, r.IntN(80); i < n; i++ {
		j := &state.Job{ID: fmt.Sprintf("j%03d", i), Shard: names[r.IntN(nShards)], Capabilities: pickN(r, vocab, 2),
			Priority: int64(r.IntN(5)), ValueMu: int64(r.IntN(4) * 1_000_000), MaxPriceMu: int64(r.IntN(3) * 600_000),
			Hops: uint32(r.IntN(2) * r.IntN(nShards+1)), Attempt: uint32(r.IntN(3))}
		switch x := r.IntN(10); {
		case x == 0 && len(nodes) > 0:
			nd := nodes[r.IntN(len(nodes))]
			j.State, j.Node, j.Shard = state.JobRunning, nd.ID, nd.Shard
		case x == 1:
			j.State = state.JobParked
		}
		jobs = append(jobs, j)
	}
	if r.IntN(2) == 0 {
		// A spare shard with room and every capability, declared as a
		// target (policy or list) by some shards, so spills find slots.
		shards = append(shards, &state.Shard{Name: "zz"})
		nodes = append(nodes, &state.Node{ID: "zz-1", Shard: "zz", Capabilities: vocab, Capacity: int64(r.IntN(12)),
			Status: state.NodeUp, LatencyMs: int64(r.IntN(150))})
		for _, s := range shards[:len(shards)-1] {
			switch r.IntN(3) {
			case 0:
				s.SpilloverTargets = append(s.SpilloverTargets, "zz")
			case 1:
				s.Policies = append(s.Policies, state.SpilloverPolicy{Target: "zz", Threshold: int64(r.IntN(3) * 3), MaxDrain: int64(r.IntN(4))})
			}
		}
	}
	f := schedtest.New(shards, nodes, jobs, state.Policy{CompliancePolicy: policies[r.IntN(len(policies))],
		SystemPaused: r.IntN(20) == 0})
	for _, nd := range nodes {
		f.Completed[nd.ID] = int64(r.IntN(4))
		nd.LastStatusAt = int64(r.IntN(3)) * 10_000_000_000
	}
	// The mission clock: every node's grace running, or some past it.
	f.Now = int64(r.IntN(3)) * 20_000_000_000
	return f
}

// checkDecisions asserts properties every round must have.
func checkDecisions(t *testing.T, f *schedtest.Fabric, d scheduler.Decisions) {
	t.Helper()
	seen := map[string]bool{}
	mark := func(id string) {
		if seen[id] {
			t.Fatalf("job %s decided twice: %+v", id, d)
		}
		seen[id] = true
		j := f.Job(id)
		if j == nil || j.State != state.JobQueued {
			t.Fatalf("decision for a job that is not queued: %s", id)
		}
		if f.Shard(j.Shard).Paused || f.Pol.SystemPaused {
			t.Fatalf("decision for job %s of a paused shard", id)
		}
	}
	taken := map[string]int64{}
	for _, a := range d.Assign {
		mark(a.JobID)
		j, n := f.Job(a.JobID), f.Node(a.Node)
		if n == nil || n.Status != state.NodeUp || a.Attempt != j.Attempt+1 {
			t.Fatalf("bad assignment %+v (job %+v, node %+v)", a, j, n)
		}
		switch {
		case a.From == "" && n.Shard != j.Shard:
			t.Fatalf("assignment to another shard without a spill: %+v (job %+v)", a, j)
		case a.From != "" && (a.From != j.Shard || n.Shard == j.Shard || !f.Shard(j.Shard).SpillsTo(n.Shard) ||
			f.Shard(n.Shard).Paused || a.Rule == ""):
			t.Fatalf("bad spill %+v (job %+v, node %+v, targets %v)", a, j, n, f.Shard(j.Shard).SpilloverTargets)
		case a.From != "" && a.BudgetMs > 0 && a.TargetEstMs > a.BudgetMs:
			t.Fatalf("spill to a target that cannot meet the budget: %+v", a)
		}
		if j.MaxPriceMu > 0 && a.QuoteMu > j.MaxPriceMu {
			t.Fatalf("assignment over max price: %+v", a)
		}
		taken[n.ID]++
		if int64(f.ActiveCount(n.ID))+taken[n.ID] > n.Capacity {
			t.Fatalf("node %s over capacity", n.ID)
		}
	}
	for _, p := range d.Park {
		mark(p.JobID)
		if p.Reason == "" {
			t.Fatalf("park without reason %+v", p)
		}
	}
}

func TestDeterminism(t *testing.T) {
	s := scheduler.New(scheduler.Config{Logger: testLogger(t), MaxPerRound: 200})
	var total scheduler.Stats
	for seed := uint64(0); seed < 1000; seed++ {
		f := randomFabric(seed)
		a := s.Plan(f, seed)
		b := s.Plan(f, seed)
		c := scheduler.New(scheduler.Config{MaxPerRound: 200}).Plan(f.Clone(), seed)
		if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(a, c) {
			t.Fatalf("seed %d: decisions differ:\n%+v\n%+v\n%+v", seed, a, b, c)
		}
		checkDecisions(t, f, a)
		total.Assigned += a.Stats.Assigned
		total.Spilled += a.Stats.Spilled
		total.Rerouted += a.Stats.Rerouted
		total.OverBudget += a.Stats.OverBudget
		total.Held += a.Stats.Held
		total.Drained += a.Stats.Drained
		total.Overflowed += a.Stats.Overflowed
		total.Parked += a.Stats.Parked
		total.Waiting += a.Stats.Waiting
	}
	// The generator must exercise every kind of decision.
	if total.Assigned == 0 || total.Rerouted == 0 || total.Drained == 0 || total.Overflowed == 0 ||
		total.Parked == 0 || total.Waiting == 0 || total.OverBudget == 0 || total.Held == 0 {
		t.Fatalf("generated states too narrow: %+v", total)
	}
	t.Logf("totals over 1000 states: %+v", total)
}
