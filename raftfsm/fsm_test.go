package raftfsm_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/fsmtest"
	"github.com/planetary/planetary/raftfsm/snapshot"
	"github.com/planetary/planetary/raftfsm/state"
	"github.com/tinylib/msgp/msgp"
)

// memSink is a raft.SnapshotSink over a buffer.
type memSink struct {
	bytes.Buffer
	cancelled, closed bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { s.closed = true; return nil }

func persist(t testing.TB, f *raftfsm.FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	if !sink.closed || sink.cancelled {
		t.Fatalf("sink closed=%v cancelled=%v", sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

func restore(t testing.TB, b []byte) *raftfsm.FSM {
	t.Helper()
	f := raftfsm.New(raftfsm.DefaultConfig())
	if err := f.Restore(io.NopCloser(bytes.NewReader(b))); err != nil {
		t.Fatal(err)
	}
	return f
}

func failed(invs []raftfsm.Invariant) []string {
	var out []string
	for _, inv := range invs {
		if !inv.OK {
			out = append(out, inv.ID+": "+inv.Message)
		}
	}
	return out
}

func TestRandomLogsReplayIdentically(t *testing.T) {
	// How the completed jobs of all seeds were settled: the logs must reach
	// every basis, so the invariants are checked over usage-based payments.
	bases := map[string]int{}
	defer func() {
		for _, b := range []string{state.SettledUsage, state.SettledQuoteCap, state.SettledMaxPriceCap, state.SettledNoUsage, state.SettledUnmetered} {
			if bases[b] == 0 {
				t.Errorf("no completed job settled by %q: %v", b, bases)
			}
		}
	}()
	for _, seed := range []uint64{1, 2, 3, 42, 1234} {
		t.Run(fmt.Sprint("seed-", seed), func(t *testing.T) {
			entries, live := fsmtest.Log(seed, 800, func(i int, e []byte, f *raftfsm.FSM) {
				f.Read(func(s *state.Store) {
					if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
						typ, _, _ := command.Decode(e)
						t.Fatalf("after entry %d (%s): %v", i, typ, bad)
					}
				})
			})
			a := fsmtest.Replay(raftfsm.DefaultConfig(), entries)
			b := fsmtest.Replay(raftfsm.DefaultConfig(), entries)
			c := replayThroughSnapshots(t, entries, 150)
			sa, sb, sl, sc := persist(t, a), persist(t, b), persist(t, live), persist(t, c)
			if !bytes.Equal(sa, sb) || !bytes.Equal(sa, sl) {
				t.Fatal("replicas produced different snapshot streams")
			}
			if !bytes.Equal(sa, sc) {
				t.Fatal("a replica restored from snapshots along the log ends in another state")
			}
			if a.Digest() != b.Digest() || a.Digest() != c.Digest() {
				t.Fatal("digests differ")
			}
			var g state.Counts
			var gc state.Collected
			a.Read(func(s *state.Store) {
				g, gc = s.Global(), s.Collected()
				s.JobsIter(func(j *state.Job) bool {
					if j.State == state.JobCompleted {
						// The basis the job was settled by; its amount
						// must be what Settle gives for its usage.
						pre := j.Clone()
						pre.SettledMu = 0
						amt, basis := state.Settle(pre, j.Usage)
						if amt != j.SettledMu {
							t.Fatalf("job %s settled %d, Settle gives %d (%s)", j.ID, j.SettledMu, amt, basis)
						}
						bases[basis]++
					}
					return true
				})
			})
			if gc.Jobs == 0 || gc.Batches == 0 {
				t.Fatalf("log collected nothing: %+v", gc)
			}
			if g.N[state.JobCompleted] == 0 || g.N[state.JobQueued]+g.N[state.JobAssigned] == 0 {
				t.Fatalf("log too shallow: %v", g.N)
			}
		})
	}
}

// replayThroughSnapshots applies entries as a follower restarting every
// `every` entries would: it persists its state, restores it into a fresh
// FSM and goes on applying the log there. It fails the test unless at least
// one of those snapshots held collected jobs and tombs, so the round trips
// cover GC'd state (aggregates, tombs, a job table with holes).
func replayThroughSnapshots(t *testing.T, entries [][]byte, every int) *raftfsm.FSM {
	t.Helper()
	f := raftfsm.New(raftfsm.DefaultConfig())
	collected := false
	for i, e := range entries {
		if i > 0 && i%every == 0 {
			var before [32]byte
			f.Read(func(s *state.Store) {
				collected = collected || (s.Collected().Jobs > 0 && s.Tombs() > 0)
			})
			before = f.Digest()
			f = restore(t, persist(t, f))
			if f.Digest() != before || f.AppliedIndex() != uint64(i) {
				t.Fatalf("restore at entry %d: digest or applied index changed", i)
			}
		}
		f.Apply(&raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: e})
	}
	if !collected {
		t.Fatal("no snapshot along the log held collected jobs and tombs")
	}
	return f
}

func TestSnapshotRoundTrip(t *testing.T) {
	_, f := fsmtest.Log(7, 1500, nil)
	b := persist(t, f)
	g := restore(t, b)
	if f.Digest() != g.Digest() {
		t.Fatal("digest changed across restore")
	}
	var before, after *state.Image
	f.Read(func(s *state.Store) { before = s.Image() })
	g.Read(func(s *state.Store) {
		after = s.Image()
		if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
			t.Fatalf("restored state: %v", bad)
		}
	})
	// Every record type must be present so the round trip covers it.
	present := map[string]bool{
		"shards": len(before.Shards) > 0, "nodes": len(before.Nodes) > 0, "jobs": len(before.Jobs) > 0,
		"shard-counts": len(before.ShardCounts) > 0, "node-counts": len(before.NodeCounts) > 0,
		"flows": len(before.Flows) > 0, "payments": len(before.Payments) > 0, "tokens": len(before.Tokens) > 0,
		"policy": before.Policy.MissionName != "" && len(before.Policy.Fired) > 0, "meta": before.Meta.Head.Seq > 0 && before.Meta.Clock > 0,
		"collected": before.Collected.Jobs > 0 && len(before.Collected.Shards) > 0 && len(before.Collected.Nodes) > 0,
		"tombs":     len(before.Tombs) > 0, "holes": before.Meta.Seqs > uint64(len(before.Jobs)) && before.Jobs[0].Seq > 1,
		"regions": len(before.Regions) > 1,
	}
	for name, ok := range present {
		if !ok {
			t.Errorf("record type %s not exercised", name)
		}
	}
	cases := []struct {
		name string
		a, b any
	}{
		{"shards", before.Shards, after.Shards},
		{"nodes", before.Nodes, after.Nodes},
		{"jobs", before.Jobs, after.Jobs},
		{"global", before.Global, after.Global},
		{"shard-counts", before.ShardCounts, after.ShardCounts},
		{"node-counts", before.NodeCounts, after.NodeCounts},
		{"flows", before.Flows, after.Flows},
		{"payments", before.Payments, after.Payments},
		{"policy", before.Policy, after.Policy},
		{"tokens", before.Tokens, after.Tokens},
		{"meta", before.Meta, after.Meta},
		{"collected", before.Collected, after.Collected},
		{"tombs", before.Tombs, after.Tombs},
		{"regions", before.Regions, after.Regions},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.a, tc.b) {
				t.Fatalf("differs after restore")
			}
		})
	}
	// The restored FSM keeps working: the log continues identically.
	if f.AppliedIndex() != g.AppliedIndex() {
		t.Fatal("applied index not restored")
	}
	info, err := snapshot.Inspect(bytes.NewReader(b))
	if err != nil || info.Jobs != len(before.Jobs) || info.Meta != before.Meta || info.Version != snapshot.VersionOf(before) || info.Regions != len(before.Regions) {
		t.Fatalf("inspect: %+v %v", info, err)
	}
}

