package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
)

// TestPluginRefusedThenReloaded pins an external plugin by a wrong sha256:
// `node status -json` shows its plugin refused, naming the plugin block and
// both hashes. Fixing the pin in the config file and sending SIGHUP brings
// the node up, served by the same agent process.
func TestPluginRefusedThenReloaded(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "echo-reverse")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/planetary/planetary/examples/agent-plugin").CombinedOutput(); err != nil {
		t.Fatalf("build agent-plugin: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	actual := hex.EncodeToString(sum[:])
	wrong := strings.Repeat("ab", 32)
	config := func(pin string) string {
		return `
agent {
  name = "reload"
  client {
    enabled = true
    heartbeat_interval = "200ms"
  }
  server {
    enabled = true
  }
}
plugin "echo-reverse" {
  path   = "` + bin + `"
  sha256 = "` + pin + `"
}
mission "reload" {
  seed = 1
}
shard "earth" {}
node "earth.ext" {
  shard = "earth"
  plugin = "echo-reverse"
  capabilities = ["echo"]
  capacity = 2
}
`
	}
	file := filepath.Join(dir, "reload.hcl")
	if err := os.WriteFile(file, []byte(config(wrong)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startAgent(t, filepath.Join(dir, "data"), freePort(t), freePort(t), "-dev", "-config", file)
	pid := p.cmd.Process.Pid

	status := func() api.Node {
		t.Helper()
		cmd := exec.Command(planetaryBin(t), "node", "status", "-json", "-address", p.addr, "-token", p.token, "earth.ext")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("node status -json: %v\n%s%s", err, out.String(), errb.String())
		}
		var v struct {
			Node api.Node `json:"node"`
		}
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Fatalf("node status -json: %v\n%s", err, out.String())
		}
		return v.Node
	}
	var n api.Node
	waitFor(t, 30*time.Second, "the plugin's refusal in node status -json", func() bool {
		n = status()
		return n.PluginState == "refused"
	})
	for _, want := range []string{`plugin "echo-reverse" in reload.hcl`, "pinned " + wrong, "actual " + actual} {
		if !strings.Contains(n.PluginReason, want) {
			t.Fatalf("plugin_reason %q lacks %q", n.PluginReason, want)
		}
	}
	if n.Status == "up" {
		t.Fatalf("node with a refused plugin is %s", n.Status)
	}

	// A reload of a file that does not parse changes nothing and says why.
	if err := os.WriteFile(file, []byte(config(actual)+"\nplugin {"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the bad reload refused", func() bool {
		return strings.Contains(p.output(), "reload of "+file+" refused")
	})
	if n := status(); n.PluginState != "refused" {
		t.Fatalf("after a bad reload the plugin is %q", n.PluginState)
	}

	// The corrected pin takes effect on SIGHUP, in the same process.
	if err := os.WriteFile(file, []byte(config(actual)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The plugin's pid arrives with the node's next state publication,
	// which may come after the one that says up.
	waitFor(t, 30*time.Second, "the node up after SIGHUP, with its plugin's pid", func() bool {
		n = status()
		return n.Status == "up" && n.PluginState == "up" && n.PluginPid != 0
	})
	if n.PluginReason != "" || n.PluginPid == 0 {
		t.Fatalf("after reload: reason %q, plugin pid %d", n.PluginReason, n.PluginPid)
	}
	if p.exited() || p.cmd.Process.Pid != pid {
		t.Fatalf("the agent restarted (pid %d, was %d)", p.cmd.Process.Pid, pid)
	}
	if !strings.Contains(p.output(), "relaunched earth.ext") {
		t.Fatalf("the agent did not say what it reloaded:\n%s", p.output())
	}
}
