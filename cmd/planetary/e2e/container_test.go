package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/testport"
)

// The real-work mission: an exec node and a container node (podman + runc).
const (
	realMission   = "../../../examples/mission-real.hcl"
	containerNode = "earth.container-1"
	busyboxImage  = "localhost/planetary-busybox:1"
)

// needContainers skips unless podman and a static busybox are installed.
func needContainers(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed: apt-get install -y podman runc busybox-static")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("/bin/busybox missing: apt-get install -y busybox-static")
	}
}

// runPlanetary runs the planetary binary with args and returns its combined output;
// env may carry PLANETARY_ADDR and PLANETARY_TOKEN.
func runPlanetary(t testing.TB, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// importBusybox makes the busybox image with the CLI, as an air-gapped user
// would: image build-busybox, then image import.
func importBusybox(t testing.TB, bin string) {
	t.Helper()
	tarPath := filepath.Join(t.TempDir(), "bb.tar")
	if out, err := runPlanetary(t, bin, nil, "image", "build-busybox", tarPath); err != nil {
		t.Fatalf("image build-busybox: %v\n%s", err, out)
	}
	if out, err := runPlanetary(t, bin, nil, "image", "import", tarPath, "planetary-busybox:1"); err != nil {
		t.Fatalf("image import: %v\n%s", err, out)
	}
}

// startReal starts a dev agent on the real-work mission and waits until the
// container node is up and advertises the busybox image.
func startReal(tb testing.TB, bin string) *agentProc {
	tb.Helper()
	cfg, err := filepath.Abs(realMission)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	httpAddr, bind := freePortTB(tb), freePortTB(tb)
	cmd := exec.Command(bin, "agent", "-dev", "-config", cfg, "-data-dir", dir, "-http-addr", httpAddr,
		"-bind", bind, "-log-level", "warn")
	cmd.Dir = dir
	out := &syncWriter{w: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &agentProc{cmd: cmd, out: out.w, addr: "http://" + httpAddr, dataDir: dir}
	if t, ok := tb.(*testing.T); ok {
		p.t = t
	}
	tb.Cleanup(p.kill)
	var c *api.Client
	waitForTB(tb, 60*time.Second, "agent API", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "management.token"))
		if err != nil || len(b) == 0 || !strings.Contains(p.output(), "planetary agent (") {
			return false
		}
		p.token = strings.TrimSpace(string(b))
		cc := api.DefaultClientConfig()
		cc.Address, cc.Token = p.addr, p.token
		if c, err = api.NewClient(cc); err != nil {
			tb.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = c.Nodes(ctx)
		return err == nil
	})
	waitForTB(tb, 60*time.Second, containerNode+" up with "+busyboxImage, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := c.Node(ctx, containerNode)
		return err == nil && n.Status == "up" && slices.Contains(n.Capabilities, "image:"+busyboxImage)
	})
	return p
}