func TestSnapshotRejectsDamage(t *testing.T) {
	_, f := fsmtest.Log(3, 300, nil)
	good := persist(t, f)
	flip := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x20
		return b
	}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, snapshot.ErrTruncated},
		{"bad-magic", flip(0), snapshot.ErrBadMagic},
		{"bad-version", flip(9), snapshot.ErrUnsupportedVersion},
		{"short-header", good[:5], snapshot.ErrTruncated},
		{"flip-first-record", flip(15), snapshot.ErrChecksum},
		{"flip-middle", flip(len(good) / 2), snapshot.ErrChecksum},
		{"flip-last-record", flip(len(good) - 20), snapshot.ErrChecksum},
		{"flip-crc", flip(len(good) - 1), snapshot.ErrChecksum},
		{"truncated-middle", good[:len(good)/2], snapshot.ErrTruncated},
		{"truncated-trailer", good[:len(good)-3], snapshot.ErrTruncated},
		{"truncated-before-trailer", good[:len(good)-13], snapshot.ErrTruncated},
		{"trailing-garbage", append(append([]byte(nil), good...), 0), snapshot.ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := raftfsm.New(raftfsm.DefaultConfig())
			err := g.Restore(io.NopCloser(bytes.NewReader(tc.data)))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if g.AppliedIndex() != 0 {
				t.Fatal("failed restore changed state")
			}
		})
	}
	// A flipped byte anywhere after the header is caught.
	for i := 10; i < len(good); i += len(good)/300 + 1 {
		if _, err := snapshot.Read(bytes.NewReader(flip(i))); !errors.Is(err, snapshot.ErrChecksum) && !errors.Is(err, snapshot.ErrTruncated) {
			t.Fatalf("flip at %d of %d: %v", i, len(good), err)
		}
	}
}

