package raftfsm

import (
	"github.com/planetary/planetary/raftfsm/command"
)

// applyRegionCheckpoint stores another region's checkpoint as its latest.
// A checkpoint at or below the stored one's raft index is a duplicate (a
// redelivery, or one overtaken by a newer one): nothing changes. It emits
// no event and touches no job, so the local ledger and chain stay the
// local region's own, and a region that publishes on every change does not
// publish again because it received another's checkpoint.
func applyRegionCheckpoint(c *txn, body []byte) *Response {
	m := decode[command.RegionCheckpoint](c, body)
	c.meta(m.Meta)
	cp := m.Checkpoint
	if err := cp.Validate(); err != nil {
		return &Response{Err: errorf(ErrInvalid, "region checkpoint: %v", err)}
	}
	if have, ok := c.s.RegionCheckpoint(cp.Region); ok && cp.RaftIndex <= have.RaftIndex {
		return &Response{Outcomes: []Outcome{dup(cp.Region, "checkpoint not newer than the stored one")}}
	}
	// The stamp of this entry is when this region stored the checkpoint: a
	// read measures the line's age from it (no clock in Apply).
	cp.StoredAtNs = m.Meta.Time
	c.s.PutRegionCheckpoint(cp)
	return &Response{Outcomes: []Outcome{{ID: cp.Region, Status: Applied}}}
}
