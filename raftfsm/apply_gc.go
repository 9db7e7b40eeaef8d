package raftfsm

import (
	"fmt"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// paidOf is what the payments invariant counts for one job: the settled amount of a
// completed job. Garbage collection keeps the same amount in its aggregates.
func paidOf(j *state.Job) int64 {
	if j.State == state.JobCompleted {
		return j.SettledMu
	}
	return 0
}

// applyJobGC removes terminal jobs that finished at or before b.Before; the
// ledger tables keep counting them, through the collected aggregates.
func applyJobGC(c *txn, body []byte) *Response {
	b := decode[command.JobGC](c, body)
	c.meta(b.Meta)
	if b.Before > c.s.Clock() {
		return &Response{Err: fmt.Errorf("%w: collect before %d is after the mission clock %d", ErrInvalid, b.Before, c.s.Clock())}
	}
	out := make([]Outcome, 0, len(b.IDs))
	var first, last string
	n := 0
	for _, id := range b.IDs {
		j := c.s.Job(id)
		switch {
		case j == nil:
			if _, ok := c.s.CollectedByID(id); ok {
				out = append(out, dup(id, "already collected"))
			} else {
				out = append(out, rejected(id, "unknown job"))
			}
			continue
		case !j.State.Terminal():
			out = append(out, rejected(id, "job is %s", j.State))
			continue
		case j.FinishedAt > b.Before:
			out = append(out, rejected(id, "finished at %d, after %d", j.FinishedAt, b.Before))
			continue
		}
		c.s.Collect(j, paidOf(j), c.time, c.index)
		if first == "" {
			first = id
		}
		last = id
		n++
		out = append(out, applied(id))
	}
	forgot := 0
	if b.ForgetBefore != 0 {
		forgot = c.s.Forget(min(b.ForgetBefore, c.s.Clock()))
	}
	if n > 0 || forgot > 0 {
		c.s.CollectBatchDone()
		detail := fmt.Sprintf("%d jobs collected, %d tombs forgotten", n, forgot)
		if n > 0 {
			detail += fmt.Sprintf(", %s..%s", first, last)
		}
		c.emit(state.Event{Type: state.EvJobsCollected, Reason: "garbage collection", Detail: detail})
	}
	return &Response{Outcomes: out}
}
