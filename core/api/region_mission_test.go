package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/planetary/planetary/core/server"
)

// A server that holds one region applies only that region's part of a
// mission: its shards and nodes, with routes into other regions set aside;
// a mission without that region is refused naming the hcl field.
func TestMissionApplyOnRegionServer(t *testing.T) {
	a := newAgentWith(t, func(c *server.Config) { c.Region = "mars" }, nil)
	applyMission(t, a, testMission)
	ctx := context.Background()
	shards, err := a.mgmt.Shards(ctx)
	if err != nil || len(shards) != 1 || shards[0].Name != "mars" {
		t.Fatalf("shards on the mars server: %+v %v", shards, err)
	}
	if nodes, err := a.mgmt.Nodes(ctx); err != nil || len(nodes) != 0 {
		t.Fatalf("nodes on the mars server: %+v %v (earth.n1 is earth's)", nodes, err)
	}
	led, err := a.mgmt.Ledger(ctx)
	if err != nil || len(led.Regions) != 1 || led.Regions[0].Region != "mars" {
		t.Fatalf("ledger regions: %+v %v", led.Regions, err)
	}

	b := newAgentWith(t, func(c *server.Config) { c.Region = "venus" }, nil)
	_, err = b.mgmt.ApplyMission(ctx, "test.hcl", []byte(strings.ReplaceAll(testMission, "ROOT", b.root)), "test")
	if apiStatus(t, err) != 400 || !strings.Contains(err.Error(), `region "venus"`) {
		t.Fatalf("mission without the server's region: %v", err)
	}
}
