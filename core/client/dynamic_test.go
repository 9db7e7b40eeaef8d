package client

import (
	"context"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// testLauncher starts plugins through the test catalog and records stops.
type testLauncher struct {
	cat *testCatalog

	mu      sync.Mutex
	stopped []string
}

func (l *testLauncher) Launch(ctx context.Context, n state.Node) error {
	_, err := l.cat.Executor(ctx, n)
	return err
}

func (l *testLauncher) Stop(node string) {
	l.mu.Lock()
	l.stopped = append(l.stopped, node)
	l.mu.Unlock()
	if p := l.cat.plugin(node); p != nil {
		p.Kill()
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// A zombie ("Z") has exited.
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && b[i+2] != 'Z'
		}
	}
	return true
}

func TestDynamicClaimPublishAndRetire(t *testing.T) {
	f := newFixture(t)
	f.catalog.values = map[string]map[string]any{
		"earth.n3": {"price": 0.3, "rates": []string{"second=0.01"}},
	}
	l := &testLauncher{cat: f.catalog}
	c := f.startClient(t, func(cfg *Config) {
		cfg.Nodes = nil
		// The servers claim every unclaimed node of a kind for the client
		// that registers it, so this client serves them all.
		cfg.Launcher, cfg.Kinds, cfg.Patterns = l, []string{"sim"}, []string{"earth.*"}
	})
	ctx := context.Background()
	if _, err := f.mgmt.RegisterNode(ctx, api.Node{ID: "earth.n3", Shard: "earth", Plugin: "sim", Capacity: 4,
		Capabilities: []string{"sim"}, Price: api.Price{Unit: "job", Base: 9}}); err != nil {
		t.Fatal(err)
	}
	var view api.Node
	eventually(t, 20*time.Second, "registered node claimed, up, priced by its plugin and showing its pid", func() bool {
		n, err := f.mgmt.Node(ctx, "earth.n3")
		view = n
		p := f.catalog.plugin("earth.n3")
		return err == nil && n.Status == "up" && n.Client == "c1" && n.Price.Base == 0.3 && p != nil &&
			n.PluginPid == p.Pid() && n.HeartbeatAgeMs >= 0
	})
	if !slices.Equal(c.Served(), []string{"earth.n1", "earth.n2", "earth.n3"}) {
		t.Fatalf("served %v", c.Served())
	}
	if view.Price.Unit != "job" || len(view.Price.Rates) != 1 || view.Price.Rates[0].PerUnit != 0.01 {
		t.Fatalf("published price %+v", view.Price)
	}

	// Jobs run on the claimed node.
	submit(t, f.mgmt, 20, "dyn", `{"duration_ms":0}`)
	deadline := time.Now().Add(20 * time.Second)
	for f.counts().N[state.JobCompleted] != 20 {
		if time.Now().After(deadline) {
			jl, _ := f.mgmt.Jobs(ctx, api.JobQuery{Limit: 3})
			nodes, _ := f.mgmt.Nodes(ctx)
			t.Fatalf("jobs not completed: %+v\nnodes %+v", jl.Jobs, nodes)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Retiring the node stops its plugin.
	pid := f.catalog.plugin("earth.n3").Pid()
	if _, err := f.mgmt.RetireNode(ctx, "earth.n3", api.NodeRetire{Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "retired node dropped and its plugin stopped", func() bool {
		return !slices.Contains(c.Served(), "earth.n3") && !alive(pid)
	})
}
