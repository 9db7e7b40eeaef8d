package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// planetaryBin is the binary that serves built-in plugins: PLANETARY_BIN
// (set by `make test`) or one built once per test run.
var planetaryBin = sync.OnceValues(func() (string, error) {
	if p := os.Getenv("PLANETARY_BIN"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	dir, err := os.MkdirTemp("", "planetary-bench-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "planetary")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/planetary/planetary/cmd/planetary").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build planetary: %v: %s", err, out)
	}
	return bin, nil
})

func TestLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	bin, err := planetaryBin()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		workload Workload
		jobs     int
	}{
		{"sim", WorkloadSim, 3000},
		{"exec", WorkloadExec, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultLifecycleConfig()
			cfg.SelfPath, cfg.Workload, cfg.Jobs, cfg.Batch = bin, tt.workload, tt.jobs, 100
			cfg.StallTimeout = 30 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			r, err := Lifecycle(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if r.Completed != int64(tt.jobs) || r.Sustained <= 0 || r.RaftEntries == 0 {
				t.Fatalf("result %+v", r)
			}
			t.Logf("%s: %+v", tt.name, r)
		})
	}
}

// TestLifecycleSoak: a small P9 run (the soak's retention, event retention
// and raft settings) takes a sample at every tenth of its jobs and restarts
// on its data dir with the API answering.
func TestLifecycleSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	bin, err := planetaryBin()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultLifecycleConfig()
	cfg.SelfPath, cfg.Jobs, cfg.Batch, cfg.StallTimeout = bin, 3000, 100, 30*time.Second
	cfg.MissionHCL, cfg.AgentHCL, cfg.ServerHCL = soakRetention, soakAgent, soakServer
	cfg.SampleEvery, cfg.Restart = 300, true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := Lifecycle(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Completions arrive in batches: one sample may stand for two tenths.
	if len(r.Samples) < 3 || r.RestartErr != nil || r.RestartToAPI <= 0 {
		t.Fatalf("%d samples, restart %s %v", len(r.Samples), r.RestartToAPI, r.RestartErr)
	}
	var prev int64
	for i, sm := range r.Samples {
		if sm.Finished <= prev || sm.RSS <= 0 || sm.LiveHeap == 0 || sm.RaftDB <= 0 || sm.Events <= 0 || sm.DataDir < sm.RaftDB+sm.Events {
			t.Fatalf("sample %d after %d jobs: %+v", i, prev, sm)
		}
		prev = sm.Finished
	}
	if prev != 3000 {
		t.Fatalf("last sample at %d jobs", prev)
	}
}

