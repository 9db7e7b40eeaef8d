package report

import (
	"fmt"
	"time"

	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// Example returns a small deterministic mission for tests and examples: a
// sealed event chain of 41 events and an Input whose ledger agrees with it.
// Shard and node names include dots and dashes; one shard is paused, one
// node is down, two jobs spilled, one was requeued after a node loss.
func Example() Input {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var evs []state.Event
	var head state.ChainHead
	var idx uint64
	add := func(e state.Event) {
		idx++
		e.Index = idx
		e.Time = t0.Add(time.Duration(idx) * time.Millisecond).UnixNano()
		head = e.Seal(head)
		evs = append(evs, e)
	}
	add(state.Event{Type: state.EvMissionApplied, Actor: "owner", Detail: "fixture"})
	for _, s := range []string{"earth", "mars.north-1"} {
		add(state.Event{Type: state.EvShardRegistered, Shard: s})
	}
	nodes := []struct{ id, shard string }{{"earth.core-alpha", "earth"}, {"earth.edge", "earth"}, {"mars.gpu-1", "mars.north-1"}}
	for _, n := range nodes {
		add(state.Event{Type: state.EvNodeRegistered, Node: n.id, Shard: n.shard})
	}
	for i := 1; i <= 12; i++ {
		add(state.Event{Type: state.EvJobSubmitted, Job: fmt.Sprintf("job-%02d", i), Shard: "earth", ValueMu: int64(i) * 1_500_000})
	}
	// jobs 1-6 complete on earth nodes, 7-8 spill to mars and complete there,
	// 9 is requeued after a node loss and then runs, 10 fails, 11 is
	// cancelled, 12 is parked.
	for i := 1; i <= 6; i++ {
		node := nodes[i%2].id
		id := fmt.Sprintf("job-%02d", i)
		add(state.Event{Type: state.EvJobAssigned, Job: id, Shard: "earth", Node: node, Attempt: 1, AmountMu: 700_000})
		add(state.Event{Type: state.EvJobStarted, Job: id, Node: node, Attempt: 1})
		add(state.Event{Type: state.EvJobCompleted, Job: id, Node: node, Attempt: 1, AmountMu: 700_000})
	}
	for i := 7; i <= 8; i++ {
		id := fmt.Sprintf("job-%02d", i)
		add(state.Event{Type: state.EvJobSpilled, Job: id, From: "earth", To: "mars.north-1", Reason: "queue above threshold"})
		add(state.Event{Type: state.EvJobAssigned, Job: id, Shard: "mars.north-1", Node: "mars.gpu-1", Attempt: 1})
		add(state.Event{Type: state.EvJobCompleted, Job: id, Node: "mars.gpu-1", Attempt: 1, AmountMu: 1_200_000})
	}
	add(state.Event{Type: state.EvJobAssigned, Job: "job-09", Shard: "earth", Node: "earth.edge", Attempt: 1})
	add(state.Event{Type: state.EvNodeDown, Node: "earth.edge", Reason: "heartbeat missed"})
	add(state.Event{Type: state.EvJobRequeued, Job: "job-09", Shard: "earth", Node: "earth.edge", Reason: "node down"})
	add(state.Event{Type: state.EvJobAssigned, Job: "job-09", Shard: "earth", Node: "earth.core-alpha", Attempt: 2})
	add(state.Event{Type: state.EvJobStarted, Job: "job-09", Node: "earth.core-alpha", Attempt: 2})
	add(state.Event{Type: state.EvJobAssigned, Job: "job-10", Shard: "earth", Node: "earth.core-alpha", Attempt: 1})
	add(state.Event{Type: state.EvJobFailed, Job: "job-10", Node: "earth.core-alpha", Attempt: 1, Reason: "exit 3"})
	add(state.Event{Type: state.EvShardPaused, Shard: "earth", Actor: "owner", Reason: "drill"})
	add(state.Event{Type: state.EvJobCancelled, Job: "job-11", Shard: "earth", Actor: "owner", Reason: "not needed"})
	add(state.Event{Type: state.EvJobParked, Job: "job-12", Shard: "earth", Reason: "no node has capability quantum"})

	rp := newReplay()
	for i := range evs {
		if err := rp.apply(&evs[i]); err != nil {
			panic(err)
		}
	}
	d := rp.doc()
	in := Input{
		Mission:     Mission{Name: "fixture-mission", Seed: 42, Owner: "Fabric Owner", Label: "ci", Dir: "reports"},
		GeneratedAt: t0.Add(time.Minute),
		Run: Run{Status: "completed", CheckpointRestored: true, Stages: []Stage{
			{Name: "submit", Start: t0, End: t0.Add(time.Second), Jobs: 12},
			{Name: "drain", Start: t0.Add(time.Second), End: t0.Add(40 * time.Second), Jobs: 11},
		}, Timings: map[string]float64{"submit": 1000, "drain": 39000}},
		Anchor:     Anchor{},
		Events:     evs,
		Checkpoint: Checkpoint{Index: 40, Term: 2, Path: "/var/planetary/checkpoints/ck-40.snap", SHA256: "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"},
		Schedule: Schedule{
			Executed: []Entry{{ID: "pause-earth", AtMs: 5000, Action: "shard.pause", Note: "drill", Reason: "drill", FiredAt: t0.Add(5 * time.Second)}},
			Pending:  []Entry{{ID: "resume-earth", AfterCompleted: 100, Action: "shard.resume"}},
		},
		OwnerCommands: []OwnerCommand{{
			Time: t0.Add(5 * time.Second), Actor: "owner", Action: "shard.pause", Reason: "drill",
			CLI: `planetary operator pause -shard earth -reason "drill"`,
			API: APIRequest{Method: "POST", Path: "/v1/operator/pause", Body: map[string]any{"shard": "earth", "reason": "drill"}},
		}, {
			Time: t0.Add(6 * time.Second), Actor: "owner", Action: "job.cancel", Reason: "not needed",
			CLI: `planetary job cancel -reason "not needed" job-11`,
			API: APIRequest{Method: "POST", Path: "/v1/job/job-11/cancel", Body: map[string]any{"reason": "not needed"}},
		}},
	}
	hh := fmt.Sprintf("%x", head.Hash)
	in.Ledger = Ledger{
		Global: Counts{Jobs: map[string]int64{}, ValueMu: map[string]int64{}},
		Flows:  []Flow{}, Payments: map[string]int64{}, Head: Anchor{Seq: head.Seq, Hash: hh},
		Invariants: []Invariant{{ID: "jobs-conserved", OK: true}, {ID: "payments", OK: true}, {ID: "chain", OK: true}},
	}
	for st, cv := range d.Global {
		in.Ledger.Global.Jobs[st] = cv.Jobs
		in.Ledger.Global.ValueMu[st] = cv.ValueMu
	}
	for _, f := range d.Flows {
		in.Ledger.Flows = append(in.Ledger.Flows, Flow{From: f.From, To: f.To, Jobs: f.Jobs, ValueMu: f.ValueMu})
	}
	for k, v := range d.PaymentsMu {
		in.Ledger.Payments[k] = v
	}
	meta := map[string]ShardView{
		"earth":        {Name: "earth", DisplayName: "Earth Hypergrid", Region: "earth", LatencyBudgetMs: 120, MaxQueue: 100, QueueAlertThreshold: 50, SpilloverTargets: []string{"mars.north-1"}, Paused: true, Health: HealthPaused},
		"mars.north-1": {Name: "mars.north-1", DisplayName: "Mars \"North\" <1>", Region: "mars", LatencyBudgetMs: 400, Health: HealthOK, Policies: []SpilloverPolicy{{Target: "earth", Threshold: 10, MaxDrain: 5}}},
	}
	for _, name := range []string{"earth", "mars.north-1"} {
		s := meta[name]
		s.Counts, s.ValueMu = map[string]int64{}, map[string]int64{}
		for st, cv := range d.Shards[name] {
			s.Counts[st], s.ValueMu[st] = cv.Jobs, cv.ValueMu
		}
		s.QueueDepth = s.Counts["queued"]
		in.Shards = append(in.Shards, s)
	}
	status := map[string]string{"earth.core-alpha": "up", "earth.edge": "down", "mars.gpu-1": "up"}
	for _, n := range nodes {
		nl := d.Nodes[n.id]
		in.Nodes = append(in.Nodes, NodeView{Node: client.Node{
			ID: n.id, Shard: n.shard, Plugin: "sim", Status: status[n.id], Capabilities: []string{"general"},
			Capacity: 4, Active: nl.Active, LatencyMs: 30, HeartbeatAgeMs: 800,
			Deployment:   Deployment{Orchestration: "kubernetes", Image: "registry.example/" + n.id + ":1.0", Runtime: "go", Resources: Resources{CPUCores: 8, MemoryGB: 32}, Zones: []string{n.shard + "-a"}},
			Price:        Price{Currency: "credits", Unit: "job", Base: 0.7, BaseMicro: 700_000, Rates: []PriceRate{{Unit: "second", PerUnit: 0.00001, PerUnitMicro: 10}}},
			Attestations: Attestations{Certifications: []string{"SOC2"}, Jurisdiction: "EU"},
			Completed:    nl.Completed,
		}, EarnedMu: nl.EarnedMu})
	}
	for i := int64(0); i < 5; i++ {
		in.Series = append(in.Series, Sample{TimeMs: i * 1000, PerShard: map[string]ShardSample{
			"earth": {QueueDepth: 10 - 2*i, Completed: i}, "mars.north-1": {QueueDepth: i % 2, Completed: i / 2},
		}})
	}
	return in
}

// ExampleRegions is Example as region earth of a mission of four regions
// (earth, helios, luna, mars) sees it: the global ledger holds earth's own
// line, the bundle's ledger, and the stored checkpoints of the other three,
// one of them (luna) without a stamp, as a checkpoint stored before stamps
// were kept; the global totals are the four lines' sum. Earth holds both of
// the bundle's shards; the others hold shards the bundle does not.
func ExampleRegions() Input {
	in := Example()
	led := BuildLedger(in)
	own := client.LedgerTotals{Counts: client.Counts{}, Flows: []client.Flow{},
		ValueMicro: led.Totals.ValueSubmittedMu, PaidMicro: led.Totals.PaidMu, FlowJobs: led.Totals.Spillovers,
		Payments: int64(len(led.PaymentsMu)), Events: led.Chain.Seq}
	for _, st := range States() {
		c := led.Global[st]
		own.Counts[st] = client.StateCount{Jobs: c.Jobs, ValueMicro: c.ValueMu, Value: credits(c.ValueMu)}
		own.Jobs += c.Jobs
	}
	for _, f := range led.Flows {
		own.Flows = append(own.Flows, client.Flow{From: f.From, To: f.To, Jobs: f.Jobs, ValueMicro: f.ValueMu, Value: credits(f.ValueMu)})
		own.FlowValueMicro += f.ValueMu
	}
	own.Value, own.Paid, own.FlowValue = credits(own.ValueMicro), credits(own.PaidMicro), credits(own.FlowValueMicro)
	remote := func(completed int64) client.LedgerTotals {
		v := completed * 2_000_000
		return client.LedgerTotals{Counts: client.Counts{"completed": {Jobs: completed, ValueMicro: v, Value: credits(v)}},
			Jobs: completed, ValueMicro: v, Value: credits(v), Flows: []client.Flow{},
			PaidMicro: completed * 1_000_000, Paid: credits(completed * 1_000_000), Payments: 1, Events: uint64(completed) * 4}
	}
	gen := in.GeneratedAt.UnixNano()
	zero, zeroLag, zeroEv := int64(0), uint64(0), uint64(0)
	age := func(d time.Duration) *int64 { a := int64(d); return &a }
	in.Ledger.Regions = []client.RegionLedger{
		{Region: "earth", Local: true, Index: 40, Chain: client.ChainHead{Seq: led.Chain.Seq, Hash: led.Chain.Hash}, Totals: own,
			Shards: []string{"earth", "mars.north-1"}, Leader: "planetary-1.earth", AgeNs: &zero, IndexLag: &zeroLag, EventLag: &zeroEv},
		{Region: "helios", Index: 77, Totals: remote(9), Shards: []string{"helios"},
			StoredAt: gen - int64(1500*time.Millisecond), AgeNs: age(1500 * time.Millisecond)},
		{Region: "luna", Index: 12, Totals: remote(3), Shards: []string{"luna", "luna.far-side"}},
		{Region: "mars", Index: 31, Totals: remote(5), Shards: []string{"mars.south-2"},
			StoredAt: gen - int64(42*time.Second), AgeNs: age(42 * time.Second)},
	}
	g := client.LedgerTotals{Counts: client.Counts{}, Flows: []client.Flow{}}
	for _, r := range in.Ledger.Regions {
		t := r.Totals
		for st, c := range t.Counts {
			s := g.Counts[st]
			s.Jobs, s.ValueMicro = s.Jobs+c.Jobs, s.ValueMicro+c.ValueMicro
			s.Value = credits(s.ValueMicro)
			g.Counts[st] = s
		}
		g.Jobs += t.Jobs
		g.ValueMicro += t.ValueMicro
		g.FlowJobs += t.FlowJobs
		g.FlowValueMicro += t.FlowValueMicro
		g.PaidMicro += t.PaidMicro
		g.Payments += t.Payments
		g.Events += t.Events
		g.Flows = append(g.Flows, t.Flows...)
	}
	g.Value, g.Paid, g.FlowValue = credits(g.ValueMicro), credits(g.PaidMicro), credits(g.FlowValueMicro)
	in.Ledger.GlobalTotals = &g
	return in
}