// failingSink fails its first write.
type failingSink struct{ memSink }

func (s *failingSink) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestPersistCancelsOnError(t *testing.T) {
	_, f := fsmtest.Log(5, 50, nil)
	snap, _ := f.Snapshot()
	sink := &failingSink{}
	if err := snap.Persist(sink); err == nil || !sink.cancelled {
		t.Fatalf("err=%v cancelled=%v", err, sink.cancelled)
	}
	snap.Release()
	snap.Release()
}

func TestInvariantsDetectCorruption(t *testing.T) {
	cases := []struct {
		name   string
		want   string
		tamper func(s *state.Store)
	}{
		{"global-count", raftfsm.InvJobsConserved, func(s *state.Store) {
			g := s.Global()
			g.N[state.JobQueued]++
			s.Tamper().SetGlobal(g)
		}},
		{"job-changes-state-behind-tables", raftfsm.InvJobsConserved, func(s *state.Store) {
			var first *state.Job // the oldest live job (older ones may be collected)
			s.JobsIter(func(x *state.Job) bool { first = x; return false })
			j := first.Clone()
			j.State = state.JobParked
			if first.State == state.JobParked {
				j.State = state.JobQueued
			}
			s.Tamper().ReplaceJob(j)
		}},
		{"shard-counts", raftfsm.InvShardTotals, func(s *state.Store) {
			c := s.ShardCounts("eu")
			c.N[state.JobCompleted]++
			s.Tamper().SetShardCounts("eu", c)
		}},
		{"node-counts", raftfsm.InvNodeActive, func(s *state.Store) {
			c := s.NodeCounts("eu-n0")
			c.N[state.JobRunning]++
			s.Tamper().SetNodeCounts("eu-n0", c)
		}},
		{"active-set", raftfsm.InvNodeActive, func(s *state.Store) {
			var seq uint64
			s.JobsIter(func(j *state.Job) bool {
				if j.State.Terminal() && j.Node != "" {
					seq = j.Seq
					return false
				}
				return true
			})
			s.Tamper().AddActive(s.JobBySeq(seq).Node, seq)
		}},
		{"terminal-value", raftfsm.InvTerminalOnce, func(s *state.Store) {
			g := s.Global()
			g.ValueMu[state.JobCompleted] += 5
			s.Tamper().SetGlobal(g)
		}},
		{"payments", raftfsm.InvPayments, func(s *state.Store) {
			s.Tamper().SetPayment("eu-n0", s.PaymentTo("eu-n0")+1)
		}},
		{"flows", raftfsm.InvFlows, func(s *state.Store) { s.Tamper().AddFlow("eu", "us", 1) }},
		{"settled-over-quote", raftfsm.InvSettled, func(s *state.Store) {
			// Paid above its quote, with the node's payment moved along so
			// that only the settlement check can see it.
			var j *state.Job
			s.JobsIter(func(x *state.Job) bool {
				if x.State == state.JobCompleted {
					j = x
					return false
				}
				return true
			})
			nj := j.Clone()
			nj.SettledMu = j.QuoteMu + 1
			s.Tamper().ReplaceJob(nj)
			s.Tamper().SetPayment(j.Node, s.PaymentTo(j.Node)+nj.SettledMu-j.SettledMu)
		}},
		{"chain", raftfsm.InvChain, func(s *state.Store) { s.Tamper().SetEvents(s.Meta().Events + 1) }},
		{"collected-count", raftfsm.InvJobsConserved, func(s *state.Store) {
			c := s.Collected()
			s.Tamper().SetCollected(c.Jobs+1, c.Global, c.PaidMu, c.Hops)
		}},
		{"collected-as-live-state", raftfsm.InvJobsConserved, func(s *state.Store) {
			c := s.Collected()
			c.Global.N[state.JobCompleted]--
			c.Global.N[state.JobRunning]++
			s.Tamper().SetCollected(c.Jobs, c.Global, c.PaidMu, c.Hops)
		}},
		{"collected-value", raftfsm.InvTerminalOnce, func(s *state.Store) {
			c := s.Collected()
			c.Global.ValueMu[state.JobCompleted] += 7
			s.Tamper().SetCollected(c.Jobs, c.Global, c.PaidMu, c.Hops)
		}},
		{"collected-shard", raftfsm.InvShardTotals, func(s *state.Store) {
			c := s.CollectedShard("eu")
			c.N[state.JobCompleted]++
			s.Tamper().SetCollectedShard("eu", c)
		}},
		{"collected-payments", raftfsm.InvPayments, func(s *state.Store) {
			c := s.Collected()
			s.Tamper().SetCollected(c.Jobs, c.Global, c.PaidMu+1, c.Hops)
		}},
		{"collected-hops", raftfsm.InvFlows, func(s *state.Store) {
			c := s.Collected()
			s.Tamper().SetCollected(c.Jobs, c.Global, c.PaidMu, c.Hops+1)
		}},
		{"tomb-of-live-job", raftfsm.InvJobsConserved, func(s *state.Store) {
			var id string
			s.JobsIter(func(j *state.Job) bool { id = j.ID; return false })
			s.Tamper().AddTomb(state.Tomb{ID: id, State: state.JobCompleted, CollectedAt: s.Clock()})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, f := fsmtest.Log(11, 400, nil)
			// Tampering needs the write lock: go through a restore into a
			// store we own.
			var img *state.Image
			f.Read(func(s *state.Store) { img = s.Image() })
			s, err := state.FromImage(img)
			if err != nil {
				t.Fatal(err)
			}
			if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
				t.Fatalf("before tampering: %v", bad)
			}
			if s.Collected().Jobs == 0 {
				t.Fatal("the log collected no job: the collected cases would not test GC")
			}
			tc.tamper(s)
			var hit bool
			for _, inv := range raftfsm.CheckInvariants(s) {
				if inv.ID == tc.want && !inv.OK {
					hit = true
					if inv.Message == "" {
						t.Fatal("failure without a message")
					}
				}
			}
			if !hit {
				t.Fatalf("invariant %s did not fail: %v", tc.want, failed(raftfsm.CheckInvariants(s)))
			}
		})
	}
}

