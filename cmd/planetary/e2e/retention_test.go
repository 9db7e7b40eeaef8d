package e2e

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// retentionConfig is the example agent and mission with an event_retention
// block: small segments, a small size limit and an archive under the
// checkpoints root.
func retentionConfig(t *testing.T, dir string) string {
	t.Helper()
	agent, err := os.ReadFile("../../../examples/agent.hcl")
	if err != nil {
		t.Fatal(err)
	}
	mission, err := os.ReadFile("../../../examples/mission.hcl")
	if err != nil {
		t.Fatal(err)
	}
	block := `  event_retention {
    max_bytes     = 65536
    segment_bytes = 16384
    archive_dir   = "checkpoints/events"
  }

  acl {`
	src := strings.Replace(string(agent), "  acl {", block, 1)
	if src == string(agent) {
		t.Fatal("examples/agent.hcl has no acl block to put event_retention before")
	}
	path := filepath.Join(dir, "retention.hcl")
	if err := os.WriteFile(path, []byte(src+"\n"+string(mission)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// eventsFrom reads every event after after through /v1/events.
func eventsFrom(t *testing.T, c *api.Client, after uint64) []state.Event {
	t.Helper()
	out, err := eventsFromErr(c, after)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func eventsFromErr(c *api.Client, after uint64) ([]state.Event, error) {
	var out []state.Event
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		page, err := c.Events(ctx, after, 0, "", 5000)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("events after %d: %w", after, err)
		}
		out = append(out, logEvents(page.Events)...)
		if len(page.Events) == 0 || page.Index <= after {
			return out, nil
		}
		after = page.Index
	}
}

func retentionNow(t *testing.T, c *api.Client) api.EventRetention {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := c.EventRetention(ctx)
	if err != nil {
		t.Fatalf("event retention: %v", err)
	}
	return r
}

// checkChain checks that evs follow each other from anchor: consecutive
// seqs, each Prev the hash before it, each hash recomputed.
func checkChain(t *testing.T, what string, anchorSeq uint64, anchorHash string, evs []state.Event) {
	t.Helper()
	seq, prev := anchorSeq, anchorHash
	for _, e := range evs {
		if e.Seq != seq+1 || e.Prev != prev {
			t.Fatalf("%s: event %d (prev %.12s) does not follow %d (hash %.12s)", what, e.Seq, e.Prev, seq, prev)
		}
		var p [32]byte
		b, err := hex.DecodeString(e.Prev)
		if err != nil || len(b) != 32 {
			t.Fatalf("%s: event %d: bad prev %q", what, e.Seq, e.Prev)
		}
		copy(p[:], b)
		if h := e.ComputeHash(p); hex.EncodeToString(h[:]) != e.Hash {
			t.Fatalf("%s: event %d: hash does not match its content", what, e.Seq)
		}
		seq, prev = e.Seq, e.Hash
	}
}

// readArchive decompresses one archived segment and returns its events
// (anchor records skipped).
func readArchive(t *testing.T, path string) []state.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []state.Event
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r struct {
			Anchor bool `json:"anchor"`
			state.Event
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !r.Anchor {
			out = append(out, r.Event)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

// TestEventRetentionPrunesBehindSnapshots runs enough jobs on a dev agent
// with event_retention { max_bytes = 64 KiB, segment_bytes = 16 KiB,
// archive_dir } to roll many segments. Once a checkpoint's raft snapshot
// covers them, the oldest are archived and removed. After a SIGKILL and a
// restart the retained window is intact (every event after the anchor, same
// hashes), /v1/events before it is 410 naming the first retained seq,
// `planetary report` writes a bundle of the window that says what was
// pruned, `planetary ledger verify` passes from the anchor, and the archives
// (under the checkpoints root) decompress to the pruned events: archives plus
// window chain back to genesis.
func TestEventRetentionPrunesBehindSnapshots(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "agent")
	cfg := retentionConfig(t, dir)
	httpAddr, bind := freePort(t), freePort(t)
	p := startAgent(t, dataDir, httpAddr, bind, "-dev", "-config", cfg)
	c := p.client()
	ctx := context.Background()

	const total, batch = 1500, 10
	payload := json.RawMessage(`{"duration_ms": 5}`)
	for i := 0; i < total; i += batch {
		var jobs []api.JobSubmit
		for k := i; k < i+batch; k++ {
			jobs = append(jobs, api.JobSubmit{Key: fmt.Sprintf("retain/%d", k), Shard: "earth",
				Capabilities: []string{"finance"}, Kind: "sim", Value: 1, Payload: payload})
		}
		if _, err := c.SubmitJobs(ctx, jobs); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 120*time.Second, "every job finished", func() bool {
		l, err := ledgerNow(t, c)
		return err == nil && jobsIn(l, state.JobCompleted)+jobsIn(l, state.JobCancelled) >= total &&
			jobsIn(l, state.JobQueued)+jobsIn(l, state.JobAssigned)+jobsIn(l, state.JobRunning) == 0
	})
	// A checkpoint is a raft snapshot: it covers every event so far.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if _, err := c.SaveCheckpoint(sctx); err != nil {
		t.Fatalf("checkpoint save: %v", err)
	}
	cancel()
	var r1 api.EventRetention
	waitFor(t, 30*time.Second, "segments pruned behind the snapshot", func() bool {
		r1 = retentionNow(t, c)
		return r1.Pruned && r1.PrunedSegments >= 3
	})
	if r1.ArchivedSegments != r1.PrunedSegments || r1.Covered.Seq < r1.Anchor.Seq || r1.PrunedEvents != r1.Anchor.Seq {
		t.Fatalf("retention after the prune: %+v", r1)
	}
	// A later prune may move the anchor between the two reads: read the
	// window again from the new anchor then.
	var before []state.Event
	waitFor(t, 30*time.Second, "the retained window read from its anchor", func() bool {
		evs, err := eventsFromErr(c, r1.Anchor.Seq)
		if err != nil {
			r1 = retentionNow(t, c)
			return false
		}
		before = evs
		return true
	})
	checkChain(t, "window before the restart", r1.Anchor.Seq, r1.Anchor.Hash, before)

	p.crash()
	p2 := startAgent(t, dataDir, httpAddr, bind, "-dev", "-config", cfg)
	c = p2.client()

	r2 := retentionNow(t, c)
	if !r2.Pruned || r2.Anchor.Seq < r1.Anchor.Seq || r2.PrunedEvents < r1.PrunedEvents {
		t.Fatalf("retention after the restart %+v, before %+v", r2, r1)
	}
	after := eventsFrom(t, c, r2.Anchor.Seq)
	checkChain(t, "window after the restart", r2.Anchor.Seq, r2.Anchor.Hash, after)
	bySeq := make(map[uint64]string, len(after))
	for _, e := range after {
		bySeq[e.Seq] = e.Hash
	}
	for _, e := range before {
		if h, ok := bySeq[e.Seq]; e.Seq > r2.Anchor.Seq && (!ok || h != e.Hash) {
			t.Fatalf("event %d retained before the restart is missing or changed after it", e.Seq)
		}
	}

	// Before the window: a clear refusal naming where it starts.
	ectx, ecancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := c.Events(ectx, 0, 0, "", 10)
	ecancel()
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusGone || ae.Field != "index" || !strings.Contains(ae.Message, "first retained event is seq") {
		t.Fatalf("events from index 0 on a pruned log: %v", err)
	}

	// The bundle covers the window and verifies from its anchor.
	out := filepath.Join(dir, "bundle")
	if o, code := runCLI(t, "report", "-out", out, "-address", p2.addr, "-token", p2.token); code != 0 {
		t.Fatalf("planetary report exited %d:\n%s", code, o)
	}
	var led struct {
		Anchor struct {
			Seq  uint64 `json:"seq"`
			Hash string `json:"hash"`
		} `json:"anchor"`
		Pruned *struct {
			Events uint64 `json:"events"`
		} `json:"pruned"`
	}
	b, err := os.ReadFile(filepath.Join(out, "ledger.json"))
	if err != nil || json.Unmarshal(b, &led) != nil || led.Pruned == nil || led.Anchor.Seq < r2.Anchor.Seq {
		t.Fatalf("ledger.json anchor %+v pruned %+v (retention %+v): %v", led.Anchor, led.Pruned, r2, err)
	}
	o, code := runCLI(t, "ledger", "verify", out)
	want := fmt.Sprintf("verified from anchor at event %d, hash %s; %d events pruned", led.Anchor.Seq, led.Anchor.Hash[:12], led.Pruned.Events)
	if code != 0 || !strings.Contains(o, want) {
		t.Fatalf("planetary ledger verify exited %d, want %q:\n%s", code, want, o)
	}
	t.Log(strings.TrimSpace(o))
	var sum struct {
		Pruned *struct {
			Events uint64 `json:"events"`
		} `json:"pruned"`
	}
	if b, err := os.ReadFile(filepath.Join(out, "summary.json")); err != nil || json.Unmarshal(b, &sum) != nil || sum.Pruned == nil || sum.Pruned.Events != led.Pruned.Events {
		t.Fatalf("summary.json pruned: %+v %v", sum.Pruned, err)
	}
	chron, err := os.ReadFile(filepath.Join(out, "mission-chronicle.md"))
	if err != nil || !strings.Contains(string(chron), "Event retention pruned") {
		t.Fatalf("chronicle does not say what was pruned: %v", err)
	}

	// The archives are under the allowed root and hold the pruned events:
	// with the window they chain back to genesis.
	archDir := filepath.Join(dataDir, "checkpoints", "events")
	var r3 api.EventRetention
	var files []string
	var window []state.Event
	// Retention may prune again between these reads: take the state, the
	// archives and the window that follows its anchor as one consistent set.
	waitFor(t, 30*time.Second, "archive files and a window matching the retention state", func() bool {
		r3 = retentionNow(t, c)
		files, _ = filepath.Glob(filepath.Join(archDir, "events-*.ndjson.gz"))
		if len(files) != r3.ArchivedSegments {
			return false
		}
		var err error
		window, err = eventsFromErr(c, r3.Anchor.Seq)
		return err == nil && retentionNow(t, c).Anchor.Seq == r3.Anchor.Seq
	})
	if rel, err := filepath.Rel(filepath.Join(dataDir, "checkpoints"), r3.ArchiveDir); err != nil || strings.HasPrefix(rel, "..") {
		t.Fatalf("archive dir %s is not under the checkpoints root", r3.ArchiveDir)
	}
	sort.Strings(files)
	var all []state.Event
	for _, f := range files {
		all = append(all, readArchive(t, f)...)
	}
	if uint64(len(all)) != r3.PrunedEvents || len(all) == 0 || all[len(all)-1].Seq != r3.Anchor.Seq || all[len(all)-1].Hash != r3.Anchor.Hash {
		t.Fatalf("archives hold %d events, retention pruned %d up to anchor %d", len(all), r3.PrunedEvents, r3.Anchor.Seq)
	}
	all = append(all, window...)
	checkChain(t, "archives and window", 0, strings.Repeat("0", 64), all)
	t.Logf("%d jobs; %d events: %d pruned in %d segments (%d bytes) and archived, anchor at %d, %d retained",
		total, len(all), r3.PrunedEvents, r3.PrunedSegments, r3.PrunedBytes, r3.Anchor.Seq, len(all)-int(r3.PrunedEvents))
}
