package region

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/planetary/planetary/core/link"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/state"
)

// faults wraps every checkpoint link of a host in a link.Faulty and keeps
// them by (from, to).
type faults struct {
	mu sync.Mutex
	by map[[2]string]*link.Faulty
}

func withFaults(t *testing.T, cfg *Config) *faults {
	f := &faults{by: map[[2]string]*link.Faulty{}}
	cfg.Publish.Wrap = func(from, to string, next link.Transport) link.Transport {
		w, err := link.NewFaulty(next, link.FaultConfig{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.by[[2]string{from, to}] = w
		f.mu.Unlock()
		return w
	}
	// Retries spaced for a test, not for Mars: a healed link answers soon.
	cfg.Publish.Link = link.Config{BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond, KeepAlive: time.Second}
	return f
}

func (f *faults) get(from, to string) *link.Faulty {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.by[[2]string{from, to}]
}

// touching returns the links from or to region.
func (f *faults) touching(region string) []*link.Faulty {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*link.Faulty
	for k, w := range f.by {
		if k[0] == region || k[1] == region {
			out = append(out, w)
		}
	}
	return out
}

// stored returns region to's stored checkpoint of region from.
func stored(h *Host, to, from string) (cp state.RegionCheckpoint, ok bool) {
	h.Region(to).Read(func(st *state.Store) { cp, ok = st.RegionCheckpoint(from) })
	return cp, ok
}

// monotonic fails the test when a region's stored checkpoint of another
// goes back to a lower raft index between two looks.
type monotonic struct {
	t    *testing.T
	last map[[2]string]uint64
}

func (m *monotonic) look(h *Host) {
	for _, to := range h.Regions() {
		for _, from := range h.Regions() {
			if from == to {
				continue
			}
			cp, ok := stored(h, to, from)
			if !ok {
				continue
			}
			k := [2]string{from, to}
			if cp.RaftIndex < m.last[k] {
				m.t.Errorf("%s's checkpoint of %s went back from raft index %d to %d", to, from, m.last[k], cp.RaftIndex)
			}
			m.last[k] = cp.RaftIndex
		}
	}
}

// agree reports whether every region of regions has a stored checkpoint of
// every other with its own current totals, and a global ledger listing all
// of the host's regions whose totals are the sum of the regions' own
// checkpoints; why says what differs.
func agree(h *Host, regions []string) (ok bool, why string) {
	own := map[string]state.RegionCheckpoint{}
	for _, r := range h.Regions() {
		own[r] = h.Region(r).RegionCheckpoint()
	}
	var all []state.RegionCheckpoint
	for _, r := range h.Regions() {
		all = append(all, own[r])
	}
	for _, r := range regions {
		g, err := h.Region(r).GlobalLedger()
		if err != nil {
			return false, fmt.Sprintf("%s: global ledger: %v", r, err)
		}
		var names []string
		for _, f := range g.Regions {
			names = append(names, f.Checkpoint.Region)
			if want := own[f.Checkpoint.Region]; !sameTotals(f.Checkpoint.Totals, want.Totals) || f.Checkpoint.Payments != want.Payments {
				return false, fmt.Sprintf("%s holds %s at raft index %d, %d completed; it is at %d, %d completed", r,
					f.Checkpoint.Region, f.Checkpoint.RaftIndex, f.Checkpoint.Totals.Counts.N[state.JobCompleted],
					want.RaftIndex, want.Totals.Counts.N[state.JobCompleted])
			}
		}
		want := slices.Sorted(slices.Values(h.Regions()))
		if !slices.Equal(names, want) {
			return false, fmt.Sprintf("%s lists regions %v", r, names)
		}
		sum, err := state.GlobalLedger(own[r], all)
		if err != nil {
			return false, err.Error()
		}
		if !sameTotals(g.Totals, sum.Totals) || g.Payments != sum.Payments {
			return false, fmt.Sprintf("%s: global totals %+v, the regions' sum %+v", r, g.Totals, sum.Totals)
		}
	}
	return true, ""
}

// sameTotals compares totals, an empty flow list as equal to none (a
// checkpoint decoded from a link holds none).
func sameTotals(a, b state.RegionTotals) bool {
	if len(a.Flows) == 0 {
		a.Flows = nil
	}
	if len(b.Flows) == 0 {
		b.Flows = nil
	}
	return reflect.DeepEqual(a, b)
}

func waitAgree(t *testing.T, h *Host, m *monotonic, regions []string, what string) {
	t.Helper()
	var why string
	end := time.Now().Add(deadline)
	for {
		m.look(h)
		var ok bool
		if ok, why = agree(h, regions); ok {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s: %s", what, why)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not synchronizing
	}
}

// TestGlobalLedgerLive: with every region publishing its checkpoint on
// every change, once the jobs of every region of the example mission have
// completed, each region's global ledger lists the four regions, each with
// the totals that region's own checkpoint has, and its global totals are
// their sum. Every checkpoint link stored at least one checkpoint and
// refused none.
func TestGlobalLedgerLive(t *testing.T) {
	m := example(t)
	h := startHost(t, hostConfig(t, t.TempDir(), m))
	mono := &monotonic{t: t, last: map[[2]string]uint64{}}
	const n = 25
	for _, name := range h.Regions() {
		worker(t, h, name)
		submit(t, h.Region(name), name, "g", n)
	}
	for _, name := range h.Regions() {
		srv := h.Region(name)
		waitFor(t, name+" jobs completed", func() bool { return completed(srv) >= n })
	}
	waitAgree(t, h, mono, h.Regions(), "every region's global ledger")
	for _, name := range h.Regions() {
		g, _ := h.Region(name).GlobalLedger()
		if c := g.Totals.Counts.N[state.JobCompleted]; c != 4*n {
			t.Fatalf("%s: global ledger counts %d completed jobs, want %d", name, c, 4*n)
		}
	}
	st := h.Publishing()
	if len(st) != 12 {
		t.Fatalf("%d checkpoint links, want 12", len(st))
	}
	for _, s := range st {
		// Read after the status: a checkpoint may be stored meanwhile, so
		// the store holds the status's or a later one.
		cp, _ := stored(h, s.To, s.From)
		if s.Stored == 0 || s.Refused != 0 || s.StoredIndex == 0 || s.StoredIndex > cp.RaftIndex || s.Handed < s.Acked {
			t.Fatalf("link %s->%s: %+v (stored checkpoint at raft index %d)", s.From, s.To, s, cp.RaftIndex)
		}
		t.Logf("%s->%s: offered %d, coalesced %d, handed %d, acked %d, stored %d, duplicates %d", s.From, s.To,
			s.Offered, s.Coalesced, s.Handed, s.Acked, s.Stored, s.Duplicates)
	}
}

// TestGlobalLedgerPartitionMars: with mars cut off (every link into and out
// of it partitioned), mars completes the jobs submitted to it but its
// checkpoint in the other regions' ledgers stays where it was (its raft
// index falls behind mars's own, its completed count is the one before the
// cut) while those regions keep completing theirs and see each other's
// progress. Healed, every region catches up and the totals agree again.
// Stored checkpoints only move forward, and one offered again is refused as
// a duplicate.
func TestGlobalLedgerPartitionMars(t *testing.T) {
	m := example(t)
	cfg := hostConfig(t, t.TempDir(), m)
	fl := withFaults(t, &cfg)
	h := startHost(t, cfg)
	mono := &monotonic{t: t, last: map[[2]string]uint64{}}
	others := []string{"earth", "luna", "helios"}
	const n, more = 20, 15
	for _, name := range h.Regions() {
		worker(t, h, name)
		submit(t, h.Region(name), name, "p", n)
	}
	for _, name := range h.Regions() {
		srv := h.Region(name)
		waitFor(t, name+" jobs completed", func() bool { return completed(srv) >= n })
	}
	waitAgree(t, h, mono, h.Regions(), "the global ledgers before the partition")

	for _, f := range fl.touching("mars") {
		f.Partition()
	}
	for _, name := range h.Regions() {
		submit(t, h.Region(name), name, "q", more)
	}
	for _, name := range h.Regions() {
		srv := h.Region(name)
		waitFor(t, name+" jobs completed in the partition", func() bool { return completed(srv) >= n+more })
	}
	// Mars's links try and fail: its checkpoint with the new jobs is built
	// after the cut, so it can only travel in a request that is dropped.
	for _, to := range others {
		f := fl.get("mars", to)
		d0 := f.Stats().DroppedRequests
		waitFor(t, "mars->"+to+" dropping requests", func() bool { return f.Stats().DroppedRequests >= d0+3 })
		l := h.Mesh().Link("mars", to)
		waitFor(t, "mars->"+to+" unreachable", func() bool { return l.Status().State == link.StateUnreachable })
	}
	// The others see each other's new jobs.
	waitFor(t, "the others' progress among themselves", func() bool {
		mono.look(h)
		for _, to := range others {
			for _, from := range others {
				if from == to {
					continue
				}
				if cp, _ := stored(h, to, from); cp.Totals.Counts.N[state.JobCompleted] != n+more {
					return false
				}
			}
		}
		return true
	})
	marsNow := h.Region("mars").RegionCheckpoint()
	if c := marsNow.Totals.Counts.N[state.JobCompleted]; c != n+more {
		t.Fatalf("mars completed %d, want %d", c, n+more)
	}
	for _, to := range others {
		cp, _ := stored(h, to, "mars")
		g, err := h.Region(to).GlobalLedger()
		if err != nil {
			t.Fatal(err)
		}
		if c := cp.Totals.Counts.N[state.JobCompleted]; c != n || cp.RaftIndex >= marsNow.RaftIndex {
			t.Fatalf("%s holds mars at raft index %d with %d completed in the partition; mars is at %d with %d", to,
				cp.RaftIndex, c, marsNow.RaftIndex, marsNow.Totals.Counts.N[state.JobCompleted])
		}
		if c := g.Totals.Counts.N[state.JobCompleted]; c != 3*(n+more)+n {
			t.Fatalf("%s: global ledger counts %d completed in the partition, want %d", to, c, 3*(n+more)+n)
		}
		for _, f := range g.Regions {
			if f.Checkpoint.Region == "mars" {
				t.Logf("%s: mars at raft index %d of %d, %d ns behind on the mission clock", to, f.Checkpoint.RaftIndex, marsNow.RaftIndex, f.BehindNs)
			}
		}
		if cp, _ := stored(h, "mars", to); cp.Totals.Counts.N[state.JobCompleted] != n {
			t.Fatalf("mars holds %s with %d completed in the partition, want %d", to, cp.Totals.Counts.N[state.JobCompleted], n)
		}
	}

	for _, f := range fl.touching("mars") {
		f.Heal()
	}
	waitAgree(t, h, mono, h.Regions(), "the global ledgers after healing")
	for _, name := range h.Regions() {
		g, _ := h.Region(name).GlobalLedger()
		if c := g.Totals.Counts.N[state.JobCompleted]; c != 4*(n+more) {
			t.Fatalf("%s: global ledger counts %d completed after healing, want %d", name, c, 4*(n+more))
		}
	}
	for _, s := range h.Publishing() {
		if s.Refused != 0 {
			t.Fatalf("link %s->%s refused %d checkpoints", s.From, s.To, s.Refused)
		}
		if s.From == "mars" || s.To == "mars" {
			t.Logf("%s->%s: handed %d, stored %d, duplicates %d, link %s, retransmits %d", s.From, s.To,
				s.Handed, s.Stored, s.Duplicates, s.Link.State, s.Link.Retransmits)
		}
	}

	// A checkpoint offered again, or an older one, is a duplicate and
	// changes nothing. The link from mars to earth is cut first, and one of
	// its requests dropped: the request before it has ended, so nothing
	// from mars reaches earth meanwhile.
	cut := fl.get("mars", "earth")
	cut.Partition()
	d0 := cut.Stats().DroppedRequests
	waitFor(t, "mars->earth dropping again", func() bool { return cut.Stats().DroppedRequests > d0 })
	earth := h.Region("earth")
	have, _ := stored(h, "earth", "mars")
	older := have
	older.RaftIndex--
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for _, cp := range []state.RegionCheckpoint{have, older} {
		out, err := earth.StoreRegionCheckpoint(ctx, cp)
		if err != nil || out.Status != raftfsm.Duplicate {
			t.Fatalf("mars checkpoint at raft index %d stored again: %+v, %v", cp.RaftIndex, out, err)
		}
	}
	if now, _ := stored(h, "earth", "mars"); !reflect.DeepEqual(now, have) {
		t.Fatalf("earth's mars checkpoint changed by duplicates: %+v", now)
	}
	mono.look(h)
}

// TestCheckpointLatency measures how long a checkpoint takes from its
// region's apply to the other regions' stores over links of 200 ms each
// way, and logs it; the test asserts only that each arrives.
func TestCheckpointLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("measures 200 ms links")
	}
	const latency = 200 * time.Millisecond
	m := example(t)
	cfg := hostConfig(t, t.TempDir(), m)
	fl := withFaults(t, &cfg)
	h := startHost(t, cfg)
	for _, name := range h.Regions() {
		for _, to := range h.Regions() {
			if to != name {
				fl.get(name, to).SetLatency(latency)
			}
		}
	}
	worker(t, h, "earth")
	earth := h.Region("earth")
	var took []time.Duration
	const samples = 8
	for i := 1; i <= samples; i++ {
		submit(t, earth, "earth", fmt.Sprintf("l%d", i), 1)
		end := time.Now().Add(deadline)
		for completed(earth) < int64(i) {
			if time.Now().After(end) {
				t.Fatalf("earth job %d not completed", i)
			}
			time.Sleep(time.Millisecond) // polling a condition, not synchronizing
		}
		t0 := time.Now()
		pending := []string{"luna", "mars", "helios"}
		for len(pending) > 0 {
			if time.Now().After(end) {
				t.Fatalf("earth's checkpoint with job %d never reached %v", i, pending)
			}
			pending = slices.DeleteFunc(pending, func(to string) bool {
				cp, _ := stored(h, to, "earth")
				if cp.Totals.Counts.N[state.JobCompleted] < int64(i) {
					return false
				}
				took = append(took, time.Since(t0))
				return true
			})
			time.Sleep(time.Millisecond) // polling a condition, not synchronizing
		}
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	t.Logf("checkpoint from earth's apply to another region's store over %s links: %d arrivals, min %s, p50 %s, max %s",
		latency, len(took), took[0].Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
}

// TestCheckpointOutbox: the outbox holds the latest checkpoint only, gives
// it the seq after the receiver's through when the link takes it, sends
// the latest again under the same seq on a retransmission, and after the
// acknowledgement sends the latest once more under the next seq when the
// try it repeated carried an older one.
func TestCheckpointOutbox(t *testing.T) {
	o := &checkpointOutbox{}
	if got := o.Pending(0, 10); got != nil {
		t.Fatalf("empty outbox pending %v", got)
	}
	body := func(ix uint64) []byte { return []byte(fmt.Sprint(ix)) }
	for ix := uint64(1); ix <= 3; ix++ {
		o.offer(ix, body(ix))
	}
	o.offer(2, body(2)) // older than the latest: ignored
	check := func(after, seq, ix uint64) {
		t.Helper()
		got := o.Pending(after, 10)
		if len(got) != 1 || got[0].Seq != seq || string(got[0].Body) != fmt.Sprint(ix) || got[0].Kind != KindCheckpoint {
			t.Fatalf("pending after %d: %+v, want seq %d carrying %d", after, got, seq, ix)
		}
	}
	check(0, 1, 3)
	o.offer(4, body(4))
	o.offer(5, body(5))
	check(0, 1, 5) // a retransmission carries the latest
	o.Acked(1)
	check(1, 2, 5) // the receiver may hold 3 only: 5 again
	o.Acked(2)
	if got := o.Pending(2, 10); got != nil {
		t.Fatalf("pending after the latest was acknowledged: %+v", got)
	}
	o.offer(6, body(6))
	check(2, 3, 6)
	o.Acked(3)
	// A receiver whose through is ahead (a sender that restarted) gets the
	// seq after it; one that went back gets the latest again.
	o.offer(7, body(7))
	check(57, 58, 7)
	o.Acked(58)
	check(1, 2, 7)
	if c := o.counts; c.offered != 7 || c.coalesced != 3 || c.handed != 5 || c.acked != 4 {
		t.Fatalf("counts %+v", c)
	}
}

// TestCheckpointOutboxOverFaultyLink runs the outbox through a real link
// into a link.Memory inbox, with a third of requests and answers dropped
// and a third duplicated or replayed stale, while checkpoints are offered:
// the receiver applies the checkpoints in nondecreasing raft index, and the
// last it applies is the last offered.
func TestCheckpointOutboxOverFaultyLink(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			o := &checkpointOutbox{}
			in := link.NewMemory()
			local := link.NewLocal()
			local.Add("luna", in)
			f, err := link.NewFaulty(local, link.FaultConfig{Seed: seed, DropRate: 0.3, DupRate: 0.3})
			if err != nil {
				t.Fatal(err)
			}
			l, err := link.New(link.Config{From: "earth", To: "luna", Outbox: o, Transport: f,
				BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond, KeepAlive: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			l.Start()
			defer l.Stop()
			const last = 300
			for ix := uint64(1); ix <= last; ix++ {
				o.offer(ix, []byte(fmt.Sprint(ix)))
				l.Notify()
				if ix%10 == 0 {
					time.Sleep(time.Millisecond) // let some go out one by one
				}
			}
			var got []uint64
			waitFor(t, "the last checkpoint applied", func() bool {
				got = got[:0]
				for _, m := range in.Received("earth") {
					var ix uint64
					fmt.Sscan(string(m.Body), &ix)
					got = append(got, ix)
				}
				return len(got) > 0 && got[len(got)-1] == last
			})
			dups := 0
			for i := 1; i < len(got); i++ {
				if got[i] < got[i-1] {
					t.Fatalf("applied %d after %d: %v", got[i], got[i-1], got)
				}
				if got[i] == got[i-1] {
					dups++
				}
			}
			if st := f.Stats(); st.DroppedRequests == 0 || st.DroppedAnswers == 0 || st.Duplicates == 0 {
				t.Fatalf("faults did not happen: %+v", st)
			}
			t.Logf("%d applied of %d offered, %d twice; faults %+v", len(got), last, dups, f.Stats())
		})
	}
}
