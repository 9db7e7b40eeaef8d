package raftfsm

import (
	"sort"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

func sortBySeq(js []*state.Job) {
	sort.Slice(js, func(a, b int) bool { return js[a].Seq < js[b].Seq })
}

func applyCheckpointConfigure(c *txn, body []byte) *Response {
	m := decode[command.CheckpointConfigure](c, body)
	c.meta(m.Meta)
	c.setPolicy(func(p *state.Policy) {
		if m.IntervalMs > 0 {
			p.CheckpointIntervalMs = m.IntervalMs
		}
		if m.Path != "" {
			p.CheckpointPath = m.Path
		}
	})
	c.emit(state.Event{Type: state.EvCheckpointConfigured, Reason: m.Meta.Reason, Detail: m.Path})
	c.owner()
	return &Response{}
}

func applyCheckpointSaved(c *txn, body []byte) *Response {
	m := decode[command.CheckpointSaved](c, body)
	c.meta(m.Meta)
	c.setPolicy(func(p *state.Policy) {
		p.LastCheckpointIndex, p.LastCheckpointTerm = m.Index, m.Term
		p.LastCheckpointPath, p.LastCheckpointSHA256 = m.Path, m.SHA256
		p.LastCheckpointAt = m.Meta.Time
	})
	c.emit(state.Event{Type: state.EvCheckpointSaved, Reason: m.Meta.Reason, Detail: m.Path + " sha256:" + m.SHA256})
	return &Response{}
}

func applyReportingConfigure(c *txn, body []byte) *Response {
	m := decode[command.ReportingConfigure](c, body)
	c.meta(m.Meta)
	c.setPolicy(func(p *state.Policy) {
		if m.Dir != "" {
			p.ReportingDir = m.Dir
		}
		if m.Label != "" {
			p.ReportingLabel = m.Label
		}
	})
	c.emit(state.Event{Type: state.EvReportingConfigured, Reason: m.Meta.Reason, Detail: m.Dir})
	c.owner()
	return &Response{}
}

// applyClockAdvance moves the mission clock forward. The clock is not an
// event: it ticks far more often than anything an auditor reads.
func applyClockAdvance(c *txn, body []byte) *Response {
	m := decode[command.ClockAdvance](c, body)
	if meta := c.s.Meta(); m.Time > meta.Clock {
		meta.Clock = m.Time
		c.s.SetMeta(meta)
	}
	return &Response{}
}

// ownerAction reports whether a schedule entry may run t (its registry row
// is schedulable).
func ownerAction(t command.MessageType) bool {
	s, ok := command.Lookup(t)
	return ok && s.Schedulable
}

func applyScheduleFire(c *txn, body []byte) *Response {
	m := decode[command.ScheduleFire](c, body)
	c.meta(m.Meta)
	p := c.s.Policy()
	if contains(p.Fired, m.EntryID) || contains(p.Skipped, m.EntryID) {
		return &Response{Outcomes: []Outcome{dup(m.EntryID, "already fired")}}
	}
	if m.Action != 0 && !m.Skipped && !ownerAction(m.Action) {
		return &Response{Err: errorf(ErrInvalid, "schedule entry %s: action %s is not an owner command", m.EntryID, m.Action)}
	}
	if m.Skipped {
		c.setPolicy(func(p *state.Policy) { p.Skipped = addSorted(p.Skipped, m.EntryID) })
		c.emit(state.Event{Type: state.EvScheduleSkipped, Detail: m.EntryID, Reason: m.Meta.Reason})
		return &Response{Outcomes: []Outcome{applied(m.EntryID)}}
	}
	c.setPolicy(func(p *state.Policy) { p.Fired = addSorted(p.Fired, m.EntryID) })
	// The fired event describes the owner command the entry runs (the
	// registry name and arguments of its Action, or the entry's action
	// when the leader carried it out, as with checkpoint.save), so the
	// command shows even when it changes nothing.
	if m.Action != 0 {
		c.describe(m.Action, m.Body)
	} else if s, ok := command.ByAction(entryAction(p, m.EntryID)); ok && s.Owner {
		c.command = s.Name
	}
	c.emit(state.Event{Type: state.EvScheduleFired, Detail: m.EntryID, Reason: m.Meta.Reason})
	r := &Response{Outcomes: []Outcome{applied(m.EntryID)}}
	if m.Action != 0 {
		inner := &txn{f: c.f, s: c.s, index: c.index, time: c.time, asActor: "schedule:" + m.EntryID}
		ir := c.f.handlers[m.Action](inner, m.Body)
		if ir != nil {
			r.Err = ir.Err
			r.Outcomes = append(r.Outcomes, ir.Outcomes...)
		}
	}
	return r
}

// entryAction is the action name of the schedule entry id ("" if none).
func entryAction(p state.Policy, id string) string {
	for _, e := range p.Schedule {
		if e.ID == id {
			return e.Action
		}
	}
	return ""
}

func applyACLBootstrap(c *txn, body []byte) *Response {
	m := decode[command.ACLBootstrap](c, body)
	c.time = m.Time
	meta := c.s.Meta()
	if meta.ACLBootstrapped {
		return &Response{Err: ErrACLBootstrapped}
	}
	if m.Token.AccessorID == "" || m.Token.SecretHash == "" {
		return &Response{Err: errorf(ErrInvalid, "token without accessor or secret hash")}
	}
	meta.ACLBootstrapped = true
	c.s.SetMeta(meta)
	c.s.PutToken(m.Token)
	c.emit(state.Event{Type: state.EvACLBootstrapped, Detail: m.Token.AccessorID})
	return &Response{}
}

func applyACLTokenCreate(c *txn, body []byte) *Response {
	m := decode[command.ACLTokenCreate](c, body)
	c.meta(m.Meta)
	t := m.Token
	if t.AccessorID == "" || t.SecretHash == "" {
		return &Response{Err: errorf(ErrInvalid, "token without accessor or secret hash")}
	}
	if _, ok := c.s.Token(t.AccessorID); ok {
		return &Response{Err: errorf(ErrTokenExists, "accessor %s", t.AccessorID)}
	}
	if _, ok := c.s.TokenByHash(t.SecretHash); ok {
		return &Response{Err: errorf(ErrTokenExists, "secret already in use")}
	}
	c.s.PutToken(t)
	c.emit(state.Event{Type: state.EvACLTokenCreated, Detail: t.AccessorID + " " + t.Type.String()})
	c.owner()
	return &Response{}
}

func applyClientJoin(c *txn, body []byte) *Response {
	m := decode[command.ClientJoin](c, body)
	c.meta(m.Meta)
	t := m.Token
	if t.AccessorID == "" || t.SecretHash == "" || t.Name == "" || t.Type != state.TokenClientIdentity || t.RevokedAt != 0 {
		return &Response{Err: errorf(ErrInvalid, "client identity without accessor, secret hash or name")}
	}
	if old, ok := c.s.ClientIdentity(t.Name); ok {
		if old.RevokedAt != 0 {
			return &Response{Err: errorf(ErrClientRevoked, "client %s", t.Name)}
		}
		return &Response{Err: errorf(ErrClientJoined, "client %s", t.Name)}
	}
	if _, ok := c.s.Token(t.AccessorID); ok {
		return &Response{Err: errorf(ErrTokenExists, "accessor %s", t.AccessorID)}
	}
	if _, ok := c.s.TokenByHash(t.SecretHash); ok {
		return &Response{Err: errorf(ErrTokenExists, "secret already in use")}
	}
	c.s.PutToken(t)
	c.emit(state.Event{Type: state.EvClientJoined, Detail: t.Name + " " + t.AccessorID})
	return &Response{}
}

func applyClientRevoke(c *txn, body []byte) *Response {
	m := decode[command.ClientRevoke](c, body)
	c.meta(m.Meta)
	t, ok := c.s.ClientIdentity(m.Client)
	if !ok {
		return &Response{Err: errorf(ErrUnknownClient, "client %s", m.Client)}
	}
	if t.RevokedAt != 0 {
		return &Response{Err: errorf(ErrClientRevoked, "client %s", m.Client)}
	}
	t.RevokedAt = c.time
	if t.RevokedAt == 0 {
		t.RevokedAt = 1 // a command without a time still revokes
	}
	c.s.PutToken(t)
	c.emit(state.Event{Type: state.EvClientRevoked, Detail: m.Client + " " + t.AccessorID})
	c.owner()
	return &Response{}
}
