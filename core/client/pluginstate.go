package client

import (
	"context"
	"time"

	api "github.com/planetary/planetary/core/api/client"
)

// PluginStater is implemented by a Catalog that can tell the state of a
// node's plugin process; the client then publishes it as replicated node
// state (see docs/node-state.md).
type PluginStater interface {
	PluginState(node string) (api.PluginState, bool)
}

// pluginStateLoop publishes each served node's plugin state whenever it
// differs from what was last published, checking every heartbeat
// interval. A failed publish is retried on the next tick.
func (c *Client) pluginStateLoop(ctx context.Context, ps PluginStater) {
	last := map[string]api.PluginState{}
	t := time.NewTicker(c.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		var changed []api.NodeState
		for _, id := range c.nodeIDs() {
			st, ok := ps.PluginState(id)
			if !ok || st.State == "" {
				continue
			}
			if prev, ok := last[id]; ok && prev == st {
				continue
			}
			changed = append(changed, api.NodeState{ID: id, Plugin: &st})
		}
		if len(changed) > 0 {
			s := c.server()
			_, err := s.ClientNodeState(ctx, api.ClientNodeState{Client: c.cfg.Name, Nodes: changed})
			switch {
			case err == nil:
				for _, n := range changed {
					last[n.ID] = *n.Plugin
				}
			case ctx.Err() == nil:
				c.log.Warn("plugin state not published", "error", err)
				c.failover(s, err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