// scenario builds a small fabric: shard eu with nodes a (capacity 1) and b.
func scenario(t *testing.T) *fsmtest.Applier {
	t.Helper()
	a := &fsmtest.Applier{FSM: raftfsm.New(raftfsm.DefaultConfig())}
	mustApply(t, a, command.MissionApplyType, &command.MissionApply{Meta: command.Meta{Time: 1}, Name: "m", Digest: "d",
		Shards: []state.Shard{{Name: "eu"}, {Name: "us"}},
		Nodes:  []state.Node{{ID: "a", Shard: "eu", Capacity: 1}, {ID: "b", Shard: "eu", Capacity: 5}, {ID: "u", Shard: "us", Capacity: 5}}})
	mustApply(t, a, command.NodeClaimType, &command.NodeClaim{Meta: command.Meta{Time: 2}, Client: "c", Nodes: []string{"a", "b", "u"}})
	return a
}

func mustApply(t *testing.T, a *fsmtest.Applier, typ command.MessageType, m msgp.Marshaler) *raftfsm.Response {
	t.Helper()
	b, err := command.Encode(typ, m)
	if err != nil {
		t.Fatal(err)
	}
	r := a.Apply(b)
	if r == nil || r.Err != nil {
		t.Fatalf("%s: %+v", typ, r)
	}
	return r
}

