package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
)

// identityMission is a one-shard mission with one sim node, served by the
// agent that runs the server.
const identityMission = `
mission "ident" {
  seed = 5
}

shard "earth" {
  latency_budget_ms = 1000
  max_queue         = 1000
}

node "earth.a" {
  shard        = "earth"
  plugin       = "sim"
  capabilities = ["sim"]
  capacity     = 10
  price {
    base = 0.1
  }
}
`

// remoteClientConfig is a client-only agent on another "host" serving its
// own node earth.r1 (its mission copy names only that node).
const remoteClientConfig = `
agent {
  name     = %q
  data_dir = %q
  client {
    enabled            = true
    servers            = [%q]
    heartbeat_interval = "200ms"
  }
  acl {
    enabled = true
  }
}

plugin "sim" {}

mission "ident" {
  seed = 5
}

shard "earth" {
  latency_budget_ms = 1000
  max_queue         = 1000
}

node %q {
  shard        = "earth"
  plugin       = "sim"
  capabilities = ["sim"]
  capacity     = 10
  price {
    base = 0.1
  }
}
`

func exampleFile(t *testing.T, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", "..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// launchIn starts `planetary agent args...` in dir with PLANETARY_TOKEN
// set to token ("" clears it).
func launchIn(t *testing.T, dir, token, addr string, args ...string) *agentProc {
	t.Helper()
	cmd := exec.Command(planetaryBin(t), append([]string{"agent"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PLANETARY_ADDR=", "PLANETARY_TOKEN="+token)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &syncWriter{w: &out}, &syncWriter{w: &out}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &agentProc{t: t, cmd: cmd, out: &out, addr: addr, dataDir: dir}
	t.Cleanup(func() { p.kill() })
	return p
}

func nodeUp(t *testing.T, c *api.Client, id string) bool {
	ns, err := c.Nodes(ctxT(t))
	if err != nil {
		return false
	}
	for _, n := range ns {
		if n.ID == id {
			return n.Status == "up"
		}
	}
	return false
}

// settledIndex waits until the applied index stops moving (an idle fabric
// writes nothing) and returns it.
func settledIndex(t *testing.T, c *api.Client) uint64 {
	t.Helper()
	index := func() uint64 {
		h, err := c.Health(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		return h.AppliedIndex
	}
	last, since := index(), time.Now()
	waitFor(t, 30*time.Second, "the applied index to settle", func() bool {
		if i := index(); i != last {
			last, since = i, time.Now()
		}
		return time.Since(since) > time.Second
	})
	return last
}

// TestAgentConfigWithoutToken: `agent -config examples/agent.hcl` on an
// empty data dir, with no token anywhere, starts its server and its client
// (the client has its own identity); the operator's `acl bootstrap` still
// works afterwards, and the mission it applies brings the agent's node up.
// A remote client agent joins with a client join credential and serves its
// node; one with a wrong credential is refused, exits, and applies nothing.
func TestAgentConfigWithoutToken(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	httpAddr, bind := freePort(t), freePort(t)
	addr := "http://" + httpAddr
	srv := launchIn(t, dir, "", addr, "-config", exampleFile(t, "agent.hcl"),
		"-data-dir", filepath.Join(dir, "server"), "-http-addr", httpAddr, "-bind", bind, "-log-level", "warn")
	srv.waitBanner(90 * time.Second)

	// The operator bootstraps ACLs: the agent left that to them.
	code, out := runBin(t, dir, 30*time.Second, "acl", "bootstrap", "-address", addr, "-json")
	if code != 0 {
		t.Fatalf("acl bootstrap exited %d:\n%s\nagent:\n%s", code, out, srv.output())
	}
	mgmt := jsonField(t, out, "secret_id")
	srv.token = mgmt
	c := srv.client()
	if _, err := c.ApplyMission(ctxT(t), "ident.hcl", []byte(identityMission), "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "earth.a up (served by the in-process client)", func() bool { return nodeUp(t, c, "earth.a") })

	// A join credential, created once by the operator.
	code, out = runBin(t, dir, 30*time.Second, "acl", "token", "create", "-type", "client", "-name", "hosts",
		"-address", addr, "-token", mgmt, "-json")
	if code != 0 {
		t.Fatalf("acl token create -type client exited %d:\n%s", code, out)
	}
	join := jsonField(t, out, "secret_id")

	remoteDir := filepath.Join(dir, "remote")
	if err := os.MkdirAll(remoteDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "remote.hcl")
	writeConfig(t, cfg, fmt.Sprintf(remoteClientConfig, "remote", remoteDir, addr, "earth.r1"))
	remote := launchIn(t, remoteDir, "", "", "-client", "-config", cfg, "-token", join, "-log-level", "warn")
	remote.waitBanner(90 * time.Second)
	t.Cleanup(func() {
		if t.Failed() {
			ns, _ := c.Nodes(context.Background())
			t.Logf("nodes: %+v\nremote:\n%s\nserver:\n%s", ns, remote.output(), srv.output())
		}
	})
	waitFor(t, 90*time.Second, "earth.r1 up (served by the remote client)", func() bool { return nodeUp(t, c, "earth.r1") })
	b, err := os.ReadFile(filepath.Join(remoteDir, api.IdentityFile))
	if err != nil {
		t.Fatalf("the remote client keeps no identity: %v", err)
	}
	if strings.Contains(string(b), join) {
		t.Errorf("the identity file holds the join credential:\n%s", b)
	}
	// The servers keep the identity's hash only, never the secret.
	secret := jsonField(t, string(b), "secret")
	snap := filepath.Join(dir, "snap.bin")
	if code, out := runBin(t, dir, 30*time.Second, "operator", "snapshot", "save", "-address", addr, "-token", mgmt, snap); code != 0 {
		t.Fatalf("snapshot save exited %d:\n%s", code, out)
	}
	if raw, err := os.ReadFile(snap); err != nil || bytes.Contains(raw, []byte(secret)) {
		t.Errorf("the snapshot holds the client's secret (read err %v)", err)
	}

	// A wrong credential: refused, the agent exits, nothing is applied.
	before := settledIndex(t, c)
	badDir := filepath.Join(dir, "intruder")
	if err := os.MkdirAll(badDir, 0o755); err != nil {
		t.Fatal(err)
	}
	badCfg := filepath.Join(dir, "intruder.hcl")
	writeConfig(t, badCfg, fmt.Sprintf(remoteClientConfig, "intruder", badDir, addr, "earth.x1"))
	bad := launchIn(t, badDir, "not-a-join-credential", "", "-client", "-config", badCfg, "-log-level", "warn")
	waitFor(t, 60*time.Second, "the intruder to exit", bad.exited)
	_ = bad.cmd.Wait()
	if bad.cmd.ProcessState.ExitCode() == 0 {
		t.Errorf("the intruder exited 0:\n%s", bad.output())
	}
	for _, w := range []string{"join refused", "PLANETARY_TOKEN", "acl token create -type client"} {
		if !strings.Contains(bad.output(), w) {
			t.Errorf("the intruder's output lacks %q:\n%s", w, bad.output())
		}
	}
	h, err := c.Health(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if h.AppliedIndex != before {
		t.Errorf("the refused join moved the applied index %d -> %d", before, h.AppliedIndex)
	}
	toks, err := c.Tokens(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range toks {
		if tk.Name == "intruder" {
			t.Errorf("the intruder holds a token: %+v", tk)
		}
	}

	// Revoking the remote client refuses its calls: its node goes down.
	if code, out := runBin(t, dir, 30*time.Second, "acl", "client", "revoke", "-address", addr, "-token", mgmt, "remote"); code != 0 {
		t.Fatalf("acl client revoke exited %d:\n%s", code, out)
	}
	waitFor(t, 90*time.Second, "earth.r1 down after the revocation", func() bool { return !nodeUp(t, c, "earth.r1") })
}

// TestAgentConfigMissionOnly: `agent -config` on a file holding only a
// mission starts a single-host agent that bootstraps ACLs itself, says what
// it assumed, runs a submitted job, and keeps it across a restart on the
// same data dir (with the token it wrote there).
func TestAgentConfigMissionOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "ident.hcl")
	writeConfig(t, file, identityMission)
	data := filepath.Join(dir, "data", "ident")
	httpAddr, bind := freePort(t), freePort(t)
	addr := "http://" + httpAddr
	start := func() *agentProc {
		p := launchIn(t, dir, "", addr, "-config", file, "-http-addr", httpAddr, "-bind", bind, "-log-level", "warn")
		p.waitBanner(90 * time.Second)
		return p
	}
	p := start()
	for _, w := range []string{"assumed:", "data dir data/ident", "ACL on", "management token kept in", "PLANETARY_TOKEN="} {
		if !strings.Contains(p.output(), w) {
			t.Errorf("first banner lacks %q:\n%s", w, p.output())
		}
	}
	tokb, err := os.ReadFile(filepath.Join(data, "management.token"))
	if err != nil {
		t.Fatalf("no management token in the default data dir: %v\n%s", err, p.output())
	}
	p.token = strings.TrimSpace(string(tokb))
	c := p.client()
	waitFor(t, 90*time.Second, "earth.a up", func() bool { return nodeUp(t, c, "earth.a") })
	ids := submit(t, c, simJob("mo/1", "earth", 0, "sim"))
	done := func(c *api.Client) bool {
		j, err := c.Job(ctxT(t), ids[0])
		return err == nil && j.State == "completed"
	}
	waitFor(t, 90*time.Second, "the job to complete", func() bool { return done(c) })
	p.kill()

	tok := p.token
	p = start()
	p.token = tok
	if strings.Contains(p.output(), tok) {
		t.Errorf("the restart printed the management token again:\n%s", p.output())
	}
	if !strings.Contains(p.output(), "management token in ") {
		t.Errorf("the restart does not say where the token is:\n%s", p.output())
	}
	c = p.client()
	waitFor(t, 30*time.Second, "the job still completed after the restart", func() bool { return done(c) })
}

// TestWrongExportedToken: with a wrong PLANETARY_TOKEN exported, `agent
// -dev` and `run -plan` (in-process) use the token they bootstrap and
// succeed.
func TestWrongExportedToken(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	const wrong = "00000000-0000-0000-0000-000000000000"
	t.Run("agent -dev", func(t *testing.T) {
		dir := t.TempDir()
		httpAddr, bind := freePort(t), freePort(t)
		p := launchIn(t, dir, wrong, "http://"+httpAddr, "-dev", "-data-dir", filepath.Join(dir, "data"),
			"-http-addr", httpAddr, "-bind", bind, "-log-level", "warn")
		p.waitBanner(90 * time.Second)
		if strings.Contains(p.output(), wrong) {
			t.Errorf("the banner repeats the exported token:\n%s", p.output())
		}
		tokb, err := os.ReadFile(filepath.Join(dir, "data", "management.token"))
		if err != nil {
			t.Fatal(err)
		}
		p.token = strings.TrimSpace(string(tokb))
		c := p.client()
		m, err := c.Mission(ctxT(t))
		if err != nil || m.Name == "" {
			t.Fatalf("the dev agent's mission: %+v, %v\n%s", m, err, p.output())
		}
	})
	t.Run("run -plan", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, planetaryBin(t), "run", "-plan", exampleFile(t, "mission.hcl"),
			"-jobs", "200", "-data-dir", filepath.Join(dir, "data"), "-label", "token")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PLANETARY_ADDR=", "PLANETARY_TOKEN="+wrong)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		if err != nil || !strings.Contains(string(out), "Ledger verify       = OK") {
			t.Fatalf("run -plan with a wrong exported token: %v\n%s", err, out)
		}
	})
}

func writeConfig(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// jsonField returns the string value of "key" in a JSON text (the CLI's
// -json output or a file).
func jsonField(t *testing.T, text, key string) string {
	t.Helper()
	i := strings.Index(text, `"`+key+`"`)
	if i < 0 {
		t.Fatalf("no %q in:\n%s", key, text)
	}
	rest := text[i+len(key)+2:]
	a := strings.IndexByte(rest, '"')
	b := strings.IndexByte(rest[a+1:], '"')
	if a < 0 || b < 0 {
		t.Fatalf("no value for %q in:\n%s", key, text)
	}
	return rest[a+1 : a+1+b]
}

// runBin runs the binary in dir with no address or token in the
// environment and returns its exit code and output.
func runBin(t *testing.T, dir string, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, planetaryBin(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PLANETARY_ADDR=", "PLANETARY_TOKEN=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %v: %v\n%s", args, err, out)
	}
	if ee != nil {
		return ee.ExitCode(), string(out)
	}
	return 0, string(out)
}
