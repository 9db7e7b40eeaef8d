package region

import (
	"context"
	"testing"

	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// spillFabric: shard a (its own region) has one slot and a spillover
// policy into shard b, another region with room.
const spillFabric = `
mission "spill" {
  seed = 1
}
shard "a" {
  spillover_targets = ["b"]
  spillover "b" {
    threshold = 4
    max_drain = 10
  }
}
shard "b" {}
node "a.1" {
  shard    = "a"
  plugin   = "sim"
  capacity = 1
  price {
    base = 0.1
  }
}
node "b.1" {
  shard    = "b"
  plugin   = "sim"
  capacity = 8
  price {
    base = 0.1
  }
}
`

// holder claims region's sim nodes and starts every job assigned to it,
// never finishing one: the region's slots stay taken.
func holder(t *testing.T, h *Host, region string) {
	t.Helper()
	srv := h.Region(region)
	sub, err := h.cfg.Mission.ForRegion(region)
	if err != nil {
		t.Fatal(err)
	}
	client := "holder-" + region
	var nodes []state.Node
	for _, n := range sub.NodeRecords() {
		n.Client = client
		nodes = append(nodes, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if _, err := srv.RegisterClient(ctx, client, nodes, []string{"sim"}); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = srv.Assignments(ctx, client, func(as []server.Assignment) error {
			started := make([]command.JobAttempt, len(as))
			for i, a := range as {
				started[i] = command.JobAttempt{JobID: a.JobID, Attempt: a.Attempt}
			}
			_ = srv.Results(ctx, client, started, nil)
			return nil
		})
	}()
}

// A spillover policy into another region runs as hand-offs: shard a, its
// one slot held, drains its queue down to its threshold into region b
// (never more than b can start), and every job handed completes in b once.
func TestSpilloverAcrossRegions(t *testing.T) {
	m, diags := mission.ParseMission([]byte(spillFabric), "spill.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	h := startHost(t, hostConfig(t, t.TempDir(), m))
	holder(t, h, "a")
	worker(t, h, "b")
	a, b := h.Region("a"), h.Region("b")
	submit(t, a, "a", "s", 20)

	// a keeps its one running job and 4 queued (the threshold); the other
	// 15 are handed to b and complete there.
	waitFor(t, "b to complete the 15 jobs a drained", func() bool { return completed(b) >= 15 })
	waitFor(t, "a's queue at its threshold", func() bool {
		var n int
		a.Read(func(st *state.Store) {
			st.Queue("a", func(j *state.Job) bool {
				if st.HandOffOf(j.Seq) == "" {
					n++
				}
				return true
			})
		})
		return n == 4
	})
	if c := completed(b); c != 15 {
		t.Fatalf("b completed %d jobs, want the 15 a drained", c)
	}
	st := h.Spillover()
	if len(st) != 1 || st[0].Shard != "a" || st[0].Target != "b" || st[0].Handed != 15 {
		t.Fatalf("spillover status %+v", st)
	}
	b.Read(func(st *state.Store) {
		n := 0
		st.JobsIter(func(j *state.Job) bool {
			if j.State == state.JobCompleted && j.Shard == "b" {
				n++
			}
			return true
		})
		if n != 15 {
			t.Errorf("b holds %d completed jobs", n)
		}
	})
}
