package raftfsm_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/fsmtest"
	"github.com/planetary/planetary/raftfsm/state"
)

// maxValue is the largest amount the API and the parser accept (1e9
// credits, core/limits.MaxMicro): 9,223 of them sum inside int64.
const maxValue = 1_000_000_000 * state.Micro

// fits is how many maxValue amounts a ledger sum holds.
const fits = math.MaxInt64 / maxValue

func submitMax(t *testing.T, a interface {
	Apply([]byte) *raftfsm.Response
}, prefix string, n int, shard string) (accepted, refused int, reason string) {
	t.Helper()
	for first := 0; first < n; first += 1000 {
		var jobs []command.JobSubmit
		for i := first; i < min(n, first+1000); i++ {
			jobs = append(jobs, command.JobSubmit{ID: fmt.Sprintf("%s%05d", prefix, i), Shard: shard, ValueMu: maxValue})
		}
		b, err := command.Encode(command.SubmitBatchType, &command.SubmitBatch{Time: 10, Jobs: jobs})
		if err != nil {
			t.Fatal(err)
		}
		r := a.Apply(b)
		if r == nil || r.Err != nil || len(r.Outcomes) != len(jobs) {
			t.Fatalf("submit: %+v", r)
		}
		for _, o := range r.Outcomes {
			switch o.Status {
			case raftfsm.Applied:
				if refused > 0 {
					t.Fatalf("job %s accepted after a refusal", o.ID)
				}
				accepted++
			case raftfsm.Rejected:
				refused++
				if reason == "" {
					reason = o.Reason
				}
			default:
				t.Fatalf("outcome %+v", o)
			}
		}
	}
	return accepted, refused, reason
}

// 10,000 jobs at the largest value: the first 9,223 fit in the ledger's
// int64 sums and are accepted, each later one is refused alone with the
// reason, nothing wraps, the totals are exact and every invariant holds;
// the room left still takes a job that fits in it, and a restore keeps
// refusing.
func TestSubmitOverflowRefusedPerJob(t *testing.T) {
	a := scenario(t)
	accepted, refused, reason := submitMax(t, a, "max-", 10_000, "eu")
	if accepted != fits || refused != 10_000-fits {
		t.Fatalf("accepted %d, refused %d; want %d and %d", accepted, refused, fits, 10_000-fits)
	}
	if !strings.Contains(reason, state.ErrLedgerOverflow.Error()) || !strings.Contains(reason, "9223000000000 already submitted") {
		t.Fatalf("refusal reason %q", reason)
	}
	room := int64(math.MaxInt64 - fits*maxValue)
	mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 11, Jobs: []command.JobSubmit{
		{ID: "room", Shard: "eu", ValueMu: room}}})
	r := mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 12, Jobs: []command.JobSubmit{
		{ID: "one-more", Shard: "eu", ValueMu: 1}, {ID: "free", Shard: "eu", ValueMu: 0}, {ID: "negative", Shard: "us", ValueMu: -1}}})
	if got := statuses(r); got[0] != raftfsm.Rejected || got[1] != raftfsm.Applied || got[2] != raftfsm.Rejected {
		t.Fatalf("outcomes %+v", r.Outcomes)
	}
	check := func(s *state.Store) {
		t.Helper()
		if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
			t.Fatal(bad)
		}
		g := s.Global()
		if g.N[state.JobQueued] != fits+2 || g.ValueMu[state.JobQueued] != math.MaxInt64 {
			t.Fatalf("global queued %d jobs worth %d, want %d worth %d", g.N[state.JobQueued], g.ValueMu[state.JobQueued], fits+2, int64(math.MaxInt64))
		}
		if sc := s.ShardCounts("eu"); sc.ValueMu[state.JobQueued] != math.MaxInt64 {
			t.Fatalf("shard eu queued value %d", sc.ValueMu[state.JobQueued])
		}
		if s.Job("max-09223") != nil || s.Job("max-09222") == nil {
			t.Fatal("the wrong jobs were refused")
		}
	}
	a.FSM.Read(check)
	b := restore(t, persist(t, a.FSM))
	b.Read(check)
	r = applyAt(b, 1<<20, mustEncode(t, command.SubmitBatchType, &command.SubmitBatch{Time: 13, Jobs: []command.JobSubmit{
		{ID: "after-restore", Shard: "us", ValueMu: 1}}}))
	if r.Outcomes[0].Status != raftfsm.Rejected {
		t.Fatalf("after restore: %+v", r.Outcomes)
	}
}

