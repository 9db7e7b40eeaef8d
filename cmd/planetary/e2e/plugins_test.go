package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/planetary/planetary/core/api"
)

// procAlive reports whether pid is a live (non-zombie) process.
func procAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.ReplaceAll(string(b), "\x00", " ")
}

func nodeView(t *testing.T, c *api.Client, id string) api.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := c.Node(ctx, id)
	if err != nil {
		t.Fatalf("node %s: %v", id, err)
	}
	return n
}

func submitJobs(t *testing.T, c *api.Client, jobs []api.JobSubmit) {
	t.Helper()
	res, err := c.SubmitJobs(context.Background(), jobs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != api.StatusAccepted {
			t.Fatalf("submit %s: %s %s", r.ID, r.Status, r.Reason)
		}
	}
}

// TestExecPluginPid runs `sh -c 'echo $PPID'` on the exec node of the real
// example mission: the parent of the shell is the exec plugin, a process of
// its own, and the node view reports the same pid.
func TestExecPluginPid(t *testing.T) {
	p := startAgent(t, t.TempDir(), freePort(t), freePort(t), "-dev", "-config", "../../../examples/mission-real.hcl")
	c := p.client()
	waitFor(t, 30*time.Second, "exec node up with a plugin pid", func() bool {
		n := nodeView(t, c, "earth.exec-1")
		return n.Status == "up" && n.PluginPid > 0
	})
	payload, _ := json.Marshal(map[string]any{"command": "sh", "args": []string{"-c", "echo $PPID"}})
	submitJobs(t, c, []api.JobSubmit{{ID: "ppid", Shard: "earth", Capabilities: []string{"exec"}, Kind: "exec",
		Value: 1, Payload: payload}})
	var job api.Job
	waitFor(t, 30*time.Second, "exec job completed", func() bool {
		j, err := c.Job(context.Background(), "ppid")
		job = j
		return err == nil && j.State == "completed"
	})
	pid, err := strconv.Atoi(strings.TrimSpace(job.Output))
	if err != nil {
		t.Fatalf("output %q: %v", job.Output, err)
	}
	if pid == p.cmd.Process.Pid {
		t.Fatalf("the job ran under the agent (pid %d), not a plugin", pid)
	}
	if cl := cmdline(pid); !strings.Contains(cl, "plugin serve exec") {
		t.Fatalf("pid %d is %q, not the exec plugin", pid, cl)
	}
	if n := nodeView(t, c, "earth.exec-1"); n.PluginPid != pid || n.HeartbeatAgeMs < 0 {
		t.Fatalf("node view plugin_pid %d heartbeat_age_ms %d, want pid %d", n.PluginPid, n.HeartbeatAgeMs, pid)
	}

	// node list shows the example nodes with their capabilities and prices.
	nodes, err := c.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"earth.exec-1": 0.001, "earth.container-1": 0.002}
	for _, n := range nodes {
		if base, ok := want[n.ID]; ok {
			if len(n.Capabilities) == 0 || n.Price.Base != base {
				t.Errorf("node %s: capabilities %v price %+v", n.ID, n.Capabilities, n.Price)
			}
			delete(want, n.ID)
		}
	}
	if len(want) > 0 {
		t.Errorf("nodes missing from the list: %v", want)
	}
}

// TestPluginSignals stops, kills and orphans plugins of a two-node sim
// mission.
func TestPluginSignals(t *testing.T) {
	const ttl = 4 * time.Second
	p := startAgent(t, t.TempDir(), freePort(t), freePort(t), "-dev", "-config", "testdata/two-sim.hcl",
		"-heartbeat-ttl", ttl.String())
	c := p.client()
	pids := map[string]int{}
	waitFor(t, 30*time.Second, "both nodes up with plugin pids", func() bool {
		for _, id := range []string{"earth.a", "earth.b"} {
			n := nodeView(t, c, id)
			if n.Status != "up" || n.PluginPid == 0 {
				return false
			}
			pids[id] = n.PluginPid
		}
		return true
	})
	for id, pid := range pids {
		if !strings.Contains(cmdline(pid), "plugin serve sim") || pid == p.cmd.Process.Pid {
			t.Fatalf("node %s: pid %d is %q", id, pid, cmdline(pid))
		}
	}

	// SIGSTOP: the node stays up until its TTL runs out, then goes down;
	// its work completes on the other node.
	stopped := pids["earth.a"]
	if err := syscall.Kill(stopped, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(stopped, syscall.SIGCONT) })
	stopAt := time.Now()
	var jobs []api.JobSubmit
	for i := range 20 {
		jobs = append(jobs, api.JobSubmit{ID: "stop-" + strconv.Itoa(i), Shard: "earth", Capabilities: []string{"sim"},
			Kind: "sim", Value: 1, Payload: []byte(`{"duration_ms":50}`)})
	}
	submitJobs(t, c, jobs)
	waitFor(t, ttl+20*time.Second, "stopped node down", func() bool {
		n := nodeView(t, c, "earth.a")
		if n.Status != "up" && time.Since(stopAt) < ttl/2 {
			t.Fatalf("node went %s %v after SIGSTOP, before its TTL (%v)", n.Status, time.Since(stopAt), ttl)
		}
		return n.Status == "down"
	})
	if d := time.Since(stopAt); d < ttl/2 {
		t.Fatalf("down after %v, TTL is %v", d, ttl)
	}
	waitFor(t, 60*time.Second, "all jobs completed on the other node", func() bool {
		l, err := c.Jobs(context.Background(), api.JobQuery{State: "completed", Limit: 100})
		if err != nil || len(l.Jobs) != 20 {
			return false
		}
		for _, j := range l.Jobs {
			if j.Node != "earth.b" {
				t.Fatalf("job %s completed on %s", j.ID, j.Node)
			}
		}
		return true
	})
	if err := syscall.Kill(stopped, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "continued node up", func() bool { return nodeView(t, c, "earth.a").Status == "up" })

	// SIGKILL of a plugin: restarted with a new pid, node up again.
	killed := pids["earth.b"]
	if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "killed plugin restarted", func() bool {
		n := nodeView(t, c, "earth.b")
		return n.Status == "up" && n.PluginPid != 0 && n.PluginPid != killed
	})
	pids["earth.b"] = nodeView(t, c, "earth.b").PluginPid

	// SIGKILL of the agent alone: no plugin survives it.
	p.crash()
	waitFor(t, 30*time.Second, "plugins exit after the agent dies", func() bool {
		for _, pid := range pids {
			if procAlive(pid) {
				return false
			}
		}
		return true
	})
}