// binTB is planetaryBin for tests and benchmarks alike.
func binTB(tb testing.TB) string {
	tb.Helper()
	if t, ok := tb.(*testing.T); ok {
		return planetaryBin(t)
	}
	if p := os.Getenv("PLANETARY_BIN"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	bin := filepath.Join(tb.TempDir(), "planetary")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/planetary/planetary/cmd/planetary").CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePortTB(tb testing.TB) string {
	tb.Helper()
	return testport.Addr(tb)
}

// waitForTB polls cond until it holds or the deadline passes.
func waitForTB(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	tb.Fatalf("timed out after %v waiting for %s", d, what)
}

// clientOf returns an API client for p without a *testing.T.
func clientOf(tb testing.TB, p *agentProc) *api.Client {
	tb.Helper()
	cc := api.DefaultClientConfig()
	cc.Address, cc.Token = p.addr, p.token
	c, err := api.NewClient(cc)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// statusField returns the value of the "key = value" line of a job status
// listing ("" when absent).
func statusField(out, key string) string {
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// containersOf lists the containers (any state) labelled with job id.
func containersOf(t testing.TB, id string) []string {
	t.Helper()
	out, err := exec.Command("podman", "ps", "-a", "-q", "--filter", "label=planetary.job="+id).Output()
	if err != nil {
		t.Fatalf("podman ps: %v", err)
	}
	return strings.Fields(string(out))
}

// TestContainerJobs runs container jobs through the whole fabric: the real
// binary, a dev agent on examples/mission-real.hcl, the container plugin out
// of process and podman. Job ids carry the test's pid so concurrent runs on
// one host do not share container names.
func TestContainerJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	needContainers(t)
	bin := planetaryBin(t)
	importBusybox(t, bin)
	p := startReal(t, bin)
	c := p.client()
	env := []string{"PLANETARY_ADDR=" + p.addr, "PLANETARY_TOKEN=" + p.token}
	pre := fmt.Sprintf("ct%d-", os.Getpid())
	id := func(s string) string { return pre + s }

	jobFile := filepath.Join(t.TempDir(), "container-jobs.hcl")
	src := fmt.Sprintf(`
job "%[1]secho" {
  shard        = "earth"
  capabilities = ["container"]
  kind         = "container"
  payload = {
    image   = "%[2]s"
    command = ["echo"]
    args    = ["hello from %[1]secho"]
  }
}

job "%[1]sexit3" {
  shard        = "earth"
  capabilities = ["container"]
  kind         = "container"
  payload = {
    image   = "%[2]s"
    command = ["sh", "-c", "echo about to fail; exit 3"]
  }
}

job "%[1]stimeout" {
  shard        = "earth"
  capabilities = ["container"]
  kind         = "container"
  payload = {
    image      = "%[2]s"
    command    = ["sleep", "60"]
    timeout_ms = 1500
  }
}

job "%[1]scancel" {
  shard        = "earth"
  capabilities = ["container"]
  kind         = "container"
  payload = {
    image   = "%[2]s"
    command = ["sleep", "60"]
  }
}

job "%[1]snoimage" {
  shard        = "earth"
  capabilities = ["container"]
  kind         = "container"
  payload = {
    image   = "localhost/planetary-no-such-image:1"
    command = ["true"]
  }
}
`, pre, busyboxImage)
	if err := os.WriteFile(jobFile, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runPlanetary(t, bin, env, "job", "submit", jobFile); err != nil {
		t.Fatalf("job submit: %v\n%s", err, out)
	}

	// The cancel job is cancelled while its container runs.
	waitFor(t, 90*time.Second, id("cancel")+" running with a container", func() bool {
		return job(t, c, id("cancel")).State == "running" && len(containersOf(t, id("cancel"))) > 0
	})
	if out, err := runPlanetary(t, bin, env, "job", "cancel", id("cancel")); err != nil {
		t.Fatalf("job cancel: %v\n%s", err, out)
	}

	waitState(t, c, 120*time.Second, "completed", id("echo"))
	waitState(t, c, 120*time.Second, "failed", id("exit3"), id("timeout"))
	waitState(t, c, 30*time.Second, "cancelled", id("cancel"))
	waitState(t, c, 30*time.Second, "parked", id("noimage"))

	status := func(j string) string {
		out, err := runPlanetary(t, bin, env, "job", "status", id(j))
		if err != nil {
			t.Fatalf("job status %s: %v\n%s", j, err, out)
		}
		return out
	}
	cases := []struct {
		name   string
		job    string
		fields map[string]string // "Key = value" lines of `planetary job status`
		output string            // fragment of its output
	}{
		{"echo completes with its output", "echo", map[string]string{"State": "completed", "Node": containerNode,
			"Capabilities": "container, image:" + busyboxImage, "Exit code": "0"}, "hello from " + id("echo")},
		{"exit 3 fails with exit code 3", "exit3", map[string]string{"State": "failed", "Exit code": "3",
			"Error": "exit status 3"}, "about to fail"},
		{"timeout is stopped", "timeout", map[string]string{"State": "failed", "Exit code": "-1",
			"Error": "timed out after 1.5s"}, ""},
		{"cancel", "cancel", map[string]string{"State": "cancelled"}, ""},
		{"missing image is parked naming the capability", "noimage", map[string]string{"State": "parked",
			"Parked reason": "no up node in earth has capabilities [container image:localhost/planetary-no-such-image:1] (and plugin kind container)"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := status(tc.job)
			for k, want := range tc.fields {
				if got := statusField(out, k); got != want {
					t.Errorf("job status %s = %q, want %q:\n%s", k, got, want, out)
				}
			}
			if !strings.Contains(out, tc.output) {
				t.Errorf("job status lacks %q:\n%s", tc.output, out)
			}
		})
	}
	t.Run("parked reason", func(t *testing.T) {
		r := job(t, c, id("noimage")).ParkedReason
		if !strings.Contains(r, "image:localhost/planetary-no-such-image:1") {
			t.Fatalf("parked reason %q does not name the image capability", r)
		}
	})
	t.Run("no container left behind", func(t *testing.T) {
		for _, j := range []string{"echo", "exit3", "timeout", "cancel"} {
			waitFor(t, 60*time.Second, "no container labelled planetary.job="+id(j), func() bool {
				return len(containersOf(t, id(j))) == 0
			})
		}
	})
	t.Run("cancel stopped the container early", func(t *testing.T) {
		j := job(t, c, id("cancel"))
		if j.FinishedAt == 0 || j.AssignedAt == 0 {
			return // a cancelled job may not record a finish time
		}
		if d := time.Duration(j.FinishedAt - j.AssignedAt); d > 50*time.Second {
			t.Fatalf("cancelled job ran %v (its command sleeps 60s)", d)
		}
	})
}

// BenchmarkFabricEcho measures short echo jobs completed per second through
// the whole fabric (real binary, API submit, scheduler, client, plugin
// process) on the real-work mission: exec jobs on earth.exec-1 (capacity 4)
// and container jobs on earth.container-1 (capacity 4, podman + runc).
//
//	go test -run '^$' -bench BenchmarkFabricEcho -benchtime 40x ./cmd/planetary/e2e/
func BenchmarkFabricEcho(b *testing.B) {
	needContainers(b)
	bin := binTB(b)
	importBusybox(b, bin)
	p := startReal(b, bin)
	c := clientOf(b, p)
	kinds := []struct {
		name    string
		caps    []string
		kind    string
		payload string
	}{
		{"exec", []string{"exec"}, "exec", `{"command":"echo","args":["hi"]}`},
		{"container", []string{"container"}, "container", `{"image":"` + busyboxImage + `","command":["echo","hi"]}`},
	}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			caps := k.caps
			if k.kind == "container" {
				caps = append(slices.Clone(caps), "image:"+busyboxImage)
			}
			jobs := make([]api.JobSubmit, b.N)
			for i := range jobs {
				jobs[i] = api.JobSubmit{Key: fmt.Sprintf("bench/%s/%d/%d", k.name, time.Now().UnixNano(), i), Shard: "earth",
					Capabilities: caps, Kind: k.kind, Value: 1, Payload: json.RawMessage(k.payload)}
			}
			ctx := context.Background()
			b.ResetTimer()
			start := time.Now()
			res, err := c.SubmitJobs(ctx, jobs)
			if err != nil {
				b.Fatal(err)
			}
			ids := make([]string, len(res))
			for i, r := range res {
				if r.Status != api.StatusAccepted {
					b.Fatalf("submit: %+v", r)
				}
				ids[i] = r.ID
			}
			deadline := time.Now().Add(10 * time.Minute)
			for done := 0; done < len(ids); {
				j, err := c.Job(ctx, ids[done])
				if err != nil {
					b.Fatal(err)
				}
				switch j.State {
				case "completed":
					done++
					continue
				case "failed", "cancelled", "parked":
					b.Fatalf("job %s %s: %s %s", j.ID, j.State, j.Error, j.ParkedReason)
				}
				if time.Now().After(deadline) {
					b.Fatalf("%d of %d jobs completed in 10m", done, len(ids))
				}
				time.Sleep(20 * time.Millisecond)
			}
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(len(ids))/el.Seconds(), "jobs/s")
		})
	}
}
