package container

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/planetary/planetary/sdk"
)

// The settings this Debian host needs for podman (crun fails here).
const (
	testImage   = "localhost/planetary-test-bb:1"
	testRuntime = "/usr/sbin/runc"
)

func baseValues() map[string]any {
	return map[string]any{
		"runtime":        "podman",
		"runtime_path":   testRuntime,
		"cgroup_manager": "cgroupfs",
		"ulimits":        []string{"nofile=1024:1024", "nproc=1024:1024"},
		"stop_grace":     "0s",
	}
}

var imageOnce struct {
	sync.Once
	err error
}

// needPodman skips without podman and imports the busybox test image once.
func needPodman(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed (apt-get install -y podman runc busybox-static)")
	}
	if _, err := os.Stat(testRuntime); err != nil {
		t.Skipf("%s not installed (apt-get install -y runc)", testRuntime)
	}
	imageOnce.Do(func() {
		dir, err := os.MkdirTemp("", "planetary-rootfs")
		if err != nil {
			imageOnce.err = err
			return
		}
		defer os.RemoveAll(dir)
		tarPath := filepath.Join(dir, "rootfs.tar")
		if imageOnce.err = WriteBusyboxRootfs(tarPath, "/bin/busybox", nil); imageOnce.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		imageOnce.err = ImportRootfs(ctx, "podman", tarPath, testImage)
	})
	if imageOnce.err != nil {
		t.Fatalf("preparing %s: %v (needs busybox-static for /bin/busybox)", testImage, imageOnce.err)
	}
}

