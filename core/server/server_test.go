package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func testConfig(t *testing.T, dir string) Config {
	cfg := DefaultConfig()
	cfg.NodeID = "s1"
	cfg.DataDir = dir
	cfg.BindAddr = "127.0.0.1:0"
	cfg.Bootstrap = true
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Warn, Output: testWriter{t}})
	cfg.SchedulerTick = 50 * time.Millisecond
	cfg.RaftHeartbeatTimeout = 100 * time.Millisecond
	cfg.RaftElectionTimeout = 100 * time.Millisecond
	return cfg
}

// clusterConfig is testConfig for a server of a multi-server test: raft's
// default timeouts (1s heartbeat and election, 500ms lease), so that a loaded
// machine does not cost the leader its lease in the middle of a
// configuration change.
func clusterConfig(t *testing.T, dir string) Config {
	cfg := testConfig(t, dir)
	cfg.RaftHeartbeatTimeout = time.Second
	cfg.RaftElectionTimeout = time.Second
	return cfg
}

// startServer starts a server and waits until it leads with its leader loops
// running.
func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	t.Cleanup(func() { _ = s.Shutdown() })
	waitFor(t, 10*time.Second, "leadership", func() bool { return s.IsLeader() && s.leading.Load() })
	return s
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not synchronizing
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func registerShard(t *testing.T, s *Server, name string) {
	t.Helper()
	_, err := s.Apply(ctxT(t), command.ShardRegisterType, &command.ShardRegister{
		Meta: command.Meta{Time: s.Now(), Actor: "test"}, Shard: state.Shard{Name: name, CreatedAt: s.Now()},
	})
	if err != nil {
		t.Fatalf("register shard: %v", err)
	}
}

func job(t *testing.T, s *Server, id string) *state.Job {
	var j *state.Job
	s.Read(func(st *state.Store) {
		if x := st.Job(id); x != nil {
			c := *x
			j = &c
		}
	})
	return j
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		mut  func(*Config)
		ok   bool
	}{
		{"ok", func(c *Config) {}, true},
		{"no node id", func(c *Config) { c.NodeID = "" }, false},
		{"no data dir", func(c *Config) { c.DataDir = "" }, false},
		{"no bind", func(c *Config) { c.BindAddr = "" }, false},
		{"in memory needs no bind", func(c *Config) { c.BindAddr, c.InMemory = "", true }, true},
		{"zero ttl", func(c *Config) { c.HeartbeatTTL = 0 }, false},
		{"zero attempts", func(c *Config) { c.MaxAttempts = 0 }, false},
		{"zero entry jobs", func(c *Config) { c.MaxEntryJobs = 0 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.NodeID, cfg.DataDir = "n", "/tmp/x"
			tc.mut(&cfg)
			err := cfg.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

// TestSubmitCoalesceRestart submits 1,000 jobs from 8 goroutines one job per
// call, checks that calls were coalesced into fewer entries, restarts the
// server on the same data dir and finds every job exactly once.
func TestSubmitCoalesceRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	s := startServer(t, cfg)
	registerShard(t, s, "eu")

	const workers, per = 8, 125
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				outs, err := s.Submit(ctxT(t), []command.JobSubmit{{Shard: "eu", Kind: "sim", Key: fmt.Sprintf("k-%d-%d", w, i)}}, "tester")
				if err != nil {
					errc <- err
					return
				}
				if len(outs) != 1 || outs[0].Status != raftfsm.Applied {
					errc <- fmt.Errorf("outcome %+v", outs)
					return
				}
				ids[w] = append(ids[w], outs[0].ID)
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.SubmitCalls != workers*per || st.SubmitJobs != workers*per {
		t.Fatalf("submit calls %d jobs %d", st.SubmitCalls, st.SubmitJobs)
	}
	if st.SubmitEntries >= st.SubmitCalls {
		t.Fatalf("no coalescing: %d entries for %d calls", st.SubmitEntries, st.SubmitCalls)
	}
	t.Logf("%d submit calls in %d entries", st.SubmitCalls, st.SubmitEntries)
	if err := s.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	s2 := startServer(t, cfg)
	waitFor(t, 10*time.Second, "replay", func() bool {
		n := 0
		s2.Read(func(st *state.Store) { n = st.NumJobs() })
		return n == workers*per
	})
	seen := map[string]bool{}
	s2.Read(func(st *state.Store) {
		st.JobsIter(func(j *state.Job) bool {
			if seen[j.ID] {
				t.Errorf("job %s twice", j.ID)
			}
			seen[j.ID] = true
			return true
		})
	})
	for w := range ids {
		for _, id := range ids[w] {
			if !seen[id] {
				t.Fatalf("job %s lost after restart", id)
			}
		}
	}
	// Every event before the restart is in the log, chained.
	head, _ := s2.Events().Head()
	var chainHead uint64
	s2.Read(func(st *state.Store) { chainHead = st.Head().Seq })
	waitFor(t, 5*time.Second, "event log head", func() bool { head, _ = s2.Events().Head(); return head == chainHead })
}

func TestIdempotencyKey(t *testing.T) {
	s := startServer(t, testConfig(t, t.TempDir()))
	registerShard(t, s, "eu")
	cases := []struct {
		name   string
		jobs   []command.JobSubmit
		status []raftfsm.OutcomeStatus
	}{
		{"first", []command.JobSubmit{{Shard: "eu", Key: "a"}}, []raftfsm.OutcomeStatus{raftfsm.Applied}},
		{"retry same key", []command.JobSubmit{{Shard: "eu", Key: "a"}}, []raftfsm.OutcomeStatus{raftfsm.Duplicate}},
		{"unknown shard", []command.JobSubmit{{Shard: "nowhere", Key: "b"}}, []raftfsm.OutcomeStatus{raftfsm.Rejected}},
		{"explicit id", []command.JobSubmit{{ID: "fixed-1", Shard: "eu"}}, []raftfsm.OutcomeStatus{raftfsm.Applied}},
	}
	var firstID string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outs, err := s.Submit(ctxT(t), tc.jobs, "me")
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range outs {
				if o.Status != tc.status[i] {
					t.Fatalf("outcome %d: %+v, want %v", i, o, tc.status[i])
				}
			}
			switch tc.name {
			case "first":
				firstID = outs[0].ID
			case "retry same key":
				if outs[0].ID != firstID {
					t.Fatalf("retry returned %s, first was %s", outs[0].ID, firstID)
				}
			case "explicit id":
				if outs[0].ID != "fixed-1" {
					t.Fatalf("id %s", outs[0].ID)
				}
			}
		})
	}
	if j := job(t, s, firstID); j == nil || j.Submitter != "me" {
		t.Fatalf("job %+v", j)
	}
}

