package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
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

// rssSampler records the largest VmRSS of a process until stopped.
type rssSampler struct {
	stop chan struct{}
	done chan struct{}
	max  int64
	n    int
}

func sampleRSS(t *testing.T, pid int) *rssSampler {
	r := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	r.max, r.n = agentRSSMB(t, pid), 1
	go func() {
		defer close(r.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-tick.C:
			}
			b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
			if err != nil {
				continue
			}
			for _, l := range strings.Split(string(b), "\n") {
				if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
					kb, _ := strconv.ParseInt(f[1], 10, 64)
					r.max = max(r.max, kb/1024)
					r.n++
				}
			}
		}
	}()
	return r
}

// finish stops the sampler and returns the largest RSS seen, in MB, and
// the number of samples.
func (r *rssSampler) finish() (int64, int) {
	close(r.stop)
	<-r.done
	return r.max, r.n
}

// TestPoisonJobFailsAlone checks the input limits and the fault isolation
// of one agent together. A 5 MB payload and a 5 MB job id are refused at
// submit with a 400 naming the field (nothing is queued). Then, in one
// batch with 200 ordinary jobs, a job whose every result is over the
// plugin transport's message limit and a job that fails retryably on every
// attempt: each fails after its max_attempts with its last error, and
// neither ends the node's execute stream: every other job completes on its
// first attempt and every earth node stays up. The agent process's RSS,
// sampled from /proc throughout, stays under 300 MB.
func TestPoisonJobFailsAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	p := startAgent(t, t.TempDir(), freePort(t), freePort(t), "-dev")
	c := p.client()
	rss := sampleRSS(t, p.cmd.Process.Pid)
	const fiveMB = 5 << 20

	bigPayload, _ := json.Marshal(map[string]string{"pad": strings.Repeat("x", fiveMB)})
	refused := []struct {
		name  string
		job   api.JobSubmit
		field string
	}{
		{"5 MB payload", api.JobSubmit{ID: "big-payload", Shard: "earth", Capabilities: []string{"finance"}, Kind: "sim", Payload: bigPayload}, "jobs[0].payload"},
		{"5 MB id", api.JobSubmit{ID: strings.Repeat("i", fiveMB), Shard: "earth", Capabilities: []string{"finance"}, Kind: "sim"}, "jobs[0].id"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := c.SubmitJobs(ctx, []api.JobSubmit{tt.job})
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Status < 400 || ae.Status >= 500 || ae.Field != tt.field {
				t.Fatalf("submit: %v; want a 4xx naming %s", err, tt.field)
			}
			if len(ae.Message) > 1024 {
				t.Errorf("refusal is %d bytes; it must not quote the input", len(ae.Message))
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	_, err := c.Job(ctx, "big-payload")
	cancel()
	if ae := (*api.Error)(nil); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("job big-payload after its refused submit: %v; want 404", err)
	}

	oversized, _ := json.Marshal(map[string]any{"output_bytes": fiveMB})
	failing, _ := json.Marshal(map[string]any{"fail_rate": 1.0})
	var jobs []api.JobSubmit
	const others = 200
	for i := 0; i < others; i++ {
		jobs = append(jobs, api.JobSubmit{ID: fmt.Sprintf("ok-%03d", i), Shard: "earth", Capabilities: []string{"finance"}, Kind: "sim", Value: 1})
		switch i {
		case others / 4:
			jobs = append(jobs, api.JobSubmit{ID: "oversized", Shard: "earth", Capabilities: []string{"finance"}, Kind: "sim", Value: 1,
				Payload: oversized, MaxAttempts: 3})
		case others / 2:
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
	if j := job("oversized"); j.State != "failed" || j.Attempt != 3 || !strings.Contains(j.Error, "over the plugin transport's limit") {
		t.Errorf("oversized: %s at attempt %d: %q; want failed at attempt 3, its result over the transport's limit", j.State, j.Attempt, j.Error)
	}
	if j := job("flaky"); j.State != "failed" || j.Attempt != 2 || !strings.Contains(j.Error, "simulated failure") {
		t.Errorf("flaky: %s at attempt %d: %q; want failed at attempt 2 with its last error", j.State, j.Attempt, j.Error)
	}
	for i := 0; i < others; i++ {
		if j := job(fmt.Sprintf("ok-%03d", i)); j.State != "completed" || j.Attempt != 1 {
			t.Errorf("%s: %s at attempt %d (%s): the failing jobs disturbed it", j.ID, j.State, j.Attempt, j.Error)
		}
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
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
	if peak, n := rss.finish(); peak >= 300 {
		t.Errorf("agent RSS peaked at %d MB over %d samples, want under 300", peak, n)
	} else {
		t.Logf("agent RSS peak %d MB over %d samples", peak, n)
	}
}