func statuses(r *raftfsm.Response) []raftfsm.OutcomeStatus {
	var out []raftfsm.OutcomeStatus
	for _, o := range r.Outcomes {
		out = append(out, o.Status)
	}
	return out
}

func TestStaleDecisionsRejectedPerJob(t *testing.T) {
	a := scenario(t)
	var jobs []command.JobSubmit
	for i := 1; i <= 5; i++ {
		jobs = append(jobs, command.JobSubmit{ID: fmt.Sprint("j", i), Shard: "eu", ValueMu: 10})
	}
	mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 3, Jobs: jobs})
	r := mustApply(t, a, command.AssignBatchType, &command.AssignBatch{Time: 4, Assignments: []command.Assignment{
		{JobID: "j1", Attempt: 1, Node: "a", QuoteMu: 7}, // ok
		{JobID: "j2", Attempt: 1, Node: "a"},             // a is full now
		{JobID: "j3", Attempt: 2, Node: "b"},             // stale attempt
		{JobID: "j4", Attempt: 1, Node: "u"},             // wrong shard
		{JobID: "nope", Attempt: 1, Node: "b"},           // unknown job
		{JobID: "j5", Attempt: 1, Node: "b", QuoteMu: 9}, // ok
		{JobID: "j5", Attempt: 1, Node: "b", QuoteMu: 9}, // repeated
	}})
	want := []raftfsm.OutcomeStatus{raftfsm.Applied, raftfsm.Rejected, raftfsm.Rejected, raftfsm.Rejected, raftfsm.Rejected, raftfsm.Applied, raftfsm.Duplicate}
	if got := statuses(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("outcomes %v, want %v (%+v)", got, want, r.Outcomes)
	}
	// Results: a stale attempt and a duplicate completion change nothing.
	r = mustApply(t, a, command.CompleteBatchType, &command.CompleteBatch{Time: 5, MaxAttempts: 3, Results: []command.Result{
		{JobID: "j1", Attempt: 1, OK: true},
		{JobID: "j1", Attempt: 1, OK: true},
		{JobID: "j5", Attempt: 2, OK: true},
	}})
	want = []raftfsm.OutcomeStatus{raftfsm.Applied, raftfsm.Duplicate, raftfsm.Rejected}
	if got := statuses(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	a.FSM.Read(func(s *state.Store) {
		if s.PaymentTo("a") != 7 || s.Job("j1").State != state.JobCompleted || s.Job("j5").State != state.JobAssigned {
			t.Fatalf("payments %d j1 %s j5 %s", s.PaymentTo("a"), s.Job("j1").State, s.Job("j5").State)
		}
		if bad := failed(raftfsm.CheckInvariants(s)); len(bad) > 0 {
			t.Fatal(bad)
		}
	})
}

