package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
)

// leftovers lists the temp files an interrupted checkpoint leaves: raft
// snapshots being written, the export spool, and the archive being
// written next to the checkpoint path.
func leftovers(t *testing.T, dir, archive string) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{
		filepath.Join(dir, "server", "snapshots", "snapshots", "*.tmp"),
		filepath.Join(dir, "server", ".export-*"),
		filepath.Join(filepath.Dir(archive), "."+filepath.Base(archive)+".tmp-*"),
	} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	return out
}

func queued(t *testing.T, c *api.Client) int64 {
	t.Helper()
	l, err := c.Ledger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l.Global["queued"].Jobs
}

// TestCheckpointCrash SIGKILLs an agent while it writes a checkpoint (a
// raft snapshot, then the exported archive), seen by its temp files on
// disk, and restarts it: the temp files are gone and every job is back.
func TestCheckpointCrash(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	dir := t.TempDir()
	httpAddr, bind := freePort(t), freePort(t)
	archive := filepath.Join(dir, "checkpoints", "fabric.tar")
	p := startAgent(t, dir, httpAddr, bind, "-dev", "-config", "testdata/two-sim.hcl")
	c := p.client()
	if _, err := c.Pause(context.Background(), "", "keep the bulk queued"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ConfigureCheckpoint(context.Background(), api.CheckpointConfig{Path: archive}); err != nil {
		t.Fatal(err)
	}
	submitMany(t, c, n)
	total := int64(n)
	var left []string
	for attempt := 0; len(left) == 0; attempt++ {
		if attempt == 10 {
			t.Fatal("no checkpoint was caught writing its temp files in 10 attempts")
		}
		if attempt > 0 {
			// Something new to snapshot.
			submitJobs(t, c, []api.JobSubmit{{ID: "more-" + time.Now().Format("150405.000000"), Shard: "earth", Value: 1,
				Capabilities: []string{"sim"}}})
			total++
		}
		saved := make(chan error, 1)
		go func() {
			_, err := c.SaveCheckpoint(context.Background())
			saved <- err
		}()
		caught := false
		for !caught {
			select {
			case err := <-saved:
				if err != nil {
					t.Fatalf("checkpoint: %v", err)
				}
				caught = true // finished before it was caught: try again
			default:
				if len(leftovers(t, dir, archive)) > 0 {
					p.crash()
					caught = true
					left = leftovers(t, dir, archive)
					if len(left) == 0 {
						// Renamed between the look and the kill.
						p = startAgent(t, dir, httpAddr, bind, "-dev", "-config", "testdata/two-sim.hcl")
						c = p.client()
					}
				}
			}
		}
	}
	t.Logf("killed during a checkpoint, leaving %v", left)
	p.kill()

	q := startAgent(t, dir, httpAddr, bind, "-dev", "-config", "testdata/two-sim.hcl")
	if still := leftovers(t, dir, archive); len(still) > 0 {
		t.Fatalf("temp files left after the restart: %v\n%s", still, q.output())
	}
	if !strings.Contains(q.output(), "removed leftover temp file of an interrupted checkpoint") {
		t.Errorf("the restart did not say what it removed:\n%s", q.output())
	}
	if got := queued(t, q.client()); got != total {
		t.Fatalf("%d jobs queued after the restart, want %d", got, total)
	}
	// A checkpoint after the restart completes.
	if _, err := q.client().SaveCheckpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(archive); err != nil {
		t.Fatal(err)
	}
}

// corruptSnapshot flips bytes in the middle of a raft snapshot's state.
func corruptSnapshot(t *testing.T, snapDir string) {
	t.Helper()
	path := filepath.Join(snapDir, "state.bin")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b) / 2; i < len(b)/2+8 && i < len(b); i++ {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshotDirs lists the raft snapshots of an agent's data dir, newest
// first (raft names them term-index-time).
func snapshotDirs(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "server", "snapshots", "snapshots", "*-*-*"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(m) - 1; i >= 0; i-- {
		if !strings.HasSuffix(m[i], ".tmp") {
			out = append(out, m[i])
		}
	}
	return out
}

// TestCorruptSnapshot corrupts the newest raft snapshot: the agent starts
// from the older one and the raft log (nothing is lost), names the error
// and moves the corrupt one aside. With no usable snapshot left, it refuses
// to start with the named error and what to do, and does not panic.
func TestCorruptSnapshot(t *testing.T) {
	dir := t.TempDir()
	httpAddr, bind := freePort(t), freePort(t)
	archive := filepath.Join(dir, "checkpoints", "fabric.tar")
	p := startAgent(t, dir, httpAddr, bind, "-dev", "-config", "testdata/two-sim.hcl")
	c := p.client()
	ctx := context.Background()
	if _, err := c.Pause(ctx, "", "keep the jobs queued"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ConfigureCheckpoint(ctx, api.CheckpointConfig{Path: archive}); err != nil {
		t.Fatal(err)
	}
	submitMany(t, c, 2000)
	if _, err := c.SaveCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	submitJobs(t, c, []api.JobSubmit{{ID: "after-first", Shard: "earth", Value: 1, Capabilities: []string{"sim"}}})
	if _, err := c.SaveCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	p.crash()
	p.kill()
	snaps := snapshotDirs(t, dir)
	if len(snaps) != 2 {
		t.Fatalf("want 2 raft snapshots, have %v", snaps)
	}
	corruptSnapshot(t, snaps[0])

	q := startAgent(t, dir, httpAddr, bind, "-dev", "-config", "testdata/two-sim.hcl")
	out := q.output()
	for _, want := range []string{"raft snapshot is corrupt", filepath.Base(snaps[0]), "started from an older raft snapshot", filepath.Base(snaps[1])} {
		if !strings.Contains(out, want) {
			t.Errorf("the log does not say %q:\n%s", want, out)
		}
	}
	if got := queued(t, q.client()); got != 2001 {
		t.Fatalf("%d jobs queued after starting from the older snapshot, want 2001", got)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "server", "snapshots-corrupt", filepath.Base(snaps[0])+"-*")); len(m) != 1 {
		t.Errorf("the corrupt snapshot was not moved aside: %v", m)
	}
	t.Logf("restart from the older snapshot:\n%s", out)
	q.crash()
	q.kill()

	// Now the only snapshot left is corrupt too.
	for _, s := range snapshotDirs(t, dir) {
		corruptSnapshot(t, s)
	}
	r := launchAgent(t, dir, httpAddr, bind, "-dev", "-config", "testdata/two-sim.hcl")
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || r.cmd.ProcessState.ExitCode() != 1 {
			t.Fatalf("agent exited with %v, want exit status 1:\n%s", err, r.output())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("agent with no usable snapshot did not exit:\n%s", r.output())
	}
	out = r.output()
	for _, want := range []string{"raft snapshot is corrupt", "To recover, move", "planetary operator snapshot restore"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, out)
		}
	}
	t.Logf("refusal:\n%s", out)
	if strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") {
		t.Fatalf("the agent panicked:\n%s", out)
	}
}
