package raftfsm_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/fsmtest"
	"github.com/planetary/planetary/raftfsm/snapshot"
	"github.com/planetary/planetary/raftfsm/state"
	"github.com/tinylib/msgp/msgp"
)

// handRegion is one region's FSM in a hand-off test: it checks the
// invariants after every entry and keeps the checkpoint of every step.
type handRegion struct {
	t    *testing.T
	name string
	a    *fsmtest.Applier
	cps  []state.RegionCheckpoint
	now  int64
}

func newHandRegion(t *testing.T, name string, shard state.Shard, nodes ...state.Node) *handRegion {
	r := &handRegion{t: t, name: name, a: &fsmtest.Applier{FSM: raftfsm.New(raftfsm.DefaultConfig())}}
	var ids []string
	for _, n := range nodes {
		ids = append(ids, n.ID)
	}
	r.apply(command.MissionApplyType, &command.MissionApply{Meta: r.meta(), Name: name, Digest: name, Shards: []state.Shard{shard}, Nodes: nodes})
	if len(ids) > 0 {
		r.apply(command.NodeClaimType, &command.NodeClaim{Meta: r.meta(), Client: "c-" + name, Nodes: ids})
	}
	return r
}

func (r *handRegion) meta() command.Meta {
	r.now++
	return command.Meta{Time: r.now, Actor: "region-host"}
}

// apply applies one command; the invariants must hold after it.
func (r *handRegion) apply(typ command.MessageType, m msgp.Marshaler) *raftfsm.Response {
	r.t.Helper()
	resp := r.a.Apply(entry(r.t, typ, m))
	if resp == nil {
		r.t.Fatalf("%s %s: no response", r.name, typ)
	}
	r.a.FSM.Read(func(s *state.Store) {
		if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
			r.t.Fatalf("%s after %s: %v", r.name, typ, bad)
		}
		r.cps = append(r.cps, s.Checkpoint(r.name))
	})
	return resp
}

func (r *handRegion) read(fn func(s *state.Store)) { r.a.FSM.Read(fn) }

// outcome is the single outcome of resp.
func outcome(t *testing.T, resp *raftfsm.Response) raftfsm.Outcome {
	t.Helper()
	if resp.Err != nil || len(resp.Outcomes) != 1 {
		t.Fatalf("want one outcome: %+v", resp)
	}
	return resp.Outcomes[0]
}

// jobsOf sums a global view's jobs and values over every state.
func jobsOf(g state.GlobalView) (n, v int64) {
	for st := range g.Totals.Counts.N {
		n += g.Totals.Counts.N[st]
		v += g.Totals.Counts.ValueMu[st]
	}
	return n, v
}