func configured(t testing.TB, extra map[string]any) *Agent {
	t.Helper()
	vals := baseValues()
	for k, v := range extra {
		vals[k] = v
	}
	a := newAgent()
	if err := a.Configure(context.Background(), sdk.Config{Node: sdk.NodeInfo{ID: "test-node"}, Values: vals}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return a
}

func task(t testing.TB, job string, p Payload) sdk.Task {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return sdk.Task{JobID: job, Attempt: 1, Node: "test-node", Payload: b}
}

// leftovers lists containers labelled with the job id.
func leftovers(t testing.TB, job string) []string {
	t.Helper()
	out, err := exec.Command("podman", "--runtime", testRuntime, "--cgroup-manager", "cgroupfs",
		"ps", "-a", "-q", "--filter", "label="+LabelJob+"="+job).Output()
	if err != nil {
		t.Fatalf("podman ps: %v", err)
	}
	return strings.Fields(string(out))
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConfigure(t *testing.T) {
	cases := []struct {
		name   string
		values map[string]any
		ok     bool
	}{
		{"defaults", nil, true},
		{"docker api", map[string]any{"runtime": "docker", "mode": "api"}, true},
		{"bad runtime", map[string]any{"runtime": "lxc"}, false},
		{"bad mode", map[string]any{"mode": "rpc"}, false},
		{"bad ulimit", map[string]any{"ulimits": []string{"nofile"}}, false},
		{"bad ulimit number", map[string]any{"ulimits": []string{"nofile=x:1"}}, false},
		{"bad grace", map[string]any{"stop_grace": "later"}, false},
		{"negative limit", map[string]any{"output_limit": -1.0}, false},
		{"negative price", map[string]any{"price_per_second": -1.0}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := newAgent().Configure(context.Background(), sdk.Config{Values: tc.values})
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestHelpers(t *testing.T) {
	names := []struct{ job, want string }{
		{"job-1", "planetary-job-1-2"},
		{"wl/seed:7 x", "planetary-wl_seed_7_x-2"},
	}
	for _, n := range names {
		if got := ContainerName(n.job, 2); got != n.want {
			t.Errorf("ContainerName(%q) = %q, want %q", n.job, got, n.want)
		}
	}
	refs := []struct{ reg, in, want string }{
		{"", "bb:1", "bb:1"},
		{"reg.example:5000", "bb:1", "reg.example:5000/bb:1"},
		{"reg.example:5000", "team/bb:1", "reg.example:5000/team/bb:1"},
		{"reg.example:5000", "localhost/bb:1", "localhost/bb:1"},
		{"reg.example:5000", "quay.io/x/bb@sha256:ab", "quay.io/x/bb@sha256:ab"},
	}
	for _, r := range refs {
		if got := qualify(r.reg, r.in); got != r.want {
			t.Errorf("qualify(%q, %q) = %q, want %q", r.reg, r.in, got, r.want)
		}
	}
	uls := []struct {
		in   string
		want ulimit
		ok   bool
	}{
		{"nofile=1024:2048", ulimit{"nofile", 1024, 2048}, true},
		{"nproc=64", ulimit{"nproc", 64, 64}, true},
		{"=1", ulimit{}, false},
	}
	for _, u := range uls {
		got, err := parseUlimit(u.in)
		if (err == nil) != u.ok || got != u.want {
			t.Errorf("parseUlimit(%q) = %v, %v", u.in, got, err)
		}
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		name string
		code int64
		out  string
		want error
	}{
		{"task exit", 3, "Error: whatever", nil},
		{"task 125 without runtime error", 125, "bye", nil},
		{"podman image", 125, "Error: localhost/x:1: image not known", ErrImageAbsent},
		{"docker image", 125, "Unable to find image 'x:1' locally\ndocker: Error response from daemon: pull access denied", ErrImageAbsent},
		{"permission", 126, "Error: runc create failed: operation not permitted: OCI permission denied", ErrPermission},
		{"other runtime", 125, "Error: invalid reference format", ErrRuntime},
		{"command not found", 127, "Error: OCI runtime attempted to invoke a command that was not found", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := classify("podman", "x:1", tc.code, tc.out)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("classify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDemux(t *testing.T) {
	frame := func(stream byte, s string) []byte {
		h := []byte{stream, 0, 0, 0, 0, 0, 0, byte(len(s))}
		return append(h, s...)
	}
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"framed", slices.Concat(frame(1, "out\n"), frame(2, "err\n")), "out\nerr\n"},
		{"raw", []byte("plain text output"), "plain text output"},
		{"short raw", []byte("hi"), "hi"},
		{"empty", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := demux(&b, bytes.NewReader(tc.in)); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Fatalf("got %q, want %q", b.String(), tc.want)
			}
		})
	}
}

func TestBusyboxRootfs(t *testing.T) {
	bb := filepath.Join(t.TempDir(), "busybox")
	if err := os.WriteFile(bb, []byte("fake busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := BusyboxRootfs(&buf, bb, []string{"sh", "echo"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h.Linkname
	}
	for name, link := range map[string]string{"bin/busybox": "", "bin/sh": "busybox", "bin/echo": "busybox", "tmp/": ""} {
		if l, ok := got[name]; !ok || l != link {
			t.Errorf("entry %s: got %q present=%v, want link %q", name, l, ok, link)
		}
	}
	if err := BusyboxRootfs(io.Discard, bb, []string{"../x"}); err == nil {
		t.Error("bad applet accepted")
	}
	if err := BusyboxRootfs(io.Discard, filepath.Join(t.TempDir(), "none"), nil); err == nil {
		t.Error("missing busybox accepted")
	}
}

// TestUnavailable: a missing runtime or socket is a failed result, quickly.
func TestUnavailable(t *testing.T) {
	cases := []struct {
		name      string
		values    map[string]any
		wantErr   string
		retryable bool
	}{
		{"runtime missing", map[string]any{"binary": "/nonexistent/podman"}, "runtime missing", true},
		{"socket unreachable", map[string]any{"mode": "api", "socket": "/nonexistent/podman.sock"}, "engine socket unreachable", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := configured(t, tc.values)
			start := time.Now()
			r, err := a.Execute(context.Background(), task(t, "u1", Payload{Image: testImage, Command: []string{"true"}}))
			if err != nil {
				t.Fatal(err)
			}
			if r.OK || r.Retryable != tc.retryable || !strings.Contains(r.Error, tc.wantErr) || time.Since(start) > 5*time.Second {
				t.Fatalf("result = %+v after %s", r, time.Since(start))
			}
			ch, err := a.Fingerprint(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if fp := <-ch; fp.Healthy || !strings.Contains(fp.Message, "podman unavailable") {
				t.Fatalf("fingerprint = %+v", fp)
			}
		})
	}
}

// runCases are shared by the CLI and API mode tests.
func runCases(t *testing.T, a *Agent, mode string) {
	cases := []struct {
		name     string
		p        Payload
		wantOK   bool
		wantExit int64
		wantOut  string
		wantErr  string
	}{
		{"echo", Payload{Image: testImage, Command: []string{"/bin/echo", "hello"}}, true, 0, "hello\n", ""},
		{"exit 3", Payload{Image: testImage, Command: []string{"sh", "-c"}, Args: []string{"echo out; echo err >&2; exit 3"}}, false, 3, "out\n", "exit status 3"},
		{"env workdir limits", Payload{Image: testImage, Command: []string{"sh", "-c", `echo "$A $(pwd)"`},
			Env: map[string]string{"A": "x"}, Workdir: "/tmp", CPUs: 0.5, MemoryMB: 64, Pids: 32}, true, 0, "x /tmp\n", ""},
		{"network none", Payload{Image: testImage, Command: []string{"sh", "-c", "ls /sys/class/net"}}, true, 0, "lo\n", ""},
		{"image absent", Payload{Image: "localhost/x:1", Command: []string{"true"}}, false, -1, "", "image localhost/x:1 not present"},
		{"timeout", Payload{Image: testImage, Command: []string{"sleep", "30"}, TimeoutMS: 500}, false, -1, "", "timed out after 500ms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := "t-" + mode + "-" + strings.ReplaceAll(tc.name, " ", "-")
			start := time.Now()
			r, err := a.Execute(context.Background(), task(t, job, tc.p))
			if err != nil {
				t.Fatal(err)
			}
			if r.OK != tc.wantOK || r.ExitCode != tc.wantExit || !strings.Contains(r.Output, tc.wantOut) ||
				!strings.Contains(r.Error, tc.wantErr) {
				t.Fatalf("result = %+v", r)
			}
			if time.Since(start) > 15*time.Second {
				t.Fatalf("took %s", time.Since(start))
			}
			if left := leftovers(t, job); len(left) != 0 {
				t.Fatalf("containers left behind: %v", left)
			}
		})
	}
}

func TestExecuteCLI(t *testing.T) {
	needPodman(t)
	runCases(t, configured(t, nil), "cli")
}

func TestOutputLimit(t *testing.T) {
	needPodman(t)
	a := configured(t, map[string]any{"output_limit": 10.0})
	r, _ := a.Execute(context.Background(), task(t, "t-limit", Payload{Image: testImage,
		Command: []string{"sh", "-c", "yes | head -n 1000"}}))
	if !r.OK || !strings.HasPrefix(r.Output, "y\ny\ny\ny\ny\n\n[output truncated: 1990 bytes dropped]") {
		t.Fatalf("result = %+v", r)
	}
}

// TestCancel: cancelling ctx stops the container (SIGTERM reaches a task
// that handles it, within the grace) and removes it.
func TestCancel(t *testing.T) {
	needPodman(t)
	for _, mode := range []string{"cli", "api"} {
		t.Run(mode, func(t *testing.T) {
			extra := map[string]any{"stop_grace": "20s"}
			if mode == "api" {
				extra["mode"], extra["socket"] = "api", startService(t)
			}
			a := configured(t, extra)
			job := "t-cancel-" + mode
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan sdk.Result, 1)
			go func() {
				r, _ := a.Execute(ctx, task(t, job, Payload{Image: testImage,
					Command: []string{"sh", "-c", `trap "echo got-term; exit 0" TERM; echo started; while true; do sleep 0.05; done`}}))
				done <- r
			}()
			waitFor(t, "container running", func() bool { return len(leftovers(t, job)) == 1 })
			start := time.Now()
			cancel()
			select {
			case r := <-done:
				if r.OK || !strings.Contains(r.Error, "cancelled") {
					t.Fatalf("result = %+v", r)
				}
				if time.Since(start) > 15*time.Second {
					t.Fatalf("stop took %s: SIGTERM was not honoured", time.Since(start))
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Execute did not return after cancel")
			}
			if left := leftovers(t, job); len(left) != 0 {
				t.Fatalf("containers left behind: %v", left)
			}
		})
	}
}

func TestFingerprintAndPrice(t *testing.T) {
	needPodman(t)
	a := configured(t, map[string]any{"capabilities": []string{"sandbox"}, "price_base": 0.1, "price_per_second": 0.002})
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := a.Fingerprint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fp := <-ch
	cancel()
	for range ch {
	}
	if !fp.Healthy || !strings.HasPrefix(fp.Runtime, "podman ") {
		t.Fatalf("fingerprint = %+v", fp)
	}
	for _, c := range []string{"container", "runtime:podman", "image:" + testImage, "sandbox"} {
		if !slices.Contains(fp.Capabilities, c) {
			t.Errorf("capability %q missing from %v", c, fp.Capabilities)
		}
	}
	if !slices.Contains(fp.Images, testImage) || fp.Resources.CPUCores <= 0 {
		t.Errorf("fingerprint = %+v", fp)
	}
	ps, _ := a.PriceSchedule(context.Background())
	if ps.BaseMu != 100000 || ps.Rates[0] != (sdk.PriceRate{Unit: "second", PerUnitMu: 2000}) {
		t.Fatalf("schedule = %+v", ps)
	}
}

func TestRemoveLeftovers(t *testing.T) {
	needPodman(t)
	a := configured(t, nil)
	job := "t-leftover"
	// A container this node started and lost track of.
	out, err := exec.Command("podman", "--runtime", testRuntime, "--cgroup-manager", "cgroupfs", "create",
		"--name", ContainerName(job, 1), "--label", LabelJob+"="+job, "--label", LabelNode+"=test-node",
		"--ulimit", "nofile=1024:1024", testImage, "sleep", "30").CombinedOutput()
	if err != nil {
		t.Fatalf("podman create: %v: %s", err, out)
	}
	if len(leftovers(t, job)) != 1 {
		t.Fatal("setup: container not created")
	}
	// Configure sweeps this node's leftovers.
	configured(t, nil)
	if left := leftovers(t, job); len(left) != 0 {
		t.Fatalf("Configure left %v", left)
	}
	n, err := a.RemoveLeftovers(context.Background(), LabelJob+"="+job)
	if err != nil || n != 0 {
		t.Fatalf("RemoveLeftovers = %d, %v", n, err)
	}
}

// startService runs `podman system service` on a socket in a temp dir and
// returns the socket path once it answers.
func startService(t testing.TB) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "podman.sock")
	cmd := exec.Command("podman", "--runtime", testRuntime, "--cgroup-manager", "cgroupfs",
		"system", "service", "--time=0", "unix://"+sock)
	if err := cmd.Start(); err != nil {
		t.Fatalf("podman system service: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	e := newAPIEngine(Config{Socket: sock, OpTimeout: time.Second})
	waitFor(t, "podman service socket", func() bool {
		_, err := e.version(context.Background())
		return err == nil
	})
	return sock
}

func TestExecuteAPI(t *testing.T) {
	needPodman(t)
	a := configured(t, map[string]any{"mode": "api", "socket": startService(t)})
	runCases(t, a, "api")
	fp := a.fingerprint(context.Background())
	if !fp.Healthy || !slices.Contains(fp.Capabilities, "image:"+testImage) {
		t.Fatalf("api fingerprint = %+v", fp)
	}
}

// BenchmarkEcho measures short echo jobs end to end (run, capture, remove).
func BenchmarkEcho(b *testing.B) {
	for _, mode := range []string{"cli", "api"} {
		b.Run(mode, func(b *testing.B) {
			needPodman(b)
			extra := map[string]any{}
			if mode == "api" {
				extra["mode"], extra["socket"] = "api", startService(b)
			}
			a := configured(b, extra)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, err := a.Execute(context.Background(), task(b, "bench", Payload{Image: testImage, Command: []string{"echo", "hi"}}))
				if err != nil || !r.OK {
					b.Fatalf("result = %+v, %v", r, err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}

// BenchmarkEchoParallel runs short echo jobs 4 at a time on 2 cores (CLI mode).
func BenchmarkEchoParallel(b *testing.B) {
	needPodman(b)
	a := configured(b, nil)
	var seq atomic.Int64
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			job := fmt.Sprintf("bench-par-%d", seq.Add(1))
			r, err := a.Execute(context.Background(), task(b, job, Payload{Image: testImage, Command: []string{"echo", "hi"}}))
			if err != nil || !r.OK {
				b.Errorf("result = %+v, %v", r, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
