package report_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/planetary/planetary/core/report"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
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

// TestVerifyGlobalLedger writes a bundle from a real FSM that holds two
// other regions' checkpoints and verifies its global ledger offline; a
// tampered checkpoint or global total fails with a problem naming the
// region and the field.
func TestVerifyGlobalLedger(t *testing.T) {
	entries, _ := fsmtest.Log(7, 800, nil)
	for _, cp := range []state.RegionCheckpoint{
		{Region: "luna", RaftIndex: 70, EventCount: 90, ChainHead: state.ChainHead{Seq: 90, Hash: [32]byte{9}},
			Totals: state.RegionTotals{ValueMu: 5_000_000, PaidMu: 1_000_000,
				Flows: []state.Flow{{From: "ap", To: "eu", Jobs: 2, ValueMu: 3_000_000}}, FlowJobs: 2, FlowValueMu: 3_000_000},
			Payments: state.RegionPayments{Count: 1, AmountMu: 1_000_000}},
		{Region: "mars", RaftIndex: 900, EventCount: 1200, ChainHead: state.ChainHead{Seq: 1200, Hash: [32]byte{12}},
			Totals: state.RegionTotals{ValueMu: 4_000_000, PaidMu: 2_500_000}, Payments: state.RegionPayments{Count: 3, AmountMu: 2_500_000}},
	} {
		cp.Totals.Counts.N[state.JobCompleted], cp.Totals.Counts.ValueMu[state.JobCompleted] = 4, cp.Totals.ValueMu
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
	f.Read(func(s *state.Store) { in = report.FromStoreIn(s, "earth") })
	in.Events = sk.evs
	in.GeneratedAt = time.Unix(0, 0)
	if len(in.Ledger.Regions) != 3 || in.Ledger.Regions[0].Region != "earth" || !in.Ledger.Regions[0].Local {
		t.Fatalf("regions %+v: the log must hold luna's and mars's checkpoints", in.Ledger.Regions)
	}
	edit := func(fn func(l *report.LedgerDoc)) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, report.FileLedger)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var l report.LedgerDoc
			if err := json.Unmarshal(b, &l); err != nil {
				t.Fatal(err)
			}
			fn(&l)
			if b, err = json.Marshal(l); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		want   []string // parts of the problems; none: verifies
	}{
		{"valid", func(*testing.T, string) {}, nil},
		{"local-paid", edit(func(l *report.LedgerDoc) { l.Regions[0].Totals.PaidMicro++; l.GlobalTotals.PaidMicro++ }),
			[]string{"regions.earth.totals.paid_micro: the local region's checkpoint has"}},
		{"local-chain", edit(func(l *report.LedgerDoc) { l.Regions[0].Chain.Seq-- }),
			[]string{"regions.earth.chain"}},
		{"remote-paid", edit(func(l *report.LedgerDoc) { l.Regions[1].Totals.PaidMicro += 7 }),
			[]string{"global_totals.paid_micro: ledger.json has", "the regions' checkpoints sum to", "luna "}},
		{"remote-count", edit(func(l *report.LedgerDoc) {
			c := l.Regions[2].Totals.Counts["completed"]
			c.Jobs++
			l.Regions[2].Totals.Counts["completed"] = c
		}), []string{"regions.mars.totals.jobs: the checkpoint has", "global_totals.counts.completed.jobs"}},
		{"global-flows", edit(func(l *report.LedgerDoc) { l.GlobalTotals.Flows = l.GlobalTotals.Flows[1:] }),
			[]string{"global_totals.flows"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bundle")
			if _, err := report.Write(dir, in); err != nil {
				t.Fatal(err)
			}
			c.tamper(t, dir)
			res, err := report.Verify(dir)
			if c.want == nil {
				if err != nil || !res.GlobalOK || res.Regions != 3 || !res.LedgerOK {
					t.Fatalf("%v %+v", err, res)
				}
				if !strings.Contains(res.Text(), "global:   ok (3 regions'") {
					t.Fatalf("text:\n%s", res.Text())
				}
				return
			}
			if !errors.Is(err, report.ErrLedger) || res.GlobalOK {
				t.Fatalf("err %v, want ErrLedger (%+v)", err, res)
			}
			all := strings.Join(res.Problems, "\n")
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("no problem mentions %q:\n%s", w, all)
				}
			}
		})
	}
}
