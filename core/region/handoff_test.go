package region

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/planetary/planetary/core/link"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// withHandOffFaults wraps every hand-off link of a host in a link.Faulty,
// with retries spaced for a test.
func withHandOffFaults(t *testing.T, cfg *Config) *faults {
	f := &faults{by: map[[2]string]*link.Faulty{}}
	cfg.HandOff.Wrap = func(from, to string, next link.Transport) link.Transport {
		w, err := link.NewFaulty(next, link.FaultConfig{Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.by[[2]string{from, to}] = w
		f.mu.Unlock()
		return w
	}
	cfg.HandOff.Link = link.Config{BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond, KeepAlive: time.Second}
	cfg.HandOff.Retry = 300 * time.Millisecond
	return f
}

// invariantsHold fails the test when an invariant of region's FSM fails.
func invariantsHold(t *testing.T, h *Host, region string) {
	t.Helper()
	h.Region(region).Read(func(st *state.Store) {
		for _, inv := range raftfsm.CheckInvariants(st) {
			if !inv.OK {
				t.Fatalf("region %s: invariant %s: %s", region, inv.ID, inv.Message)
			}
		}
	})
}

// jobCount sums a view's jobs over every state.
func jobCount(g state.GlobalView) (n int64) {
	for _, v := range g.Totals.Counts.N {
		n += v
	}
	return n
}

// eventsOf counts region's events by type, once its event log holds every
// event its FSM emitted.
func eventsOf(t *testing.T, srv *server.Server) map[string]int {
	t.Helper()
	var want uint64
	srv.Read(func(st *state.Store) { want = st.Meta().Events })
	waitFor(t, "events written", func() bool { head, _ := srv.Events().Head(); return head >= want })
	// A read serves what is on disk or in the tail, which may be less than
	// asked for while the writer flushes: page until every event is in.
	out := map[string]int{}
	for after := uint64(0); after < want; {
		evs, err := srv.Events().Read(after, int(want-after))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			out[e.Type]++
			after = e.Seq
		}
	}
	return out
}

// TestHandOffMarsToEarthPartitioned hands 20 queued mars jobs to earth
// over the example mission's regions (real raft on BoltDB each) and cuts
// the mars-earth hand-off links in the middle: earth has taken the offers
// in (19 accepted, one refused, its id taken by an earth job) but no
// outcome reached mars, whose 20 hand-offs stay open while its offers
// are retried into the cut. The global ledger of the two regions counts
// each job once meanwhile, and the invariants hold in both. Healed, mars
// closes every hand-off once (19 accepted, one returned), the retries
// answered from earth's records, never as a second job; every job
// completes exactly once, in earth or back home in mars; and the global
// ledger every region serves is the sum of the regions' own checkpoints.
func TestHandOffMarsToEarthPartitioned(t *testing.T) {
	m := example(t)
	cfg := hostConfig(t, t.TempDir(), m)
	cuts := withHandOffFaults(t, &cfg)
	h := startHost(t, cfg)
	mars, earth := h.Region("mars"), h.Region("earth")
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	owner := server.Actor{Name: "test", Caps: server.CapAll}

	// mars's shard is paused, so its jobs stay queued for the hand-off.
	if _, err := mars.Pause(ctx, owner, command.Pause{Shard: "mars", Paused: true}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	submit(t, mars, "mars", "h", n)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("mars-h-%03d", i)
	}
	taken := ids[n-1]
	if _, err := earth.SubmitJobs(ctx, owner, []command.JobSubmit{{ID: taken, Shard: "earth", Kind: "sim", Capabilities: []string{},
		ValueMu: 1000, Payload: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	worker(t, h, "earth")

	// The outcomes cannot come back: earth takes the offers in, mars waits.
	back, out := cuts.get("earth", "mars"), cuts.get("mars", "earth")
	back.Partition()
	outs, err := h.HandOff(ctx, append(append([]string{}, ids...), "nope"), "earth")
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range outs[:n] {
		if o.Status != raftfsm.Applied || o.ID != ids[i] || !strings.HasPrefix(o.Reason, "mars.") {
			t.Fatalf("hand-off of %s: %+v", ids[i], o)
		}
	}
	if o := outs[n]; o.Status != raftfsm.Rejected || o.Reason != "unknown job" {
		t.Fatalf("hand-off of an unknown job: %+v", o)
	}
	handIns := func() (accepted, refused int) {
		earth.Read(func(st *state.Store) {
			for _, in := range st.HandIns() {
				if in.Accepted {
					accepted++
				} else {
					refused++
				}
			}
		})
		return accepted, refused
	}
	waitFor(t, "earth took the 20 offers in", func() bool { a, r := handIns(); return a+r == n })
	out.Partition()
	if a, r := handIns(); a != n-1 || r != 1 {
		t.Fatalf("earth accepted %d and refused %d", a, r)
	}

	// Mid-hand-off: mars re-offers into the cut and no outcome arrives.
	waitFor(t, "re-offers and outcomes dropped", func() bool {
		return out.Stats().DroppedRequests > 0 && back.Stats().DroppedRequests > 0
	})
	var open int
	mars.Read(func(st *state.Store) { open = st.InFlight() })
	if open != n {
		t.Fatalf("mars has %d hand-offs open, want %d", open, n)
	}
	for _, r := range []string{"mars", "earth"} {
		invariantsHold(t, h, r)
	}
	g, err := state.GlobalLedger(mars.RegionCheckpoint(), []state.RegionCheckpoint{earth.RegionCheckpoint()})
	if err != nil {
		t.Fatal(err)
	}
	if jobCount(g) != n+1 || g.Transfer.Jobs != n-1 {
		t.Fatalf("mid-hand-off, the two regions' ledger counts %d jobs (transfer %+v), want %d", jobCount(g), g.Transfer, n+1)
	}

	out.Heal()
	back.Heal()
	waitFor(t, "mars closed every hand-off", func() bool {
		mars.Read(func(st *state.Store) { open = st.InFlight() })
		return open == 0
	})
	if _, err := mars.Pause(ctx, owner, command.Pause{Shard: "mars", Paused: false}); err != nil {
		t.Fatal(err)
	}
	worker(t, h, "mars")
	waitFor(t, "every job completed", func() bool { return completed(earth) == n && completed(mars) == 1 })

	// Every job completed exactly once, and every hand-off ended once.
	mars.Read(func(st *state.Store) {
		for i, id := range ids {
			ho, ok := st.HandOff(fmt.Sprintf("mars.%d", i+1))
			if !ok || ho.Job.ID != id {
				t.Fatalf("hand-off mars.%d: %+v", i+1, ho)
			}
			j := st.Job(id)
			switch {
			case id == taken && (ho.State != state.HandOffReturned || !strings.Contains(ho.Reason, "taken") || j == nil || j.State != state.JobCompleted):
				t.Fatalf("%s: hand-off %+v, job %+v", id, ho, j)
			case id != taken && (ho.State != state.HandOffAccepted || j != nil):
				t.Fatalf("%s: hand-off %+v, mars still holds %+v", id, ho, j)
			}
		}
		if st.HandOffCount() != n || st.HandedOut() != n-1 {
			t.Fatalf("mars: %d hand-offs, %d handed out", st.HandOffCount(), st.HandedOut())
		}
	})
	earth.Read(func(st *state.Store) {
		for _, id := range ids {
			if j := st.Job(id); j == nil || j.State != state.JobCompleted || (id != taken && j.Hops != 1) {
				t.Fatalf("earth's %s: %+v", id, j)
			}
		}
		if st.NumJobs() != n {
			t.Fatalf("earth holds %d jobs, want %d", st.NumJobs(), n)
		}
	})
	me, ee := eventsOf(t, mars), eventsOf(t, earth)
	if me[state.EvJobHandedOff] != n || me[state.EvJobHandOffAccepted] != n-1 || me[state.EvJobHandOffReturned] != 1 ||
		ee[state.EvJobHandedIn] != n-1 || ee[state.EvJobHandOffRefused] != 1 {
		t.Fatalf("mars events %v, earth events %v", me, ee)
	}
	var dups, stale uint64
	for _, s := range h.HandOffs() {
		dups += s.Duplicates
		stale += s.Stale
		if s.Invalid != 0 {
			t.Fatalf("link %s->%s refused %d messages", s.From, s.To, s.Invalid)
		}
	}
	t.Logf("retried offers answered from earth's records: %d; outcomes about closed hand-offs: %d", dups, stale)
	for _, r := range h.Regions() {
		invariantsHold(t, h, r)
	}

	// The global ledger each region serves is the sum of the regions' own
	// checkpoints, and counts every job once.
	var own []state.RegionCheckpoint
	for _, r := range h.Regions() {
		own = append(own, h.Region(r).RegionCheckpoint())
	}
	sum, err := state.GlobalLedger(own[0], own[1:])
	if err != nil {
		t.Fatal(err)
	}
	if jobCount(sum) != n+1 || sum.Totals.Counts.N[state.JobCompleted] != n+1 || sum.Transfer != (state.Transfer{}) {
		t.Fatalf("the regions' sum: %d jobs, %d completed, transfer %+v", jobCount(sum), sum.Totals.Counts.N[state.JobCompleted], sum.Transfer)
	}
	for _, r := range h.Regions() {
		srv := h.Region(r)
		waitFor(t, r+"'s global ledger", func() bool {
			g, err := srv.GlobalLedger()
			return err == nil && len(g.Regions) == 4 && g.Totals.Counts == sum.Totals.Counts && g.Totals.ValueMu == sum.Totals.ValueMu
		})
	}
}

// TestHandOffSurvivesRestart: earth takes five mars hand-offs in while
// the link back to mars is cut, and the host stops before any outcome
// reaches mars. The restarted host has lost its outboxes and cursors;
// mars offers its open hand-offs again, earth answers each from its
// records, and every hand-off closes once, accepted, with each job once in
// earth.
func TestHandOffSurvivesRestart(t *testing.T) {
	m := example(t)
	cfg := hostConfig(t, t.TempDir(), m)
	cuts := withHandOffFaults(t, &cfg)
	h := startHost(t, cfg)
	mars, earth := h.Region("mars"), h.Region("earth")
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if _, err := mars.Pause(ctx, server.Actor{Name: "test", Caps: server.CapAll}, command.Pause{Shard: "mars", Paused: true}); err != nil {
		t.Fatal(err)
	}
	const n = 5
	submit(t, mars, "mars", "r", n)
	var ids []string
	for i := 0; i < n; i++ {
		ids = append(ids, fmt.Sprintf("mars-r-%03d", i))
	}
	cuts.get("earth", "mars").Partition()
	if _, err := h.HandOff(ctx, ids, "earth"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "earth took the offers in", func() bool {
		var k int
		earth.Read(func(st *state.Store) { k = len(st.HandIns()) })
		return k == n
	})
	if err := h.Shutdown(); err != nil {
		t.Fatal(err)
	}

	r := startHost(t, cfg)
	mars, earth = r.Region("mars"), r.Region("earth")
	waitFor(t, "mars closed its hand-offs", func() bool {
		var open int
		mars.Read(func(st *state.Store) { open = st.InFlight() })
		return open == 0
	})
	mars.Read(func(st *state.Store) {
		if st.HandedOut() != n {
			t.Fatalf("mars handed out %d jobs, want %d", st.HandedOut(), n)
		}
	})
	earth.Read(func(st *state.Store) {
		if st.NumJobs() != n || len(st.HandIns()) != n {
			t.Fatalf("earth holds %d jobs and %d hand-ins, want %d", st.NumJobs(), len(st.HandIns()), n)
		}
	})
	if ev := eventsOf(t, mars); ev[state.EvJobHandOffAccepted] != n {
		t.Fatalf("mars events %v", ev)
	}
	var dups uint64
	for _, s := range r.HandOffs() {
		dups += s.Duplicates
	}
	if dups < n {
		t.Fatalf("earth answered %d repeated offers from its records, want at least %d", dups, n)
	}
	for _, name := range r.Regions() {
		invariantsHold(t, r, name)
	}
}
