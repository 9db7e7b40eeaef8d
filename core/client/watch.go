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

// reconcile applies node changes when the client has a Launcher and Kinds
// (without them it serves the nodes of its config as declared): a served
// node follows its max_concurrency; one this host may no longer serve
// (retired, hosted by another client) is dropped, as is one gone from the
// servers' listing (gone, or missing from a full listing); a node it may
// serve and does not is claimed.
func (c *Client) reconcile(ctx context.Context, full bool, nodes []api.Node, gone []string) {
	if c.cfg.Launcher == nil || len(c.cfg.Kinds) == 0 {
		return // the nodes of the config, as it declares them
	}
	listed := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		listed[n.ID] = true
		nr, served := c.node(n.ID)
		if served {
			nr.setLimit(n.MaxConcurrency)
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
	for _, id := range gone {
		c.drop(id, "deregistered or hosted by another client")
	}
	if full {
		for _, id := range c.nodeIDs() {
			if !listed[id] {
				c.drop(id, "deregistered or hosted by another client")
			}
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
