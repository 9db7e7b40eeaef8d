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
	"maps"
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
	"github.com/planetary/planetary/core/server"
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
	// MissionHCL is appended to the mission (a retention block).
	MissionHCL string
	// SampleEvery, when positive, takes a SoakSample each time this many
	// more jobs have finished (LifecycleResult.Samples).
	SampleEvery int64
	// Restart, when set, shuts the agent down after the run and starts a
	// new one on the same data dir, measuring LifecycleResult.RestartToAPI.
	Restart bool
	// Shards are the mission's shards, each with Nodes nodes; batch b goes
	// to shard b mod len(Shards). Default: one shard, "earth".
	Shards []string
	// Regions runs the agent over the region host (agent -regions): each
	// shard is its own region, its own raft group, and the HTTP API is the
	// host's front.
	Regions bool
	// BeforeLoad, when set, runs once the nodes are up and before the
	// first submit (R2 cuts a region off there).
	BeforeLoad func(ctx context.Context, a *agent.Agent) error
}

// SoakSample is the agent's state after a number of jobs finished.
type SoakSample struct {
	Finished int64
	At       time.Duration
	// JobsPerSec is the jobs finished since the previous sample per second.
	JobsPerSec float64
	// LiveHeap is the process heap after a collection; RSS its resident
	// set (the agent runs in this process; plugins are not included).
	LiveHeap uint64
	RSS      int64
	// The data dir: raft.db, snapshots, event log and the whole dir.
	RaftDB, Snapshots, Events, DataDir int64
	// LiveJobs are the job records in the FSM, Tombs the collected jobs'
	// tombs in the idempotency window.
	LiveJobs, Tombs int
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
	// Samples are taken every SampleEvery finished jobs.
	Samples []SoakSample
	// RestartToAPI is, with Restart, the time from starting a new agent
	// on the run's data dir to its first answered API request;
	// RestartErr is why the restart failed.
	RestartToAPI time.Duration
	RestartErr   error
	// PerShard is each shard's completions per second after warm-up:
	// the jobs it finished after the whole run's warm-up point over the
	// time from that point until its own last job finished.
	PerShard map[string]float64
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
	if len(c.Shards) == 0 {
		c.Shards = []string{"earth"}
	}
}

// missionHCL is the benchmark fabric: one shard, earth, with n nodes of the
// workload's plugin kind with room for every job in flight.
func missionHCL(w Workload, nodes, capacity int, extra string) string {
	return shardsHCL([]string{"earth"}, w, nodes, capacity, extra)
}

