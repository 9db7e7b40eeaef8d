package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
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

// execConfig is examples/mission-real.hcl with examples/agent.hcl, its exec
// plugin allowing extra (still no shells or interpreters).
func execConfig(t *testing.T, allow string) string {
	t.Helper()
	m, err := os.ReadFile("../../../examples/mission-real.hcl")
	if err != nil {
		t.Fatal(err)
	}
	a, err := os.ReadFile("../../../examples/agent.hcl")
	if err != nil {
		t.Fatal(err)
	}
	const def = `allow   = ["echo", "true"]`
	if !bytes.Contains(a, []byte(def)) {
		t.Fatalf("examples/agent.hcl no longer has %s", def)
	}
	a = bytes.Replace(a, []byte(def), []byte("allow = "+allow), 1)
	path := filepath.Join(t.TempDir(), "exec.hcl")
	if err := os.WriteFile(path, append(append(m, '\n'), a...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runExecJob(t *testing.T, c *api.Client, id string, payload map[string]any, state string) api.Job {
	t.Helper()
	raw, _ := json.Marshal(payload)
	submitJobs(t, c, []api.JobSubmit{{ID: id, Shard: "earth", Capabilities: []string{"exec"}, Kind: "exec",
		Value: 1, Payload: raw}})
	var job api.Job
	waitFor(t, 30*time.Second, "exec job "+id+" "+state, func() bool {
		j, err := c.Job(context.Background(), id)
		job = j
		return err == nil && (j.State == state || j.State == "completed" || j.State == "failed")
	})
	if job.State != state {
		t.Fatalf("job %s is %s (error %q, output %q), want %s", id, job.State, job.Error, job.Output, state)
	}
	return job
}

// TestDevExecSafe: the dev agent's exec plugin runs echo and true, says so
// in its banner, and refuses a shell.
func TestDevExecSafe(t *testing.T) {
	p := startAgent(t, t.TempDir(), freePort(t), freePort(t), "-dev", "-config", "../../../examples/mission-real.hcl")
	if out := p.output(); !strings.Contains(out, "exec: on, allow echo, true (no shells or interpreters)") {
		t.Fatalf("banner does not say what exec runs:\n%s", out)
	}
	c := p.client()
	if j := runExecJob(t, c, "echo", map[string]any{"command": "echo", "args": []string{"hi"}}, "completed"); j.Output != "hi\n" {
		t.Fatalf("echo output %q", j.Output)
	}
	j := runExecJob(t, c, "shell", map[string]any{"command": "sh", "args": []string{"-c", "id"}}, "failed")
	if !strings.Contains(j.Error, "not in the exec agent's allow list") {
		t.Fatalf("sh failed with %q, want the allow list refusal", j.Error)
	}
}

// TestExecPluginPid reads the parent pid of a command (cat /proc/self/stat)
// run on the exec node of the real example mission: the parent is the exec
// plugin, a process of its own, and the node view reports the same pid. A
// command's env holds only the documented host variables and its job's
// env: LD_PRELOAD and LD_DEBUG, set in the agent's environment and by the
// job, never reach it.
func TestExecPluginPid(t *testing.T) {
	t.Setenv("LD_LIBRARY_PATH", "/nonexistent-planetary-lib")
	t.Setenv("LD_BIND_NOW", "1")
	t.Setenv("PLANETARY_HOST_SECRET", "not-for-jobs")
	p := startAgent(t, t.TempDir(), freePort(t), freePort(t), "-dev", "-config", execConfig(t, `["echo", "cat", "printenv"]`))
	c := p.client()
	waitFor(t, 30*time.Second, "exec node up with a plugin pid", func() bool {
		n := nodeView(t, c, "earth.exec-1")
		return n.Status == "up" && n.PluginPid > 0
	})
	env := runExecJob(t, c, "env", map[string]any{"command": "printenv",
		"env": map[string]string{"GREETING": "hi", "LD_PRELOAD": "/nonexistent/evil.so", "LD_DEBUG": "all"}}, "completed")
	for _, line := range strings.Split(strings.TrimSpace(env.Output), "\n") {
		name, _, _ := strings.Cut(line, "=")
		switch name {
		case "PATH", "HOME", "USER", "LOGNAME", "TZ", "TMPDIR", "LANG", "LANGUAGE", "GREETING":
		default:
			if !strings.HasPrefix(name, "LC_") {
				t.Errorf("the command saw %q", line)
			}
		}
	}
	if !strings.Contains(env.Output, "GREETING=hi\n") || strings.Contains(env.Output, "LD_") {
		t.Errorf("printenv output:\n%s", env.Output)
	}
	job := runExecJob(t, c, "ppid", map[string]any{"command": "cat", "args": []string{"/proc/self/stat"}}, "completed")
	stat := job.Output[strings.LastIndexByte(job.Output, ')')+1:]
	fields := strings.Fields(stat)
	if len(fields) < 2 {
		t.Fatalf("stat %q", job.Output)
	}
	job.Output = fields[1]
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

// startProc starts `planetary agent` with args and waits until ready holds.
func startProc(t *testing.T, dataDir, httpAddr, bind string, ready func(*agentProc) bool, args ...string) *agentProc {
	t.Helper()
	all := append([]string{"agent"}, absConfig(t, args)...)
	all = append(all, "-data-dir", dataDir, "-http-addr", httpAddr, "-bind", bind, "-log-level", "warn")
	cmd := exec.Command(planetaryBin(t), all...)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd.Dir = dataDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &syncWriter{w: &out}, &syncWriter{w: &out}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &agentProc{t: t, cmd: cmd, out: &out, addr: "http://" + httpAddr, dataDir: dataDir}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if ready(p) {
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("agent did not come up:\n%s", out.String())
	return nil
}

// TestExternalPluginWrongSHA pins an external plugin by a wrong sha256: it
// is refused with an error naming its file and its node stays down, while
// the built-in plugin's node serves.
func TestExternalPluginWrongSHA(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "echo-reverse")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/planetary/planetary/examples/agent-plugin").CombinedOutput(); err != nil {
		t.Fatalf("build agent-plugin: %v\n%s", err, out)
	}
	cfg := `
agent {
  name = "ext"
  client {
    enabled = true
    heartbeat_interval = "200ms"
  }
  server {
    enabled = true
  }
}
plugin "sim" {}
plugin "echo-reverse" {
  path   = "` + bin + `"
  sha256 = "` + strings.Repeat("ab", 32) + `"
}
mission "ext" {
  seed = 1
}
shard "earth" {}
node "earth.sim" {
  shard = "earth"
  plugin = "sim"
  capabilities = ["sim"]
  capacity = 2
}
node "earth.ext" {
  shard = "earth"
  plugin = "echo-reverse"
  capabilities = ["echo"]
  capacity = 2
}
`
	file := filepath.Join(dir, "ext.hcl")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startAgent(t, filepath.Join(dir, "data"), freePort(t), freePort(t), "-dev", "-config", file, "-heartbeat-ttl", "2s")
	c := p.client()
	waitFor(t, 30*time.Second, "built-in node up and the external plugin refused", func() bool {
		return nodeView(t, c, "earth.sim").Status == "up" && strings.Contains(p.output(), bin) &&
			strings.Contains(p.output(), "sha256")
	})
	// Past its TTL, the refused node is still not up.
	start := time.Now()
	waitFor(t, 10*time.Second, "a TTL to pass", func() bool { return time.Since(start) > 2500*time.Millisecond })
	if st := nodeView(t, c, "earth.ext").Status; st == "up" {
		t.Fatalf("node with a refused plugin is %s", st)
	}
}

// TestServerAndClientProcesses runs the server role and the client role as
// two processes: the client, with only an agent block and its plugins,
// claims the server's mission nodes and completes their jobs.
func TestServerAndClientProcesses(t *testing.T) {
	dir := t.TempDir()
	srvCfg := `
agent {
  name = "srv"
  server {
    enabled = true
  }
  acl {
    enabled = false
  }
}
` + twoSimMission(t)
	clientCfg := `
agent {
  name = "worker-1"
  client {
    enabled = true
    nodes = ["earth.*"]
    heartbeat_interval = "200ms"
  }
  acl {
    enabled = false
  }
}
plugin "sim" {}
`
	sf, cf := filepath.Join(dir, "server.hcl"), filepath.Join(dir, "client.hcl")
	if err := os.WriteFile(sf, []byte(srvCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cf, []byte(clientCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	httpAddr := freePort(t)
	nodesUp := func(p *agentProc) bool {
		ns, err := p.client().Nodes(context.Background())
		if err != nil {
			return false
		}
		up := 0
		for _, n := range ns {
			if n.Status == "up" && n.Client == "worker-1" && n.PluginPid > 0 {
				up++
			}
		}
		return up == 2
	}
	srv := startProc(t, filepath.Join(dir, "srv"), httpAddr, freePort(t), func(p *agentProc) bool {
		_, err := p.client().Nodes(context.Background())
		return err == nil
	}, "-server", "-config", sf)
	startProc(t, filepath.Join(dir, "cli"), freePort(t), freePort(t), func(*agentProc) bool { return nodesUp(srv) },
		"-client", "-config", cf, "-servers", "http://"+httpAddr, "-token", "T")
	c := srv.client()
	var jobs []api.JobSubmit
	for i := range 30 {
		jobs = append(jobs, api.JobSubmit{ID: "split-" + strconv.Itoa(i), Shard: "earth", Capabilities: []string{"sim"},
			Kind: "sim", Value: 1, Payload: []byte(`{"duration_ms":0}`)})
	}
	submitJobs(t, c, jobs)
	waitFor(t, 60*time.Second, "jobs completed by the client process", func() bool {
		l, err := c.Jobs(context.Background(), api.JobQuery{State: "completed", Limit: 100})
		return err == nil && len(l.Jobs) == 30
	})
}

func twoSimMission(t *testing.T) string {
	b, err := os.ReadFile("testdata/two-sim.hcl")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
