// Package bench drives planetary's end-to-end benchmarks: the job lifecycle
// through a real dev agent (server, HTTP API, client role and plugin
// processes), the raw raft ceiling of the submit path, and the package
// micro-benchmarks run through `go test -bench`. It also renders the
// results as BENCHMARKS.md.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/agent"
	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/raftfsm/state"
)

// Errors.
var (
	// ErrStalled is returned when completions stop advancing for longer
	// than LifecycleConfig.StallTimeout.
	ErrStalled = errors.New("bench: completions stalled")
	// ErrNoSelf is returned when no planetary binary is known to serve the
	// built-in plugins.
	ErrNoSelf = errors.New("bench: no planetary binary to serve built-in plugins (set SelfPath)")
)

// Workload names the plugin a lifecycle run executes on.
type Workload string

// Workloads.
const (
	// WorkloadSim runs zero-duration sim jobs.
	WorkloadSim Workload = "sim"
	// WorkloadExec runs /bin/true once per job through the exec agent.
	WorkloadExec Workload = "exec"
)

// LifecycleConfig configures one lifecycle run.
type LifecycleConfig struct {
	Logger hclog.Logger
	// SelfPath is the planetary binary that serves the built-in plugins.
	SelfPath string
	// Workload is the plugin kind to run on (sim by default).
	Workload Workload
	// Jobs is the total number of jobs submitted.
	Jobs int
	// Batch is the number of jobs per submit call.
	Batch int
	// Submitters is the number of goroutines submitting.
	Submitters int
	// Window bounds the jobs submitted but not yet finished.
	Window int
	// Nodes is the number of nodes (one plugin process each); Capacity is
	// each node's capacity and max concurrency.
	Nodes    int
	Capacity int
	// WarmupFraction of the jobs completes before the measured interval
	// starts.
	WarmupFraction float64
	// StallTimeout ends the run when no job finishes for this long.
	StallTimeout time.Duration
	// DataDir holds the agent's data dir (a temp dir when empty).
	DataDir string
	// AgentHCL is inserted into the agent block (an event_retention block).
	AgentHCL string
	// ServerHCL is inserted into the agent's server block (raft settings).
	ServerHCL string
	// DiskEvery, when positive, samples the size of raft.db, the event log
	// and the snapshots at this period (LifecycleResult.Disk).
	DiskEvery time.Duration
}

// DiskSample is the data dir's size at one moment of a run.
type DiskSample struct {
	At        time.Duration
	Finished  int64
	RaftDB    int64 // server/raft.db
	Events    int64 // server/events (segments and retention state)
	Snapshots int64 // server/snapshots
}

// DefaultLifecycleConfig is the P1 run: zero-duration sim jobs on two
// nodes, 1,000-job batches from four submitters.
func DefaultLifecycleConfig() LifecycleConfig {
	return LifecycleConfig{
		Workload:       WorkloadSim,
		Jobs:           100_000,
		Batch:          1000,
		Submitters:     4,
		Window:         40_000,
		Nodes:          2,
		Capacity:       10_000,
		WarmupFraction: 0.1,
		StallTimeout:   60 * time.Second,
	}
}

// LifecycleResult is what one run measured.
type LifecycleResult struct {
	Jobs      int
	Completed int64
	Failed    int64
	// Sustained is completions per second after warm-up.
	Sustained float64
	// Overall is completions per second from the first submit.
	Overall float64
	Elapsed time.Duration
	// RaftEntries and RaftBytes were applied during the run.
	RaftEntries uint64
	// EntriesPerJob is RaftEntries / Jobs.
	EntriesPerJob float64
	// HeapPerJob is the process heap after the run (GC'd) minus the heap
	// before, per job: the registry's cost plus what the run retained.
	HeapPerJob float64
	// CPUPerJob is this process's CPU time per job (server, API, client
	// role; plugin processes are not included).
	CPUPerJob time.Duration
	// Disk are the samples taken every DiskEvery, the last one at the end.
	Disk []DiskSample
}

func (c *LifecycleConfig) fill() {
	d := DefaultLifecycleConfig()
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.Workload == "" {
		c.Workload = d.Workload
	}
	if c.Jobs <= 0 {
		c.Jobs = d.Jobs
	}
	if c.Batch <= 0 {
		c.Batch = d.Batch
	}
	if c.Submitters <= 0 {
		c.Submitters = d.Submitters
	}
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.Nodes <= 0 {
		c.Nodes = d.Nodes
	}
	if c.Capacity <= 0 {
		c.Capacity = d.Capacity
	}
	if c.WarmupFraction <= 0 || c.WarmupFraction >= 1 {
		c.WarmupFraction = d.WarmupFraction
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = d.StallTimeout
	}
}

