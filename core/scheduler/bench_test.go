package scheduler_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/planetary/planetary/core/scheduler"
	"github.com/planetary/planetary/core/scheduler/schedtest"
	"github.com/planetary/planetary/raftfsm/state"
)

// benchFabric is the example fabric (4 shards, 6 nodes) with room for every
// job, and n queued jobs spread over the shards, each requiring one of the
// capabilities its shard offers; every 20th job needs a capability only
// another shard has (it spills).
func benchFabric(n int, policy string) *schedtest.Fabric {
	f := schedtest.Example()
	for _, nd := range f.NodeList {
		nd.Capacity, nd.MaxConcurrency = int64(n), 0
	}
	for _, s := range f.ShardList {
		s.MaxQueue, s.QueueAlertThreshold = 0, 0
		for i := range s.Policies {
			s.Policies[i].Threshold = 0
		}
	}
	capsOf := map[string][]string{}
	for _, nd := range f.NodeList {
		capsOf[nd.Shard] = append(capsOf[nd.Shard], nd.Capabilities...)
	}
	r := rand.New(rand.NewPCG(1, 2))
	shards := []string{"earth", "luna", "mars", "helios"}
	for i := 0; i < n; i++ {
		home := shards[r.IntN(len(shards))]
		caps := capsOf[home]
		if i%20 == 19 {
			caps = capsOf[shards[(indexOf(shards, home)+1)%len(shards)]]
		}
		f.Jobs = append(f.Jobs, &state.Job{ID: fmt.Sprintf("job-%05d", i), Shard: home,
			Capabilities: []string{caps[r.IntN(len(caps))]}, Priority: int64(r.IntN(3)),
			ValueMu: int64(r.IntN(5)) * 100_000, Kind: "sim"})
	}
	f.Pol.CompliancePolicy = policy
	f.Reindex()
	return f
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

// BenchmarkPlan10k: one round placing 10,000 queued jobs over the example
// fabric. jobs/s counts the decisions (assign + spill + park) per second.
func BenchmarkPlan10k(b *testing.B) {
	cases := []struct {
		name, policy string
		store        bool
	}{
		{"no-policy", "", false},
		{"node-policy", `!("GDPR" in node.attestations.certifications) || node.shard == "earth"`, false},
		{"job-policy", `job.value < 0.3 || "SOC2-Type-II" in node.attestations.certifications || node.shard != "mars"`, false},
		{"no-policy-on-store", "", true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var f scheduler.View = benchFabric(10_000, tc.policy)
			if tc.store {
				f = storeOf(f.(*schedtest.Fabric))
			}
			s := scheduler.New(scheduler.Config{MaxPerRound: 20_000})
			d := s.Plan(f, 1)
			if d.Stats.Assigned < 9_000 {
				b.Fatalf("fabric places too little: %+v", d.Stats)
			}
			decided := len(d.Assign) + len(d.Park)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				s.Plan(f, 1)
			}
			b.ReportMetric(float64(decided)*float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}

// BenchmarkPlanLatency10k: one round over 10,000 queued jobs on the example
// fabric with its own capacities (130 slots), latency budgets and a known
// mean service time in every shard, so each job that does not start gets a
// wait estimate and is weighed against its budget (spilling where a target
// has a free slot). decisions/s counts every queued job the round routes:
// placed at home, spilled, parked, or left waiting with its estimate.
func BenchmarkPlanLatency10k(b *testing.B) {
	f := benchFabric(10_000, "")
	ex := schedtest.Example()
	for _, nd := range f.NodeList {
		nd.Capacity, nd.MaxConcurrency = ex.Node(nd.ID).Capacity, ex.Node(nd.ID).MaxConcurrency
	}
	for _, s := range f.ShardList {
		s.ServiceMeanNs, s.ServiceSamples = 20_000_000, 100
	}
	f.Reindex()
	s := scheduler.New(scheduler.Config{MaxPerRound: 20_000})
	d := s.Plan(f, 1)
	if d.Stats.Scanned != 10_000 || d.Stats.Waiting < 9_000 {
		b.Fatalf("the round does not weigh the queue: %+v", d.Stats)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.Plan(f, 1)
	}
	b.ReportMetric(float64(d.Stats.Scanned)*float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	b.ReportMetric(float64(d.Stats.Spilled), "spills/round")
}
