package client

import (
	"context"
	"time"

	"github.com/planetary/planetary/raftfsm/state"
)

// cancelTypes asks the server for the events cancelEvent accepts.
const cancelTypes = state.EvJobCancelled + "," + state.EvJobRequeued + "," + state.EvJobRerouted + "," + state.EvJobSpilled

// cancelEvent reports whether, after an event of this type, a running
// attempt of the job is no longer current.
func cancelEvent(typ string) bool {
	switch typ {
	case state.EvJobCancelled, state.EvJobRequeued, state.EvJobRerouted, state.EvJobSpilled:
		return true
	}
	return false
}

// cancelLoop follows the event stream and cancels attempts running here
// whose job was cancelled, requeued or moved.
func (c *Client) cancelLoop(ctx context.Context) {
	const wait = 10 * time.Second
	var index uint64
	started := false
	for ctx.Err() == nil {
		s := c.server()
		if !started {
			evs, err := s.Events(ctx, 1<<62, 0, "", 1)
			if err != nil {
				if ctx.Err() == nil {
					c.failover(s, err)
					sleep(ctx, c.cfg.RetryInterval)
				}
				continue
			}
			index, started = evs.Head, true
		}
		evs, err := s.Events(ctx, index, wait, cancelTypes, 0)
		if err != nil {
			if ctx.Err() == nil {
				c.failover(s, err)
				sleep(ctx, c.cfg.RetryInterval)
			}
			continue
		}
		index = evs.Index
		var running map[string][]attemptKey
		for _, e := range evs.Events {
			if !cancelEvent(e.Type) || e.Job == "" {
				continue
			}
			if running == nil {
				running = c.running()
			}
			for _, k := range running[e.Job] {
				if e.Type == state.EvJobCancelled || e.Attempt == 0 || e.Attempt >= k.attempt {
					c.cancelAttempt(k)
				}
			}
		}
	}
}

func (c *Client) cancelAttempt(k attemptKey) {
	c.mu.Lock()
	t := c.seen[k]
	if t == nil {
		t = c.oldSeen[k]
	}
	c.mu.Unlock()
	if t == nil || t.done {
		return
	}
	if nr, ok := c.node(t.node); ok {
		c.log.Debug("cancelling attempt", "job", k.job, "attempt", k.attempt)
		nr.cancel(k)
	}
}
