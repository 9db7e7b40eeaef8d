package api

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// pidHeartbeater is implemented by backends that record plugin pids.
type pidHeartbeater interface {
	HeartbeatPids(client string, beats []server.PidBeat) error
}

// pluginPidSource is implemented by backends that know plugin pids.
type pluginPidSource interface {
	PluginPid(node string) int
}

// nodeStateUpdate compares st with the node's record and returns the
// NodeUpdate fields that differ, with the new values in upd.
func nodeStateUpdate(n *state.Node, st NodeState) (fields []string, upd state.Node) {
	upd = state.Node{ID: n.ID}
	if st.Capabilities != nil {
		caps := slices.Clone(*st.Capabilities)
		slices.Sort(caps)
		caps = slices.Compact(caps)
		cur := slices.Clone(n.Capabilities)
		slices.Sort(cur)
		if !slices.Equal(caps, slices.Compact(cur)) {
			fields, upd.Capabilities = append(fields, "capabilities"), caps
		}
	}
	if st.Price != nil {
		p := priceRecord(*st.Price)
		if p.Unit == "" {
			p.Unit = n.Price.Unit
		}
		if n.Price.Currency != "" {
			// The currency is the fabric's label (the mission's), not
			// the plugin's: money is one unit across every node.
			p.Currency = n.Price.Currency
		}
		if !samePrice(p, n.Price) || n.PriceSource != state.PricePlugin {
			fields, upd.Price = append(fields, "plugin_price"), p
		}
	}
	if st.Attestations != nil {
		a := attestationsRecord(*st.Attestations)
		if !sameAttestations(a, n.Attestations) {
			fields, upd.Attestations = append(fields, "attestations"), a
		}
	}
	if st.Resources != nil || st.Runtime != nil {
		d := n.Deployment
		d.Zones = slices.Clone(d.Zones)
		if st.Resources != nil {
			d.Resources = deploymentRecord(Deployment{Resources: *st.Resources}).Resources
		}
		if st.Runtime != nil {
			d.Runtime = *st.Runtime
		}
		if d.Resources != n.Deployment.Resources || d.Runtime != n.Deployment.Runtime {
			fields, upd.Deployment = append(fields, "deployment"), d
		}
	}
	if p := st.Plugin; p != nil && (p.State != n.PluginState || p.Crashes != n.PluginCrashes || p.Reason != n.PluginReason) {
		fields = append(fields, "plugin_state")
		upd.PluginState, upd.PluginCrashes, upd.PluginReason = p.State, p.Crashes, p.Reason
	}
	return fields, upd
}

func samePrice(a, b state.PriceSchedule) bool {
	return a.Currency == b.Currency && a.Unit == b.Unit && a.BaseMu == b.BaseMu && a.Expr == b.Expr &&
		slices.Equal(a.Rates, b.Rates)
}

func sameAttestations(a, b state.Attestations) bool {
	return a.Jurisdiction == b.Jurisdiction && slices.Equal(a.Certifications, b.Certifications) &&
		slices.Equal(a.DataResidency, b.DataResidency) && slices.Equal(a.Tags, b.Tags)
}

// clientNodeState turns published plugin state into one NodeUpdate per
// node whose state changed, naming only the changed fields; publishing the
// same state again commits nothing.
func (h *HTTP) clientNodeState(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ClientNodeState
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	if err := checkClient(r, req.Client); err != nil {
		return nil, err
	}
	for i, st := range req.Nodes {
		if st.ID == "" {
			return nil, badRequest(fmt.Sprintf("nodes[%d].id", i), "node id is required")
		}
		if st.Plugin != nil && st.Plugin.State == "" {
			return nil, badRequest(fmt.Sprintf("nodes[%d].plugin.state", i), "plugin state is required")
		}
		if st.Price != nil && st.Price.Base < 0 {
			return nil, badRequest(fmt.Sprintf("nodes[%d].price.base", i), "price base must not be negative")
		}
		if st.Price != nil {
			if err := checkPrice(fmt.Sprintf("nodes[%d].price.", i), *st.Price); err != nil {
				return nil, err
			}
		}
	}
	out := NodeStateResult{Updated: []string{}}
	var cmds []command.NodeUpdate
	h.b.Read(func(s *state.Store) {
		for _, st := range req.Nodes {
			n := s.Node(st.ID)
			if n == nil || n.Client != req.Client || n.Status == state.NodeRetired {
				out.Skipped = append(out.Skipped, st.ID)
				continue
			}
			fields, upd := nodeStateUpdate(n, st)
			if i := slices.Index(fields, "plugin_state"); i >= 0 {
				// Its own entry, attributed to the client: a report of the
				// plugin's state is not an owner's change to the node.
				fields = slices.Delete(fields, i, i+1)
				cmds = append(cmds, command.NodeUpdate{ID: st.ID, Fields: []string{"plugin_state"}, Node: upd,
					Meta: command.Meta{Actor: "client:" + req.Client, Reason: "plugin " + upd.PluginState}})
			}
			if len(fields) > 0 {
				// Attributed to the client too: what a plugin reports about
				// its node is the client's, not an owner's, change.
				cmds = append(cmds, command.NodeUpdate{ID: st.ID, Fields: fields, Node: upd,
					Meta: command.Meta{Actor: "client:" + req.Client, Reason: "state published by client " + req.Client}})
			}
		}
	})
	for _, c := range cmds {
		a := actor(r)
		a.Name = c.Meta.Actor
		res, err := h.b.PublishNodeState(r.Context(), a, c)
		if err != nil {
			return nil, fmt.Errorf("api: node %s state: %w", c.ID, err)
		}
		out.Updated, out.Index = append(out.Updated, c.ID), res.Index
	}
	return out, nil
}
