package server

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/planetary/planetary/raftfsm/command"
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
