package server

import (
	"context"
	"fmt"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// Region is the name of the region this server's raft group holds
// (Config.Region, else state.DefaultRegion).
func (s *Server) Region() string {
	if s.cfg.Region == "" {
		return state.DefaultRegion
	}
	return s.cfg.Region
}

// RegionCheckpoint builds this region's ledger checkpoint from the FSM's
// applied state, at its applied index. It is the region host's hook: the
// checkpoint it publishes to the other regions after each change batch.
// Any server builds it, and replicas at one index build the same one.
func (s *Server) RegionCheckpoint() state.RegionCheckpoint {
	var cp state.RegionCheckpoint
	s.fsm.Read(func(st *state.Store) { cp = st.Checkpoint(s.Region()) })
	return cp
}

// GlobalLedger is the global ledger as this server has applied it: its own
// region's checkpoint plus the latest one stored for each other region.
func (s *Server) GlobalLedger() (state.GlobalView, error) {
	var g state.GlobalView
	var err error
	s.fsm.Read(func(st *state.Store) { g, err = GlobalLedgerOf(st, s.Region()) })
	return g, err
}

// GlobalLedgerOf is the global ledger of a store whose own region is
// region; call it inside a read of the FSM, with the other reads it must
// agree with.
func GlobalLedgerOf(st *state.Store, region string) (state.GlobalView, error) {
	return state.GlobalLedger(st.Checkpoint(region), st.RegionCheckpoints())
}

// StoreRegionCheckpoint proposes the checkpoint another region published,
// stamped with the leader's time; the region host calls it for each one it
// receives. A checkpoint of this server's own region, or an invalid one, is
// refused before anything is proposed (a *RequestError naming the field).
// The outcome is Applied, or Duplicate when the stored checkpoint of the
// region is at the same or a higher raft index.
func (s *Server) StoreRegionCheckpoint(ctx context.Context, cp state.RegionCheckpoint) (raftfsm.Outcome, error) {
	if cp.Region == s.Region() {
		return raftfsm.Outcome{}, invalid("region", "checkpoint of region %s is this server's own region", cp.Region)
	}
	if err := cp.Validate(); err != nil {
		return raftfsm.Outcome{}, invalid("checkpoint", "%v", err)
	}
	m := &command.RegionCheckpoint{Meta: command.Meta{Time: s.Now(), Actor: "region:" + cp.Region}, Checkpoint: cp}
	r, err := s.Apply(ctx, command.RegionCheckpointType, m)
	if err != nil {
		return raftfsm.Outcome{}, err
	}
	if len(r.Outcomes) != 1 {
		return raftfsm.Outcome{}, fmt.Errorf("server: region checkpoint of %s: %d outcomes", cp.Region, len(r.Outcomes))
	}
	return r.Outcomes[0], nil
}
