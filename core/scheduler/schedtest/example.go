package schedtest

import "github.com/planetary/planetary/raftfsm/state"

// ExampleShards returns the four shards of the example fabric (earth, luna,
// mars, helios) with their latency budgets, queue limits and spillover
// policies.
func ExampleShards() []*state.Shard {
	return []*state.Shard{
		{
			Name: "earth", DisplayName: "Earth Hypergrid", Region: "earth",
			LatencyBudgetMs: 120, MaxQueue: 6000, QueueAlertThreshold: 4200,
			SpilloverTargets: []string{"luna", "mars"},
			Policies: []state.SpilloverPolicy{
				{Target: "luna", Threshold: 4500, MaxDrain: 50},
				{Target: "mars", Threshold: 5000, MaxDrain: 75},
			},
		},
		{
			Name: "luna", DisplayName: "Luna Relay", Region: "luna",
			LatencyBudgetMs: 180, MaxQueue: 2400, QueueAlertThreshold: 1600,
			SpilloverTargets: []string{"earth"},
			Policies:         []state.SpilloverPolicy{{Target: "earth", Threshold: 1800, MaxDrain: 40}},
		},
		{
			Name: "mars", DisplayName: "Mars Foundry", Region: "mars",
			LatencyBudgetMs: 420, MaxQueue: 4000, QueueAlertThreshold: 3000,
			SpilloverTargets: []string{"earth", "helios"},
			Policies: []state.SpilloverPolicy{
				{Target: "earth", Threshold: 3200, MaxDrain: 30, RequiredCapabilities: []string{"manufacturing"}},
				{Target: "helios", Threshold: 3600, MaxDrain: 30, RequiredCapabilities: []string{"gpu", "vision"}},
			},
		},
		{
			Name: "helios", DisplayName: "Helios GPU Helion", Region: "helios",
			LatencyBudgetMs: 850, MaxQueue: 2200, QueueAlertThreshold: 1600,
			SpilloverTargets: []string{"mars"},
			Policies:         []state.SpilloverPolicy{{Target: "mars", Threshold: 1800, MaxDrain: 20}},
		},
	}
}

func exampleNode(id, shard string, capacity, maxConc, latency, priceMu int64, caps, certs, tags []string, gpu string) *state.Node {
	return &state.Node{
		ID: id, Shard: shard, PluginKind: "sim", Capabilities: caps,
		Capacity: capacity, MaxConcurrency: maxConc, LatencyMs: latency, HeartbeatSec: 10,
		Deployment: state.Deployment{Orchestration: "kubernetes", Runtime: "sim",
			Resources: state.Resources{GPUClass: gpu}},
		Price:        state.PriceSchedule{Currency: "USDC", Unit: "job", BaseMu: priceMu},
		Attestations: state.Attestations{Certifications: certs, Jurisdiction: shard, Tags: tags},
		Status:       state.NodeUp,
	}
}

// ExampleNodes returns the six nodes of the example fabric, all up, with
// the example's capacities, prices and certifications. Latencies are
// within each shard's budget.
func ExampleNodes() []*state.Node {
	return []*state.Node{
		exampleNode("earth.core-alpha", "earth", 24, 24, 40, 720,
			[]string{"general", "finance", "compliance"}, []string{"SOC2-Type-II", "GDPR"}, []string{"finance-hub", "tier-zero"}, "A10"),
		exampleNode("earth.edge-europa", "earth", 16, 12, 60, 380,
			[]string{"logistics", "iot", "edge"}, []string{"ISO-27001"}, []string{"edge", "iot"}, ""),
		exampleNode("luna.nav-station", "luna", 12, 10, 90, 280,
			[]string{"navigation", "observation"}, []string{"Lunar-Safety-Standard"}, []string{"luna", "relay"}, ""),
		exampleNode("mars.regolith-cradle", "mars", 18, 14, 250, 550,
			[]string{"manufacturing", "terraforming"}, []string{"Mars-Colony-Safety"}, []string{"manufacturing", "mars"}, ""),
		exampleNode("mars.gpu-helion", "mars", 32, 20, 300, 880,
			[]string{"gpu", "vision", "simulation"}, []string{"Mars-Colony-Safety", "SOC2-Type-II"}, []string{"gpu", "critical"}, "A100"),
		exampleNode("helios.solaris-array", "helios", 28, 18, 600, 1200,
			[]string{"gpu", "astronomy"}, []string{"SOC2-Type-II", "Solaris-Safety"}, []string{"helios", "premium"}, "H100"),
	}
}

// Example returns the example fabric with no jobs.
func Example() *Fabric {
	return New(ExampleShards(), ExampleNodes(), nil, state.Policy{MissionName: "example"})
}