// TestHandOffLedgerCountsEachJobOnce hands three jobs from mars to earth:
// earth accepts two (one of them delivered twice) and refuses the third
// (its queue is full), mars closes the two accepted and takes the third
// back. Invariants hold in both regions after every entry; the accepted
// jobs leave mars's books for a flow to earth; and the global ledger of
// every pair of checkpoints, one of mars and one of earth from any step
// (stale ones included), counts each job exactly once.
func TestHandOffLedgerCountsEachJobOnce(t *testing.T) {
	mars := newHandRegion(t, "mars", state.Shard{Name: "mars"}, state.Node{ID: "m1", Shard: "mars", Capacity: 5})
	earth := newHandRegion(t, "earth", state.Shard{Name: "earth", MaxQueue: 2}, state.Node{ID: "e1", Shard: "earth", Capacity: 5})
	values := []int64{10, 20, 30}
	var subs []command.JobSubmit
	for i, v := range values {
		subs = append(subs, command.JobSubmit{ID: fmt.Sprint("j", i+1), Key: fmt.Sprint("k", i+1), Shard: "mars", ValueMu: v, Kind: "sim", Payload: []byte("{}")})
	}
	mars.apply(command.SubmitBatchType, &command.SubmitBatch{Time: 5, Jobs: subs})

	begin := mars.apply(command.HandOffBeginType, &command.HandOffBegin{Meta: mars.meta(), FromRegion: "mars", ToRegion: "earth", ToShard: "earth",
		IDs: []string{"j1", "j2", "j3", "j1", "nope"}})
	want := []raftfsm.OutcomeStatus{raftfsm.Applied, raftfsm.Applied, raftfsm.Applied, raftfsm.Rejected, raftfsm.Rejected}
	if got := statuses(begin); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("begin: %+v", begin.Outcomes)
	}
	if begin.Outcomes[0].Reason != "mars.1" || begin.Outcomes[2].Reason != "mars.3" || !strings.Contains(begin.Outcomes[3].Reason, "hand-off mars.1") {
		t.Fatalf("begin outcomes: %+v", begin.Outcomes)
	}
	// Out of placement while open: no queue holds them, the scheduler's
	// decisions and owner commands are refused, yet mars counts them.
	mars.read(func(s *state.Store) {
		if s.QueueLen("mars") != 0 || s.InFlight() != 3 || s.Global().N[state.JobQueued] != 3 {
			t.Fatalf("queue %d, in flight %d, queued %d", s.QueueLen("mars"), s.InFlight(), s.Global().N[state.JobQueued])
		}
	})
	if o := outcome(t, mars.apply(command.AssignBatchType, &command.AssignBatch{Time: 9, Assignments: []command.Assignment{{JobID: "j1", Attempt: 1, Node: "m1"}}})); o.Status != raftfsm.Rejected || !strings.Contains(o.Reason, "hand-off") {
		t.Fatalf("assign of a handed job: %+v", o)
	}
	if o := outcome(t, mars.apply(command.JobCancelType, &command.JobCancel{Meta: mars.meta(), IDs: []string{"j2"}})); o.Status != raftfsm.Rejected {
		t.Fatalf("cancel of a handed job: %+v", o)
	}
	if r := mars.apply(command.ShardDeregisterType, &command.ShardDeregister{Meta: mars.meta(), Name: "mars", Cancel: true}); r.Err == nil {
		t.Fatal("deregistered a shard with open hand-offs")
	}

	// The open hand-offs survive a snapshot: the restored FSM keeps them
	// out of the queue.
	restored := restore(t, persist(t, mars.a.FSM))
	restored.Read(func(s *state.Store) {
		if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 || s.QueueLen("mars") != 0 || s.InFlight() != 3 {
			t.Fatalf("restored: %v, queue %d, in flight %d", bad, s.QueueLen("mars"), s.InFlight())
		}
	})
	if restored.Digest() != mars.a.FSM.Digest() {
		t.Fatal("restored digest differs")
	}

	var offers []state.HandOff
	mars.read(func(s *state.Store) { offers = s.OpenHandOffs("earth") })
	if len(offers) != 3 || offers[0].ID != "mars.1" || offers[0].Job.ValueMu != 10 || offers[0].Job.Key != "k1" {
		t.Fatalf("open hand-offs: %+v", offers)
	}
	accept := func(h state.HandOff) raftfsm.Outcome {
		return outcome(t, earth.apply(command.HandOffAcceptType, &command.HandOffAccept{Meta: earth.meta(), HandOff: h}))
	}
	if o := accept(offers[0]); o.Status != raftfsm.Applied || o.ID != "mars.1" {
		t.Fatalf("accept mars.1: %+v", o)
	}
	if o := accept(offers[0]); o.Status != raftfsm.Duplicate || !strings.Contains(o.Reason, "accepted as job j1") {
		t.Fatalf("accept mars.1 again: %+v", o)
	}
	if o := accept(offers[1]); o.Status != raftfsm.Applied {
		t.Fatalf("accept mars.2: %+v", o)
	}
	refusal := accept(offers[2])
	if refusal.Status != raftfsm.Rejected || !strings.Contains(refusal.Reason, "queue of shard earth full") {
		t.Fatalf("accept mars.3 into a full queue: %+v", refusal)
	}
	if o := accept(offers[2]); o.Status != raftfsm.Duplicate || !strings.Contains(o.Reason, "refused: queue of shard earth full") {
		t.Fatalf("mars.3 again: %+v", o)
	}
	earth.read(func(s *state.Store) {
		j := s.Job("j1")
		if j == nil || j.Shard != "earth" || j.State != state.JobQueued || j.Hops != 1 || j.Key != "" || s.NumJobs() != 2 {
			t.Fatalf("earth's j1 %+v, %d jobs", j, s.NumJobs())
		}
		if in, ok := s.HandIn("mars.1"); !ok || in.FromRegion != "mars" || in.FromShard != "mars" || in.Job != "j1" {
			t.Fatalf("earth's hand-in: %+v", in)
		}
	})

	closeH := func(id string, ok bool, reason string) raftfsm.Outcome {
		return outcome(t, mars.apply(command.HandOffCloseType, &command.HandOffClose{Meta: mars.meta(), ID: id, Accepted: ok, Reason: reason}))
	}
	if o := closeH("mars.1", true, ""); o.Status != raftfsm.Applied {
		t.Fatalf("close mars.1: %+v", o)
	}
	if o := closeH("mars.1", true, ""); o.Status != raftfsm.Duplicate {
		t.Fatalf("close mars.1 again: %+v", o)
	}
	if o := closeH("mars.2", true, ""); o.Status != raftfsm.Applied {
		t.Fatalf("close mars.2: %+v", o)
	}
	if o := closeH("mars.3", false, refusal.Reason); o.Status != raftfsm.Applied {
		t.Fatalf("return mars.3: %+v", o)
	}
	if o := closeH("mars.3", true, ""); o.Status != raftfsm.Rejected {
		t.Fatalf("accept a returned hand-off: %+v", o)
	}
	if r := mars.apply(command.HandOffCloseType, &command.HandOffClose{Meta: mars.meta(), ID: "mars.9", Accepted: true}); r.Err == nil {
		t.Fatal("closed an unknown hand-off")
	}
	mars.read(func(s *state.Store) {
		if s.Job("j1") != nil || s.Job("j2") != nil || s.Job("j3") == nil || s.QueueLen("mars") != 1 || s.InFlight() != 0 {
			t.Fatalf("mars after closing: queue %d, in flight %d", s.QueueLen("mars"), s.InFlight())
		}
		if s.HandedOut() != 2 || s.NumJobs() != 3 {
			t.Fatalf("handed out %d of %d", s.HandedOut(), s.NumJobs())
		}
		fl := s.Flows()
		if len(fl) != 1 || fl[0].From != "mars" || fl[0].To != "earth" || fl[0].Jobs != 2 || fl[0].ValueMu != 30 {
			t.Fatalf("flows %+v", fl)
		}
		if h, _ := s.HandOff("mars.3"); h.State != state.HandOffReturned || h.Reason != refusal.Reason {
			t.Fatalf("mars.3: %+v", h)
		}
	})
	// A job handed out keeps its id and key taken here: submitted again it
	// is not a new job.
	again := mars.apply(command.SubmitBatchType, &command.SubmitBatch{Time: 30, Jobs: []command.JobSubmit{
		{ID: "j9", Key: "k1", Shard: "mars", ValueMu: 1}, {ID: "j2", Key: "k-new", Shard: "mars", ValueMu: 1}}})
	if got := statuses(again); fmt.Sprint(got) != fmt.Sprint([]raftfsm.OutcomeStatus{raftfsm.Duplicate, raftfsm.Rejected}) ||
		again.Outcomes[0].ID != "j1" || !strings.Contains(again.Outcomes[1].Reason, "handed to region earth") {
		t.Fatalf("submits of handed-out jobs: %+v", again.Outcomes)
	}
	// The returned job runs at home; an accepted one runs at the target.
	mars.apply(command.AssignBatchType, &command.AssignBatch{Time: 40, Assignments: []command.Assignment{{JobID: "j3", Attempt: 1, Node: "m1"}}})
	mars.apply(command.CompleteBatchType, &command.CompleteBatch{Time: 41, Results: []command.Result{{JobID: "j3", Attempt: 1, OK: true}}})
	earth.apply(command.AssignBatchType, &command.AssignBatch{Time: 40, Assignments: []command.Assignment{{JobID: "j1", Attempt: 1, Node: "e1"}}})
	earth.apply(command.CompleteBatchType, &command.CompleteBatch{Time: 41, Results: []command.Result{{JobID: "j1", Attempt: 1, OK: true}}})

	// Every checkpoint of mars with every checkpoint of earth, from the
	// submit on: each job is counted exactly once.
	for i, m := range mars.cps[2:] {
		for k, e := range earth.cps {
			g, err := state.GlobalLedger(m, []state.RegionCheckpoint{e})
			if err != nil {
				t.Fatal(err)
			}
			if n, v := jobsOf(g); n != 3 || v != 60 || g.Totals.ValueMu != 60 {
				t.Fatalf("mars step %d with earth step %d: %d jobs worth %d (total %d), transfer %+v", i, k, n, v, g.Totals.ValueMu, g.Transfer)
			}
		}
	}
	last, _ := state.GlobalLedger(mars.cps[len(mars.cps)-1], []state.RegionCheckpoint{earth.cps[len(earth.cps)-1]})
	if last.Transfer != (state.Transfer{}) || last.Totals.Counts.N[state.JobCompleted] != 2 || last.Totals.Counts.N[state.JobQueued] != 1 {
		t.Fatalf("final global ledger: %+v", last)
	}
}

