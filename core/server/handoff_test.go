package server

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// TestHandOffEndpoints runs one hand-off through the three endpoints of
// two servers of different regions (real raft on BoltDB each): mars begins
// it, earth accepts it (and answers a second delivery with the stored
// outcome), mars closes it; each endpoint refuses a request that names the
// wrong region, or a shard or hand-off it does not hold, naming the field,
// before proposing anything.
func TestHandOffEndpoints(t *testing.T) {
	ctx := ctxT(t)
	dir := t.TempDir()
	start := func(region string) *Server {
		cfg := testConfig(t, filepath.Join(dir, region))
		cfg.NodeID, cfg.Region = "s1."+region, region
		return startServer(t, cfg)
	}
	mars, earth := start("mars"), start("earth")
	registerShard(t, mars, "mars")
	registerShard(t, earth, "earth")
	// mars has no node: paused, its job stays queued for the hand-off
	// rather than parked.
	if _, err := mars.Pause(ctx, owner, command.Pause{Shard: "mars", Paused: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := mars.SubmitJobs(ctx, owner, []command.JobSubmit{{ID: "j1", Shard: "mars", ValueMu: 7, Kind: "sim"}}); err != nil {
		t.Fatal(err)
	}
	refused := func(err error, kind ErrorKind, field string) {
		t.Helper()
		var re *RequestError
		if !errors.As(err, &re) || re.Kind != kind || re.Field != field {
			t.Fatalf("%v, want a refusal of kind %d on %s", err, kind, field)
		}
	}
	before := mars.AppliedIndex()
	for _, c := range []struct {
		req   command.HandOffBegin
		field string
	}{
		{command.HandOffBegin{ToRegion: "mars", ToShard: "earth", IDs: []string{"j1"}}, "to_region"},
		{command.HandOffBegin{ToRegion: "earth", ToShard: "mars", IDs: []string{"j1"}}, "to_shard"},
		{command.HandOffBegin{FromRegion: "luna", ToRegion: "earth", ToShard: "earth", IDs: []string{"j1"}}, "from_region"},
		{command.HandOffBegin{ToRegion: "earth", ToShard: "earth"}, "ids"},
	} {
		_, err := mars.BeginHandOffs(ctx, owner, c.req)
		refused(err, Invalid, c.field)
	}
	if mars.AppliedIndex() != before {
		t.Fatal("a refused hand-off was proposed")
	}
	outs, err := mars.BeginHandOffs(ctx, owner, command.HandOffBegin{ToRegion: "earth", ToShard: "earth", IDs: []string{"j1"}})
	if err != nil || len(outs) != 1 || outs[0].Status != raftfsm.Applied || outs[0].Reason != "mars.1" {
		t.Fatalf("begin: %+v, %v", outs, err)
	}
	var h state.HandOff
	mars.Read(func(st *state.Store) { h, _ = st.HandOff("mars.1") })

	_, err = mars.AcceptHandOff(ctx, owner, h)
	refused(err, Invalid, "from_region")
	other := h
	other.ToRegion = "luna"
	_, err = earth.AcceptHandOff(ctx, owner, other)
	refused(err, Invalid, "to_region")
	for i, want := range []raftfsm.OutcomeStatus{raftfsm.Applied, raftfsm.Duplicate} {
		o, err := earth.AcceptHandOff(ctx, owner, h)
		if err != nil || o.Status != want || o.ID != "mars.1" {
			t.Fatalf("accept %d: %+v, %v", i, o, err)
		}
	}
	_, err = mars.CloseHandOff(ctx, owner, command.HandOffClose{ID: "mars.2", Accepted: true})
	refused(err, NotFound, "id")
	if o, err := mars.CloseHandOff(ctx, owner, command.HandOffClose{ID: "mars.1", Accepted: true}); err != nil || o.Status != raftfsm.Applied {
		t.Fatalf("close: %+v, %v", o, err)
	}
	mars.Read(func(st *state.Store) {
		if st.Job("j1") != nil || st.HandedOut() != 1 {
			t.Fatalf("mars still holds j1 (%d handed out)", st.HandedOut())
		}
	})
	earth.Read(func(st *state.Store) {
		if j := st.Job("j1"); j == nil || j.Shard != "earth" || j.Hops != 1 || j.State.Terminal() { // queued, or parked: earth has no node
			t.Fatalf("earth's j1: %+v", j)
		}
	})
	for _, s := range []*Server{mars, earth} {
		s.Read(func(st *state.Store) {
			for _, inv := range raftfsm.CheckInvariants(st) {
				if !inv.OK {
					t.Errorf("%s: %s: %s", s.Region(), inv.ID, inv.Message)
				}
			}
		})
	}
}
