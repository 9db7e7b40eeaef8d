package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
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

func TestCeiling(t *testing.T) {
	r, err := Ceiling(context.Background(), CeilingConfig{Entries: 5, Batch: 100})
	if err != nil {
		t.Fatal(err)
	}
	if r.EntriesPerSec <= 0 || math.Abs(r.JobsPerSec-r.EntriesPerSec*100) > 1e-6 || math.Abs(r.LifecycleJobsPerSec*EntriesPerJob-r.JobsPerSec) > 1e-6 {
		t.Fatalf("result %+v", r)
	}
}
