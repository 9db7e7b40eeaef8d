package api_test

import (
	"context"
	"slices"
	"testing"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/server"
)

func TestClientNodeStatePublish(t *testing.T) {
	var tracked *server.Tracking
	a := newAgent(t, func(c *api.Config) {
		tracked = server.Track(c.Backend.(*server.Server))
		c.Backend = tracked
	})
	ctx := context.Background()
	if _, err := a.mgmt.RegisterShard(ctx, api.Shard{Name: "earth"}); err != nil {
		t.Fatal(err)
	}
	node := api.Node{ID: "n1", Shard: "earth", Plugin: "sim", Capacity: 2, Capabilities: []string{"general"},
		Price: api.Price{Unit: "job", Base: 0.5}}
	if _, err := a.mgmt.ClientRegister(ctx, api.ClientRegister{Client: "c1", Nodes: []api.Node{node}, Kinds: []string{"sim"}}); err != nil {
		t.Fatal(err)
	}
	caps := []string{"general", "gpu:a100", "general"}
	price := api.Price{Base: 0.25, Rates: []api.PriceRate{{Unit: "second", PerUnit: 0.01}}}
	runtime := "sim 1"
	full := api.NodeState{ID: "n1", Capabilities: &caps, Price: &price,
		Attestations: &api.Attestations{Jurisdiction: "earth"}, Resources: &api.Resources{CPUCores: 4}, Runtime: &runtime}
	onlyCaps := []string{"general"}

	cases := []struct {
		name    string
		client  string
		nodes   []api.NodeState
		updated []string
		skipped []string
	}{
		{"first publish changes the node", "c1", []api.NodeState{full}, []string{"n1"}, nil},
		{"same state again commits nothing", "c1", []api.NodeState{full}, []string{}, nil},
		{"another client's node is skipped", "c2", []api.NodeState{{ID: "n1", Capabilities: &onlyCaps}}, []string{}, []string{"n1"}},
		{"unknown node is skipped", "c1", []api.NodeState{{ID: "nope", Capabilities: &onlyCaps}}, []string{}, []string{"nope"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := a.srv.AppliedIndex()
			res, err := a.mgmt.ClientNodeState(ctx, api.ClientNodeState{Client: tc.client, Nodes: tc.nodes})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Updated, tc.updated) || !slices.Equal(res.Skipped, tc.skipped) {
				t.Fatalf("updated %v skipped %v, want %v %v", res.Updated, res.Skipped, tc.updated, tc.skipped)
			}
			if len(tc.updated) == 0 && a.srv.AppliedIndex() != before {
				t.Fatalf("raft index moved from %d to %d with nothing to change", before, a.srv.AppliedIndex())
			}
		})
	}
	n, err := a.mgmt.Node(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(n.Capabilities, []string{"general", "gpu:a100"}) || n.Price.Base != 0.25 || n.Price.Unit != "job" ||
		len(n.Price.Rates) != 1 || n.Attestations.Jurisdiction != "earth" || n.Deployment.Resources.CPUCores != 4 ||
		n.Deployment.Runtime != "sim 1" {
		t.Fatalf("node after publish: %+v", n)
	}
	if n.HeartbeatAgeMs != -1 || n.PluginPid != 0 {
		t.Fatalf("before any heartbeat: age %d pid %d", n.HeartbeatAgeMs, n.PluginPid)
	}
	if err := a.mgmt.ClientHeartbeat(ctx, api.ClientHeartbeat{Client: "c1",
		Nodes: []api.NodeBeat{{ID: "n1", Healthy: true, PluginPid: 4242}}}); err != nil {
		t.Fatal(err)
	}
	// A beat for a node the client does not host is not recorded.
	if err := a.mgmt.ClientHeartbeat(ctx, api.ClientHeartbeat{Client: "c2",
		Nodes: []api.NodeBeat{{ID: "n1", Healthy: true, PluginPid: 1}}}); err != nil {
		t.Fatal(err)
	}
	nodes, err := a.mgmt.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].PluginPid != 4242 || nodes[0].HeartbeatAgeMs < 0 || nodes[0].Status != "up" {
		t.Fatalf("after heartbeat: %+v", nodes)
	}
	if _, ok := tracked.LastHeartbeat("n1"); !ok {
		t.Fatal("LastHeartbeat: no beat recorded")
	}
}
