package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// runCLI runs the planetary binary with args and returns its combined output
// and exit code.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return runCLIIn(t, "", args...)
}

// runCLIIn is runCLI in the working directory dir ("": the test's).
func runCLIIn(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(planetaryBin(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PLANETARY_TOKEN=", "PLANETARY_ADDR=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("planetary %v: %v\n%s", args, err, out)
	return "", -1
}

// readEventsFile parses a bundle's events.ndjson.
func readEventsFile(t *testing.T, path string) []state.Event {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []state.Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var e state.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s line %d: %v", path, n, err)
		}
		out = append(out, e)
	}
	return out
}

// ledgerNow reads the ledger with a short timeout.
func ledgerNow(t *testing.T, c *api.Client) (api.Ledger, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Ledger(ctx)
}

func jobsIn(l api.Ledger, st state.JobState) int64 { return l.Global[st.String()].Jobs }

// TestEventsCompleteAcrossCrashAndCompaction runs 1,200 jobs on a dev agent,
// forces raft snapshots (and with them log compaction) while they flow,
// SIGKILLs the agent mid-run and restarts it on the same data dir. After the
// jobs finish, `planetary report` writes the bundle and `planetary ledger
// verify` passes; the events seen before the crash are kept exactly (same
// seq, same hash) and every job has one job.submitted and one job.completed.
func TestEventsCompleteAcrossCrashAndCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "agent")
	httpAddr, bind := freePort(t), freePort(t)
	p := startAgent(t, dataDir, httpAddr, bind, "-dev")
	c := p.client()
	ctx := context.Background()

	// Small batches and short jobs: many raft entries, so a snapshot
	// compacts the log (the server keeps 128 trailing entries).
	const total, batch = 1200, 10
	payload := json.RawMessage(`{"duration_ms": 60}`)
	var ids []string
	for i := 0; i < total; i += batch {
		var jobs []api.JobSubmit
		for k := i; k < i+batch; k++ {
			jobs = append(jobs, api.JobSubmit{Key: fmt.Sprintf("evcrash/%d", k), Shard: "earth",
				Capabilities: []string{"finance"}, Kind: "sim", Value: 2, Payload: payload})
		}
		res, err := c.SubmitJobs(ctx, jobs)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Status != api.StatusAccepted {
				t.Fatalf("submit: %+v", r)
			}
			ids = append(ids, r.ID)
		}
	}

	// Snapshots while jobs flow, then the crash once some work is done and
	// some is not.
	saves := 0
	var before api.Ledger
	waitFor(t, 60*time.Second, "mid-run crash point", func() bool {
		l, err := ledgerNow(t, c)
		if err != nil {
			return false
		}
		done := jobsIn(l, state.JobCompleted)
		if saves < 3 && done >= int64(saves+1)*total/8 {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := c.SaveCheckpoint(sctx)
			cancel()
			if err != nil {
				t.Fatalf("checkpoint save: %v", err)
			}
			saves++
		}
		before = l
		return saves == 3 && done >= total/2
	})
	seen := allEvents(t, c)
	p.crash()
	if done := jobsIn(before, state.JobCompleted); done >= total {
		t.Fatalf("the crash came after every job completed (%d)", done)
	}

	// The raft log was compacted: its first index is past 1, so the
	// restart cannot regenerate the early events from the log.
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dataDir, "server", "raft.db")})
	if err != nil {
		t.Fatal(err)
	}
	first, err := store.FirstIndex()
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	if first <= 1 {
		t.Fatalf("raft log not compacted (first index %d) after %d checkpoints", first, saves)
	}

	p2 := startAgent(t, dataDir, httpAddr, bind, "-dev")
	c = p2.client()
	var last api.Ledger
	deadline := time.Now().Add(60 * time.Second)
	for {
		l, err := ledgerNow(t, c)
		if err == nil {
			last = l
			if jobsIn(l, state.JobCompleted)+jobsIn(l, state.JobCancelled) >= total && jobsIn(l, state.JobQueued)+jobsIn(l, state.JobAssigned)+jobsIn(l, state.JobRunning) == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs not finished 60s after the restart: %+v\n%s", last.Global, p2.output())
		}
		time.Sleep(50 * time.Millisecond)
	}

	out := filepath.Join(dir, "bundle")
	if o, code := runCLI(t, "report", "-out", out, "-address", p2.addr, "-token", p2.token); code != 0 {
		t.Fatalf("planetary report exited %d:\n%s", code, o)
	}
	if o, code := runCLI(t, "ledger", "verify", out); code != 0 {
		t.Fatalf("planetary ledger verify exited %d:\n%s", code, o)
	}
	evs := readEventsFile(t, filepath.Join(out, "events.ndjson"))

	// What was seen before the crash is in the bundle unchanged.
	bySeq := make(map[uint64]state.Event, len(evs))
	for _, e := range evs {
		bySeq[e.Seq] = e
	}
	for _, e := range seen {
		if got, ok := bySeq[e.Seq]; !ok || got.Hash != e.Hash {
			t.Fatalf("event %d (%s %s) seen before the crash is missing or changed in the bundle", e.Seq, e.Type, e.Job)
		}
	}

	// Every job: submitted once, completed once (the example mission's
	// owner schedule cancels the earth tail: those end cancelled once).
	submitted, completed, cancelled := map[string]int{}, map[string]int{}, map[string]int{}
	for _, e := range evs {
		switch e.Type {
		case state.EvJobSubmitted:
			submitted[e.Job]++
		case state.EvJobCompleted:
			completed[e.Job]++
		case state.EvJobCancelled:
			cancelled[e.Job]++
		}
	}
	bad := 0
	for _, id := range ids {
		if submitted[id] != 1 || completed[id]+cancelled[id] != 1 {
			if bad++; bad <= 5 {
				t.Errorf("job %s: %d job.submitted, %d job.completed, %d job.cancelled events, want 1 and 1 terminal",
					id, submitted[id], completed[id], cancelled[id])
			}
		}
	}
	if n := len(cancelled); n > total/10 {
		t.Errorf("%d jobs cancelled; the owner schedule cancels only a tail", n)
	}
	if bad > 0 {
		t.Errorf("%d of %d jobs lack their events", bad, total)
	}
	t.Logf("crash at %d of %d completed, raft log first index %d after %d checkpoints; bundle holds %d events (%d seen before the crash)",
		jobsIn(before, state.JobCompleted), total, first, saves, len(evs), len(seen))
}

