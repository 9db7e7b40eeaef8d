package report

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/fsmtest"
	"github.com/planetary/planetary/raftfsm/state"
)

// eventSink records the FSM's events.
type eventSink struct{ evs []state.Event }

func (s *eventSink) Append(evs []state.Event) { s.evs = append(s.evs, evs...) }
func (s *eventSink) Sync(uint64) error        { return nil }

// fsmBundle replays a random log of the real FSM (submits, GC batches that
// forget tombs, and submits that reuse ids) and writes its bundle.
func fsmBundle(t *testing.T, seed uint64, n int) (string, Input) {
	t.Helper()
	entries, _ := fsmtest.Log(seed, n, nil)
	sink := &eventSink{}
	f := fsmtest.Replay(raftfsm.Config{Events: sink}, entries)
	var in Input
	f.Read(func(s *state.Store) { in = FromStore(s) })
	in.Events = sink.evs
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := Write(dir, in); err != nil {
		t.Fatal(err)
	}
	return dir, in
}

// reused lists the ids submitted more than once in evs.
func reused(evs []state.Event) map[string]int {
	seen, out := map[string]int{}, map[string]int{}
	for i, e := range evs {
		if e.Type != state.EvJobSubmitted {
			continue
		}
		if _, ok := seen[e.Job]; ok {
			out[e.Job] = i
		}
		seen[e.Job] = i
	}
	return out
}

// TestVerifyReusedIDs: a job id submitted again after its job was collected
// and its tomb forgotten is a second job to the ledger. Verify accepts such
// a log as the FSM writes it, and rejects a log re-hashed so that the id
// comes back while the first job is live, finished but never collected, or
// collected with its tomb still kept.
func TestVerifyReusedIDs(t *testing.T) {
	var (
		dir   string
		in    Input
		again map[string]int
	)
	for _, seed := range []uint64{1, 2, 3, 42, 1234} {
		d, i := fsmBundle(t, seed, 3000)
		res, err := Verify(d)
		if err != nil || !res.OK() || !res.LedgerChecked {
			t.Fatalf("seed %d: %v %+v", seed, err, res)
		}
		if r := reused(i.Events); len(r) > 0 && dir == "" {
			dir, in, again = d, i, r
		}
	}
	if dir == "" {
		t.Fatal("no log reused an id after its tomb was forgotten")
	}
	// The reuse to tamper with: the first in the log.
	id, at := "", len(in.Events)
	for j, i := range again {
		if i < at {
			id, at = j, i
		}
	}
	// Where the first job of id was submitted and the batch that collected it.
	first, collected := -1, -1
	rp := newReplay()
	for i := range in.Events[:at] {
		e := &in.Events[i]
		if err := rp.apply(e); err != nil {
			t.Fatal(err)
		}
		switch {
		case e.Type == state.EvJobSubmitted && e.Job == id:
			first = i
		case e.Type == state.EvJobsCollected && collected < 0 && first >= 0 && rp.jobs[id].gcEnd > 0:
			collected = i
		}
	}
	if first < 0 || collected < 0 {
		t.Fatalf("job %s: first submit %d, collection %d", id, first, collected)
	}
	// A tamper moves the second submit of id to index i (re-hashing the log
	// from there) and rewrites ledger.json's head to the new chain.
	move := func(t *testing.T, to int) string {
		t.Helper()
		evs := append([]state.Event(nil), in.Events...)
		sub := evs[at]
		evs = append(evs[:at], evs[at+1:]...)
		evs = append(evs[:to], append([]state.Event{sub}, evs[to:]...)...)
		var head state.ChainHead
		for i := range evs {
			head = evs[i].Seal(head)
		}
		cp := in
		cp.Events = evs
		cp.Ledger.Head = Anchor{Seq: head.Seq, Hash: hexOf(head.Hash)}
		d := filepath.Join(t.TempDir(), "bundle")
		if _, err := Write(d, cp); err != nil {
			t.Fatal(err)
		}
		return d
	}
	cases := []struct {
		name string
		to   int
		want string
	}{
		{"while-live", first + 1, "submitted twice (the first is queued)"},
		{"before-collection", collected, "was never collected"},
		{"tomb-kept", collected + 1, "its tomb is still kept"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Verify(move(t, tc.to))
			if !errors.Is(err, ErrLedger) || res.OK() || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrLedger naming %q", err, tc.want)
			}
		})
	}
	// A ledger.json that counts the reused id once does not match.
	t.Run("one-job-counted", func(t *testing.T) {
		cp := in
		cp.Ledger.Global = Counts{Jobs: map[string]int64{}, ValueMu: map[string]int64{}}
		for k, v := range in.Ledger.Global.Jobs {
			cp.Ledger.Global.Jobs[k] = v
		}
		for k, v := range in.Ledger.Global.ValueMu {
			cp.Ledger.Global.ValueMu[k] = v
		}
		cp.Ledger.Global.Jobs[state.JobCompleted.String()]--
		d := filepath.Join(t.TempDir(), "bundle")
		if _, err := Write(d, cp); err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(d); err == nil {
			t.Fatal("a ledger missing one job verified")
		}
	})
}