// TestHandOffRefusesBadCommands: a begin naming no regions, the region
// itself or one of its own shards, an accept without an id or a job, and a
// begin of a job that is not queued.
func TestHandOffRefusesBadCommands(t *testing.T) {
	mars := newHandRegion(t, "mars", state.Shard{Name: "mars"}, state.Node{ID: "m1", Shard: "mars", Capacity: 5})
	mars.apply(command.SubmitBatchType, &command.SubmitBatch{Time: 5, Jobs: []command.JobSubmit{{ID: "j1", Shard: "mars", ValueMu: 1}}})
	for _, c := range []struct {
		m     *command.HandOffBegin
		field string
	}{
		{&command.HandOffBegin{ToRegion: "earth", ToShard: "earth", IDs: []string{"j1"}}, "from_region"},
		{&command.HandOffBegin{FromRegion: "mars", ToRegion: "mars", ToShard: "earth", IDs: []string{"j1"}}, "to_region"},
		{&command.HandOffBegin{FromRegion: "mars", ToRegion: "earth", IDs: []string{"j1"}}, "to_shard"},
		{&command.HandOffBegin{FromRegion: "mars", ToRegion: "earth", ToShard: "mars", IDs: []string{"j1"}}, "to_shard"},
	} {
		c.m.Meta = mars.meta()
		r := mars.apply(command.HandOffBeginType, c.m)
		if r.Err == nil || !strings.Contains(r.Err.Error(), c.field) {
			t.Errorf("%+v: %v, want the field %s", c.m, r.Err, c.field)
		}
	}
	for _, h := range []state.HandOff{{FromRegion: "earth", Job: state.HandOffJob{ID: "x"}}, {ID: "earth.1", Job: state.HandOffJob{ID: "x"}}, {ID: "earth.1", FromRegion: "earth"}} {
		if r := mars.apply(command.HandOffAcceptType, &command.HandOffAccept{Meta: mars.meta(), HandOff: h}); r.Err == nil {
			t.Errorf("accepted %+v", h)
		}
	}
	if o := outcome(t, mars.apply(command.HandOffAcceptType, &command.HandOffAccept{Meta: mars.meta(), HandOff: state.HandOff{ID: "earth.1",
		FromRegion: "earth", ToShard: "venus", Job: state.HandOffJob{ID: "x"}}})); o.Status != raftfsm.Rejected || o.Reason != "unknown shard venus" {
		t.Errorf("accept into an unknown shard: %+v", o)
	}
	if o := outcome(t, mars.apply(command.HandOffAcceptType, &command.HandOffAccept{Meta: mars.meta(), HandOff: state.HandOff{ID: "earth.2",
		FromRegion: "earth", ToShard: "mars", Job: state.HandOffJob{ID: "j1"}}})); o.Status != raftfsm.Rejected || !strings.Contains(o.Reason, "job id j1 taken") {
		t.Errorf("accept of a taken id: %+v", o)
	}
	mars.apply(command.AssignBatchType, &command.AssignBatch{Time: 9, Assignments: []command.Assignment{{JobID: "j1", Attempt: 1, Node: "m1"}}})
	r := mars.apply(command.HandOffBeginType, &command.HandOffBegin{Meta: mars.meta(), FromRegion: "mars", ToRegion: "earth", ToShard: "earth", IDs: []string{"j1"}})
	if o := outcome(t, r); o.Status != raftfsm.Rejected || o.Reason != "job is assigned" {
		t.Errorf("hand-off of an assigned job: %+v", o)
	}
}

