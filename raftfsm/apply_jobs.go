package raftfsm

import (
	"bytes"
	"fmt"
	"slices"
	"sort"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

func applySubmitBatch(c *txn, body []byte) *Response {
	b := decode[command.SubmitBatch](c, body)
	c.time = b.Time
	out := make([]Outcome, 0, len(b.Jobs))
	for i := range b.Jobs {
		js := &b.Jobs[i]
		if js.Key != "" {
			if ex := c.s.JobByKey(js.Key); ex != nil {
				out = append(out, dup(ex.ID, "idempotency key "+js.Key))
				continue
			}
			if t, ok := c.s.CollectedByKey(js.Key); ok {
				out = append(out, dup(t.ID, fmt.Sprintf("idempotency key %s (job collected at %d)", js.Key, t.CollectedAt)))
				continue
			}
			if h, ok := c.s.HandedOutJob(js.Key, true); ok {
				out = append(out, dup(h.Job.ID, fmt.Sprintf("idempotency key %s (job handed to region %s by hand-off %s)", js.Key, h.ToRegion, h.ID)))
				continue
			}
		}
		switch {
		case js.ID == "":
			out = append(out, rejected("", "empty job id"))
			continue
		case c.s.Shard(js.Shard) == nil:
			out = append(out, rejected(js.ID, "unknown shard %s", js.Shard))
			continue
		case c.s.Job(js.ID) != nil:
			// The same job submitted again is a duplicate, as a repeated
			// key is; an id reused for a different job is refused.
			if sameSubmit(c.s.Job(js.ID), js) {
				out = append(out, dup(js.ID, "job id "+js.ID))
			} else {
				out = append(out, rejected(js.ID, "duplicate job id"))
			}
			continue
		}
		if t, ok := c.s.CollectedByID(js.ID); ok {
			out = append(out, rejected(js.ID, "duplicate job id (collected at %d)", t.CollectedAt))
			continue
		}
		if h, ok := c.s.HandedOutJob(js.ID, false); ok {
			out = append(out, rejected(js.ID, "duplicate job id (handed to region %s by hand-off %s)", h.ToRegion, h.ID))
			continue
		}
		if err := c.s.CheckValue(js.ValueMu); err != nil {
			// The ledger's sums stay exact: a job whose value would
			// overflow one is refused alone (docs/limits.md).
			out = append(out, rejected(js.ID, "%v", err))
			continue
		}
		j := &state.Job{
			ID: js.ID, Key: js.Key, Home: js.Shard, Shard: js.Shard, Capabilities: js.Capabilities,
			Priority: js.Priority, ValueMu: js.ValueMu, MaxPriceMu: js.MaxPriceMu, Kind: js.Kind,
			Payload: js.Payload, State: state.JobQueued, SubmittedAt: b.Time, Submitter: js.Submitter,
			Units:       js.Units,
			MaxAttempts: js.MaxAttempts,
		}
		c.s.PutJob(j)
		c.emit(state.Event{Type: state.EvJobSubmitted, Job: j.ID, Shard: j.Shard, ValueMu: j.ValueMu, Actor: j.Submitter})
		out = append(out, applied(j.ID))
	}
	return &Response{Outcomes: out}
}

func applyAssignBatch(c *txn, body []byte) *Response {
	b := decode[command.AssignBatch](c, body)
	c.time = b.Time
	out := make([]Outcome, 0, len(b.Assignments))
	for _, a := range b.Assignments {
		out = append(out, c.assign(a, b.Time))
	}
	return &Response{Outcomes: out}
}

func (c *txn) assign(a command.Assignment, at int64) Outcome {
	j := c.s.Job(a.JobID)
	if j == nil {
		return rejected(a.JobID, "unknown job")
	}
	if h := c.s.HandOffOf(j.Seq); h != "" {
		return rejected(a.JobID, "job is in hand-off %s", h)
	}
	if j.State != state.JobQueued {
		if (j.State == state.JobAssigned || j.State == state.JobRunning) && j.Attempt == a.Attempt && j.Node == a.Node {
			return dup(a.JobID, "already assigned")
		}
		return rejected(a.JobID, "job is %s", j.State)
	}
	if a.Attempt != j.Attempt+1 {
		return rejected(a.JobID, "stale attempt %d (job at attempt %d)", a.Attempt, j.Attempt)
	}
	n := c.s.Node(a.Node)
	switch {
	case n == nil:
		return rejected(a.JobID, "unknown node %s", a.Node)
	case n.Status == state.NodeRetired:
		return rejected(a.JobID, "node %s is retired", n.ID)
	case n.Status != state.NodeUp:
		return rejected(a.JobID, "node %s is %s", n.ID, n.Status)
	case n.Shard != j.Shard && a.From != j.Shard:
		return rejected(a.JobID, "node %s is in shard %s, job in %s", n.ID, n.Shard, j.Shard)
	case n.Hold() < n.Capacity && int64(c.s.ActiveCount(n.ID)) >= n.Hold():
		return rejected(a.JobID, "node %s takes no new work (%s)", n.ID, heldBack(n))
	case int64(c.s.ActiveCount(n.ID)) >= n.Capacity:
		return rejected(a.JobID, "node %s at capacity %d", n.ID, n.Capacity)
	case n.Quota > 0 && c.s.CompletedOn(n.ID)+int64(c.s.ActiveCount(n.ID)) >= n.Quota:
		return rejected(a.JobID, "node %s quota %d exhausted", n.ID, n.Quota)
	case c.s.Policy().SystemPaused:
		return rejected(a.JobID, "system paused")
	}
	sh := c.s.Shard(j.Shard)
	if sh == nil || sh.Paused {
		return rejected(a.JobID, "shard %s paused or gone", j.Shard)
	}
	spill := n.Shard != j.Shard
	if spill {
		if !sh.SpillsTo(n.Shard) {
			return rejected(a.JobID, "shard %s does not spill to %s", j.Shard, n.Shard)
		}
		if t := c.s.Shard(n.Shard); t == nil || t.Paused {
			return rejected(a.JobID, "shard %s paused or gone", n.Shard)
		}
		if err := c.s.CheckFlow(j.ValueMu); err != nil {
			return rejected(a.JobID, "spill to %s: %v", n.Shard, err)
		}
	}
	nj := j.Clone()
	nj.State = state.JobAssigned
	nj.Node = n.ID
	nj.Attempt = a.Attempt
	nj.QuoteMu = a.QuoteMu
	nj.Meters = a.Meters
	nj.AssignedAt = at
	nj.ParkedReason = ""
	if spill {
		// A spill is a placement: the job leaves its queue for a node of a
		// target shard, and comes back to this queue if the attempt ends
		// without a result.
		nj.Shard, nj.Origin = n.Shard, j.Shard
		nj.Hops++
	}
	c.s.PutJob(nj)
	if spill {
		c.s.AddFlow(j.Shard, n.Shard, 1, j.ValueMu)
		c.emit(state.Event{Type: state.EvJobSpilled, Job: j.ID, Attempt: j.Attempt, From: j.Shard, To: n.Shard, Shard: n.Shard,
			ValueMu: j.ValueMu, Reason: a.Rule, Detail: SpillDetail(a)})
	}
	c.emit(state.Event{Type: state.EvJobAssigned, Job: j.ID, Attempt: a.Attempt, Shard: nj.Shard, Node: n.ID, ValueMu: j.ValueMu, AmountMu: a.QuoteMu})
	return applied(j.ID)
}

func applyStartBatch(c *txn, body []byte) *Response {
	b := decode[command.StartBatch](c, body)
	c.time = b.Time
	out := make([]Outcome, 0, len(b.Jobs))
	for _, ja := range b.Jobs {
		j := c.s.Job(ja.JobID)
		switch {
		case j == nil:
			out = append(out, rejected(ja.JobID, "unknown job"))
		case j.Attempt != ja.Attempt:
			out = append(out, rejected(ja.JobID, "stale attempt %d (job at attempt %d)", ja.Attempt, j.Attempt))
		case j.State == state.JobAssigned:
			nj := j.Clone()
			nj.State = state.JobRunning
			c.s.PutJob(nj)
			c.emit(state.Event{Type: state.EvJobStarted, Job: j.ID, Attempt: j.Attempt, Shard: j.Shard, Node: j.Node, ValueMu: j.ValueMu})
			out = append(out, applied(j.ID))
		case j.State == state.JobRunning || j.State.Terminal():
			out = append(out, dup(j.ID, "job is "+j.State.String()))
		default:
			out = append(out, rejected(j.ID, "job is %s", j.State))
		}
	}
	return &Response{Outcomes: out}
}

func applyCompleteBatch(c *txn, body []byte) *Response {
	b := decode[command.CompleteBatch](c, body)
	c.time = b.Time
	out := make([]Outcome, 0, len(b.Results))
	var svc serviceSamples
	defer svc.flush(c)
	for i := range b.Results {
		r := &b.Results[i]
		j := c.s.Job(r.JobID)
		switch {
		case j == nil:
			out = append(out, rejected(r.JobID, "unknown job"))
			continue
		case j.Attempt != r.Attempt:
			out = append(out, rejected(r.JobID, "stale attempt %d (job at attempt %d)", r.Attempt, j.Attempt))
			continue
		case j.State.Terminal():
			out = append(out, dup(j.ID, "job is "+j.State.String()))
			continue
		case j.State != state.JobAssigned && j.State != state.JobRunning:
			out = append(out, rejected(j.ID, "job is %s", j.State))
			continue
		}
		svc.add(c, j, b.Time)
		if j.State == state.JobAssigned {
			// A result implies the start: clients leave out the start of an
			// attempt whose result they send in the same breath, so the
			// event stream still shows it, in this entry.
			c.emit(state.Event{Type: state.EvJobStarted, Job: j.ID, Attempt: j.Attempt, Shard: j.Shard, Node: j.Node, ValueMu: j.ValueMu})
		}
		nj := j.Clone()
		nj.ExitCode = r.ExitCode
		nj.Output = bound(r.Output)
		nj.Error = bound(r.Error)
		switch {
		case r.OK:
			nj.State = state.JobCompleted
			nj.FinishedAt = b.Time
			var basis string
			nj.Usage = r.Usage
			nj.SettledMu, basis = state.Settle(j, r.Usage)
			if err := c.s.CheckPayment(nj.SettledMu); err != nil {
				// Paying it would overflow the payments: the job fails
				// with the reason, unpaid (docs/limits.md).
				c.failUnpayable(j, nj, err)
				break
			}
			c.s.PutJob(nj)
			c.s.AddPayment(j.Node, nj.SettledMu)
			c.emit(state.Event{Type: state.EvJobCompleted, Job: j.ID, Attempt: j.Attempt, Shard: j.Shard, Node: j.Node, ValueMu: j.ValueMu,
				AmountMu: nj.SettledMu, Detail: state.SettleDetail(nj, basis)})
		case r.Retryable && j.Attempt < maxAttempts(j, b.MaxAttempts):
			to := c.queueShard(j)
			q := queueJob(nj, to)
			c.s.PutJob(q)
			c.emit(state.Event{Type: state.EvJobRequeued, Job: j.ID, Attempt: j.Attempt, Shard: to, From: movedFrom(j, to), Node: j.Node, ValueMu: j.ValueMu, Reason: "retryable failure", Detail: bound(r.Error)})
		default:
			nj.State = state.JobFailed
			nj.FinishedAt = b.Time
			c.s.PutJob(nj)
			c.emit(state.Event{Type: state.EvJobFailed, Job: j.ID, Attempt: j.Attempt, Shard: j.Shard, Node: j.Node, ValueMu: j.ValueMu, Detail: bound(r.Error)})
		}
		out = append(out, applied(j.ID))
	}
	return &Response{Outcomes: out}
}

func applyRequeueBatch(c *txn, body []byte) *Response {
	b := decode[command.RequeueBatch](c, body)
	c.time = b.Time
	out := make([]Outcome, 0, len(b.Jobs))
	for _, r := range b.Jobs {
		j := c.s.Job(r.JobID)
		switch {
		case j == nil:
			out = append(out, rejected(r.JobID, "unknown job"))
		case j.Attempt != r.Attempt:
			out = append(out, rejected(r.JobID, "stale attempt %d (job at attempt %d)", r.Attempt, j.Attempt))
		case j.State == state.JobAssigned || j.State == state.JobRunning:
			c.requeueLost(j, r.Reason)
			out = append(out, applied(j.ID))
		case j.State == state.JobQueued:
			out = append(out, dup(j.ID, "job is queued"))
		default:
			out = append(out, rejected(j.ID, "job is %s", j.State))
		}
	}
	return &Response{Outcomes: out}
}

func applySpillBatch(c *txn, body []byte) *Response {
	b := decode[command.SpillBatch](c, body)
	c.time = b.Time
	out := make([]Outcome, 0, len(b.Spills))
	for _, sp := range b.Spills {
		j := c.s.Job(sp.JobID)
		switch {
		case j == nil:
			out = append(out, rejected(sp.JobID, "unknown job"))
		case c.s.HandOffOf(j.Seq) != "":
			out = append(out, rejected(j.ID, "job is in hand-off %s", c.s.HandOffOf(j.Seq)))
		case j.State != state.JobQueued:
			out = append(out, rejected(j.ID, "job is %s", j.State))
		case j.Shard != sp.From:
			out = append(out, rejected(j.ID, "job is in shard %s, not %s", j.Shard, sp.From))
		case sp.To == sp.From || c.s.Shard(sp.To) == nil:
			out = append(out, rejected(j.ID, "bad spill target %s", sp.To))
		case c.s.CheckFlow(j.ValueMu) != nil:
			out = append(out, rejected(j.ID, "spill to %s: %v", sp.To, c.s.CheckFlow(j.ValueMu)))
		default:
			c.move(j, sp.To, state.EvJobSpilled, "spillover")
			out = append(out, applied(j.ID))
		}
	}
	return &Response{Outcomes: out}
}

func applyParkBatch(c *txn, body []byte) *Response {
	b := decode[command.ParkBatch](c, body)
	c.time = b.Time
	out := make([]Outcome, 0, len(b.Parks))
	stale := b.Topology != 0 && b.Topology != c.s.Meta().Topology
	for _, p := range b.Parks {
		j := c.s.Job(p.JobID)
		switch {
		case j == nil:
			out = append(out, rejected(p.JobID, "unknown job"))
		case stale:
			out = append(out, rejected(p.JobID, "stale: the topology changed after the decision"))
		case j.State == state.JobParked:
			out = append(out, dup(j.ID, "job is parked"))
		case c.s.HandOffOf(j.Seq) != "":
			out = append(out, rejected(j.ID, "job is in hand-off %s", c.s.HandOffOf(j.Seq)))
		case j.State != state.JobQueued:
			out = append(out, rejected(j.ID, "job is %s", j.State))
		default:
			nj := j.Clone()
			nj.State = state.JobParked
			nj.ParkedReason = p.Reason
			c.s.PutJob(nj)
			c.emit(state.Event{Type: state.EvJobParked, Job: j.ID, Attempt: j.Attempt, Shard: j.Shard, ValueMu: j.ValueMu, Reason: p.Reason})
			out = append(out, applied(j.ID))
		}
	}
	return &Response{Outcomes: out}
}

// locate picks jobs by ids or by locator, deterministically.
func (c *txn) locate(ids []string, loc *command.Locator) ([]*state.Job, []Outcome) {
	var jobs []*state.Job
	var missing []Outcome
	for _, id := range ids {
		if j := c.s.Job(id); j != nil && c.s.HandOffOf(j.Seq) != "" {
			missing = append(missing, rejected(id, "job is in hand-off %s", c.s.HandOffOf(j.Seq)))
		} else if j != nil {
			jobs = append(jobs, j)
		} else {
			missing = append(missing, rejected(id, "unknown job"))
		}
	}
	if loc == nil {
		return jobs, missing
	}
	// Candidates from the tail: in-flight jobs of the shard (newest seq
	// first), then the queue from its tail.
	var cands []*state.Job
	if loc.InFlight {
		var inflight []*state.Job
		for _, n := range c.s.Nodes() {
			c.s.Active(n.ID, func(j *state.Job) bool {
				if j.Shard == loc.Shard {
					inflight = append(inflight, j)
				}
				return true
			})
		}
		sort.Slice(inflight, func(a, b int) bool { return inflight[a].Seq > inflight[b].Seq })
		cands = inflight
	}
	skip, take := loc.Offset, loc.Tail
	pick := func(j *state.Job) bool {
		if skip > 0 {
			skip--
			return true
		}
		if take > 0 && int64(len(jobs)) >= take+int64(len(ids)) {
			return false
		}
		jobs = append(jobs, j)
		return true
	}
	for _, j := range cands {
		if !pick(j) {
			return jobs, missing
		}
	}
	c.s.QueueReverse(loc.Shard, pick)
	return jobs, missing
}

func applyJobCancel(c *txn, body []byte) *Response {
	m := decode[command.JobCancel](c, body)
	c.meta(m.Meta)
	jobs, out := c.locate(m.IDs, m.Locator)
	for _, j := range jobs {
		j = c.s.JobBySeq(j.Seq) // may have changed earlier in this command
		if j.State.Terminal() {
			out = append(out, rejected(j.ID, "job is %s", j.State))
			continue
		}
		c.cancel(j, m.Meta.Reason)
		out = append(out, applied(j.ID))
	}
	c.owner()
	return &Response{Outcomes: out}
}

func applyJobReroute(c *txn, body []byte) *Response {
	m := decode[command.JobReroute](c, body)
	c.meta(m.Meta)
	if c.s.Shard(m.Target) == nil {
		return &Response{Err: errorf(ErrUnknownShard, "%s", m.Target)}
	}
	jobs, out := c.locate(m.IDs, m.Locator)
	for _, j := range jobs {
		j = c.s.JobBySeq(j.Seq)
		switch {
		case j.State.Terminal():
			out = append(out, rejected(j.ID, "job is %s", j.State))
		case j.Shard == m.Target:
			out = append(out, rejected(j.ID, "job already in shard %s", m.Target))
		case c.s.CheckFlow(j.ValueMu) != nil:
			out = append(out, rejected(j.ID, "reroute to %s: %v", m.Target, c.s.CheckFlow(j.ValueMu)))
		default:
			c.move(j, m.Target, state.EvJobRerouted, m.Meta.Reason)
			out = append(out, applied(j.ID))
		}
	}
	c.owner()
	return &Response{Outcomes: out}
}

// sameSubmit reports whether js asks for the job j was submitted as: the
// same key, home shard, capabilities, priority, value, max price, kind,
// payload and units. The server's stamps (submitter, max_attempts) do not
// count, so a file submitted again under another token or another default
// is still the same job.
func sameSubmit(j *state.Job, js *command.JobSubmit) bool {
	return j.Key == js.Key && j.Home == js.Shard && slices.Equal(j.Capabilities, js.Capabilities) &&
		j.Priority == js.Priority && j.ValueMu == js.ValueMu && j.MaxPriceMu == js.MaxPriceMu &&
		j.Kind == js.Kind && bytes.Equal(j.Payload, js.Payload) && slices.Equal(j.Units, js.Units)
}

// heldBack says which condition holds a node back from new work.
func heldBack(n *state.Node) string {
	for _, cond := range n.Conditions() {
		if cond.Type != "ready" && cond.Status == "true" {
			return cond.Type
		}
	}
	return "held back"
}
