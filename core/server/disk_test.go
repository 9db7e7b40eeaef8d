package server

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/planetary/planetary/core/eventlog"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// fullDisk is the raft log store of a disk that fills up: while full is
// set every write fails with ENOSPC, as raft-boltdb's would.
type fullDisk struct {
	raft.LogStore
	full *atomic.Bool
}

func (f fullDisk) StoreLog(l *raft.Log) error { return f.StoreLogs([]*raft.Log{l}) }

func (f fullDisk) StoreLogs(logs []*raft.Log) error {
	if f.full.Load() {
		return fmt.Errorf("write raft.db: %w", syscall.ENOSPC)
	}
	return f.LogStore.StoreLogs(logs)
}

// A raft log write failing with ENOSPC (injected at the log store under
// raft-boltdb's interface) is reported by Disk as a full disk and refuses
// writes with ErrDiskFull; once space is back, raft's retry succeeds, the
// report clears and writes are accepted again.
func TestDiskFullAndBack(t *testing.T) {
	var full atomic.Bool
	cfg := testConfig(t, t.TempDir())
	cfg.WrapLogStore = func(l raft.LogStore) raft.LogStore { return fullDisk{LogStore: l, full: &full} }
	s := startServer(t, cfg)
	registerShard(t, s, "earth")
	if d := s.Disk(); d.Full {
		t.Fatalf("disk full before it filled: %v", d.Err)
	}

	full.Store(true)
	_, err := s.Submit(ctxT(t), []command.JobSubmit{{ID: "while-full", Shard: "earth", ValueMu: 1}}, "test")
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("submit on a full disk: %v, want ErrDiskFull", err)
	}
	d := s.Disk()
	if !d.Full || !errors.Is(d.Err, ErrDiskFull) || !strings.Contains(d.Err.Error(), "raft log write failed") {
		t.Fatalf("Disk() = %+v, want a full raft log", d)
	}

	full.Store(false)
	waitFor(t, 30*time.Second, "a submit accepted once space is back", func() bool {
		_, err := s.Submit(ctxT(t), []command.JobSubmit{{ID: "after", Shard: "earth", ValueMu: 1}}, "test")
		return err == nil
	})
	if d := s.Disk(); d.Full {
		t.Fatalf("still reported full after a successful write: %v", d.Err)
	}
	if job(t, s, "after") == nil {
		t.Fatal("the job submitted after space came back is not in the FSM")
	}
}

// An event log write failing with ENOSPC (injected at the event log's
// segment files, a write that stores half its line) is reported by Disk
// as a full disk while raft still commits; a snapshot fails meanwhile,
// since it waits for the events it covers to be durable. Once space is
// back the writer's retry catches up without a restart, the report
// clears, and the event log holds every event the FSM emitted, once each
// and chained, also after the server restarts on its data dir.
func TestEventLogDiskFullAndBack(t *testing.T) {
	disk := &eventlog.FullDisk{}
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.WrapEventFile = disk.Wrap
	s := startServer(t, cfg)
	registerShard(t, s, "earth")
	if _, err := s.Submit(ctxT(t), []command.JobSubmit{{ID: "before", Shard: "earth", ValueMu: 1}}, "test"); err != nil {
		t.Fatalf("submit: %v", err)
	}

	disk.Fill()
	for _, id := range []string{"while-full-1", "while-full-2"} {
		if _, err := s.Submit(ctxT(t), []command.JobSubmit{{ID: id, Shard: "earth", ValueMu: 1}}, "test"); err != nil {
			t.Fatalf("submit %s with only the event log's writes failing: %v", id, err)
		}
	}
	waitFor(t, 30*time.Second, "the event log's failed write reported", func() bool { return s.Disk().Full })
	d := s.Disk()
	if !errors.Is(d.Err, ErrDiskFull) || !errors.Is(d.Err, syscall.ENOSPC) || !strings.Contains(d.Err.Error(), "event log write failed") {
		t.Fatalf("Disk() = %+v, want a full event log", d)
	}
	if err := s.raft.Snapshot().Error(); err == nil || !errors.Is(err, syscall.ENOSPC) && !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("snapshot on a full event log: %v, want the write error", err)
	}

	disk.Free()
	waitFor(t, 30*time.Second, "the report to clear once space is back", func() bool { return !s.Disk().Full })
	checkEvents := func(srv *Server) {
		t.Helper()
		evs := checkEventChain(t, srv)
		jobs := map[string]bool{}
		for _, ev := range evs {
			if ev.Type == state.EvJobSubmitted {
				jobs[ev.Job] = true
			}
		}
		for _, id := range []string{"before", "while-full-1", "while-full-2"} {
			if !jobs[id] {
				t.Fatalf("no job.submitted event for %s", id)
			}
		}
	}
	checkEvents(s)
	if err := s.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot after recovery: %v", err)
	}

	if err := s.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	cfg.WrapEventFile = nil
	s2 := startServer(t, cfg)
	checkEvents(s2)
}

