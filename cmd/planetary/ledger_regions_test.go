package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/state"
)

// remoteCheckpoint is a checkpoint another region published: n jobs
// completed of 2 credits each, paid 1 credit each, one flow into earth.
func remoteCheckpoint(region string, idx uint64, n int64, missionTime int64) state.RegionCheckpoint {
	cp := state.RegionCheckpoint{Region: region, RaftIndex: idx, EventCount: uint64(n) * 4, MissionTimeNs: missionTime,
		ChainHead: state.ChainHead{Seq: uint64(n) * 4, Hash: [32]byte{0xab, byte(n)}},
		Payments:  state.RegionPayments{Count: 2, AmountMu: n * state.Micro}}
	cp.Totals.Counts.N[state.JobCompleted] = n
	cp.Totals.Counts.ValueMu[state.JobCompleted] = n * 2 * state.Micro
	cp.Totals.ValueMu, cp.Totals.PaidMu = n*2*state.Micro, n*state.Micro
	cp.Totals.Flows = []state.Flow{{From: region, To: "earth", Jobs: 1, ValueMu: 2 * state.Micro}}
	cp.Totals.FlowJobs, cp.Totals.FlowValueMu = 1, 2*state.Micro
	cp.Shards = []string{region, region + "-orbit"}
	return cp
}

// ledgerJSON runs `planetary ledger -json` and decodes what it printed.
func ledgerJSON(t *testing.T, a *testAgent) api.Ledger {
	t.Helper()
	r := runCmd(t, "ledger", a.apiArgs(a.secret, "-json")...)
	if r.code != 0 {
		t.Fatalf("ledger -json: %d %s", r.code, r.err)
	}
	var l api.Ledger
	if err := json.Unmarshal([]byte(r.out), &l); err != nil {
		t.Fatalf("ledger -json printed no ledger: %v\n%s", err, r.out)
	}
	return l
}

// TestLedgerOneRegion: a server that holds no other region's checkpoint
// serves its own as the only region, the global totals are its ledger's,
// and `planetary ledger` prints no Regions table.
func TestLedgerOneRegion(t *testing.T) {
	a := startAgent(t)
	l := ledgerJSON(t, a)
	if len(l.Regions) != 1 || l.Regions[0].Region != state.DefaultRegion || !l.Regions[0].Local || l.Regions[0].Index != l.AppliedIndex {
		t.Fatalf("regions %+v (applied index %d)", l.Regions, l.AppliedIndex)
	}
	if got, want := fmt.Sprint(l.GlobalTotals), fmt.Sprint(l.Regions[0].Totals); got != want {
		t.Fatalf("global totals %s, the region's %s", got, want)
	}
	if l.GlobalTotals.Events != l.Chain.Seq || l.Regions[0].Chain != l.Chain {
		t.Fatalf("events %d, chain %+v; region chain %+v", l.GlobalTotals.Events, l.Chain, l.Regions[0].Chain)
	}
	r := runCmd(t, "ledger", a.apiArgs(a.secret)...)
	if r.code != 0 || strings.Contains(r.out, "Regions") {
		t.Fatalf("ledger: %d\n%s%s", r.code, r.out, r.err)
	}
}

