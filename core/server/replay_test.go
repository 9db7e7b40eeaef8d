package server

import (
	"context"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// replaySink is an EventSink that keeps every event in memory.
type replaySink struct{ evs []state.Event }

func (c *replaySink) Append(evs []state.Event) { c.evs = append(c.evs, evs...) }
func (c *replaySink) Sync(uint64) error        { return nil }

// replayPlacement is the part of a job.assigned event that placement decides.
type replayPlacement struct {
	Job     string
	Attempt uint32
	Node    string
	QuoteMu int64
}

func replayPlacements(evs []state.Event) []replayPlacement {
	var out []replayPlacement
	for _, e := range evs {
		if e.Type == state.EvJobAssigned {
			out = append(out, replayPlacement{e.Job, e.Attempt, e.Node, e.AmountMu})
		}
	}
	return out
}

// replayOutcome draws a deterministic result for an attempt: about one in six
// first attempts fails retryably, so retries are placed too.
func replayOutcome(job string, attempt uint32) command.Result {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d", job, attempt)
	if attempt == 1 && h.Sum32()%6 == 0 {
		return command.Result{JobID: job, Attempt: attempt, Retryable: true, Error: "simulated failure"}
	}
	return command.Result{JobID: job, Attempt: attempt, OK: true, Output: "ok"}
}

// TestReplayReproducesPlacement runs a live server on raft-boltdb with
// completions driven in-process (retries, a node going down and up, a
// spill), then opens the raft log read-only, applies every entry to a
// fresh FSM and checks that the job.assigned sequence (job, attempt,
// node, quote), the event chain and the state digest are the live run's.
func TestReplayReproducesPlacement(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	// Keep the whole log: no snapshot may compact it during the run.
	cfg.SnapshotThreshold = 1 << 40
	cfg.SnapshotInterval = time.Hour
	cfg.HeartbeatTTL = time.Hour
	s := startServer(t, cfg)

	ctx := ctxT(t)
	now := s.Now()
	for _, sh := range []state.Shard{
		{Name: "mars", SpilloverTargets: []string{"helios"}, CreatedAt: now},
		{Name: "helios", SpilloverTargets: []string{"mars"}, CreatedAt: now},
	} {
		if _, err := s.Apply(ctx, command.ShardRegisterType, &command.ShardRegister{
			Meta: command.Meta{Time: s.Now(), Actor: "test"}, Shard: sh}); err != nil {
			t.Fatal(err)
		}
	}
	nodes := []state.Node{
		{ID: "mars.gpu-helion", Shard: "mars", PluginKind: "sim", Capacity: 3, Client: "c1",
			Capabilities: []string{"gpu", "manufacturing"}, Price: state.PriceSchedule{BaseMu: 880}},
		{ID: "mars.regolith", Shard: "mars", PluginKind: "sim", Capacity: 2, Client: "c1",
			Capabilities: []string{"manufacturing"}, Price: state.PriceSchedule{BaseMu: 550}},
		{ID: "helios.solaris", Shard: "helios", PluginKind: "sim", Capacity: 4, Client: "c1",
			Capabilities: []string{"gpu", "astronomy"}, Price: state.PriceSchedule{BaseMu: 1200}},
		{ID: "helios.backup", Shard: "helios", PluginKind: "sim", Capacity: 2, Client: "c1",
			Capabilities: []string{"gpu", "astronomy", "manufacturing"}, Price: state.PriceSchedule{BaseMu: 940}},
	}
	if _, err := s.RegisterClient(ctx, "c1", nodes, []string{"sim"}); err != nil {
		t.Fatal(err)
	}

	// The in-process client: start and finish every assignment as it is
	// streamed, with deterministic outcomes.
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = s.Assignments(runCtx, "c1", func(as []Assignment) error {
			started := make([]command.JobAttempt, len(as))
			results := make([]command.Result, len(as))
			for i, a := range as {
				started[i] = command.JobAttempt{JobID: a.JobID, Attempt: a.Attempt}
				results[i] = replayOutcome(a.JobID, a.Attempt)
			}
			return s.Results(runCtx, "c1", started, results)
		})
	}()

	const n = 240
	caps := [][]string{{"gpu"}, {"manufacturing"}, {"astronomy"}, {"gpu", "manufacturing"}}
	var ids []string
	for batch := 0; batch < 4; batch++ {
		jobs := make([]command.JobSubmit, 0, n/4)
		for i := 0; i < n/4; i++ {
			k := batch*(n/4) + i
			shard := "mars"
			if k%3 == 0 {
				shard = "helios"
			}
			id := fmt.Sprintf("job-%04d", k)
			ids = append(ids, id)
			jobs = append(jobs, command.JobSubmit{ID: id, Shard: shard, Capabilities: caps[k%len(caps)],
				Priority: int64(k % 3), ValueMu: int64(1000 + k), Kind: "sim", Payload: []byte(`{}`)})
		}
		if _, err := s.Submit(ctx, jobs, "test"); err != nil {
			t.Fatal(err)
		}
		switch batch {
		case 1:
			// mars.gpu-helion fails its probe: its work goes elsewhere.
			if err := s.Heartbeat("c1", []NodeBeat{{ID: "mars.gpu-helion", Healthy: false}}); err != nil {
				t.Fatal(err)
			}
		case 2:
			if err := s.Heartbeat("c1", []NodeBeat{{ID: "mars.gpu-helion", Healthy: true}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, 30*time.Second, "every job to finish", func() bool {
		done := true
		s.Read(func(st *state.Store) {
			for _, id := range ids {
				if j := st.Job(id); j == nil || !j.State.Terminal() {
					done = false
					return
				}
			}
		})
		return done
	})
	stop()
	wg.Wait()

	liveDigest, liveIndex := s.Digest()
	head, _ := s.Events().Head()
	live, err := s.Events().Read(0, int(head)+1)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(live)) != head {
		t.Fatalf("live event log holds %d events, head %d", len(live), head)
	}
	// A leader loop may apply an entry after the digest was taken: compare
	// the log up to the digest's index.
	for len(live) > 0 && live[len(live)-1].Index > liveIndex {
		live = live[:len(live)-1]
	}
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}

	// Replay the raft log, opened read-only, into a fresh FSM.
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"),
		BoltOptions: &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatalf("open raft log read-only: %v", err)
	}
	defer store.Close()
	first, err := store.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := store.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if first != 1 {
		t.Fatalf("raft log starts at %d: it was compacted", first)
	}
	got := &replaySink{}
	fsm := raftfsm.New(raftfsm.Config{Logger: hclog.NewNullLogger(), Events: got})
	commands := 0
	for i := first; i <= last && i <= liveIndex; i++ {
		var l raft.Log
		if err := store.GetLog(i, &l); err != nil {
			t.Fatalf("log %d: %v", i, err)
		}
		if l.Type != raft.LogCommand {
			continue
		}
		commands++
		if resp, ok := fsm.Apply(&l).(*raftfsm.Response); !ok {
			t.Fatalf("log %d: apply returned %T", i, resp)
		}
	}
	if fsm.AppliedIndex() != liveIndex {
		t.Errorf("replay applied index %d, live %d", fsm.AppliedIndex(), liveIndex)
	}

	lp, rp := replayPlacements(live), replayPlacements(got.evs)
	if len(lp) < n {
		t.Fatalf("live run made %d placements for %d jobs", len(lp), n)
	}
	retries, spilled := 0, 0
	for _, p := range lp {
		if p.Attempt > 1 {
			retries++
		}
	}
	for _, e := range live {
		if e.Type == state.EvJobSpilled {
			spilled++
		}
	}
	if retries == 0 || spilled == 0 {
		t.Errorf("the run exercised %d retries and %d spills, want both", retries, spilled)
	}
	if len(rp) != len(lp) {
		t.Fatalf("replay made %d placements, live %d", len(rp), len(lp))
	}
	for i := range lp {
		if lp[i] != rp[i] {
			t.Fatalf("replayPlacement %d: replay %+v, live %+v", i, rp[i], lp[i])
		}
	}
	if len(got.evs) != len(live) || got.evs[len(got.evs)-1].Hash != live[len(live)-1].Hash {
		t.Errorf("replay chain: %d events, live %d", len(got.evs), len(live))
	}
	if d := fsm.Digest(); d != liveDigest {
		t.Errorf("replay digest %x, live %x", d, liveDigest)
	}
	t.Logf("replayed %d commands (raft index %d..%d): %d placements, %d retries, %d spills, %d events",
		commands, first, last, len(lp), retries, spilled, len(live))
}