// A server shuts down promptly while its event log's writer waits to
// retry a failed write, and the server started again on its data dir
// regenerates the events that were never written from its raft log: its
// event log, served and on disk, is the FSM's chain, each event once.
func TestShutdownWhileEventLogFull(t *testing.T) {
	disk := &eventlog.FullDisk{}
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.WrapEventFile = disk.Wrap
	s := startServer(t, cfg)
	registerShard(t, s, "earth")
	disk.Fill()
	if _, err := s.Submit(ctxT(t), []command.JobSubmit{{ID: "unwritten", Shard: "earth", ValueMu: 1}}, "test"); err != nil {
		t.Fatalf("submit: %v", err)
	}
	waitFor(t, 30*time.Second, "the event log's failed write reported", func() bool { return s.Disk().Full })
	done := make(chan error, 1)
	go func() { done <- s.Shutdown() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("shutdown did not return while the event log's writer retries")
	}

	disk.Free()
	cfg.WrapEventFile = nil
	s2 := startServer(t, cfg)
	evs := checkEventChain(t, s2)
	found := false
	for _, ev := range evs {
		found = found || ev.Type == state.EvJobSubmitted && ev.Job == "unwritten"
	}
	if !found {
		t.Fatal("the job submitted while the event log was full has no job.submitted event after the restart")
	}

	// The running log serves recent events from memory; the segments on
	// disk, read by a log opened on them, hold the same chain once each.
	if err := s2.Shutdown(); err != nil {
		t.Fatalf("shutdown after the restart: %v", err)
	}
	l, err := eventlog.Open(filepath.Join(cfg.DataDir, "events"), hclog.NewNullLogger())
	if err != nil {
		t.Fatalf("open the event log on disk: %v", err)
	}
	defer l.Close()
	onDisk := readEventChain(t, l)
	if n := len(evs); len(onDisk) < n || onDisk[n-1].Hash != evs[n-1].Hash {
		t.Fatalf("the segments on disk hold %d events, the restarted server served %d", len(onDisk), n)
	}
}

// checkEventChain syncs srv's event log up to the FSM's chain head and
// reads every event it holds (readEventChain), failing t unless the log is
// the FSM's chain: the event at the head's seq has the head's hash. The
// server keeps working meanwhile (its leader schedules: a job queued on a
// shard without an up node is parked), so the log may already hold events
// the head read before did not count; they must continue the chain too,
// and the FSM must have emitted them.
func checkEventChain(t *testing.T, srv *Server) []state.Event {
	t.Helper()
	headNow := func() (h state.ChainHead) {
		srv.Read(func(st *state.Store) { h = st.Head() })
		return h
	}
	head := headNow()
	if err := srv.Events().Sync(head.Seq); err != nil {
		t.Fatalf("sync events up to %d: %v", head.Seq, err)
	}
	evs := readEventChain(t, srv.Events())
	last := headNow()
	if n := uint64(len(evs)); n < head.Seq || n > last.Seq {
		t.Fatalf("the event log holds %d events, the FSM's chain %d then %d", n, head.Seq, last.Seq)
	}
	if head.Seq > 0 && evs[head.Seq-1].Hash != fmt.Sprintf("%x", head.Hash) {
		t.Fatalf("event %d has hash %s, the FSM's chain head %x", head.Seq, evs[head.Seq-1].Hash, head.Hash)
	}
	return evs
}

// readEventChain reads every event l holds, from genesis, failing t unless
// each follows the one before it (seq+1, prev its hash): an event written
// twice or missing breaks the chain.
func readEventChain(t *testing.T, l *eventlog.Log) []state.Event {
	t.Helper()
	var (
		evs  []state.Event
		prev string
	)
	for {
		page, err := l.Read(uint64(len(evs)), 100)
		if err != nil {
			t.Fatalf("read events after %d: %v", len(evs), err)
		}
		if len(page) == 0 {
			return evs
		}
		for _, ev := range page {
			if ev.Seq != uint64(len(evs))+1 || (len(evs) > 0 && ev.Prev != prev) {
				t.Fatalf("event %d (%s, prev %s) after event %d (hash %s)", ev.Seq, ev.Type, ev.Prev, len(evs), prev)
			}
			evs, prev = append(evs, ev), ev.Hash
		}
	}
}
