package raftfsm

import (
	"fmt"
	"strconv"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// HandOffID is the id of a region's n-th hand-off (1-based): the region's
// name, a dot and n. No two hand-offs of a region take the same id, and no
// two regions share one.
func HandOffID(region string, n int) string { return region + "." + strconv.Itoa(n) }

// applyHandOffBegin takes queued jobs out of placement into open hand-offs
// to another region's shard. Each job is an outcome: Applied with the
// hand-off id as its Reason, or Rejected alone.
func applyHandOffBegin(c *txn, body []byte) *Response {
	m := decode[command.HandOffBegin](c, body)
	c.meta(m.Meta)
	switch {
	case m.FromRegion == "":
		return &Response{Err: errorf(ErrInvalid, "hand-off: from_region: empty")}
	case m.ToRegion == "" || m.ToRegion == m.FromRegion:
		return &Response{Err: errorf(ErrInvalid, "hand-off: to_region: %q is not another region", m.ToRegion)}
	case m.ToShard == "":
		return &Response{Err: errorf(ErrInvalid, "hand-off: to_shard: empty")}
	case c.s.Shard(m.ToShard) != nil:
		return &Response{Err: errorf(ErrInvalid, "hand-off: to_shard: %s is a shard of this region (reroute it)", m.ToShard)}
	}
	out := make([]Outcome, 0, len(m.IDs))
	for _, id := range m.IDs {
		j := c.s.Job(id)
		switch {
		case j == nil:
			out = append(out, rejected(id, "unknown job"))
			continue
		case c.s.HandOffOf(j.Seq) != "":
			out = append(out, rejected(id, "job is in hand-off %s", c.s.HandOffOf(j.Seq)))
			continue
		case j.State != state.JobQueued:
			out = append(out, rejected(id, "job is %s", j.State))
			continue
		}
		h := state.HandOff{
			ID: HandOffID(m.FromRegion, c.s.HandOffCount()+1), FromRegion: m.FromRegion, FromShard: j.Shard,
			ToRegion: m.ToRegion, ToShard: m.ToShard, Seq: j.Seq, State: state.HandOffOpen, BegunAt: c.time,
			Job: state.HandOffJob{
				ID: j.ID, Key: j.Key, Home: j.Home, Capabilities: j.Capabilities, Priority: j.Priority, ValueMu: j.ValueMu,
				MaxPriceMu: j.MaxPriceMu, Kind: j.Kind, Payload: j.Payload, Submitter: j.Submitter, Units: j.Units,
				MaxAttempts: j.MaxAttempts, Attempt: j.Attempt, Hops: j.Hops, SubmittedAt: j.SubmittedAt,
			},
		}
		c.s.BeginHandOff(h)
		c.emit(state.Event{Type: state.EvJobHandedOff, Job: j.ID, Attempt: j.Attempt, Shard: j.Shard, To: m.ToShard, ValueMu: j.ValueMu,
			Reason: m.Meta.Reason, Detail: fmt.Sprintf("hand-off %s to region %s", h.ID, m.ToRegion)})
		out = append(out, Outcome{ID: j.ID, Status: Applied, Reason: h.ID})
	}
	return &Response{Outcomes: out}
}

// HandedInDetail is the Detail of a job.handed_in event: the hand-off, its
// source region and the hops the job brought (the one across included),
// which a replay of the region's events needs for its flows.
func HandedInDetail(id, from string, hops uint32) string {
	return fmt.Sprintf("hand-off %s from region %s with %d hops", id, from, hops)
}

// handInReason is the outcome a target answers for a recorded hand-in.
func handInReason(h state.HandIn) string {
	if h.Accepted {
		return "accepted as job " + h.Job + " in shard " + h.Shard
	}
	return "refused: " + h.Reason
}

// applyHandOffAccept takes a hand-off into this region: the job is created
// queued in the target shard, or refused with a reason; either is recorded
// under the hand-off id, and a hand-off already recorded is a Duplicate
// outcome that changes nothing (its Reason tells the stored outcome). The
// outcome's ID is the hand-off id.
func applyHandOffAccept(c *txn, body []byte) *Response {
	m := decode[command.HandOffAccept](c, body)
	c.meta(m.Meta)
	h := m.HandOff
	switch {
	case h.ID == "":
		return &Response{Err: errorf(ErrInvalid, "hand-off: id: empty")}
	case h.FromRegion == "":
		return &Response{Err: errorf(ErrInvalid, "hand-off %s: from_region: empty", h.ID)}
	case h.Job.ID == "":
		return &Response{Err: errorf(ErrInvalid, "hand-off %s: job.id: empty", h.ID)}
	case h.Job.ValueMu < 0:
		return &Response{Err: errorf(ErrInvalid, "hand-off %s: job.value_mu: negative", h.ID)}
	}
	if have, ok := c.s.HandIn(h.ID); ok {
		return &Response{Outcomes: []Outcome{dup(h.ID, handInReason(have))}}
	}
	in := state.HandIn{ID: h.ID, FromRegion: h.FromRegion, FromShard: h.FromShard, Shard: h.ToShard, Job: h.Job.ID,
		ValueMu: h.Job.ValueMu, Hops: h.Job.Hops + 1, At: c.time}
	sh := c.s.Shard(h.ToShard)
	switch {
	case sh == nil:
		in.Reason = "unknown shard " + h.ToShard
	case sh.MaxQueue > 0 && int64(c.s.QueueLen(sh.Name)) >= sh.MaxQueue:
		in.Reason = fmt.Sprintf("queue of shard %s full (%d of %d)", sh.Name, c.s.QueueLen(sh.Name), sh.MaxQueue)
	case c.s.Job(h.Job.ID) != nil:
		in.Reason = "job id " + h.Job.ID + " taken"
	default:
		if t, ok := c.s.CollectedByID(h.Job.ID); ok {
			in.Reason = fmt.Sprintf("job id %s taken (collected at %d)", h.Job.ID, t.CollectedAt)
		} else if err := c.s.CheckValue(h.Job.ValueMu); err != nil {
			in.Reason = err.Error()
		}
	}
	if in.Reason != "" {
		c.s.PutHandIn(in)
		c.emit(state.Event{Type: state.EvJobHandOffRefused, Job: h.Job.ID, Shard: h.ToShard, From: h.FromShard, ValueMu: h.Job.ValueMu,
			Reason: in.Reason, Detail: fmt.Sprintf("hand-off %s from region %s", h.ID, h.FromRegion)})
		return &Response{Outcomes: []Outcome{rejected(h.ID, "%s", in.Reason)}}
	}
	in.Accepted = true
	j := h.Job
	c.s.PutJob(&state.Job{
		ID: j.ID, Home: j.Home, Shard: h.ToShard, Capabilities: j.Capabilities, Priority: j.Priority, ValueMu: j.ValueMu,
		MaxPriceMu: j.MaxPriceMu, Kind: j.Kind, Payload: j.Payload, State: state.JobQueued, Attempt: j.Attempt, Hops: in.Hops,
		SubmittedAt: j.SubmittedAt, Submitter: j.Submitter, Units: j.Units, MaxAttempts: j.MaxAttempts,
	})
	c.s.PutHandIn(in)
	c.emit(state.Event{Type: state.EvJobHandedIn, Job: j.ID, Attempt: j.Attempt, Shard: h.ToShard, From: h.FromShard, ValueMu: j.ValueMu,
		Detail: HandedInDetail(h.ID, h.FromRegion, in.Hops)})
	return &Response{Outcomes: []Outcome{applied(h.ID)}}
}

// applyHandOffClose closes an open hand-off with the target's outcome.
// Accepted: the job's record leaves this region (state.AcceptHandOff),
// counted as a flow from its shard to the target shard. Returned: the job
// is queued in its shard again. A closed hand-off closed again the same way
// is a Duplicate; the other way, Rejected.
func applyHandOffClose(c *txn, body []byte) *Response {
	m := decode[command.HandOffClose](c, body)
	c.meta(m.Meta)
	h, ok := c.s.HandOff(m.ID)
	if !ok {
		return &Response{Err: errorf(ErrInvalid, "hand-off: id: unknown hand-off %q", m.ID)}
	}
	want := state.HandOffReturned
	if m.Accepted {
		want = state.HandOffAccepted
	}
	switch {
	case h.State == want:
		return &Response{Outcomes: []Outcome{dup(h.ID, "hand-off already "+h.State.String())}}
	case h.State != state.HandOffOpen:
		return &Response{Outcomes: []Outcome{rejected(h.ID, "hand-off already %s", h.State)}}
	}
	j := c.s.JobBySeq(h.Seq)
	if !m.Accepted {
		c.s.ReturnHandOff(h.ID, m.Reason, c.time)
		c.emit(state.Event{Type: state.EvJobHandOffReturned, Job: j.ID, Attempt: j.Attempt, Shard: j.Shard, ValueMu: j.ValueMu,
			Reason: m.Reason, Detail: fmt.Sprintf("hand-off %s to region %s", h.ID, h.ToRegion)})
		return &Response{Outcomes: []Outcome{applied(h.ID)}}
	}
	c.s.AcceptHandOff(h.ID, c.time)
	// The flow's value stays within int64 (CheckFlow) or is left out: the
	// target holds the job either way, and the flow still counts its hop.
	v, detail := j.ValueMu, ""
	if err := c.s.CheckFlow(v); err != nil {
		v, detail = 0, fmt.Sprintf("; flow value left out: %v", err)
	}
	c.s.AddFlow(h.FromShard, h.ToShard, 1, v)
	c.emit(state.Event{Type: state.EvJobHandOffAccepted, Job: j.ID, Attempt: j.Attempt, Shard: h.FromShard, From: h.FromShard, To: h.ToShard,
		ValueMu: j.ValueMu, Detail: fmt.Sprintf("hand-off %s accepted by region %s%s", h.ID, h.ToRegion, detail)})
	return &Response{Outcomes: []Outcome{applied(h.ID)}}
}
