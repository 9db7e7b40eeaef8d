// Package fsmtest builds FSM states for tests: a seeded generator of random,
// mostly valid command logs (with stale and invalid decisions mixed in) and
// helpers to apply them. Other packages use it to get a realistic
// state.Store without a cluster.
package fsmtest

import (
	"fmt"
	"math/rand/v2"

	"github.com/hashicorp/raft"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
	"github.com/tinylib/msgp/msgp"
)

// shardNames are the shards of the generated mission.
func shardNames() []string { return []string{"ap", "eu", "us"} }

// Gen generates command entries that fit the state they are applied to.
type Gen struct {
	rng    *rand.Rand
	now    int64
	jobs   int
	tokens int
	extra  int
	// ticks counts the entries that fell through to the clock advance;
	// every fifth is a region checkpoint instead.
	ticks int
	// handOffEvery, when set (WithHandOffs), makes every such call of
	// Next a hand-off step; calls counts them.
	handOffEvery int
	calls        int
}

// WithHandOffs makes every n-th entry a step of a hand-off (see handOff);
// a generator without it writes the logs it wrote before hand-offs.
func (g *Gen) WithHandOffs(n int) *Gen {
	g.handOffEvery = n
	return g
}

// NewGen returns a generator; the same seed yields the same log when applied
// to the same starting state.
func NewGen(seed uint64) *Gen {
	return &Gen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: 1_700_000_000_000_000_000}
}

func enc(t command.MessageType, m msgp.Marshaler) []byte {
	b, err := command.Encode(t, m)
	if err != nil {
		panic(err)
	}
	return b
}

func (g *Gen) meta() command.Meta {
	return command.Meta{Time: g.now, Actor: "owner", Reason: "test"}
}

