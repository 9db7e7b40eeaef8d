package state

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// regionCP is a checkpoint of region with n completed jobs of value 100
// each, paid 10 each, and one flow of its own plus one into "earth".
func regionCP(region string, idx uint64, n int64, clock int64) RegionCheckpoint {
	cp := RegionCheckpoint{Region: region, RaftIndex: idx, EventCount: uint64(n) * 3, MissionTimeNs: clock,
		ChainHead: ChainHead{Seq: uint64(n) * 3, Hash: [32]byte{byte(n)}},
		Payments:  RegionPayments{Count: 1, AmountMu: n * 10}}
	cp.Totals.Counts.N[JobCompleted] = n
	cp.Totals.Counts.ValueMu[JobCompleted] = n * 100
	cp.Totals.ValueMu, cp.Totals.PaidMu = n*100, n*10
	cp.Totals.Flows = []Flow{{From: region + ".a", To: "earth", Jobs: 1, ValueMu: 100}}
	cp.Totals.FlowJobs, cp.Totals.FlowValueMu = 1, 100
	return cp
}

func TestGlobalLedger(t *testing.T) {
	earth := regionCP("earth", 50, 4, 10_000)
	mars := regionCP("mars", 20, 6, 7_000)
	luna := regionCP("luna", 33, 1, 12_000)
	luna.Totals.Flows = []Flow{{From: "mars.a", To: "earth", Jobs: 2, ValueMu: 300}} // merges with mars's
	luna.Totals.FlowJobs, luna.Totals.FlowValueMu = 2, 300
	staleMars := regionCP("mars", 10, 99, 1_000)
	forgedEarth := regionCP("earth", 999, 99, 1_000)
	cases := []struct {
		name   string
		others []RegionCheckpoint
		// want: the regions counted, in name order
		want   []RegionCheckpoint
		behind []int64
		flows  []Flow
	}{
		{"one-region", nil, []RegionCheckpoint{earth}, []int64{0}, earth.Totals.Flows},
		{"three-regions", []RegionCheckpoint{mars, luna}, []RegionCheckpoint{earth, luna, mars}, []int64{0, -2_000, 3_000},
			[]Flow{{From: "earth.a", To: "earth", Jobs: 1, ValueMu: 100}, {From: "mars.a", To: "earth", Jobs: 3, ValueMu: 400}}},
		{"latest-of-a-region", []RegionCheckpoint{staleMars, mars, staleMars}, []RegionCheckpoint{earth, mars}, []int64{0, 3_000},
			[]Flow{{From: "earth.a", To: "earth", Jobs: 1, ValueMu: 100}, {From: "mars.a", To: "earth", Jobs: 1, ValueMu: 100}}},
		{"local-region-is-own", []RegionCheckpoint{forgedEarth, mars}, []RegionCheckpoint{earth, mars}, []int64{0, 3_000},
			[]Flow{{From: "earth.a", To: "earth", Jobs: 1, ValueMu: 100}, {From: "mars.a", To: "earth", Jobs: 1, ValueMu: 100}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := GlobalLedger(earth, c.others)
			if err != nil {
				t.Fatal(err)
			}
			// The sums, recomputed field by field from the regions counted.
			var want GlobalView
			for i, cp := range c.want {
				if g.Regions[i].Checkpoint.Region != cp.Region || g.Regions[i].Checkpoint.RaftIndex != cp.RaftIndex {
					t.Fatalf("region %d is %s at %d, want %s at %d", i, g.Regions[i].Checkpoint.Region, g.Regions[i].Checkpoint.RaftIndex, cp.Region, cp.RaftIndex)
				}
				if g.Regions[i].Local != (cp.Region == "earth") || g.Regions[i].BehindNs != c.behind[i] {
					t.Fatalf("region %s: local %v behind %d, want behind %d", cp.Region, g.Regions[i].Local, g.Regions[i].BehindNs, c.behind[i])
				}
				for st := range cp.Totals.Counts.N {
					want.Totals.Counts.N[st] += cp.Totals.Counts.N[st]
					want.Totals.Counts.ValueMu[st] += cp.Totals.Counts.ValueMu[st]
				}
				want.Totals.ValueMu += cp.Totals.ValueMu
				want.Totals.FlowJobs += cp.Totals.FlowJobs
				want.Totals.FlowValueMu += cp.Totals.FlowValueMu
				want.Totals.PaidMu += cp.Totals.PaidMu
				want.Payments.Count += cp.Payments.Count
				want.Payments.AmountMu += cp.Payments.AmountMu
				want.EventCount += cp.EventCount
			}
			if len(g.Regions) != len(c.want) {
				t.Fatalf("%d regions, want %d", len(g.Regions), len(c.want))
			}
			want.Totals.Flows = c.flows
			g.Regions = nil
			if !reflect.DeepEqual(g, want) {
				t.Fatalf("global\n got %+v\nwant %+v", g, want)
			}
			// The order of others does not matter.
			rev := append([]RegionCheckpoint(nil), c.others...)
			for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
				rev[i], rev[j] = rev[j], rev[i]
			}
			g1, _ := GlobalLedger(earth, c.others)
			g2, _ := GlobalLedger(earth, rev)
			if !reflect.DeepEqual(g1, g2) {
				t.Fatal("another order of the checkpoints gives another global ledger")
			}
		})
	}
}

// TestGlobalLedgerOverflow: totals that do not add up inside int64 are an
// error naming the region and the field.
func TestGlobalLedgerOverflow(t *testing.T) {
	earth := regionCP("earth", 5, 1, 0)
	mars := regionCP("mars", 5, 1, 0)
	mars.Totals.PaidMu = math.MaxInt64
	_, err := GlobalLedger(earth, []RegionCheckpoint{mars})
	if !errors.Is(err, ErrRegionSum) || !strings.Contains(err.Error(), "region mars: totals.paid_mu") {
		t.Fatalf("err %v", err)
	}
}