// TestRandomLogsWithHandOffs: generated logs with a hand-off step every
// 20th entry (begins, accepts of offers from another region, redelivered
// or into an unknown shard, closes both ways and again) keep every
// invariant after every entry, replay to the same state, through snapshots
// along the log too, and the snapshot holds the hand-off records.
func TestRandomLogsWithHandOffs(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed-", seed), func(t *testing.T) {
			entries, live := fsmtest.LogOf(fsmtest.NewGen(seed).WithHandOffs(20), 800, func(i int, e []byte, f *raftfsm.FSM) {
				f.Read(func(s *state.Store) {
					if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
						typ, _, _ := command.Decode(e)
						t.Fatalf("after entry %d (%s): %v", i, typ, bad)
					}
				})
			})
			a := fsmtest.Replay(raftfsm.DefaultConfig(), entries)
			c := raftfsm.New(raftfsm.DefaultConfig())
			for i, e := range entries {
				if i > 0 && i%150 == 0 {
					c = restore(t, persist(t, c))
				}
				applyNext(t, c, e)
			}
			if a.Digest() != live.Digest() || c.Digest() != live.Digest() {
				t.Fatal("replicas differ")
			}
			var img *state.Image
			var accepted, returned, open, in, refused int
			live.Read(func(s *state.Store) {
				img = s.Image()
				for _, h := range s.HandOffs() {
					switch h.State {
					case state.HandOffAccepted:
						accepted++
					case state.HandOffReturned:
						returned++
					case state.HandOffOpen:
						open++
					}
				}
				for _, h := range s.HandIns() {
					if h.Accepted {
						in++
					} else {
						refused++
					}
				}
			})
			if accepted == 0 || returned == 0 || in == 0 || refused == 0 {
				t.Fatalf("hand-offs not exercised: %d accepted, %d returned, %d open; %d in, %d refused", accepted, returned, open, in, refused)
			}
			b := persist(t, live)
			restore(t, b).Read(func(s *state.Store) {
				after := s.Image()
				if !reflect.DeepEqual(after.HandOffs, img.HandOffs) || !reflect.DeepEqual(after.HandIns, img.HandIns) || s.InFlight() != open {
					t.Fatal("hand-off records differ after restore")
				}
			})
			info, err := snapshot.Inspect(bytes.NewReader(b))
			if err != nil || info.Version != 4 || info.HandOffs != len(img.HandOffs) || info.HandIns != len(img.HandIns) {
				t.Fatalf("inspect: %+v, %v", info, err)
			}
		})
	}
}

