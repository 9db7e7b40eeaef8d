package report_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/planetary/planetary/core/report"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/fsmtest"
	"github.com/planetary/planetary/raftfsm/state"
)

// sink collects the FSM's events in memory.
type sink struct {
	mu  sync.Mutex
	evs []state.Event
}

func (s *sink) Append(evs []state.Event) {
	s.mu.Lock()
	s.evs = append(s.evs, evs...)
	s.mu.Unlock()
}
func (s *sink) Sync(uint64) error { return nil }

// TestVerifyRealFSM drives the real FSM with generated logs, writes a bundle
// from its store and events, and verifies it offline.
func TestVerifyRealFSM(t *testing.T) {
	for _, tc := range []struct {
		seed    uint64
		entries int
	}{{1, 300}, {7, 800}, {42, 1500}} {
		entries, _ := fsmtest.Log(tc.seed, tc.entries, nil)
		sk := &sink{}
		cfg := raftfsm.DefaultConfig()
		cfg.Events = sk
		f := fsmtest.Replay(cfg, entries)
		var in report.Input
		f.Read(func(s *state.Store) { in = report.FromStore(s) })
		in.Events = sk.evs
		in.GeneratedAt = time.Unix(0, 0)
		dir := filepath.Join(t.TempDir(), "bundle")
		if _, err := report.Write(dir, in); err != nil {
			t.Fatal(err)
		}
		res, err := report.Verify(dir)
		if err != nil {
			t.Fatalf("seed %d: %v\n%+v", tc.seed, err, res.Problems)
		}
		if !res.LedgerChecked || !res.LedgerOK || res.Events != len(sk.evs) {
			t.Fatalf("seed %d: %+v", tc.seed, res)
		}
		t.Logf("seed %d: %d entries, %d events verified", tc.seed, tc.entries, res.Events)
	}
}
