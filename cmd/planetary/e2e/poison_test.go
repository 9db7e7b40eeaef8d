package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/sdk"
)

// agentRSSMB reads the agent process's resident set from /proc.
func agentRSSMB(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestPoisonJobFailsAlone submits, in one batch with ordinary work, a job
// whose payload is under the API's body limit but over what the plugin
// transport carries, and a job that fails retryably on every attempt. The
// first fails at once with the reason (it is never requeued), the second
// after its max_attempts with its last error, and neither ends the node's
// execute stream: every other job completes on its first attempt, every
// earth node stays up, and the agent's RSS stays under 300 MB.
func TestPoisonJobFailsAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	p := startAgent(t, t.TempDir(), freePort(t), freePort(t), "-dev")
	c := p.client()
	pad, _ := json.Marshal(map[string]string{"pad": strings.Repeat("x", sdk.MaxMessageBytes+(1<<20))})
	always := 1.0
	failing, _ := json.Marshal(map[string]any{"fail_rate": always})
	jobs := []api.JobSubmit{{ID: "poison", Shard: "earth", Capabilities: []string{"finance"}, Kind: "sim", Value: 1, Payload: pad}}
	const others = 200
	for i := 0; i < others; i++ {
		jobs = append(jobs, api.JobSubmit{ID: fmt.Sprintf("ok-%03d", i), Shard: "earth", Capabilities: []string{"finance"}, Kind: "sim", Value: 1})
		if i == others/2 {
			jobs = append(jobs, api.JobSubmit{ID: "flaky", Shard: "earth", Capabilities: []string{"finance"}, Kind: "sim", Value: 1,
				Payload: failing, MaxAttempts: 2})
		}
	}
	submitJobs(t, c, jobs)
	job := func(id string) api.Job {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		j, err := c.Job(ctx, id)
		if err != nil {
			t.Fatalf("job %s: %v", id, err)
		}
		return j
	}
	waitFor(t, 120*time.Second, "every job finished", func() bool {
		for _, j := range jobs {
			if s := job(j.ID).State; s != "completed" && s != "failed" {
				return false
			}
		}
		return true
	})
	if j := job("poison"); j.State != "failed" || j.Attempt != 1 || !strings.Contains(j.Error, "cannot be delivered") {
		t.Errorf("poison: %s at attempt %d: %q; want failed at attempt 1, undeliverable", j.State, j.Attempt, j.Error)
	}
	if j := job("flaky"); j.State != "failed" || j.Attempt != 2 || !strings.Contains(j.Error, "simulated failure") {
		t.Errorf("flaky: %s at attempt %d: %q; want failed at attempt 2 with its last error", j.State, j.Attempt, j.Error)
	}
	for i := 0; i < others; i++ {
		if j := job(fmt.Sprintf("ok-%03d", i)); j.State != "completed" || j.Attempt != 1 {
			t.Errorf("%s: %s at attempt %d (%s): the poison job disturbed it", j.ID, j.State, j.Attempt, j.Error)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nodes, err := c.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Shard == "earth" && n.Status != "up" {
			t.Errorf("node %s is %s (%s)", n.ID, n.Status, n.StatusReason)
		}
	}
	if rss := agentRSSMB(t, p.cmd.Process.Pid); rss >= 300 {
		t.Errorf("agent RSS %d MB, want under 300", rss)
	} else {
		t.Logf("agent RSS %d MB", rss)
	}
}