// shardsHCL is the benchmark fabric over shards: each shard (its own region
// by default) with n nodes of the workload's plugin kind.
func shardsHCL(shards []string, w Workload, nodes, capacity int, extra string) string {
	var b strings.Builder
	b.WriteString("mission \"bench\" {\n  seed = 7\n}\n")
	for _, sh := range shards {
		fmt.Fprintf(&b, "\nshard %q {\n  latency_budget_ms = 1000\n}\n", sh)
	}
	for _, sh := range shards {
		for i := 1; i <= nodes; i++ {
			fmt.Fprintf(&b, `
node "%s.n%d" {
  shard           = %q
  plugin          = %q
  capabilities    = ["bench"]
  capacity        = %d
  max_concurrency = %d
  heartbeat_sec   = 15
  price {
    base = 0.001
  }
}
`, sh, i, sh, string(w), capacity, capacity)
		}
	}
	b.WriteString(extra)
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
	src := []byte(shardsHCL(cfg.Shards, cfg.Workload, cfg.Nodes, cfg.Capacity, cfg.MissionHCL))
	m, diags := mission.ParseMission(src, "bench-mission.hcl")
	if diags.HasErrors() {
		return LifecycleResult{}, fmt.Errorf("bench: mission: %w", diags)
	}
	heapBefore := liveHeap()
	acfg := agent.Config{
		Logger: cfg.Logger, Agent: ac, Mission: m, MissionSource: src, MissionFile: "bench-mission.hcl",
		Dev: true, SelfPath: cfg.SelfPath, Regions: cfg.Regions,
	}
	a, err := agent.New(acfg)
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
	servers := agentServers(a)
	// counts sums every raft group's job counts; byShard gets each
	// shard's finished jobs (each region holds only its own shards).
	byShard := map[string]int64{}
	counts := func() state.Counts {
		var c state.Counts
		clear(byShard)
		for _, sv := range servers {
			sv.Read(func(s *state.Store) {
				g := s.Global()
				for k := range c.N {
					c.N[k] += g.N[k]
				}
				if len(cfg.Shards) > 1 {
					for _, sh := range cfg.Shards {
						sc := s.ShardCounts(sh)
						byShard[sh] += sc.N[state.JobCompleted] + sc.N[state.JobFailed] + sc.N[state.JobCancelled]
					}
				}
			})
		}
		return c
	}
	if err := waitNodesUp(ctx, a, cfg.Nodes*len(cfg.Shards), 60*time.Second); err != nil {
		return LifecycleResult{}, err
	}
	if cfg.BeforeLoad != nil {
		if err := cfg.BeforeLoad(ctx, a); err != nil {
			return LifecycleResult{}, fmt.Errorf("bench: before load: %w", err)
		}
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
	statsBefore := appliesOf(servers)
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
					jobs = append(jobs, api.JobSubmit{ID: fmt.Sprintf("b-%09d", i), Shard: cfg.Shards[b%int64(len(cfg.Shards))],
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
	var samples []SoakSample
	lastSample, lastSampleAt := int64(0), start
	nextSample := cfg.SampleEvery
	soak := func(now time.Time, finished int64) {
		sm := SoakSample{Finished: finished, At: now.Sub(start), LiveHeap: liveHeap(), RSS: selfRSS(),
			RaftDB: fileSize(filepath.Join(serverDir, "raft.db")), Events: dirSize(filepath.Join(serverDir, "events")),
			Snapshots: dirSize(filepath.Join(serverDir, "snapshots")), DataDir: dirSize(filepath.Join(dir, "agent"))}
		if d := now.Sub(lastSampleAt).Seconds(); d > 0 {
			sm.JobsPerSec = float64(finished-lastSample) / d
		}
		srv.Read(func(s *state.Store) { sm.LiveJobs, sm.Tombs = s.LiveJobs(), s.Tombs() })
		samples = append(samples, sm)
		lastSample, lastSampleAt = finished, now
		nextSample = (finished/cfg.SampleEvery + 1) * cfg.SampleEvery
	}
	total := int64(cfg.Jobs)
	warm := int64(float64(total) * cfg.WarmupFraction)
	var warmAt time.Time
	last, lastAt := int64(0), time.Now()
	var final state.Counts
	// Each shard's jobs, its finished jobs at the warm-up point and when
	// its last job finished.
	shardJobs := map[string]int64{}
	for b := int64(0); b < batches; b++ {
		shardJobs[cfg.Shards[b%int64(len(cfg.Shards))]] += min(int64(cfg.Batch), total-b*int64(cfg.Batch))
	}
	shardWarm, shardDone := map[string]int64{}, map[string]time.Time{}
	for {
		c := counts()
		f := finished(c)
		done.Store(f)
		now := time.Now()
		if warmAt.IsZero() && f >= warm {
			warmAt, warm = now, f
			maps.Copy(shardWarm, byShard)
		}
		for sh, n := range byShard {
			if _, ok := shardDone[sh]; !ok && n >= shardJobs[sh] {
				shardDone[sh] = now
			}
		}
		if cfg.DiskEvery > 0 && !now.Before(nextDisk) {
			sample(now, f)
		}
		if cfg.SampleEvery > 0 && f >= nextSample {
			soak(now, f)
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
	statsAfter := appliesOf(servers)
	heapAfter := liveHeap()
	res := LifecycleResult{
		Jobs: cfg.Jobs, Completed: final.N[state.JobCompleted], Failed: final.N[state.JobFailed],
		Elapsed:     end.Sub(start),
		Overall:     float64(total) / end.Sub(start).Seconds(),
		RaftEntries: statsAfter - statsBefore,
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
	if len(cfg.Shards) > 1 {
		res.PerShard = map[string]float64{}
		for _, sh := range cfg.Shards {
			at, ok := shardDone[sh]
			if !ok {
				at = end
			}
			if d := at.Sub(warmAt); d > 0 && shardJobs[sh] > shardWarm[sh] {
				res.PerShard[sh] = float64(shardJobs[sh]-shardWarm[sh]) / d.Seconds()
			}
		}
	}
	if heapAfter > heapBefore {
		res.HeapPerJob = float64(heapAfter-heapBefore) / float64(cfg.Jobs)
	}
	res.Samples = samples
	if cfg.Restart {
		stop()
		addr := a.HTTPAddr()
		_ = a.Shutdown()
		res.RestartToAPI, res.RestartErr = restartToAPI(ctx, acfg, addr)
	}
	return res, nil
}

// restartToAPI starts a new agent from cfg (the data dir of a finished run)
// on addr, the address the run's agent listened on, and returns the time
// from agent.New until its HTTP API answers a ledger read (Start goes on
// with the mission and the client role meanwhile); it waits for Start too.
func restartToAPI(ctx context.Context, cfg agent.Config, addr string) (time.Duration, error) {
	ac := *cfg.Agent
	ac.HTTPAddr = strings.TrimPrefix(addr, "http://")
	cfg.Agent = &ac
	cc := api.DefaultClientConfig()
	cc.Address = addr
	client, err := api.NewClient(cc)
	if err != nil {
		return 0, fmt.Errorf("bench: restart: api client: %w", err)
	}
	startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	t0 := time.Now()
	a, err := agent.New(cfg)
	if err != nil {
		return 0, fmt.Errorf("bench: restart: %w", err)
	}
	defer a.Shutdown()
	started := make(chan error, 1)
	go func() { started <- a.Start(startCtx) }()
	var answered time.Duration
	for answered == 0 {
		rctx, rcancel := context.WithTimeout(startCtx, time.Second)
		_, err := client.Ledger(rctx)
		rcancel()
		if err == nil {
			answered = time.Since(t0)
			break
		}
		select {
		case err := <-started:
			if err != nil {
				return 0, fmt.Errorf("bench: restart: %w", err)
			}
			started <- nil
		case <-startCtx.Done():
			return 0, fmt.Errorf("bench: restart: API did not answer: %w", err)
		case <-time.After(time.Millisecond):
		}
	}
	if err := <-started; err != nil {
		return 0, fmt.Errorf("bench: restart: %w", err)
	}
	return answered, nil
}

// selfRSS is this process's resident set size in bytes (0 when unknown).
func selfRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// agentServers are the agent's raft groups: every region's server over the
// region host, else its one server.
func agentServers(a *agent.Agent) []*server.Server {
	h := a.Host()
	if h == nil {
		return []*server.Server{a.Server()}
	}
	var out []*server.Server
	for _, r := range h.Regions() {
		out = append(out, h.Region(r))
	}
	return out
}

// appliesOf is the raft entries the servers applied, summed.
func appliesOf(servers []*server.Server) uint64 {
	var n uint64
	for _, s := range servers {
		n += s.Stats().Applies
	}
	return n
}

func waitNodesUp(ctx context.Context, a *agent.Agent, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	servers := agentServers(a)
	for {
		up := 0
		for _, sv := range servers {
			sv.Read(func(s *state.Store) {
				for _, nd := range s.Nodes() {
					if nd.Status == state.NodeUp {
						up++
					}
				}
			})
		}
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