// TestInvariantsDetectHandOffCorruption: a job an open hand-off no longer
// holds (queued, in no queue), and a hand-off line that does not add up.
func TestInvariantsDetectHandOffCorruption(t *testing.T) {
	cases := []struct {
		name   string
		want   []string
		tamper func(s *state.Store)
	}{
		{"hold-dropped", []string{raftfsm.InvJobsConserved, raftfsm.InvHandOffs}, func(s *state.Store) { s.Tamper().DropHandOffHold(s.Job("j1").Seq) }},
		{"line", []string{raftfsm.InvHandOffs}, func(s *state.Store) {
			s.Tamper().SetHandOffLine(state.HandOffLine{Region: "earth", OpenJobs: 2, OpenValueMu: 10})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mars := newHandRegion(t, "mars", state.Shard{Name: "mars"})
			mars.apply(command.SubmitBatchType, &command.SubmitBatch{Time: 5, Jobs: []command.JobSubmit{{ID: "j1", Shard: "mars", ValueMu: 10}}})
			mars.apply(command.HandOffBeginType, &command.HandOffBegin{Meta: mars.meta(), FromRegion: "mars", ToRegion: "earth", ToShard: "earth", IDs: []string{"j1"}})
			var got []string
			mars.read(func(s *state.Store) {
				c.tamper(s)
				for _, inv := range raftfsm.CheckInvariants(s) {
					if !inv.OK {
						got = append(got, inv.ID)
					}
				}
			})
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("failed invariants %v, want %v", got, c.want)
			}
		})
	}
}