// TestLedgerRegions applies two other regions' checkpoints through the
// server's raft (out of order and redelivered), then reads the ledger
// through the API as `planetary ledger` does: the regions list holds each
// region's latest checkpoint with its shards and its freshness (the age of
// the entry that stored it, at the read), the global totals are the
// sum of the regions', and the text output has a Regions table.
func TestLedgerRegions(t *testing.T) {
	a := startAgentWith(t, func(c *server.Config) { c.Region = "earth" })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	own := a.srv.RegionCheckpoint()
	mars := remoteCheckpoint("mars", 40, 6, own.MissionTimeNs-1_500_000_000)
	luna := remoteCheckpoint("luna", 12, 2, own.MissionTimeNs+250_000_000)
	steps := []struct {
		cp   state.RegionCheckpoint
		want raftfsm.OutcomeStatus
	}{
		{mars, raftfsm.Applied},
		{remoteCheckpoint("mars", 30, 99, 0), raftfsm.Duplicate}, // older than the stored one
		{luna, raftfsm.Applied},
		{mars, raftfsm.Duplicate}, // redelivered
	}
	storedFrom := time.Now().UnixNano()
	for i, s := range steps {
		out, err := a.srv.StoreRegionCheckpoint(ctx, s.cp)
		if err != nil || out.Status != s.want {
			t.Fatalf("step %d (%s at %d): %+v %v", i, s.cp.Region, s.cp.RaftIndex, out, err)
		}
	}
	var re *server.RequestError
	if _, err := a.srv.StoreRegionCheckpoint(ctx, remoteCheckpoint("earth", 99, 1, 0)); !errors.As(err, &re) || re.Field != "region" {
		t.Fatalf("own region's checkpoint: %v", err)
	}

	storedTo := time.Now().UnixNano()
	l := ledgerJSON(t, a)
	readTo := time.Now().UnixNano()
	if len(l.Regions) != 3 {
		t.Fatalf("regions %+v", l.Regions)
	}
	earth := l.Regions[0]
	if earth.Region != "earth" || !earth.Local || earth.Index != l.AppliedIndex || earth.BehindNs != 0 || earth.Chain != l.Chain ||
		earth.AgeNs == nil || *earth.AgeNs != 0 || earth.IndexLag == nil || *earth.IndexLag != 0 || earth.StoredAt != 0 ||
		earth.Leader == "" || len(earth.Shards) != 0 {
		t.Fatalf("local region %+v (applied index %d, chain %+v)", earth, l.AppliedIndex, l.Chain)
	}
	for i, want := range []state.RegionCheckpoint{luna, mars} {
		r := l.Regions[i+1]
		if r.Region != want.Region || r.Local || r.Index != want.RaftIndex || r.MissionTime != want.MissionTimeNs ||
			r.BehindNs != earth.MissionTime-want.MissionTimeNs || r.Totals.PaidMicro != want.Totals.PaidMu ||
			r.Totals.Counts["completed"].Jobs != want.Totals.Counts.N[state.JobCompleted] || r.Totals.Events != want.EventCount {
			t.Fatalf("region %s: %+v", want.Region, r)
		}
		// Its freshness is the age of the entry that stored it, measured at
		// the read: stored between the first store call and the last one's
		// return, read before the CLI returned.
		if r.StoredAt < storedFrom || r.StoredAt > storedTo || r.AgeNs == nil || *r.AgeNs < 0 || *r.AgeNs > readTo-r.StoredAt ||
			r.IndexLag != nil || r.Leader != "" || !slices.Equal(r.Shards, want.Shards) {
			t.Fatalf("region %s: stored at %d (stores ran from %d to %d), age %v, read by %d: %+v",
				want.Region, r.StoredAt, storedFrom, storedTo, r.AgeNs, readTo, r)
		}
	}
	// The global totals are the regions' sum.
	var jobs, value, flowJobs, flowValue, paid, payments int64
	var events uint64
	for _, r := range l.Regions {
		jobs += r.Totals.Jobs
		value += r.Totals.ValueMicro
		flowJobs += r.Totals.FlowJobs
		flowValue += r.Totals.FlowValueMicro
		paid += r.Totals.PaidMicro
		payments += r.Totals.Payments
		events += r.Totals.Events
	}
	g := l.GlobalTotals
	if g.Jobs != jobs || g.ValueMicro != value || g.FlowJobs != flowJobs || g.FlowValueMicro != flowValue ||
		g.PaidMicro != paid || g.Payments != payments || g.Events != events || g.Counts["completed"].Jobs != 8 || paid != 8*state.Micro {
		t.Fatalf("global totals %+v are not the regions' sum", g)
	}

	r := runCmd(t, "ledger", a.apiArgs(a.secret)...)
	if r.code != 0 {
		t.Fatalf("ledger: %d %s", r.code, r.err)
	}
	_, table, ok := strings.Cut(r.out, "\nRegions\n")
	if !ok {
		t.Fatalf("no Regions table:\n%s", r.out)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = line
		}
	}
	for name, wants := range map[string][]string{
		"Region": {"Index", "Freshness", "Jobs (value)", "Completed", "Flows (value)", "Paid", "Events"},
		"earth":  {"earth (local)", fmt.Sprintf("  %d  ", earth.Index), "  local  "},
		"luna":   {"  12  ", " ago  ", "2 (4)"},
		"mars":   {"  40  ", " ago  ", "6 (12)", "  24"},
		"global": {"8 (16)", "2 (4)", fmt.Sprintf("  %d", events)},
	} {
		for _, want := range wants {
			if !strings.Contains(rows[name], want) {
				t.Errorf("Regions table: line %s lacks %q:\n%s", name, want, table)
			}
		}
	}
}