// missionHCL is the benchmark fabric: one shard, n nodes of the workload's
// plugin kind with room for every job in flight.
func missionHCL(w Workload, nodes, capacity int) string {
	var b strings.Builder
	b.WriteString("mission \"bench\" {\n  seed = 7\n}\n\nshard \"earth\" {\n  latency_budget_ms = 1000\n}\n")
	for i := 1; i <= nodes; i++ {
		fmt.Fprintf(&b, `
node "earth.n%d" {
  shard           = "earth"
  plugin          = %q
  capabilities    = ["bench"]
  capacity        = %d
  max_concurrency = %d
  heartbeat_sec   = 15
  price {
    base = 0.001
  }
}
`, i, string(w), capacity, capacity)
	}
	return b.String()
}

func agentHCL(dataDir, agentExtra, serverExtra string) string {
	return fmt.Sprintf(`
agent {
  name      = "bench"
  data_dir  = %q
  http_addr = "127.0.0.1:0"
  %s
  server {
    enabled          = true
    bind             = "127.0.0.1:0"
    bootstrap_expect = 1
    %s
  }
  client {
    enabled = true
  }
  acl {
    enabled = false
  }
}

plugin "sim" {}

plugin "exec" {
  config {
    enabled = true
    allow   = ["true", "/bin/true"]
  }
}
`, dataDir, agentExtra, serverExtra)
}

// dirSize is the total size of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func payloadFor(w Workload) []byte {
	if w == WorkloadExec {
		return []byte(`{"command":"/bin/true"}`)
	}
	return []byte(`{"duration_ms":0}`)
}