func TestDuplicateKeyReturnsFirstJob(t *testing.T) {
	a := scenario(t)
	r := mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 3, Jobs: []command.JobSubmit{
		{ID: "first", Key: "k", Shard: "eu"},
		{ID: "second", Key: "k", Shard: "eu"},
		{ID: "third", Shard: "mars"},
		{ID: "first", Shard: "eu"},
		{ID: "solo", Shard: "eu", Priority: 2},
		{ID: "solo", Shard: "eu", Priority: 2},
		{ID: "solo", Shard: "eu", Priority: 3},
	}})
	want := []raftfsm.Outcome{
		{ID: "first", Status: raftfsm.Applied},
		{ID: "first", Status: raftfsm.Duplicate, Reason: "idempotency key k"},
		{ID: "third", Status: raftfsm.Rejected, Reason: "unknown shard mars"},
		{ID: "first", Status: raftfsm.Rejected, Reason: "duplicate job id"},
		{ID: "solo", Status: raftfsm.Applied},
		{ID: "solo", Status: raftfsm.Duplicate, Reason: "job id solo"},
		{ID: "solo", Status: raftfsm.Rejected, Reason: "duplicate job id"},
	}
	if !reflect.DeepEqual(r.Outcomes, want) {
		t.Fatalf("%+v", r.Outcomes)
	}
	r = mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 4, Jobs: []command.JobSubmit{{ID: "again", Key: "k", Shard: "us"}}})
	if r.Outcomes[0].ID != "first" || r.Outcomes[0].Status != raftfsm.Duplicate {
		t.Fatalf("%+v", r.Outcomes)
	}
	a.FSM.Read(func(s *state.Store) {
		if s.NumJobs() != 2 || s.JobByKey("k").ID != "first" {
			t.Fatalf("jobs %d", s.NumJobs())
		}
	})
}

func TestScheduleEntryFiresOnce(t *testing.T) {
	a := scenario(t)
	body, _ := command.EncodeBody(&command.Pause{Meta: command.Meta{Actor: "owner"}, Shard: "eu", Paused: true})
	fire := &command.ScheduleFire{Meta: command.Meta{Time: 10, Actor: "leader"}, EntryID: "e1", Action: command.PauseType, Body: body}
	mustApply(t, a, command.ScheduleFireType, fire)
	var head state.ChainHead
	var pol state.Policy
	a.FSM.Read(func(s *state.Store) { head, pol = s.Head(), s.Policy() })
	if !reflect.DeepEqual(pol.Fired, []string{"e1"}) || pol.Pauses != 1 || pol.OwnerCommands != 2 {
		t.Fatalf("fired %v pauses %d owner %d", pol.Fired, pol.Pauses, pol.OwnerCommands)
	}
	// Unpause, then fire the same entry again: nothing happens.
	mustApply(t, a, command.PauseType, &command.Pause{Meta: command.Meta{Time: 11}, Shard: "eu"})
	a.FSM.Read(func(s *state.Store) { head = s.Head() })
	r := mustApply(t, a, command.ScheduleFireType, fire)
	if r.Outcomes[0].Status != raftfsm.Duplicate {
		t.Fatalf("%+v", r.Outcomes)
	}
	a.FSM.Read(func(s *state.Store) {
		if s.Shard("eu").Paused || s.Head() != head {
			t.Fatal("second fire changed state")
		}
	})
}

// recordingSink collects events.
type recordingSink struct {
	evs    []state.Event
	synced uint64
}

func (r *recordingSink) Append(evs []state.Event) { r.evs = append(r.evs, evs...) }
func (r *recordingSink) Sync(seq uint64) error    { r.synced = seq; return nil }

func TestEventsChainAndSink(t *testing.T) {
	entries, _ := fsmtest.Log(9, 300, nil)
	sink := &recordingSink{}
	f := fsmtest.Replay(raftfsm.Config{Events: sink}, entries)
	var head state.ChainHead
	f.Read(func(s *state.Store) { head = s.Head() })
	if uint64(len(sink.evs)) != head.Seq {
		t.Fatalf("sink has %d events, head %d", len(sink.evs), head.Seq)
	}
	var prev state.ChainHead
	for i := range sink.evs {
		e := sink.evs[i]
		want := e.ComputeHash(prev.Hash)
		if e.Seq != prev.Seq+1 || fmt.Sprintf("%x", want) != e.Hash || e.Index == 0 {
			t.Fatalf("event %d breaks the chain", i)
		}
		prev = state.ChainHead{Seq: e.Seq, Hash: want}
	}
	if prev != head {
		t.Fatal("head mismatch")
	}
	persist(t, f)
	if sink.synced != head.Seq {
		t.Fatalf("persist synced %d, head %d", sink.synced, head.Seq)
	}
}

