package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/tlsutil"
)

// clusterMission is a one-shard mission with two fast sim nodes.
const clusterMission = `
mission "ha" {
  seed = 11
}

shard "earth" {
  latency_budget_ms = 1000
  max_queue         = 100000
}

node "earth.a" {
  shard        = "earth"
  plugin       = "sim"
  capabilities = ["sim"]
  capacity     = 200
  price {
    base = 0.1
  }
}

node "earth.b" {
  shard        = "earth"
  plugin       = "sim"
  capabilities = ["sim"]
  capacity     = 200
  price {
    base = 0.2
  }
}
`

// clusterSpec is a three-server cluster and one client on loopback.
type clusterSpec struct {
	dir     string
	http    [3]string
	bind    [3]string
	client  string
	tls     *tlsutil.TestCA
	cliTLS  *tls.Config
	servers [3]*agentProc
}

func newClusterSpec(t *testing.T, withTLS bool) *clusterSpec {
	t.Helper()
	c := &clusterSpec{dir: t.TempDir()}
	for i := range 3 {
		c.http[i], c.bind[i] = freePort(t), freePort(t)
	}
	c.client = freePort(t)
	if withTLS {
		ca, err := tlsutil.NewTestCA(c.dir, "planetary")
		if err != nil {
			t.Fatal(err)
		}
		c.tls = ca
		f, err := ca.Issue("cli")
		if err != nil {
			t.Fatal(err)
		}
		if c.cliTLS, err = tlsutil.Load(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(c.dir, "mission.hcl"), []byte(clusterMission), 0o644); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *clusterSpec) scheme() string {
	if c.tls != nil {
		return "https://"
	}
	return "http://"
}

func (c *clusterSpec) tlsBlock(t *testing.T, name string) string {
	if c.tls == nil {
		return ""
	}
	f, err := c.tls.Issue(name)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("  tls {\n    ca_file = %q\n    cert_file = %q\n    key_file = %q\n  }\n", f.CAFile, f.CertFile, f.KeyFile)
}

// serverConfig writes server i's agent config: bootstrap_expect 3, joining
// the other two servers' API addresses.
func (c *clusterSpec) serverConfig(t *testing.T, i int) string {
	var join []string
	for j := range 3 {
		if j != i {
			join = append(join, fmt.Sprintf("%q", c.http[j]))
		}
	}
	body := fmt.Sprintf(`agent {
  name      = "s%d"
  data_dir  = %q
  http_addr = %q
  log_level = "warn"
  server {
    enabled          = true
    bind             = %q
    bootstrap_expect = 3
    join             = [%s]
  }
  acl {
    enabled = false
  }
%s}
`, i, filepath.Join(c.dir, fmt.Sprintf("s%d", i)), c.http[i], c.bind[i], strings.Join(join, ", "), c.tlsBlock(t, fmt.Sprintf("s%d", i)))
	path := filepath.Join(c.dir, fmt.Sprintf("s%d.hcl", i))
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// clientConfig writes the client agent's config with the mission (its
// nodes are the ones it serves).
func (c *clusterSpec) clientConfig(t *testing.T) string {
	var servers []string
	for _, h := range c.http {
		servers = append(servers, fmt.Sprintf("%q", c.scheme()+h))
	}
	body := fmt.Sprintf(`agent {
  name      = "c1"
  data_dir  = %q
  http_addr = %q
  log_level = "warn"
  client {
    enabled            = true
    servers            = [%s]
    heartbeat_interval = "200ms"
  }
  acl {
    enabled = false
  }
}

plugin "sim" {}
%s`, filepath.Join(c.dir, "c1"), c.client, strings.Join(servers, ", "), clusterMission)
	path := filepath.Join(c.dir, "c1.hcl")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// launch starts `planetary agent args...` without waiting.
func launch(t *testing.T, env []string, addr string, args ...string) *agentProc {
	t.Helper()
	cmd := exec.Command(planetaryBin(t), append([]string{"agent"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &syncWriter{w: &out}, &syncWriter{w: &out}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &agentProc{t: t, cmd: cmd, out: &out, addr: addr}
	t.Cleanup(func() { p.kill() })
	return p
}

// waitBanner waits until the agent has finished starting; on a timeout or
// an early exit it fails with the agent's output.
func (p *agentProc) waitBanner(d time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if strings.Contains(p.output(), "planetary agent (") {
			return
		}
		if p.exited() {
			p.t.Fatalf("agent exited before its banner:\n%s", p.output())
		}
		time.Sleep(25 * time.Millisecond)
	}
	p.t.Fatalf("timed out after %v waiting for the agent banner; its output:\n%s", d, p.output())
}

// exited reports whether the agent process has ended (a zombie not yet
// reaped counts as ended).
func (p *agentProc) exited() bool {
	if p.cmd.ProcessState != nil {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// startServer starts server i (not waiting: servers wait for each other).
func (c *clusterSpec) startServer(t *testing.T, i int) *agentProc {
	p := launch(t, nil, c.scheme()+c.http[i], "-config", c.serverConfig(t, i))
	c.servers[i] = p
	return p
}

// start brings up the three servers and waits for a leader.
func (c *clusterSpec) start(t *testing.T) {
	for i := range 3 {
		c.startServer(t, i)
	}
	for _, p := range c.servers {
		p.waitBanner(60 * time.Second)
	}
}

// api returns a client of server i's API.
func (c *clusterSpec) api(t *testing.T, i int, stale bool) *api.Client {
	t.Helper()
	cc := api.ClientConfig{Address: c.scheme() + c.http[i], Stale: stale, TLS: c.cliTLS}
	cl, err := api.NewClient(cc)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// startClient starts the client agent (after the mission is applied).
func (c *clusterSpec) startClient(t *testing.T) *agentProc {
	var env []string
	if c.tls != nil {
		f, err := c.tls.Issue("c1")
		if err != nil {
			t.Fatal(err)
		}
		env = []string{tlsutil.EnvCACert + "=" + f.CAFile, tlsutil.EnvClientCert + "=" + f.CertFile, tlsutil.EnvClientKey + "=" + f.KeyFile}
	}
	p := launch(t, env, "", "-client", "-config", c.clientConfig(t))
	p.waitBanner(60 * time.Second)
	return p
}

// applyMission applies the mission through server i.
func (c *clusterSpec) applyMission(t *testing.T, i int) {
	t.Helper()
	cl := c.api(t, i, false)
	waitFor(t, 30*time.Second, "mission applied", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := cl.ApplyMission(ctx, "mission.hcl", []byte(clusterMission), "cluster test")
		return err == nil
	})
}

// leader returns the index of the server that leads (-1 if none answers so).
func (c *clusterSpec) leader(t *testing.T) int {
	for i, p := range c.servers {
		if p == nil || p.cmd.ProcessState != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		si, err := c.api(t, i, false).Self(ctx)
		cancel()
		if err == nil && si.Leader {
			return i
		}
	}
	return -1
}

// digestsAgree reports whether the live servers listed report the same
// digest at the same applied index.
func (c *clusterSpec) digestsAgree(t *testing.T, which []int) (bool, string) {
	var first api.Digest
	var all []string
	for k, i := range which {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		d, err := c.api(t, i, true).Digest(ctx, true)
		cancel()
		if err != nil {
			return false, err.Error()
		}
		all = append(all, fmt.Sprintf("s%d@%d=%.12s", i, d.AppliedIndex, d.Digest))
		if k == 0 {
			first = d
		} else if d != first {
			return false, strings.Join(all, " ")
		}
	}
	return true, strings.Join(all, " ")
}

// newForeignClient is an API client of server 0 whose certificate comes
// from another CA (it trusts the cluster's CA, so only the server can
// refuse it).
func newForeignClient(t *testing.T, c *clusterSpec) (*api.Client, error) {
	other, err := tlsutil.NewTestCA(t.TempDir(), "foreign")
	if err != nil {
		return nil, err
	}
	f, err := other.Issue("intruder")
	if err != nil {
		return nil, err
	}
	f.CAFile = c.tls.CAFile
	cfg, err := tlsutil.Load(f)
	if err != nil {
		return nil, err
	}
	return api.NewClient(api.ClientConfig{Address: "https://" + c.http[0], TLS: cfg})
}