// TestReportOfBusyFabricVerifies writes bundles with `planetary report`
// while a 4,000-job run of the example mission flows. The ledger read fixes the chain head the events are cut
// at; node and shard figures listed later must be cut there too, or a
// bundle of a busy fabric fails `ledger verify` (a node's active or
// completed count ahead of the events).
func TestReportOfBusyFabricVerifies(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	httpAddr, bind := freePort(t), freePort(t)
	p := startAgent(t, filepath.Join(dir, "agent"), httpAddr, bind, "-dev")
	c := p.client()
	plan, err := filepath.Abs("../../../examples/mission.hcl")
	if err != nil {
		t.Fatal(err)
	}
	// The example workload on every shard, submitted by a background run.
	const total = 4000
	run := exec.Command(planetaryBin(t), "run", "-address", p.addr, "-token", p.token, "-plan", plan,
		"-jobs", strconv.Itoa(total), "-label", "busy")
	run.Dir = dir
	run.Env = append(os.Environ(), "PLANETARY_TOKEN=", "PLANETARY_ADDR=")
	var runOut bytes.Buffer
	run.Stdout, run.Stderr = &runOut, &runOut
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = run.Process.Kill(); _ = run.Wait() }()
	for i := 1; i <= 3; i++ {
		var l api.Ledger
		waitFor(t, 30*time.Second, fmt.Sprintf("%d/5 of the jobs completed", i), func() bool {
			var err error
			l, err = ledgerNow(t, c)
			return err == nil && jobsIn(l, state.JobCompleted) >= int64(i)*total/5
		})
		out := filepath.Join(dir, fmt.Sprintf("report-%d", i))
		o, code := runCLI(t, "report", "-out", out, "-address", p.addr, "-token", p.token)
		if code != 0 {
			t.Fatalf("report %d (with %d of %d completed) exited %d:\n%s", i, jobsIn(l, state.JobCompleted), total, code, o)
		}
		if o, code := runCLI(t, "ledger", "verify", out); code != 0 {
			t.Fatalf("ledger verify of report %d exited %d:\n%s", i, code, o)
		}
	}
}

// TestRestartDrillSmall runs `planetary drill restart` at 1,000 jobs, where
// the agent was once killed before any job completed and the merged bundle
// failed verification. The kill must land with work outstanding and every
// check must pass.
func TestRestartDrillSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	plan, err := filepath.Abs("../../../examples/mission.hcl")
	if err != nil {
		t.Fatal(err)
	}
	out, code := runCLIIn(t, dir, "drill", "restart", "-plan", plan, "-jobs", "1000", "-stop-after", "30%",
		"-data-dir", filepath.Join(dir, "agent"), "-json")
	if code != 0 {
		t.Fatalf("drill restart exited %d:\n%s", code, out)
	}
	var res struct {
		CompletedKill int64 `json:"completed_at_kill"`
		Checks        []struct {
			ID       string `json:"id"`
			OK       bool   `json:"ok"`
			Measured any    `json:"measured"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil {
		t.Fatalf("drill output: %v\n%s", err, out)
	}
	if res.CompletedKill <= 0 || res.CompletedKill >= 1000 {
		t.Errorf("killed with %d of 1000 completed, want some completed and some not", res.CompletedKill)
	}
	ids := map[string]bool{}
	for _, ch := range res.Checks {
		ids[ch.ID] = true
		if !ch.OK {
			t.Errorf("check %s failed: %v", ch.ID, ch.Measured)
		}
	}
	for _, id := range []string{"work-outstanding-at-kill", "re-executions-fenced", "ledger-verify", "completed-at-most-once"} {
		if !ids[id] {
			t.Errorf("check %s missing", id)
		}
	}
}