// Mission returns the initial mission entry: three shards, two nodes each,
// and two schedule entries.
func (g *Gen) Mission() []byte {
	m := &command.MissionApply{Meta: g.meta(), Name: "test", Digest: "d1", Seed: 7,
		CheckpointMs: 1000, CheckpointPath: "/tmp/ckpt", ReportingDir: "/tmp/rep"}
	for _, s := range shardNames() {
		m.Shards = append(m.Shards, state.Shard{Name: s, Region: s, LatencyBudgetMs: 100, SpilloverTargets: []string{"eu"}})
		for i := 0; i < 2; i++ {
			m.Nodes = append(m.Nodes, state.Node{ID: fmt.Sprintf("%s-n%d", s, i), Shard: s, Capacity: 3,
				Capabilities: []string{"cpu"}, Quota: int64(i * 40), Price: state.PriceSchedule{BaseMu: 1000 * int64(i+1)}})
		}
	}
	pause, _ := command.EncodeBody(&command.Pause{Meta: g.meta(), Shard: "ap", Paused: true})
	m.Schedule = []state.ScheduleEntry{{ID: "s1", AtMs: 10, Action: "shard.pause", Args: pause}, {ID: "s2", AfterCompleted: 5}}
	return enc(command.MissionApplyType, m)
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// Next returns an entry for the current state s.
func (g *Gen) Next(s *state.Store) []byte {
	if g.handOffEvery > 0 {
		if g.calls++; g.calls%g.handOffEvery == 0 {
			return g.handOff(s)
		}
	}
	g.now += int64(g.rng.IntN(5)+1) * 1_000_000
	r := g.rng
	nodes := s.Nodes()
	var queued, active []*state.Job
	for _, sh := range shardNames() {
		s.Queue(sh, func(j *state.Job) bool { queued = append(queued, j); return len(queued) < 200 })
	}
	for _, n := range nodes {
		s.Active(n.ID, func(j *state.Job) bool { active = append(active, j); return true })
	}
	switch k := r.IntN(100); {
	case k < 20:
		b := &command.SubmitBatch{Time: g.now}
		for i := r.IntN(8) + 1; i > 0; i-- {
			g.jobs++
			js := command.JobSubmit{ID: fmt.Sprintf("job-%05d", g.jobs), Shard: pick(r, shardNames()),
				Priority: int64(r.IntN(3)), ValueMu: int64(r.IntN(100)+1) * 1000, Kind: "sim", Submitter: "tok",
				Capabilities: []string{"cpu"}}
			if r.IntN(3) == 0 {
				js.Key = fmt.Sprintf("key-%d", r.IntN(g.jobs+1)) // sometimes a duplicate key
			}
			if r.IntN(20) == 0 {
				js.Shard = "nowhere"
			}
			if r.IntN(3) == 0 {
				// A metered job: it expects some tokens, sometimes under a
				// max price.
				js.Units = []state.Quantity{{Unit: "token", Micro: int64(r.IntN(100)) * state.Micro}}
				if r.IntN(2) == 0 {
					js.MaxPriceMu = int64(r.IntN(50)+1) * 100
				}
			}
			if r.IntN(30) == 0 && g.jobs > 1 {
				js.ID = fmt.Sprintf("job-%05d", r.IntN(g.jobs-1)+1) // duplicate id
			}
			b.Jobs = append(b.Jobs, js)
		}
		return enc(command.SubmitBatchType, b)
	case k < 40 && len(queued) > 0:
		b := &command.AssignBatch{Time: g.now}
		for i := r.IntN(6) + 1; i > 0; i-- {
			j := pick(r, queued)
			var cands []string
			for _, n := range nodes {
				if n.Shard == j.Shard || r.IntN(10) == 0 {
					cands = append(cands, n.ID)
				}
			}
			if len(cands) == 0 {
				continue
			}
			att := j.Attempt + 1
			if r.IntN(10) == 0 {
				att = j.Attempt // stale
			}
			a := command.Assignment{JobID: j.ID, Attempt: att, Node: pick(r, cands), QuoteMu: int64(r.IntN(50)+1) * 100}
			if len(j.Units) > 0 {
				// The quote charges the declared tokens at the meter's rate.
				m := state.Meter{Unit: "token", PerUnitMu: int64(r.IntN(20))}
				cost, _ := state.MeterCost(m.PerUnitMu, j.Units[0].Micro)
				a.Meters, a.QuoteMu = []state.Meter{m}, a.QuoteMu+cost
			}
			b.Assignments = append(b.Assignments, a)
		}
		return enc(command.AssignBatchType, b)
	case k < 50 && len(active) > 0:
		b := &command.StartBatch{Time: g.now}
		for i := r.IntN(4) + 1; i > 0; i-- {
			j := pick(r, active)
			b.Jobs = append(b.Jobs, command.JobAttempt{JobID: j.ID, Attempt: j.Attempt})
		}
		return enc(command.StartBatchType, b)
	case k < 65 && len(active) > 0:
		b := &command.CompleteBatch{Time: g.now, MaxAttempts: 3}
		for i := r.IntN(4) + 1; i > 0; i-- {
			j := pick(r, active)
			att := j.Attempt
			if r.IntN(10) == 0 {
				att--
			}
			res := command.Result{JobID: j.ID, Attempt: att, OK: r.IntN(4) != 0, Output: "out"}
			if !res.OK {
				res.Error, res.Retryable, res.ExitCode = "boom", r.IntN(2) == 0, 1
			}
			if r.IntN(2) == 0 {
				// Usage below, at or above the declared units (or of a
				// dimension nothing meters).
				unit := "token"
				if r.IntN(5) == 0 {
					unit = "second"
				}
				res.Usage = []state.Quantity{{Unit: unit, Micro: int64(r.IntN(200)) * state.Micro}}
			}
			b.Results = append(b.Results, res)
		}
		return enc(command.CompleteBatchType, b)
	case k < 68 && len(active) > 0:
		j := pick(r, active)
		return enc(command.RequeueBatchType, &command.RequeueBatch{Time: g.now, Jobs: []command.Requeue{{JobID: j.ID, Attempt: j.Attempt, Reason: "lost"}}})
	case k < 72 && len(queued) > 0:
		j := pick(r, queued)
		return enc(command.SpillBatchType, &command.SpillBatch{Time: g.now, Spills: []command.Spill{{JobID: j.ID, From: j.Shard, To: pick(r, shardNames())}}})
	case k < 75 && len(queued) > 0:
		j := pick(r, queued)
		return enc(command.ParkBatchType, &command.ParkBatch{Time: g.now, Parks: []command.Park{{JobID: j.ID, Reason: "no capacity"}}})
	case k < 80 && len(nodes) > 0:
		ids := []string{pick(r, nodes).ID, pick(r, nodes).ID, "ghost"}
		return enc(command.NodeClaimType, &command.NodeClaim{Meta: g.meta(), Client: fmt.Sprintf("c%d", r.IntN(2)), Nodes: ids})
	case k < 84 && len(nodes) > 0:
		st := state.NodeUp
		if r.IntN(2) == 0 {
			st = state.NodeDown
		}
		return enc(command.NodeStatusType, &command.NodeStatusChange{Meta: g.meta(), ID: pick(r, nodes).ID, Status: st, MeasuredLatencyMs: int64(r.IntN(50))})
	case k < 86 && len(nodes) > 0:
		n := pick(r, nodes)
		return enc(command.NodeUpdateType, &command.NodeUpdate{Meta: g.meta(), ID: n.ID, Fields: []string{"capacity"}, Node: state.Node{Capacity: int64(r.IntN(4))}})
	case k < 87 && len(nodes) > 0:
		return enc(command.NodeRetireType, &command.NodeRetire{Meta: g.meta(), ID: pick(r, nodes).ID, Requeue: r.IntN(2) == 0})
	case k < 88:
		g.extra++
		name := fmt.Sprintf("x%d", g.extra)
		if r.IntN(2) == 0 {
			return enc(command.ShardRegisterType, &command.ShardRegister{Meta: g.meta(), Shard: state.Shard{Name: name, Region: "x"}})
		}
		sh := pick(r, shardNames())
		return enc(command.NodeRegisterType, &command.NodeRegister{Meta: g.meta(), Node: state.Node{ID: sh + "-" + name, Shard: sh, Capacity: 2, Client: "c9"}})
	case k < 89:
		all := s.Shards()
		if len(all) > 3 {
			victim := all[r.IntN(len(all))].Name
			if victim != "eu" {
				return enc(command.ShardDeregisterType, &command.ShardDeregister{Meta: g.meta(), Name: victim, SpillTo: "eu", Cancel: r.IntN(3) == 0})
			}
		}
		return enc(command.ShardUpdateType, &command.ShardUpdate{Meta: g.meta(), Name: pick(r, shardNames()), Fields: []string{"max_queue"}, Shard: state.Shard{MaxQueue: int64(r.IntN(100))}})
	case k < 91:
		sh := ""
		if r.IntN(2) == 0 {
			sh = pick(r, shardNames())
		}
		return enc(command.PauseType, &command.Pause{Meta: g.meta(), Shard: sh, Paused: r.IntN(3) == 0})
	case k < 93:
		m := &command.JobCancel{Meta: g.meta()}
		if r.IntN(2) == 0 && g.jobs > 0 {
			m.IDs = []string{fmt.Sprintf("job-%05d", r.IntN(g.jobs)+1)}
		} else {
			m.Locator = &command.Locator{Shard: pick(r, shardNames()), Tail: int64(r.IntN(3) + 1), Offset: int64(r.IntN(2)), InFlight: r.IntN(2) == 0}
		}
		return enc(command.JobCancelType, m)
	case k < 95:
		m := &command.JobReroute{Meta: g.meta(), Target: pick(r, shardNames())}
		if r.IntN(2) == 0 && g.jobs > 0 {
			m.IDs = []string{fmt.Sprintf("job-%05d", r.IntN(g.jobs)+1)}
		} else {
			m.Locator = &command.Locator{Shard: pick(r, shardNames()), Tail: 2, InFlight: r.IntN(2) == 0}
		}
		return enc(command.JobRerouteType, m)
	case k < 96:
		id := pick(r, []string{"s1", "s2", "s1"})
		f := &command.ScheduleFire{Meta: g.meta(), EntryID: id, Skipped: id == "s2" && r.IntN(2) == 0}
		if id == "s1" {
			f.Action = command.PauseType
			f.Body, _ = command.EncodeBody(&command.Pause{Meta: g.meta(), Shard: "ap", Paused: true})
		}
		return enc(command.ScheduleFireType, f)
	case k < 97:
		g.tokens++
		tok := state.Token{AccessorID: fmt.Sprintf("acc-%d", g.tokens), SecretHash: fmt.Sprintf("%064x", g.tokens), Type: state.TokenSubmit, CreatedAt: g.now}
		if r.IntN(2) == 0 {
			return enc(command.ACLBootstrapType, &command.ACLBootstrap{Time: g.now, Token: tok})
		}
		return enc(command.ACLTokenCreateType, &command.ACLTokenCreate{Meta: g.meta(), Token: tok})
	case k < 98:
		if r.IntN(2) == 0 {
			return enc(command.CheckpointConfigureType, &command.CheckpointConfigure{Meta: g.meta(), IntervalMs: int64(r.IntN(5000))})
		}
		return enc(command.CheckpointSavedType, &command.CheckpointSaved{Meta: g.meta(), Index: uint64(g.jobs), Term: 1, Path: "/tmp/ckpt/x", SHA256: "abc"})
	case k < 99:
		return enc(command.ReportingConfigureType, &command.ReportingConfigure{Meta: g.meta(), Label: fmt.Sprintf("l%d", r.IntN(9))})
	}
	if r.IntN(3) == 0 {
		return g.gc(s)
	}
	if g.ticks++; g.ticks%5 == 0 {
		return g.regionCheckpoint()
	}
	return enc(command.ClockAdvanceType, &command.ClockAdvance{Time: g.now})
}

// handOff is a step of a hand-off, in turn: this region (earth) closes its
// oldest open hand-off (accepted or returned, now and then twice), begins
// one of a queued job to luna, or takes in one offered by mars (now and
// then the same one again, or into a shard it lacks). It draws nothing
// from the random source.
func (g *Gen) handOff(s *state.Store) []byte {
	n := g.calls / g.handOffEvery
	var queued []*state.Job
	for _, sh := range shardNames() {
		s.Queue(sh, func(j *state.Job) bool { queued = append(queued, j); return true })
	}
	switch n % 3 {
	case 0:
		if open := s.OpenHandOffs(""); len(open) > 0 {
			return enc(command.HandOffCloseType, &command.HandOffClose{Meta: g.meta(), ID: open[0].ID, Accepted: n%2 == 0, Reason: "queue full"})
		}
		if s.HandOffCount() > 0 {
			return enc(command.HandOffCloseType, &command.HandOffClose{Meta: g.meta(), ID: raftfsm.HandOffID("earth", s.HandOffCount()), Accepted: true})
		}
	case 1:
		if len(queued) > 0 {
			return enc(command.HandOffBeginType, &command.HandOffBegin{Meta: g.meta(), FromRegion: "earth", ToRegion: "luna", ToShard: "luna-1",
				IDs: []string{queued[len(queued)-1].ID, queued[0].ID}})
		}
	}
	id := int(n/3) + 1
	if n%4 == 3 && id > 1 {
		id-- // delivered again
	}
	shard := "eu"
	if n%7 == 5 {
		shard = "venus"
	}
	h := state.HandOff{ID: raftfsm.HandOffID("mars", id), FromRegion: "mars", FromShard: "mars", ToRegion: "earth", ToShard: shard,
		State: state.HandOffOpen, Seq: uint64(id),
		Job: state.HandOffJob{ID: fmt.Sprintf("mars-job-%d", id), Capabilities: []string{"cpu"}, ValueMu: int64(id) * 1000, Kind: "sim", Hops: uint32(id % 2)}}
	return enc(command.HandOffAcceptType, &command.HandOffAccept{Meta: g.meta(), HandOff: h})
}

// regionCheckpoint is another region's checkpoint (luna and mars in turn),
// at a raft index that is now and then below one already stored (out of
// order) or equal to it (a redelivery). It draws nothing from the random
// source, so the rest of a seed's log is what it was before checkpoints.
func (g *Gen) regionCheckpoint() []byte {
	n := uint64(g.ticks / 5)
	idx := n*4 + 4
	switch {
	case n%6 == 4:
		idx = (n-2)*4 + 4 // the region's previous checkpoint again
	case n%10 == 7:
		idx = (n-4)*4 + 4 // older than the region's stored one
	}
	region := []string{"luna", "mars"}[n%2]
	cp := state.RegionCheckpoint{Region: region, RaftIndex: idx, EventCount: idx * 3,
		ChainHead: state.ChainHead{Seq: idx * 3, Hash: [32]byte{byte(idx), byte(idx >> 8)}}, MissionTimeNs: g.now - int64(n%7)*1_000_000,
		Payments: state.RegionPayments{Count: 2, AmountMu: int64(idx) * 500}}
	cp.Totals.Counts.N[state.JobCompleted] = int64(idx)
	cp.Totals.Counts.ValueMu[state.JobCompleted] = int64(idx) * 1000
	cp.Totals.ValueMu, cp.Totals.PaidMu = int64(idx)*1000, int64(idx)*500
	if n%3 == 0 {
		cp.Totals.Flows = []state.Flow{{From: region, To: "earth", Jobs: 1, ValueMu: 1000}}
		cp.Totals.FlowJobs, cp.Totals.FlowValueMu = 1, 1000
	}
	return enc(command.RegionCheckpointType, &command.RegionCheckpoint{Meta: g.meta(), Checkpoint: cp})
}

// gc collects some terminal jobs that finished a few ms of mission time ago,
// with now and then a job that may not be collected (live, too young or
// unknown), and sometimes ends the idempotency window of older tombs.
func (g *Gen) gc(s *state.Store) []byte {
	r := g.rng
	m := &command.JobGC{Meta: g.meta(), Before: s.Clock() - 5_000_000}
	s.JobsIter(func(j *state.Job) bool {
		if j.State.Terminal() && j.FinishedAt <= m.Before && r.IntN(2) == 0 {
			m.IDs = append(m.IDs, j.ID)
		} else if r.IntN(200) == 0 {
			m.IDs = append(m.IDs, j.ID) // not collectable, or too young
		}
		return len(m.IDs) < 8
	})
	if r.IntN(5) == 0 && g.jobs > 0 {
		m.IDs = append(m.IDs, fmt.Sprintf("job-%05d", r.IntN(g.jobs)+1)) // maybe collected already
	}
	if r.IntN(3) == 0 {
		m.ForgetBefore = s.Clock() - 40_000_000
	}
	if r.IntN(20) == 0 {
		m.Before = s.Clock() + 1 // after the mission clock: rejected
	}
	return enc(command.JobGCType, m)
}

// Applier feeds entries to an FSM with consecutive raft indexes.
type Applier struct {
	FSM   *raftfsm.FSM
	index uint64
}

// Apply applies one entry and returns the FSM's response (nil for none).
func (a *Applier) Apply(entry []byte) *raftfsm.Response {
	a.index++
	r, _ := a.FSM.Apply(&raft.Log{Index: a.index, Term: 1, Type: raft.LogCommand, Data: entry}).(*raftfsm.Response)
	return r
}

// Log generates n entries (the mission first) by driving a fresh FSM, and
// returns the entries and that FSM. each, when not nil, runs after every
// entry (e.g. to check invariants).
func Log(seed uint64, n int, each func(i int, entry []byte, f *raftfsm.FSM)) ([][]byte, *raftfsm.FSM) {
	return LogOf(NewGen(seed), n, each)
}

// LogOf is Log with the generator g.
func LogOf(g *Gen, n int, each func(i int, entry []byte, f *raftfsm.FSM)) ([][]byte, *raftfsm.FSM) {
	a := &Applier{FSM: raftfsm.New(raftfsm.DefaultConfig())}
	entries := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		var e []byte
		if i == 0 {
			e = g.Mission()
		} else {
			a.FSM.Read(func(s *state.Store) { e = g.Next(s) })
		}
		a.Apply(e)
		entries = append(entries, e)
		if each != nil {
			each(i, e, a.FSM)
		}
	}
	return entries, a.FSM
}

// Replay applies entries to a fresh FSM built from cfg.
func Replay(cfg raftfsm.Config, entries [][]byte) *raftfsm.FSM {
	a := &Applier{FSM: raftfsm.New(cfg)}
	for _, e := range entries {
		a.Apply(e)
	}
	return a.FSM
}
