package server

import (
	"context"
	"fmt"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// Hand-off endpoints: the three steps of a job's hand-off from a shard of
// this region to a shard of another (docs/architecture.md, Hand-offs).
// The region host proposes them, each on the leader of the region whose
// log records it; they are not owner commands.

// BeginHandOffs takes queued jobs of this region out of placement into open
// hand-offs to shard ToShard of region ToRegion (handoff.begin). The
// server stamps FromRegion with its own region. Outcomes are per job, in
// input order: Applied with the hand-off id as Reason, or Rejected alone
// (not queued, already in a hand-off, unknown).
func (s *Server) BeginHandOffs(ctx context.Context, a Actor, req command.HandOffBegin) ([]raftfsm.Outcome, error) {
	if req.FromRegion == "" {
		req.FromRegion = s.Region()
	}
	return s.callOutcomes(ctx, a, epHandOffBegin, req.Meta.Reason, &req)
}

var epHandOffBegin = row("handoff.begin", command.HandOffBeginType, CapManage,
	func(s *Server, st *state.Store, c *command.HandOffBegin) error {
		switch {
		case c.FromRegion != s.Region():
			return invalid("from_region", "from_region: %q is not this server's region %s", c.FromRegion, s.Region())
		case c.ToRegion == "":
			return invalid("to_region", "to_region is required")
		case c.ToRegion == s.Region():
			return invalid("to_region", "to_region: %s is this server's own region (reroute within it)", c.ToRegion)
		case c.ToShard == "":
			return invalid("to_shard", "to_shard is required")
		case st.Shard(c.ToShard) != nil:
			return invalid("to_shard", "to_shard: %s is a shard of this region (reroute within it)", c.ToShard)
		case len(c.IDs) == 0:
			return invalid("ids", "ids: no jobs")
		}
		for i, id := range c.IDs {
			if id == "" {
				return invalid(fmt.Sprintf("ids[%d]", i), "ids[%d]: empty job id", i)
			}
		}
		return nil
	})

// AcceptHandOff takes a hand-off offered by its source region into this
// one (handoff.accept): the job is created in the target shard's queue, or
// refused with a reason. The outcome's ID is the hand-off id: Applied
// (accepted), Rejected (refused, Reason says why) or Duplicate (already
// recorded; Reason says the stored outcome, "accepted as ..." or
// "refused: ...").
func (s *Server) AcceptHandOff(ctx context.Context, a Actor, h state.HandOff) (raftfsm.Outcome, error) {
	outs, err := s.callOutcomes(ctx, a, epHandOffAccept, "", &command.HandOffAccept{HandOff: h})
	if err != nil {
		return raftfsm.Outcome{}, err
	}
	return oneOutcome("handoff.accept", h.ID, outs)
}

var epHandOffAccept = row("handoff.accept", command.HandOffAcceptType, CapManage,
	func(s *Server, _ *state.Store, c *command.HandOffAccept) error {
		h := c.HandOff
		switch {
		case h.ID == "":
			return invalid("id", "id is required")
		case h.FromRegion == "" || h.FromRegion == s.Region():
			return invalid("from_region", "from_region: %q is not another region", h.FromRegion)
		case h.ToRegion != s.Region():
			return invalid("to_region", "to_region: %q is not this server's region %s", h.ToRegion, s.Region())
		case h.Job.ID == "":
			return invalid("job.id", "job.id is required")
		case h.Job.ValueMu < 0:
			return invalid("job.value_mu", "job.value_mu: negative (%d)", h.Job.ValueMu)
		}
		return nil
	})

// CloseHandOff closes an open hand-off of this region with the target's
// outcome (handoff.close): accepted, the job leaves this region's books;
// else it is queued here again with the target's reason. The outcome's ID
// is the hand-off id: Applied, Duplicate (closed so already) or Rejected
// (closed the other way).
func (s *Server) CloseHandOff(ctx context.Context, a Actor, req command.HandOffClose) (raftfsm.Outcome, error) {
	outs, err := s.callOutcomes(ctx, a, epHandOffClose, req.Meta.Reason, &req)
	if err != nil {
		return raftfsm.Outcome{}, err
	}
	return oneOutcome("handoff.close", req.ID, outs)
}

var epHandOffClose = row("handoff.close", command.HandOffCloseType, CapManage,
	func(_ *Server, st *state.Store, c *command.HandOffClose) error {
		if c.ID == "" {
			return invalid("id", "id is required")
		}
		if _, ok := st.HandOff(c.ID); !ok {
			return refusal(NotFound, "id", "hand-off %q not found", c.ID)
		}
		return nil
	})

// callOutcomes is call for an endpoint whose answer is its outcomes.
func (s *Server) callOutcomes(ctx context.Context, a Actor, ep *endpoint, reason string, c command.Command) ([]raftfsm.Outcome, error) {
	if m := command.MetaOf(c); m != nil {
		*m = command.Meta{Time: s.Now(), Actor: a.Name, Reason: reason}
	}
	var outs []raftfsm.Outcome
	err := s.run(a, ep, func(st *state.Store) error { return ep.check(s, st, c) }, func() error {
		resp, err := s.Apply(ctx, ep.typ, c)
		if err == nil {
			outs = resp.Outcomes
		}
		return err
	})
	return outs, err
}

func oneOutcome(name, id string, outs []raftfsm.Outcome) (raftfsm.Outcome, error) {
	if len(outs) != 1 {
		return raftfsm.Outcome{}, fmt.Errorf("server: %s %s: %d outcomes", name, id, len(outs))
	}
	return outs[0], nil
}
