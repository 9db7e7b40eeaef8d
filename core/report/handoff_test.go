package report_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/planetary/planetary/core/report"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/fsmtest"
	"github.com/planetary/planetary/raftfsm/state"
)

// TestVerifyHandOffs writes bundles of a region (earth) whose generated
// log hands jobs to luna and takes jobs in from mars, and verifies them
// offline: the events replay to the ledger (handed-out jobs leave it, a
// flow to the target shard; handed-in ones join it with their hops), and
// the global totals are the regions' sum with the transfer counted once.
// A global transfer that does not follow from the regions' hand-off lines
// is a problem naming the field.
func TestVerifyHandOffs(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		entries, _ := fsmtest.LogOf(fsmtest.NewGen(seed).WithHandOffs(20), 800, nil)
		// luna and mars publish checkpoints with their side of the hand-offs.
		for _, cp := range []state.RegionCheckpoint{
			{Region: "luna", RaftIndex: 5_000, Totals: state.RegionTotals{HandOffs: []state.HandOffLine{{Region: "earth", InJobs: 1, InValueMu: 1000}}}},
			{Region: "mars", RaftIndex: 5_000, Totals: state.RegionTotals{HandOffs: []state.HandOffLine{{Region: "earth", OutJobs: 1, OutValueMu: 2000}}}},
		} {
			b, err := command.Encode(command.RegionCheckpointType, &command.RegionCheckpoint{Checkpoint: cp})
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, b)
		}
		sk := &sink{}
		cfg := raftfsm.DefaultConfig()
		cfg.Events = sk
		f := fsmtest.Replay(cfg, entries)
		var in report.Input
		var out, handedIn int64
		f.Read(func(s *state.Store) {
			in = report.FromStoreIn(s, "earth")
			out = s.HandedOut()
			for _, h := range s.HandIns() {
				if h.Accepted {
					handedIn++
				}
			}
		})
		if out == 0 || handedIn == 0 || in.Ledger.GlobalTotals == nil || len(in.Ledger.Regions) != 3 || len(in.Ledger.Regions[0].Totals.HandOffs) != 2 ||
			in.Ledger.GlobalTotals.TransferJobs != handedIn-1+1-out {
			t.Fatalf("seed %d: %d jobs handed out, %d in, global %+v: the log must hand jobs both ways", seed, out, handedIn, in.Ledger.GlobalTotals)
		}
		in.Events = sk.evs
		in.GeneratedAt = time.Unix(0, 0)
		dir := filepath.Join(t.TempDir(), "bundle")
		if _, err := report.Write(dir, in); err != nil {
			t.Fatal(err)
		}
		res, err := report.Verify(dir)
		if err != nil || !res.LedgerChecked || !res.LedgerOK || !res.GlobalOK {
			t.Fatalf("seed %d: %v\n%s", seed, err, strings.Join(res.Problems, "\n"))
		}

		p := filepath.Join(dir, report.FileLedger)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var l report.LedgerDoc
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatal(err)
		}
		l.GlobalTotals.TransferJobs++
		if b, err = json.Marshal(l); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err = report.Verify(dir)
		if !errors.Is(err, report.ErrLedger) || !strings.Contains(strings.Join(res.Problems, "\n"), "global_totals.transfer") {
			t.Fatalf("seed %d: tampered transfer: %v %v", seed, err, res.Problems)
		}
	}
}
