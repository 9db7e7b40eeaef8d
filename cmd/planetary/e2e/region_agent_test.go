package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
)

// TestAgentServesOneRegion starts `agent -dev` whose server holds one region
// of the example mission (`server { region = "luna" }`): its raft group holds
// luna's shard and node only, its client serves only luna's node, a luna
// job completes, and a job for another region's shard is refused naming
// the shard.
func TestAgentServesOneRegion(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	dir := t.TempDir()
	agentSrc, err := os.ReadFile("../../../examples/agent.hcl")
	if err != nil {
		t.Fatal(err)
	}
	missionSrc, err := os.ReadFile("../../../examples/mission.hcl")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(agentSrc), "  server {\n", "  server {\n    region = \"luna\"\n", 1)
	if src == string(agentSrc) {
		t.Fatal("examples/agent.hcl has no server block to set the region in")
	}
	cfg := filepath.Join(dir, "luna.hcl")
	if err := os.WriteFile(cfg, []byte(src+"\n"+string(missionSrc)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startAgent(t, filepath.Join(dir, "data"), freePort(t), freePort(t), "-dev", "-config", cfg)
	c := p.client()
	shards, err := c.Shards(ctxT(t))
	if err != nil || len(shards) != 1 || shards[0].Name != "luna" {
		t.Fatalf("shards of the luna server: %+v %v", shards, err)
	}
	waitFor(t, 30*time.Second, "luna's node up", func() bool {
		ns, err := c.Nodes(ctxT(t))
		return err == nil && len(ns) == 1 && ns[0].ID == "luna.nav-station" && ns[0].Status == "up"
	})
	ids := submit(t, c, simJob("luna/1", "luna", 50*time.Millisecond, "navigation"))
	waitState(t, c, 60*time.Second, "completed", ids...)
	if _, err := c.SubmitJobs(ctxT(t), []api.JobSubmit{simJob("earth/1", "earth", time.Millisecond)}); err == nil ||
		!strings.Contains(err.Error(), `shard "earth" not found`) {
		t.Fatalf("a job for earth on the luna server: %v", err)
	}
	led, err := c.Ledger(ctxT(t))
	if err != nil || len(led.Regions) != 1 || led.Regions[0].Region != "luna" {
		t.Fatalf("ledger regions: %+v %v", led.Regions, err)
	}
	if strings.Contains(p.output(), "[ERROR]") {
		t.Errorf("agent logged an error:\n%s", p.output())
	}
}
