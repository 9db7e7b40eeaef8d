package client

import (
	"context"
	"errors"
	"sort"
	"sync"

	api "github.com/planetary/planetary/core/api/client"
)

// ErrRevoked is returned by Run when the servers revoked this client's
// identity: the client role stops.
var ErrRevoked = errors.New("client: identity revoked")

// controlLoop keeps the control stream open (POST /v1/client/control),
// failing over between servers. The stream carries the assignments of the
// nodes served here, the cancellation of attempts that stopped being
// current, and the changes of the nodes this client hosts or may claim.
// Each new stream resumes from the highest frame index seen and names the
// attempts still held, so whichever server answers (once it has applied
// that index) cancels every held attempt it no longer records as current:
// a cancellation made while no stream was open is delivered on the next,
// and an attempt cancelled once is not named again.
func (c *Client) controlLoop(ctx context.Context, stop context.CancelCauseFunc) {
	var index uint64
	for ctx.Err() == nil {
		s := c.server()
		index = max(index, c.ackedIndex())
		req := api.ClientControl{Client: c.cfg.Name, Index: index, Running: c.held()}
		err := s.ClientControl(ctx, req, func(f *api.ControlFrame) error {
			c.control(ctx, f)
			index = max(index, f.Index)
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, api.ErrRevoked) {
			c.log.Error("the servers revoked this client's identity; the client role stops", "error", err)
			stop(ErrRevoked)
			return
		}
		c.failover(s, err)
		if !sleep(ctx, c.cfg.RetryInterval) {
			return
		}
	}
}

// control acts on one frame: assignments first, then cancellations, then
// node changes (handed to the node loop, which may launch plugins).
func (c *Client) control(ctx context.Context, f *api.ControlFrame) {
	for _, a := range f.Assignments {
		c.dispatch(ctx, a)
	}
	for _, x := range f.Cancels {
		c.cancelAttempt(attemptKey{x.JobID, x.Attempt})
	}
	if f.Full || len(f.Nodes) > 0 || len(f.Gone) > 0 {
		c.feed.put(f)
	}
}

// held lists the attempts dispatched here that have not finished and were
// not cancelled, sorted.
func (c *Client) held() []api.JobAttempt {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []api.JobAttempt
	for _, m := range []map[attemptKey]*task{c.oldSeen, c.seen} {
		for k, t := range m {
			if !t.done && !t.cancelled {
				out = append(out, api.JobAttempt{JobID: k.job, Attempt: k.attempt})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].JobID != out[j].JobID {
			return out[i].JobID < out[j].JobID
		}
		return out[i].Attempt < out[j].Attempt
	})
	return out
}

// cancelAttempt stops an attempt running (or waiting for a slot) here.
func (c *Client) cancelAttempt(k attemptKey) {
	c.mu.Lock()
	t := c.seen[k]
	if t == nil {
		t = c.oldSeen[k]
	}
	if t != nil {
		t.cancels++
	}
	stale := t == nil || t.done || t.cancelled
	if !stale {
		t.cancelled = true
	}
	c.mu.Unlock()
	if stale {
		return
	}
	if nr, ok := c.node(t.node); ok {
		c.log.Debug("cancelling attempt", "job", k.job, "attempt", k.attempt)
		nr.cancel(k)
	}
}

// cancelsOf is how many cancellations of k the streams delivered.
func (c *Client) cancelsOf(k attemptKey) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.seen[k]; t != nil {
		return t.cancels
	}
	if t := c.oldSeen[k]; t != nil {
		return t.cancels
	}
	return 0
}

// nodeFeed merges the node changes of control frames until the node loop
// takes them, so a slow plugin launch never holds up the stream.
type nodeFeed struct {
	mu sync.Mutex
	// full: nodes is a complete listing (a stream's first frame, and what
	// followed it), so served nodes missing from it were deregistered.
	full  bool
	nodes map[string]api.Node
	gone  map[string]bool
	ready chan struct{}
}

func newNodeFeed() *nodeFeed {
	return &nodeFeed{nodes: map[string]api.Node{}, gone: map[string]bool{}, ready: make(chan struct{}, 1)}
}

func (f *nodeFeed) put(fr *api.ControlFrame) {
	f.mu.Lock()
	if fr.Full {
		f.full = true
		clear(f.nodes)
		clear(f.gone)
	}
	for _, n := range fr.Nodes {
		f.nodes[n.ID] = n
		delete(f.gone, n.ID)
	}
	for _, id := range fr.Gone {
		delete(f.nodes, id)
		f.gone[id] = true
	}
	f.mu.Unlock()
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

// take returns what was put since the last take, nodes and gone sorted.
func (f *nodeFeed) take() (full bool, nodes []api.Node, gone []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	full = f.full
	for _, n := range f.nodes {
		nodes = append(nodes, n)
	}
	for id := range f.gone {
		gone = append(gone, id)
	}
	f.full = false
	clear(f.nodes)
	clear(f.gone)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].ID < nodes[j].ID })
	sort.Strings(gone)
	return full, nodes, gone
}

// nodeLoop applies the node changes the control stream delivers (see
// reconcile).
func (c *Client) nodeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.feed.ready:
		}
		full, nodes, gone := c.feed.take()
		c.reconcile(ctx, full, nodes, gone)
	}
}