func TestCeiling(t *testing.T) {
	r, err := Ceiling(context.Background(), CeilingConfig{Entries: 5, Batch: 100})
	if err != nil {
		t.Fatal(err)
	}
	if r.EntriesPerSec <= 0 || math.Abs(r.JobsPerSec-r.EntriesPerSec*100) > 1e-6 || math.Abs(r.LifecycleJobsPerSec*EntriesPerJob-r.JobsPerSec) > 1e-6 {
		t.Fatalf("result %+v", r)
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkSubmit/batch=1-2         	     100	  12345678 ns/op	        81.00 jobs/s	        81.00 entries/s
BenchmarkSubmit/batch=1-2         	     100	  12345678 ns/op	        79.00 jobs/s	        79.00 entries/s
BenchmarkHeapPerJob1M-2   	       1	1200000000 ns/op	       210.5 B/job
BenchmarkBroken-2 ---
PASS
`
	rs := ParseGoBench(strings.NewReader(out))
	tests := []struct {
		name, unit string
		want       []float64
	}{
		{"BenchmarkSubmit/batch=1", "jobs/s", []float64{81, 79}},
		{"BenchmarkSubmit/batch=1", "ns/op", []float64{12345678, 12345678}},
		{"BenchmarkHeapPerJob1M", "B/job", []float64{210.5}},
	}
	for _, tt := range tests {
		r, ok := Find(rs, tt.name)
		if !ok || fmt.Sprint(r.Values(tt.unit)) != fmt.Sprint(tt.want) {
			t.Errorf("%s %s = %v (found %v), want %v", tt.name, tt.unit, r.Values(tt.unit), ok, tt.want)
		}
	}
	if len(rs) != 2 {
		t.Errorf("parsed %d results, want 2", len(rs))
	}
}

func TestReportMarkdown(t *testing.T) {
	r := Report{Machine: ThisMachine(), Command: "planetary bench", Figures: []Figure{
		{ID: "P1", Name: "lifecycle", Unit: "jobs/s", Values: []float64{21000, 19000, 25000},
			Goal: &Goal{Value: 20000, AtLeast: true, Text: "≥ 20,000 jobs/s"}, Command: "planetary bench -only P1"},
		{ID: "P5", Name: "heap", Unit: "B/job", Values: []float64{450}, Goal: &Goal{Value: 400, Text: "≤ 400 B/job"}},
		{ID: "P2", Name: "cluster", Goal: &Goal{Value: 8000, AtLeast: true}, Skipped: "cluster not available"},
		{Name: "info", Unit: "x", Values: []float64{1, 2, 3}},
	}, Scaling: []ScalingRow{{Jobs: 10000, Sustained: 1234.5, HeapPerJob: 300}}}
	md := r.Markdown()
	for _, want := range []string{
		"| P1 | lifecycle | 21,000 jobs/s | 19,000–25,000 (3) | ≥ 20,000 jobs/s | met |",
		"| P5 | heap | 450 B/job | 450–450 (1) | ≤ 400 B/job | not met |",
		"| P2 | cluster | — | — |  | not measured: cluster not available |",
		"|  | info | 2 x | 1–3 (3) |  |  |",
		"| 10,000 | 1,235 | 300 B |",
		"`planetary bench -only P1`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestClusterLoadAndFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts agent processes")
	}
	bin, err := planetaryBin()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cc := DefaultClusterConfig()
	cc.SelfPath, cc.Capacity = bin, 1000
	cc.RaftHeartbeatTimeout, cc.RaftElectionTimeout = 150*time.Millisecond, 150*time.Millisecond
	c, err := StartCluster(ctx, cc)
	if c != nil {
		defer c.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	// P2's path: a load spread over the servers completes.
	l := DefaultLoadConfig()
	l.Jobs, l.Batch, l.Prefix, l.StallTimeout = 300, 50, "p2", 30*time.Second
	r, err := c.Load(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	if r.Finished != 300 || r.TimedOut || r.Sustained <= 0 {
		t.Fatalf("load result %+v", r)
	}
	t.Logf("load: %+v", r)

	// P7's path: the leader is SIGKILLed under load; a survivor leads and
	// assigns.
	reached := make(chan struct{})
	var once sync.Once
	l = DefaultLoadConfig()
	l.Jobs, l.Batch, l.Window, l.Prefix = 100_000, 50, 500, "p7"
	l.OnProgress = func(n int64) {
		if n >= 100 {
			once.Do(func() { close(reached) })
		}
	}
	lctx, stop := context.WithCancel(ctx)
	loadDone := make(chan error, 1)
	go func() { _, err := c.Load(lctx, l); loadDone <- err }()
	select {
	case <-reached:
	case err := <-loadDone:
		stop()
		t.Fatalf("load ended before the kill: %v", err)
	}
	f, err := c.KillLeader(ctx)
	stop()
	<-loadDone
	if err != nil {
		t.Fatal(err)
	}
	if f.NewLeader < 0 || f.NewLeader == f.Killed || f.FirstAssign <= 0 || f.Elected <= 0 {
		t.Fatalf("failover result %+v", f)
	}
	t.Logf("failover: %+v", f)
}

func TestFinishedFromMetrics(t *testing.T) {
	tests := []struct {
		name, text string
		want       int64
	}{
		{"empty", "", 0},
		{"final states summed", `# HELP planetary_jobs Jobs by state.
# TYPE planetary_jobs gauge
planetary_jobs{state="assigned"} 7
planetary_jobs{state="cancelled"} 2
planetary_jobs{state="completed"} 1.2345e+06
planetary_jobs{state="failed"} 3
planetary_jobs_other{state="completed"} 99
`, 1234505},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := finishedFromMetrics(tt.text); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestSplitJSON(t *testing.T) {
	tests := []struct {
		name, out, js, rest string
	}{
		{"none", "trial up\n", "", "trial up\n"},
		{"between log lines", "log a\n{\n  \"ok\": true\n}\nlog b\n", "{\n  \"ok\": true\n}\n", "log a\nlog b\n"},
		{"one line", "{\"ok\":false}\n", "{\"ok\":false}\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js, rest := splitJSON(tt.out)
			if js != tt.js || rest != tt.rest {
				t.Fatalf("got %q, %q; want %q, %q", js, rest, tt.js, tt.rest)
			}
		})
	}
}

func TestTreeRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/statm"); err != nil {
		t.Skip("no /proc")
	}
	if kb := TreeRSSKB(os.Getpid()); kb <= 0 {
		t.Fatalf("tree RSS of this process = %d KiB", kb)
	}
}
