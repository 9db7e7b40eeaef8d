package bench

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// CeilingConfig configures the raw raft ceiling run.
type CeilingConfig struct {
	Logger hclog.Logger
	// Entries is the number of SubmitBatch entries applied.
	Entries int
	// Batch is the number of jobs per entry.
	Batch int
	// DataDir holds the server's raft-boltdb (a temp dir when empty).
	DataDir string
}

// CeilingResult is what the ceiling run measured.
type CeilingResult struct {
	// EntriesPerSec is committed (fsynced) entries per second.
	EntriesPerSec float64
	// JobsPerSec is EntriesPerSec × Batch: submissions per second.
	JobsPerSec float64
	// LifecycleJobsPerSec is JobsPerSec / 3: a job's lifecycle costs three
	// entries' worth of work (submit, assign, complete), so this is the
	// lifecycle rate raft alone allows.
	LifecycleJobsPerSec float64
}

// EntriesPerJob is the raft cost of one job's lifecycle counted by the
// ceiling: its submission, assignment and completion.
const EntriesPerJob = 3

// Ceiling measures the raw raft ceiling of the submit path: SubmitBatch
// entries of cfg.Batch jobs applied one after another through a single-node
// server with raft-boltdb fsync on and dispatch paused.
func Ceiling(ctx context.Context, cfg CeilingConfig) (CeilingResult, error) {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Entries <= 0 {
		cfg.Entries = 200
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 1000
	}
	dir := cfg.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "planetary-ceiling-")
		if err != nil {
			return CeilingResult{}, fmt.Errorf("bench: temp dir: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	sc := server.DefaultConfig()
	sc.NodeID, sc.DataDir, sc.BindAddr, sc.Bootstrap = "ceiling", dir, "127.0.0.1:0", true
	sc.Logger = cfg.Logger
	s, err := server.New(sc)
	if err != nil {
		return CeilingResult{}, fmt.Errorf("bench: server: %w", err)
	}
	defer s.Shutdown()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.WaitLeader(wctx); err != nil {
		return CeilingResult{}, fmt.Errorf("bench: leader: %w", err)
	}
	if _, err := s.Apply(ctx, command.ShardRegisterType, &command.ShardRegister{Shard: state.Shard{Name: "earth"}}); err != nil {
		return CeilingResult{}, fmt.Errorf("bench: shard: %w", err)
	}
	if _, err := s.Apply(ctx, command.PauseType, &command.Pause{Paused: true}); err != nil {
		return CeilingResult{}, fmt.Errorf("bench: pause: %w", err)
	}
	payload := []byte(`{"duration_ms":0}`)
	entries := make([][]command.JobSubmit, cfg.Entries)
	for e := range entries {
		jobs := make([]command.JobSubmit, cfg.Batch)
		for i := range jobs {
			jobs[i] = command.JobSubmit{ID: fmt.Sprintf("c-%06d-%04d", e, i), Shard: "earth", Kind: "sim",
				Capabilities: []string{"bench"}, Payload: payload, ValueMu: 10_000}
		}
		entries[e] = jobs
	}
	start := time.Now()
	for _, jobs := range entries {
		if _, err := s.Submit(ctx, jobs, "bench"); err != nil {
			return CeilingResult{}, fmt.Errorf("bench: submit: %w", err)
		}
	}
	el := time.Since(start)
	r := CeilingResult{EntriesPerSec: float64(cfg.Entries) / el.Seconds()}
	r.JobsPerSec = r.EntriesPerSec * float64(cfg.Batch)
	r.LifecycleJobsPerSec = r.JobsPerSec / EntriesPerJob
	return r, nil
}

// processCPU is this process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