func TestUnknownCommandTypes(t *testing.T) {
	a := &fsmtest.Applier{FSM: raftfsm.New(raftfsm.DefaultConfig())}
	if r := a.Apply([]byte{byte(command.IgnoreUnknownFlag | 77), 0x80}); r == nil || r.Err != nil {
		t.Fatalf("ignorable: %+v", r)
	}
	// An unknown type that may not be skipped halts the FSM (version_test.go).
	if r := a.Apply([]byte{77, 0x80}); r == nil || !errors.Is(r.Err, command.ErrUnknownCommandVersion) || a.FSM.Halted() == nil {
		t.Fatalf("unknown type: %+v", r)
	}
}

// TestPersistWhileApplying checks that a snapshot is an immutable view: Apply
// continues while Persist encodes, and the stream equals the state at the
// time of Snapshot().
func TestPersistWhileApplying(t *testing.T) {
	entries, _ := fsmtest.Log(17, 600, nil)
	a := &fsmtest.Applier{FSM: raftfsm.New(raftfsm.DefaultConfig())}
	for _, e := range entries[:300] {
		a.Apply(e)
	}
	want := persist(t, fsmtest.Replay(raftfsm.DefaultConfig(), entries[:300]))
	snap, err := a.FSM.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []byte)
	go func() {
		sink := &memSink{}
		if err := snap.Persist(sink); err != nil {
			t.Error(err)
		}
		done <- sink.Bytes()
	}()
	for _, e := range entries[300:] {
		a.Apply(e)
	}
	if got := <-done; !bytes.Equal(got, want) {
		t.Fatal("snapshot changed while applying")
	}
	snap.Release()
}

// TestResultRecordsImpliedStart: a result for an attempt never reported
// started records the start first, in the same entry; a start reported
// after the result is a duplicate and records nothing.
func TestResultRecordsImpliedStart(t *testing.T) {
	sink := &recordingSink{}
	a := &fsmtest.Applier{FSM: raftfsm.New(raftfsm.Config{Events: sink})}
	mustApply(t, a, command.MissionApplyType, &command.MissionApply{Meta: command.Meta{Time: 1}, Name: "m", Digest: "d",
		Shards: []state.Shard{{Name: "eu"}}, Nodes: []state.Node{{ID: "b", Shard: "eu", Capacity: 5}}})
	mustApply(t, a, command.NodeClaimType, &command.NodeClaim{Meta: command.Meta{Time: 2}, Client: "c", Nodes: []string{"b"}})
	mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 3, Jobs: []command.JobSubmit{
		{ID: "short", Shard: "eu"}, {ID: "long", Shard: "eu"}, {ID: "bad", Shard: "eu"}}})
	mustApply(t, a, command.AssignBatchType, &command.AssignBatch{Time: 4, Assignments: []command.Assignment{
		{JobID: "short", Attempt: 1, Node: "b"}, {JobID: "long", Attempt: 1, Node: "b"}, {JobID: "bad", Attempt: 1, Node: "b"}}})
	mustApply(t, a, command.StartBatchType, &command.StartBatch{Time: 5, Jobs: []command.JobAttempt{{JobID: "long", Attempt: 1}}})
	mark := len(sink.evs)
	mustApply(t, a, command.CompleteBatchType, &command.CompleteBatch{Time: 6, MaxAttempts: 1, Results: []command.Result{
		{JobID: "short", Attempt: 1, OK: true}, {JobID: "long", Attempt: 1, OK: true}, {JobID: "bad", Attempt: 1}}})
	r := mustApply(t, a, command.StartBatchType, &command.StartBatch{Time: 7, Jobs: []command.JobAttempt{{JobID: "short", Attempt: 1}}})
	if got := statuses(r); !reflect.DeepEqual(got, []raftfsm.OutcomeStatus{raftfsm.Duplicate}) {
		t.Fatalf("late start: %v", got)
	}
	var got []string
	for _, e := range sink.evs[mark:] {
		got = append(got, e.Type+" "+e.Job)
	}
	want := []string{"job.started short", "job.completed short", "job.completed long", "job.started bad", "job.failed bad"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}
