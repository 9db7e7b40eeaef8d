package client

import (
	"context"
	"path"
	"slices"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/api/view"
	"github.com/planetary/planetary/raftfsm/state"
)

// node returns the runner of a node served here.
func (c *Client) node(id string) (*nodeRunner, bool) {
	c.nmu.RLock()
	defer c.nmu.RUnlock()
	nr, ok := c.nodes[id]
	return nr, ok
}

// Served lists the ids of the nodes this client serves, sorted.
func (c *Client) Served() []string { return c.nodeIDs() }

// watchLoop claims newly registered nodes this host can serve and drops
// served nodes that were retired, deregistered or claimed elsewhere.
func (c *Client) watchLoop(ctx context.Context) {
	for {
		s := c.server()
		nodes, err := s.Nodes(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.failover(s, err)
		} else {
			c.reconcile(ctx, nodes)
		}
		if !sleep(ctx, c.cfg.WatchInterval) {
			return
		}
	}
}

// wants reports whether this host may serve n.
func (c *Client) wants(n api.Node) bool {
	if n.Status == state.NodeRetired.String() || !slices.Contains(c.cfg.Kinds, n.Plugin) {
		return false
	}
	if n.Client != "" && n.Client != c.cfg.Name {
		return false
	}
	if len(c.cfg.Patterns) == 0 {
		return true
	}
	for _, p := range c.cfg.Patterns {
		if ok, _ := path.Match(p, n.ID); ok {
			return true
		}
	}
	return false
}

func (c *Client) reconcile(ctx context.Context, nodes []api.Node) {
	listed := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		listed[n.ID] = true
		nr, served := c.node(n.ID)
		if served {
			nr.setLimit(n.MaxConcurrency) // follows node updates
		}
		switch {
		case served && !c.wants(n):
			c.drop(n.ID, "node "+n.Status+", hosted by "+n.Client)
		case !served && c.wants(n):
			if err := c.claim(ctx, n); err != nil && ctx.Err() == nil {
				c.log.Error("cannot serve registered node", "node", n.ID, "plugin", n.Plugin, "error", err)
			}
		}
	}
	for _, id := range c.nodeIDs() {
		if !listed[id] {
			c.drop(id, "deregistered")
		}
	}
}

// claim launches a plugin for n, claims n and starts serving it.
func (c *Client) claim(ctx context.Context, n api.Node) error {
	rec := view.NodeRecord(n)
	if err := c.cfg.Launcher.Launch(ctx, rec); err != nil {
		return err
	}
	req := api.ClientRegister{Client: c.cfg.Name, Nodes: []api.Node{n}, Kinds: []string{n.Plugin}}
	err := c.retry(ctx, "claim "+n.ID, func(s *api.Client) error {
		_, err := s.ClientRegister(ctx, req)
		return err
	})
	if err != nil {
		c.cfg.Launcher.Stop(n.ID)
		return err
	}
	nr := newNodeRunner(c, rec)
	c.nmu.Lock()
	if _, dup := c.nodes[n.ID]; dup || c.runCtx == nil {
		c.nmu.Unlock()
		return nil
	}
	c.nodes[n.ID] = nr
	nr.start(c.runCtx, c.wg)
	c.nmu.Unlock()
	c.log.Info("serving node", "node", n.ID, "plugin", n.Plugin)
	return nil
}

// drop stops serving a node and stops its plugin.
func (c *Client) drop(id, why string) {
	c.nmu.Lock()
	nr, ok := c.nodes[id]
	delete(c.nodes, id)
	c.nmu.Unlock()
	if !ok {
		return
	}
	nr.halt()
	if c.cfg.Launcher != nil {
		c.cfg.Launcher.Stop(id)
	}
	c.log.Info("stopped serving node", "node", id, "reason", why)
}