// Lifecycle starts a dev agent, submits cfg.Jobs jobs and measures how fast
// they complete: submit → place → execute on a plugin → complete → ledger.
func Lifecycle(ctx context.Context, cfg LifecycleConfig) (LifecycleResult, error) {
	cfg.fill()
	if cfg.SelfPath == "" {
		return LifecycleResult{}, ErrNoSelf
	}
	dir := cfg.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "planetary-bench-")
		if err != nil {
			return LifecycleResult{}, fmt.Errorf("bench: temp dir: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	ac, diags := mission.ParseAgent([]byte(agentHCL(filepath.Join(dir, "agent"), cfg.AgentHCL, cfg.ServerHCL)), "bench-agent.hcl")
	if diags.HasErrors() {
		return LifecycleResult{}, fmt.Errorf("bench: agent config: %w", diags)
	}
	src := []byte(missionHCL(cfg.Workload, cfg.Nodes, cfg.Capacity))
	m, diags := mission.ParseMission(src, "bench-mission.hcl")
	if diags.HasErrors() {
		return LifecycleResult{}, fmt.Errorf("bench: mission: %w", diags)
	}
	heapBefore := liveHeap()
	a, err := agent.New(agent.Config{
		Logger: cfg.Logger, Agent: ac, Mission: m, MissionSource: src, MissionFile: "bench-mission.hcl",
		Dev: true, SelfPath: cfg.SelfPath,
	})
	if err != nil {
		return LifecycleResult{}, fmt.Errorf("bench: agent: %w", err)
	}
	startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := a.Start(startCtx); err != nil {
		return LifecycleResult{}, fmt.Errorf("bench: start agent: %w", err)
	}
	defer a.Shutdown()
	srv := a.Server()
	counts := func() state.Counts {
		var c state.Counts
		srv.Read(func(s *state.Store) { c = s.Global() })
		return c
	}
	if err := waitNodesUp(ctx, a, cfg.Nodes, 60*time.Second); err != nil {
		return LifecycleResult{}, err
	}
	cc := api.DefaultClientConfig()
	cc.Address = a.HTTPAddr()
	client, err := api.NewClient(cc)
	if err != nil {
		return LifecycleResult{}, fmt.Errorf("bench: api client: %w", err)
	}

	finished := func(c state.Counts) int64 {
		return c.N[state.JobCompleted] + c.N[state.JobFailed] + c.N[state.JobCancelled]
	}
	statsBefore := srv.Stats()
	cpu0 := processCPU()
	start := time.Now()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		next    atomic.Int64 // next batch number to submit
		done    atomic.Int64 // finished jobs, refreshed by the watcher
		errOnce sync.Once
		subErr  error
		wg      sync.WaitGroup
	)
	batches := int64((cfg.Jobs + cfg.Batch - 1) / cfg.Batch)
	payload := payloadFor(cfg.Workload)
	for g := 0; g < cfg.Submitters; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jobs := make([]api.JobSubmit, 0, cfg.Batch)
			for {
				b := next.Add(1) - 1
				if b >= batches {
					return
				}
				// Keep at most Window jobs submitted and unfinished.
				for (b+1)*int64(cfg.Batch)-done.Load() > int64(cfg.Window) {
					select {
					case <-runCtx.Done():
						return
					case <-time.After(2 * time.Millisecond):
					}
				}
				jobs = jobs[:0]
				for i := b * int64(cfg.Batch); i < min((b+1)*int64(cfg.Batch), int64(cfg.Jobs)); i++ {
					jobs = append(jobs, api.JobSubmit{ID: fmt.Sprintf("b-%09d", i), Shard: "earth",
						Capabilities: []string{"bench"}, Value: 0.01, Kind: string(cfg.Workload), Payload: payload})
				}
				if _, err := client.SubmitJobs(runCtx, jobs); err != nil {
					errOnce.Do(func() { subErr = fmt.Errorf("bench: submit: %w", err); stop() })
					return
				}
			}
		}()
	}

	serverDir := filepath.Join(dir, "agent", "server")
	var disk []DiskSample
	var nextDisk time.Time
	sample := func(now time.Time, finished int64) {
		disk = append(disk, DiskSample{At: now.Sub(start), Finished: finished,
			RaftDB: fileSize(filepath.Join(serverDir, "raft.db")), Events: dirSize(filepath.Join(serverDir, "events")),
			Snapshots: dirSize(filepath.Join(serverDir, "snapshots"))})
		nextDisk = now.Add(cfg.DiskEvery)
	}
	total := int64(cfg.Jobs)
	warm := int64(float64(total) * cfg.WarmupFraction)
	var warmAt time.Time
	last, lastAt := int64(0), time.Now()
	var final state.Counts
	for {
		c := counts()
		f := finished(c)
		done.Store(f)
		now := time.Now()
		if warmAt.IsZero() && f >= warm {
			warmAt, warm = now, f
		}
		if cfg.DiskEvery > 0 && !now.Before(nextDisk) {
			sample(now, f)
		}
		if f >= total {
			final = c
			break
		}
		if f != last {
			last, lastAt = f, now
		} else if now.Sub(lastAt) > cfg.StallTimeout {
			stop()
			wg.Wait()
			return LifecycleResult{}, fmt.Errorf("%w: %d of %d jobs finished after %s (counts %v)", ErrStalled, f, total, now.Sub(start).Round(time.Millisecond), c.N)
		}
		select {
		case <-runCtx.Done():
			wg.Wait()
			if subErr != nil {
				return LifecycleResult{}, subErr
			}
			return LifecycleResult{}, runCtx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	end := time.Now()
	cpu := processCPU() - cpu0
	wg.Wait()
	if cfg.DiskEvery > 0 {
		sample(end, total)
	}
	statsAfter := srv.Stats()
	heapAfter := liveHeap()
	res := LifecycleResult{
		Jobs: cfg.Jobs, Completed: final.N[state.JobCompleted], Failed: final.N[state.JobFailed],
		Elapsed:     end.Sub(start),
		Overall:     float64(total) / end.Sub(start).Seconds(),
		RaftEntries: statsAfter.Applies - statsBefore.Applies,
		CPUPerJob:   cpu / time.Duration(cfg.Jobs),
		Disk:        disk,
	}
	if d := end.Sub(warmAt); d > 0 && total > warm {
		res.Sustained = float64(total-warm) / d.Seconds()
	} else {
		// A run too short for a steady part after warm-up.
		res.Sustained = res.Overall
	}
	res.EntriesPerJob = float64(res.RaftEntries) / float64(cfg.Jobs)
	if heapAfter > heapBefore {
		res.HeapPerJob = float64(heapAfter-heapBefore) / float64(cfg.Jobs)
	}
	return res, nil
}

func waitNodesUp(ctx context.Context, a *agent.Agent, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		up := 0
		a.Server().Read(func(s *state.Store) {
			for _, nd := range s.Nodes() {
				if nd.Status == state.NodeUp {
					up++
				}
			}
		})
		if up >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %d of %d nodes up after %s", up, n, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// liveHeap is the heap in use after two collections.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