// Settlements that would overflow the payments fail their job, unpaid,
// with the reason; spills and reroutes that would overflow the flows are
// refused for that job; a shard deregistration whose jobs the flows cannot
// take is refused whole.
func TestPaymentsAndFlowsOverflow(t *testing.T) {
	a := &fsmtest.Applier{FSM: raftfsm.New(raftfsm.DefaultConfig())}
	mustApply(t, a, command.MissionApplyType, &command.MissionApply{Meta: command.Meta{Time: 1}, Name: "m", Digest: "d",
		Shards: []state.Shard{{Name: "eu", SpilloverTargets: []string{"us"}}, {Name: "us", SpilloverTargets: []string{"eu"}}},
		Nodes:  []state.Node{{ID: "b", Shard: "eu", Capacity: 20_000}, {ID: "u", Shard: "us", Capacity: 5}}})
	mustApply(t, a, command.NodeClaimType, &command.NodeClaim{Meta: command.Meta{Time: 2}, Client: "c", Nodes: []string{"b", "u"}})
	// Jobs of value 1 paid the largest quote each: the payments fill up.
	n := fits + 3
	var jobs []command.JobSubmit
	var asg []command.Assignment
	var res []command.Result
	for i := range n {
		id := fmt.Sprintf("p%05d", i)
		jobs = append(jobs, command.JobSubmit{ID: id, Shard: "eu", ValueMu: 1})
		asg = append(asg, command.Assignment{JobID: id, Attempt: 1, Node: "b", QuoteMu: maxValue})
		res = append(res, command.Result{JobID: id, Attempt: 1, OK: true})
	}
	mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 3, Jobs: jobs})
	mustApply(t, a, command.AssignBatchType, &command.AssignBatch{Time: 4, Assignments: asg})
	r := mustApply(t, a, command.CompleteBatchType, &command.CompleteBatch{Time: 5, Results: res})
	for _, o := range r.Outcomes {
		if o.Status != raftfsm.Applied {
			t.Fatalf("result outcome %+v", o)
		}
	}
	a.FSM.Read(func(s *state.Store) {
		if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
			t.Fatal(bad)
		}
		g := s.Global()
		if g.N[state.JobCompleted] != fits || g.N[state.JobFailed] != 3 {
			t.Fatalf("completed %d failed %d", g.N[state.JobCompleted], g.N[state.JobFailed])
		}
		if p := s.PaymentTo("b"); p != fits*maxValue {
			t.Fatalf("node b paid %d, want %d", p, int64(fits*maxValue))
		}
		j := s.Job(fmt.Sprintf("p%05d", fits))
		if j.State != state.JobFailed || j.SettledMu != 0 || !strings.Contains(j.Error, "settlement 1000000000 on top of") {
			t.Fatalf("the unpayable job: %+v", j)
		}
	})

	// One job of the largest value hops between eu and us until the flows
	// are full; the hop after is refused, the job stays where it is.
	mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 6, Jobs: []command.JobSubmit{{ID: "hopper", Shard: "eu", ValueMu: maxValue}}})
	var spills []command.Spill
	from, to := "eu", "us"
	for range fits + 1 {
		spills = append(spills, command.Spill{JobID: "hopper", From: from, To: to})
		from, to = to, from
	}
	r = mustApply(t, a, command.SpillBatchType, &command.SpillBatch{Time: 7, Spills: spills})
	for i, o := range r.Outcomes {
		if want := i < fits; (o.Status == raftfsm.Applied) != want {
			t.Fatalf("spill %d: %+v", i, o)
		}
	}
	if last := r.Outcomes[fits]; !strings.Contains(last.Reason, state.ErrLedgerOverflow.Error()) {
		t.Fatalf("refused spill reason %q", last.Reason)
	}
	hopperShard := "us" // fits is odd: the last accepted hop went eu -> us
	r = mustApply(t, a, command.JobRerouteType, &command.JobReroute{Meta: command.Meta{Time: 8}, Target: "eu", IDs: []string{"hopper"}})
	if r.Outcomes[0].Status != raftfsm.Rejected || !strings.Contains(r.Outcomes[0].Reason, state.ErrLedgerOverflow.Error()) {
		t.Fatalf("reroute: %+v", r.Outcomes)
	}
	b, err := command.Encode(command.ShardDeregisterType, &command.ShardDeregister{Meta: command.Meta{Time: 9}, Name: hopperShard, SpillTo: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	if r := a.Apply(b); r == nil || r.Err == nil || !strings.Contains(r.Err.Error(), state.ErrLedgerOverflow.Error()) {
		t.Fatalf("deregister whose jobs overflow the flows: %+v", r)
	}
	a.FSM.Read(func(s *state.Store) {
		if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
			t.Fatal(bad)
		}
		if j := s.Job("hopper"); j.Shard != hopperShard || j.Hops != fits || s.Shard(hopperShard) == nil {
			t.Fatalf("hopper %+v", j)
		}
		if s.FlowTotal() != fits*maxValue {
			t.Fatalf("flows total %d", s.FlowTotal())
		}
	})
}

// A state whose sums wrapped (jobs put past the FSM's checks) passes every
// equality invariant, since both sides wrap alike, and fails the sums
// invariant; so does a table below zero.
func TestInvariantsDetectWrappedSums(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(s *state.Store)
		want  string
	}{
		{"values", func(s *state.Store) {
			for i := range fits + 1 {
				s.PutJob(&state.Job{ID: fmt.Sprintf("w%05d", i), Shard: "eu", State: state.JobQueued, ValueMu: maxValue})
			}
		}, "overflow int64"},
		{"negative-table", func(s *state.Store) {
			s.PutJob(&state.Job{ID: "x", Shard: "eu", State: state.JobQueued, ValueMu: 5})
			g := s.Global()
			g.ValueMu[state.JobQueued] = -5
			g.ValueMu[state.JobFailed] = 10
			s.Tamper().SetGlobal(g)
		}, "below zero"},
		{"payments", func(s *state.Store) {
			s.Tamper().SetPayment("a", math.MaxInt64)
			s.Tamper().SetPayment("b", 1)
		}, "overflow int64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := state.NewStore()
			tc.build(s)
			var sums *raftfsm.Invariant
			for _, inv := range raftfsm.CheckInvariants(s) {
				if inv.ID == raftfsm.InvSums {
					sums = &inv
				}
			}
			if sums == nil || sums.OK || !strings.Contains(sums.Message, tc.want) {
				t.Fatalf("sums invariant %+v, want a failure naming %q", sums, tc.want)
			}
		})
	}
}

func applyAt(f *raftfsm.FSM, index uint64, entry []byte) *raftfsm.Response {
	r, _ := f.Apply(&raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: entry}).(*raftfsm.Response)
	return r
}
