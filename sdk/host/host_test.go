package host

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/sdk"
)

// testPlugin is the path of the built testplugin binary.
var testPlugin string

func TestMain(m *testing.M) {
	if os.Getenv("HOST_TEST_INTERMEDIATE") != "" {
		intermediate()
		return
	}
	dir, err := os.MkdirTemp("", "host-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testPlugin = filepath.Join(dir, "testplugin")
	out, err := exec.Command("go", "build", "-o", testPlugin, "./internal/testplugin").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build testplugin: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// intermediate launches the plugin, prints its pid and waits to be killed.
func intermediate() {
	p, err := Launch(context.Background(), Config{Name: "orphan", Path: os.Getenv("HOST_TEST_INTERMEDIATE")})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(p.Pid())
	select {}
}

func script(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plugin.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func fileSHA(t testing.TB, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func launch(t testing.TB, cfg Config) *Plugin {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	if cfg.Path == "" {
		cfg.Path = testPlugin
	}
	cfg.Logger = hclog.NewNullLogger()
	p, err := Launch(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

func TestLaunchFailures(t *testing.T) {
	tests := []struct {
		name     string
		path     func(t *testing.T) string
		sha      string
		wantErr  error
		wantText string
	}{
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, "", ErrNotFound, "nope"},
		{"not executable", func(t *testing.T) string { return script(t, "exit 0", 0o644) }, "", ErrNotExecutable, "plugin.sh"},
		{"directory", func(t *testing.T) string { return t.TempDir() }, "", ErrNotExecutable, ""},
		{"exits at start", func(t *testing.T) string { return script(t, "exit 3", 0o755) }, "", ErrStart, "plugin.sh"},
		{"garbage on stdout", func(t *testing.T) string { return script(t, "echo hello there; sleep 5", 0o755) }, "", ErrStart, "hello there"},
		{"hangs", func(t *testing.T) string { return script(t, "exec sleep 30", 0o755) }, "", ErrStart, "timeout"},
		{"wrong sha256", func(t *testing.T) string { return testPlugin }, strings.Repeat("ab", 32), ErrChecksum, "testplugin"},
		{"bad sha256", func(t *testing.T) string { return testPlugin }, "xyz", ErrInvalidConfig, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			p, err := Launch(ctx, Config{Name: "bad", Path: tt.path(t), SHA256: tt.sha, StartTimeout: time.Second})
			if err == nil {
				p.Kill()
				t.Fatal("launch succeeded")
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantText) || !strings.Contains(err.Error(), `"bad"`) {
				t.Fatalf("err = %v, want %v mentioning %q and the plugin name", err, tt.wantErr, tt.wantText)
			}
		})
	}
}

// A sha256 mismatch gives both hashes, as a *ChecksumError.
func TestChecksumErrorHashes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pinned := strings.Repeat("AB", 32)
	p, err := Launch(ctx, Config{Name: "pinned", Path: testPlugin, SHA256: pinned, StartTimeout: time.Second})
	if err == nil {
		p.Kill()
		t.Fatal("launch succeeded")
	}
	var ce *ChecksumError
	if !errors.As(err, &ce) || !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v (%T), want a *ChecksumError wrapping ErrChecksum", err, err)
	}
	actual := fileSHA(t, testPlugin)
	want := "pinned " + strings.ToLower(pinned) + ", actual " + actual
	if ce.Pinned != strings.ToLower(pinned) || ce.Actual != actual || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to say %q", err, want)
	}
}

func TestLaunchAndCall(t *testing.T) {
	p := launch(t, Config{SHA256: fileSHA(t, testPlugin)})
	ctx := context.Background()
	if p.APIVersion() != sdk.APIVersion1 || p.Pid() == 0 || p.Exited() {
		t.Fatalf("api %q pid %d exited %v", p.APIVersion(), p.Pid(), p.Exited())
	}
	if err := p.Health(ctx); err != nil {
		t.Fatal(err)
	}
	if !p.Has(sdk.CapExecute) || p.Has(sdk.CapPriceSchedule) {
		t.Fatalf("implements %v", p.info.Implements)
	}
	_, err := p.PriceSchedule(ctx)
	if !errors.Is(err, ErrNotImplemented) || !strings.Contains(err.Error(), `agent "test" does not implement PriceSchedule`) {
		t.Fatalf("err = %v", err)
	}
	p.Kill()
	if !p.Exited() {
		t.Fatal("not exited after Kill")
	}
	if err := p.Health(ctx); err == nil {
		t.Fatal("health after kill succeeded")
	}
}

// TestLaunchTLS: a plugin built with the sdk serves with the certificate
// the host generated for it; one that ignores it answers with go-plugin's
// automatic mTLS, and the host still connects.
func TestLaunchTLS(t *testing.T) {
	ctx := context.Background()
	own := launch(t, Config{})
	if !own.ownTLS {
		t.Fatal("sdk plugin did not serve with the host-generated certificate")
	}
	if err := own.Health(ctx); err != nil {
		t.Fatal(err)
	}
	auto := launch(t, Config{Env: []string{"TESTPLUGIN_IGNORE_TLS_FD=1"}})
	if auto.ownTLS {
		t.Fatal("plugin ignoring the descriptor reported the host-generated certificate")
	}
	if err := auto.Health(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestExecStream(t *testing.T) {
	p := launch(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := p.Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tasks := []struct {
		job     string
		payload string
		cancel  bool
		wantErr error
	}{
		{"a", "", false, nil},
		{"b", "20", false, nil},
		{"c", "60000", true, ErrTaskCancelled},
	}
	for _, tt := range tasks {
		if err := s.Send(sdk.Task{JobID: tt.job, Attempt: 1, Payload: []byte(tt.payload)}); err != nil {
			t.Fatal(err)
		}
		if tt.cancel {
			if err := s.Cancel(tt.job, 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := map[string]TaskResult{}
	for len(got) < len(tasks) {
		r := <-s.Results()
		got[r.JobID] = r
	}
	for _, tt := range tasks {
		r := got[tt.job]
		if !errors.Is(r.Err, tt.wantErr) || (tt.wantErr == nil && !r.Result.OK) {
			t.Errorf("%s: %+v", tt.job, r)
		}
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, open := <-s.Results(); open {
		t.Fatal("results still open after close send")
	}
}

// A plugin that dies mid-task reports every running task as failed.
func TestExecStreamPluginCrash(t *testing.T) {
	p := launch(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := p.Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range []sdk.Task{{JobID: "slow", Attempt: 2, Payload: []byte("60000")}, {JobID: "boom", Attempt: 1, Payload: []byte("crash")}} {
		if err := s.Send(task); err != nil {
			t.Fatal(err)
		}
	}
	var results []TaskResult
	for r := range s.Results() {
		results = append(results, r)
	}
	if len(results) != 2 {
		t.Fatalf("results %+v", results)
	}
	for _, r := range results {
		if !errors.Is(r.Err, ErrStreamClosed) {
			t.Errorf("%s: err = %v, want ErrStreamClosed", r.JobID, r.Err)
		}
	}
	if err := s.Send(sdk.Task{JobID: "late", Attempt: 1}); !errors.Is(err, ErrStreamEnded) {
		t.Fatalf("send after end: %v", err)
	}
}

func gone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	// A zombie waiting for its new parent to reap it is gone too.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

// A plugin exits when its host is SIGKILLed.
func TestPluginExitsWhenHostKilled(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HOST_TEST_INTERMEDIATE="+testPlugin)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("intermediate said %q", line)
	}
	if gone(pid) {
		t.Fatal("plugin not running before the kill")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin %d still running 10s after its host was killed", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkExecStream measures streamed executions of zero-duration tasks
// through one plugin's execute stream, 256 in flight.
func BenchmarkExecStream(b *testing.B) {
	p := launch(b, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := p.Exec(ctx)
	if err != nil {
		b.Fatal(err)
	}
	const window = 256
	b.ResetTimer()
	var self0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self0)
	start := time.Now()
	sent, done := 0, 0
	for done < b.N {
		for sent < b.N && sent-done < window {
			if err := s.Send(sdk.Task{JobID: "j" + strconv.Itoa(sent), Attempt: 1}); err != nil {
				b.Fatal(err)
			}
			sent++
		}
		r := <-s.Results()
		if r.Err != nil || !r.Result.OK {
			b.Fatalf("%+v", r)
		}
		done++
	}
	elapsed := time.Since(start)
	var self1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self1)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
	b.ReportMetric(float64(b.N)/float64(s.msgsSent.Load()), "tasks/msg")
	b.ReportMetric(float64(b.N)/float64(s.msgsRecv.Load()), "results/msg")
	b.ReportMetric(float64(cpu(self1)-cpu(self0))/float64(b.N), "host-cpu-ns/job")
	b.ReportMetric(float64(pluginCPU(b, p.Pid()))/float64(b.N), "plugin-cpu-ns/job(cumulative)")
}

func cpu(r syscall.Rusage) int64 {
	return r.Utime.Nano() + r.Stime.Nano()
}

// pluginCPU reads the plugin's total CPU time in ns from /proc.
func pluginCPU(b *testing.B, pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return (ut + st) * int64(10*time.Millisecond) // USER_HZ = 100
}

// BenchmarkHealth measures one unbatched unary call, sequential and with 8
// concurrent callers.
func BenchmarkHealth(b *testing.B) {
	p := launch(b, Config{})
	ctx := context.Background()
	b.Run("sequential", func(b *testing.B) {
		for b.Loop() {
			if err := p.Health(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("concurrent-8", func(b *testing.B) {
		var wg sync.WaitGroup
		per := b.N/8 + 1
		b.ResetTimer()
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range per {
					if err := p.Health(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	})
}

// An exit the host asked for logs at INFO; a crash stays at ERROR.
func TestExpectedExitLogLevel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		expect bool
		want   string
	}{
		{"crash", false, "[ERROR] test: plugin process exited"},
		{"planned", true, "[INFO]  test: plugin process exited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var buf bytes.Buffer
			logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: &lockedWriter{mu: &mu, w: &buf}})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			p, err := Launch(ctx, Config{Name: "test", Path: testPlugin, Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Kill)
			if tc.expect {
				p.ExpectExit()
			}
			if p.ExitExpected() != tc.expect {
				t.Fatalf("ExitExpected() = %v", p.ExitExpected())
			}
			if err := syscall.Kill(p.Pid(), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			for !p.Exited() && ctx.Err() == nil {
				time.Sleep(10 * time.Millisecond)
			}
			// go-plugin logs the exit before it marks the client exited.
			mu.Lock()
			out := buf.String()
			mu.Unlock()
			if !strings.Contains(out, tc.want) {
				t.Fatalf("log lacks %q:\n%s", tc.want, out)
			}
			if tc.expect && strings.Contains(out, "[ERROR]") {
				t.Fatalf("an expected exit logged at ERROR:\n%s", out)
			}
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