func TestNotLeader(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Bootstrap = false // never elected
	cfg.InMemory = true
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	_, err = s.Submit(ctxT(t), []command.JobSubmit{{Shard: "eu"}}, "x")
	if !errors.Is(err, ErrNotLeader) {
		t.Fatalf("submit on follower: %v", err)
	}
	_, err = s.Apply(ctxT(t), command.PauseType, &command.Pause{Paused: true})
	if !errors.Is(err, ErrNotLeader) {
		t.Fatalf("apply on follower: %v", err)
	}
	if err := s.Heartbeat("c", nil); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("heartbeat on follower: %v", err)
	}
}

func TestApplyRejectionIsError(t *testing.T) {
	s := startServer(t, testConfig(t, t.TempDir()))
	_, err := s.Apply(ctxT(t), command.NodeStatusType, &command.NodeStatusChange{ID: "nope", Status: state.NodeUp})
	if !errors.Is(err, raftfsm.ErrUnknownNode) {
		t.Fatalf("got %v, want ErrUnknownNode", err)
	}
}

// TestPlacementHeartbeatTTL registers a client node, places a job on it,
// streams the assignment, then lets the heartbeat TTL expire: the node goes
// down and the job is requeued; a later heartbeat brings it back up.
func TestPlacementHeartbeatTTL(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.InMemory = true
	cfg.HeartbeatTTL = 300 * time.Millisecond
	s := startServer(t, cfg)
	registerShard(t, s, "eu")

	node := state.Node{ID: "n1", Shard: "eu", PluginKind: "sim", Capacity: 4, Client: "c1"}
	claimed, err := s.RegisterClient(ctxT(t), "c1", []state.Node{node}, []string{"sim"})
	if err != nil || len(claimed) != 1 || claimed[0] != "n1" {
		t.Fatalf("register: %v %v", claimed, err)
	}
	nodeStatus := func() state.NodeStatus {
		var st state.NodeStatus
		s.Read(func(x *state.Store) { st = x.Node("n1").Status })
		return st
	}
	if nodeStatus() != state.NodeUp {
		t.Fatalf("node %v after claim", nodeStatus())
	}

	// Stream assignments for c1.
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	got := make(chan Assignment, 16)
	go func() {
		_ = s.Assignments(ctx, "c1", func(as []Assignment) error {
			for _, a := range as {
				got <- a
			}
			return nil
		})
	}()

	outs, err := s.Submit(ctxT(t), []command.JobSubmit{{ID: "j1", Shard: "eu", Kind: "sim", Payload: []byte(`{}`)}}, "me")
	if err != nil || outs[0].Status != raftfsm.Applied {
		t.Fatalf("submit: %v %v", outs, err)
	}
	var a Assignment
	select {
	case a = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no assignment streamed")
	}
	if a.JobID != "j1" || a.Node != "n1" || a.Attempt != 1 || a.Kind != "sim" {
		t.Fatalf("assignment %+v", a)
	}
	if err := s.Heartbeat("c1", []NodeBeat{{ID: "n1", Healthy: true}}); err != nil {
		t.Fatal(err)
	}
	// No more heartbeats: the TTL expires.
	waitFor(t, 5*time.Second, "node down", func() bool { return nodeStatus() == state.NodeDown })
	waitFor(t, 5*time.Second, "requeue", func() bool {
		j := job(t, s, "j1")
		// Requeued, then parked by the scheduler while no node is up.
		return j.State == state.JobQueued || j.State == state.JobParked

	})
	if s.Stats().TTLExpiries == 0 {
		t.Fatal("no TTL expiry counted")
	}
	// A heartbeat for the down node brings it up; the job is placed again
	// (attempt 2) and streamed.
	if err := s.Heartbeat("c1", []NodeBeat{{ID: "n1", Healthy: true}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "node up", func() bool { return nodeStatus() == state.NodeUp })
	select {
	case a = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no second assignment")
	}
	if a.Attempt != 2 {
		t.Fatalf("second assignment %+v", a)
	}
	if err := s.Results(ctxT(t), "c1", []command.JobAttempt{{JobID: "j1", Attempt: 2}},
		[]command.Result{{JobID: "j1", Attempt: 2, OK: true, Output: "done"}}); err != nil {
		t.Fatal(err)
	}
	// Duplicate results are ignored.
	if err := s.Results(ctxT(t), "c1", nil, []command.Result{{JobID: "j1", Attempt: 2, OK: true}}); err != nil {
		t.Fatal(err)
	}
	if j := job(t, s, "j1"); j.State != state.JobCompleted {
		t.Fatalf("job %v", j.State)
	}
	// An unhealthy beat marks the node down at once.
	if err := s.Heartbeat("c1", []NodeBeat{{ID: "n1", Healthy: false}}); err != nil {
		t.Fatal(err)
	}
	if nodeStatus() != state.NodeDown {
		t.Fatalf("node %v after unhealthy beat", nodeStatus())
	}
}

func TestMissionClockAndSchedule(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.InMemory = true
	cfg.ClockTick = 20 * time.Millisecond
	s := startServer(t, cfg)
	pause, err := (&command.Pause{Paused: true}).MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Apply(ctxT(t), command.MissionApplyType, &command.MissionApply{
		Meta: command.Meta{Time: s.Now(), Actor: "owner"}, Name: "m", Digest: "d1", Seed: 7,
		Shards: []state.Shard{{Name: "eu"}},
		Schedule: []state.ScheduleEntry{
			{ID: "pause", AtMs: 50, Action: "system.pause", Args: pause},
			{ID: "bogus", AtMs: 0, Action: "no.such.action"},
			{ID: "later", AtMs: 3_600_000, Action: "system.resume"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var pol state.Policy
	var clock int64
	read := func() { s.Read(func(st *state.Store) { pol, clock = st.Policy(), st.Clock() }) }
	waitFor(t, 5*time.Second, "schedule fired", func() bool { read(); return pol.SystemPaused && len(pol.Skipped) == 1 })
	if len(pol.Fired) != 1 || pol.Fired[0] != "pause" || pol.Skipped[0] != "bogus" {
		t.Fatalf("fired %v skipped %v", pol.Fired, pol.Skipped)
	}
	if clock < pol.MissionStart+50*int64(time.Millisecond) {
		t.Fatalf("clock %d, start %d", clock, pol.MissionStart)
	}
	if s.Stats().ClockAdvances == 0 {
		t.Fatal("no clock advances")
	}
}

func TestDueEntries(t *testing.T) {
	ms := int64(time.Millisecond)
	pol := state.Policy{
		MissionStart: 1000 * ms,
		Fired:        []string{"done"},
		Schedule: []state.ScheduleEntry{
			{ID: "at0", AtMs: 0}, {ID: "at100", AtMs: 100}, {ID: "done", AtMs: 0},
			{ID: "after5", AfterCompleted: 5},
		},
	}
	cases := []struct {
		name        string
		clock, done int64
		want        []string
	}{
		{"start", 1000 * ms, 0, []string{"at0"}},
		{"at 100ms", 1100 * ms, 0, []string{"at0", "at100"}},
		{"completions", 1000 * ms, 5, []string{"at0", "after5"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range dueEntries(pol, tc.clock, tc.done) {
				got = append(got, e.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("due %v, want %v", got, tc.want)
			}
		})
	}
}

func TestActionType(t *testing.T) {
	cases := []struct {
		action string
		want   command.MessageType
		ok     bool
	}{
		{"system.pause", command.PauseType, true},
		{"shard.resume", command.PauseType, true},
		{"job.cancel", command.JobCancelType, true},
		{"checkpoint.save", command.CheckpointSavedType, true},
		{"reporting.configure", command.ReportingConfigureType, true},
		{"rm -rf", 0, false},
	}
	for _, tc := range cases {
		got, ok := ActionType(tc.action)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ActionType(%q) = %v %v", tc.action, got, ok)
		}
	}
}

func TestCheckpointArchive(t *testing.T) {
	root := t.TempDir()
	cfg := testConfig(t, t.TempDir())
	cfg.AllowedRoots = []string{root}
	s := startServer(t, cfg)
	registerShard(t, s, "eu")
	if _, err := s.Submit(ctxT(t), []command.JobSubmit{{ID: "a", Shard: "eu"}, {ID: "b", Shard: "eu"}}, "me"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint(ctxT(t)); !errors.Is(err, ErrNoCheckpointPath) {
		t.Fatalf("checkpoint without path: %v", err)
	}
	// A path outside the roots is refused.
	if _, err := s.Apply(ctxT(t), command.CheckpointConfigureType, &command.CheckpointConfigure{Path: filepath.Join(t.TempDir(), "x.snap")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint(ctxT(t)); !errors.Is(err, ErrPathNotAllowed) {
		t.Fatalf("checkpoint outside roots: %v", err)
	}
	path := filepath.Join(root, "ck", "fabric.snap")
	if _, err := s.Apply(ctxT(t), command.CheckpointConfigureType, &command.CheckpointConfigure{Path: path}); err != nil {
		t.Fatal(err)
	}
	info, err := s.Checkpoint(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var pol state.Policy
	s.Read(func(st *state.Store) { pol = st.Policy() })
	if pol.LastCheckpointPath != path || pol.LastCheckpointSHA256 != info.ArchiveSHA256 || pol.LastCheckpointIndex != info.Index {
		t.Fatalf("policy %+v, info %+v", pol, info)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := InspectArchive(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	if got.SHA256 != info.SHA256 || got.ArchiveSHA256 != info.ArchiveSHA256 || got.Index != info.Index {
		t.Fatalf("inspect %+v, saved %+v", got, info)
	}

	// Corrupt archives are rejected.
	stateAt := bytes.Index(data, []byte(archState))
	corrupt := []struct {
		name string
		data func() []byte
	}{
		{"flipped state byte", func() []byte {
			b := bytes.Clone(data)
			b[stateAt+512+40] ^= 0xff // inside state.bin's content
			return b
		}},
		{"truncated", func() []byte { return data[:len(data)/2] }},
		{"empty", func() []byte { return nil }},
		{"not a tar", func() []byte { return bytes.Repeat([]byte("x"), 2048) }},
	}
	for _, tc := range corrupt {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := InspectArchive(bytes.NewReader(tc.data())); !errors.Is(err, ErrBadArchive) {
				t.Fatalf("got %v, want ErrBadArchive", err)
			}
			if err := s.SnapshotRestore(ctxT(t), bytes.NewReader(tc.data())); !errors.Is(err, ErrBadArchive) {
				t.Fatalf("restore: got %v, want ErrBadArchive", err)
			}
		})
	}

	// Restore onto the same server after more work: the state and the
	// event chain rewind to the archive, and the event log follows.
	if _, err := s.Submit(ctxT(t), []command.JobSubmit{{ID: "c", Shard: "eu"}}, "me"); err != nil {
		t.Fatal(err)
	}
	if err := s.SnapshotRestore(ctxT(t), bytes.NewReader(data)); err != nil {
		t.Fatalf("restore in place: %v", err)
	}
	if job(t, s, "c") != nil || job(t, s, "a") == nil {
		t.Fatal("restore did not rewind state")
	}
	if _, err := s.Submit(ctxT(t), []command.JobSubmit{{ID: "d", Shard: "eu"}}, "me"); err != nil {
		t.Fatal(err)
	}
	var head state.ChainHead
	s.Read(func(st *state.Store) { head = st.Head() })
	waitFor(t, 5*time.Second, "event log follows the restored chain", func() bool {
		seq, hash := s.Events().Head()
		return seq == head.Seq && hash == fmt.Sprintf("%x", head.Hash)
	})

	// Round trip: restore the archive into a fresh server.
	cfg2 := testConfig(t, t.TempDir())
	cfg2.InMemory = true
	cfg2.NodeID = "s2"
	s2 := startServer(t, cfg2)
	if err := s2.SnapshotRestore(ctxT(t), bytes.NewReader(data)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if j := job(t, s2, "b"); j == nil || (j.State != state.JobQueued && j.State != state.JobParked) {
		t.Fatalf("restored job %+v", j)
	}
}

func TestCheckPath(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "sub"), filepath.Join(outside, "in")); err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: Config{AllowedRoots: []string{root}}}
	cases := []struct {
		name string
		path string
		ok   bool
	}{
		{"file in root", filepath.Join(root, "a.snap"), true},
		{"new nested dirs", filepath.Join(root, "x", "y", "a.snap"), true},
		{"the root itself", root, true},
		{"outside", filepath.Join(outside, "a.snap"), false},
		{"dotdot escape", root + "/sub/../../" + filepath.Base(outside) + "/a.snap", false},
		{"dotdot staying inside", root + "/sub/../a.snap", true},
		{"symlink escaping", filepath.Join(root, "escape", "a.snap"), false},
		{"symlink into root", filepath.Join(outside, "in", "a.snap"), true},
		{"prefix trick", root + "-evil/a.snap", false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.CheckPath(tc.path)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckPath(%q) = %v, want ok=%v", tc.path, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrPathNotAllowed) {
				t.Fatalf("error %v does not wrap ErrPathNotAllowed", err)
			}
		})
	}
	none := &Server{}
	if err := none.CheckPath(filepath.Join(root, "a")); !errors.Is(err, ErrPathNotAllowed) {
		t.Fatalf("no roots: %v", err)
	}
}

func TestConsistentReadAndNow(t *testing.T) {
	s := startServer(t, testConfig(t, t.TempDir()))
	registerShard(t, s, "eu")
	var n int
	if err := s.ConsistentRead(ctxT(t), func(st *state.Store) { n = len(st.Shards()) }); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("shards %d", n)
	}
	prev := s.Now()
	for range 1000 {
		now := s.Now()
		if now < prev {
			t.Fatalf("clock went back: %d < %d", now, prev)
		}
		prev = now
	}
	peers, err := s.Peers()
	if err != nil || len(peers) != 1 || !peers[0].Leader {
		t.Fatalf("peers %+v %v", peers, err)
	}
	if s.AppliedIndex() == 0 || s.LastIndex() < s.AppliedIndex() {
		t.Fatalf("indexes %d %d", s.AppliedIndex(), s.LastIndex())
	}
}

// TestSnapshotCompactionRestart forces raft snapshots and log compaction
// while jobs are submitted, restarts, and checks that every job is back and
// that the event log holds the whole chain with no gap.
func TestSnapshotCompactionRestart(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.SnapshotThreshold, cfg.TrailingLogs, cfg.SnapshotInterval = 4, 2, 20*time.Millisecond
	s := startServer(t, cfg)
	registerShard(t, s, "eu")
	const calls, per = 40, 25
	for i := range calls {
		jobs := make([]command.JobSubmit, per)
		for k := range jobs {
			jobs[k] = command.JobSubmit{ID: fmt.Sprintf("j-%d-%d", i, k), Shard: "eu"}
		}
		if _, err := s.Submit(ctxT(t), jobs, "me"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "a snapshot", func() bool { return s.raft.Stats()["last_snapshot_index"] != "0" })
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}

	s2 := startServer(t, cfg)
	var n int
	var head state.ChainHead
	waitFor(t, 10*time.Second, "replay", func() bool {
		s2.Read(func(st *state.Store) { n, head = st.NumJobs(), st.Head() })
		return n == calls*per
	})
	waitFor(t, 5*time.Second, "event log head", func() bool { h, _ := s2.Events().Head(); return h >= head.Seq })
	a, ok := s2.Events().Anchor()
	if !ok || a.Seq != 0 {
		t.Fatalf("anchor %+v %v", a, ok)
	}
	after, prev := uint64(0), a.Hash
	for {
		evs, err := s2.Events().Read(after, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			if ev.Seq != after+1 || ev.Prev != prev {
				t.Fatalf("chain broken at seq %d (after %d)", ev.Seq, after)
			}
			after, prev = ev.Seq, ev.Hash
		}
	}
	if after < head.Seq {
		t.Fatalf("event log ends at %d, chain head %d", after, head.Seq)
	}
}
