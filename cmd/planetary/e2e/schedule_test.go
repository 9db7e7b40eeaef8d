package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// allEvents pages through /v1/events.
func allEvents(t *testing.T, c *api.Client) []state.Event {
	t.Helper()
	var out []state.Event
	var idx uint64
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		evs, err := c.Events(ctx, idx, 0, "", 1000)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, logEvents(evs.Events)...)
		if len(evs.Events) == 0 || evs.Index <= idx {
			return out
		}
		idx = evs.Index
	}
}

func firedBy(evs []state.Event, entry string) []state.Event {
	var out []state.Event
	for _, e := range evs {
		if e.Actor == "schedule:"+entry && e.Type != state.EvScheduleFired {
			out = append(out, e)
		}
	}
	return out
}

// TestOwnerScheduleRunsOnceAcrossRestart runs the example mission's 11-entry
// owner schedule on a real dev agent, SIGKILLs the agent in the middle of it,
// restarts it, and asserts each entry's effect and that none fired twice.
func TestOwnerScheduleRunsOnceAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	httpAddr, bind := freePort(t), freePort(t)
	p := startAgent(t, dir, httpAddr, bind, "-dev")
	c := p.client()
	ctx := context.Background()

	// Long-running work in mars and earth so the locator commands
	// (reroute the mars tail, cancel the earth tail) have targets.
	slow := json.RawMessage(`{"duration_ms": 20000}`)
	var jobs []api.JobSubmit
	for i := 0; i < 40; i++ {
		jobs = append(jobs, api.JobSubmit{Key: fmt.Sprintf("sched/mars/%d", i), Shard: "mars",
			Capabilities: []string{"manufacturing"}, Kind: "sim", Value: 1, Payload: slow})
		jobs = append(jobs, api.JobSubmit{Key: fmt.Sprintf("sched/earth/%d", i), Shard: "earth",
			Capabilities: []string{"logistics"}, Kind: "sim", Value: 1, Payload: slow})
	}
	res, err := c.SubmitJobs(ctx, jobs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != api.StatusAccepted {
			t.Fatalf("submit: %+v", r)
		}
	}

	// Crash once the earth queue boost (at 1.55s) has fired, before the
	// later entries.
	waitFor(t, 30*time.Second, "earth-queue-boost to fire", func() bool {
		return len(firedBy(allEvents(t, c), "earth-queue-boost")) > 0
	})
	before := allEvents(t, c)
	p.crash()
	p2 := startAgent(t, dir, httpAddr, bind, "-dev")
	c = p2.client()

	waitFor(t, 60*time.Second, "edge-surge-down to fire", func() bool {
		return len(firedBy(allEvents(t, c), "edge-surge-down")) > 0
	})
	evs := allEvents(t, c)

	// Each entry fired exactly once.
	entries := []string{"edge-surge-up", "helios-recalibration-pause", "helios-recalibration-resume",
		"earth-queue-boost", "helios-backup-helion", "post-governance-snapshot", "solar-storm-cadence",
		"governance-archive", "mars-escalation", "earth-logistics-cancel", "edge-surge-down"}
	count := map[string]int{}
	for _, e := range evs {
		if e.Type == state.EvScheduleFired || e.Type == state.EvScheduleSkipped {
			count[e.Detail]++
		}
	}
	for _, id := range entries {
		if count[id] != 1 {
			t.Errorf("schedule entry %s recorded %d times, want 1", id, count[id])
		}
	}
	firedBefore := 0
	for _, id := range entries {
		if len(firedBy(before, id)) > 0 {
			firedBefore++
		}
	}
	if firedBefore == 0 || firedBefore == len(entries) {
		t.Fatalf("the crash did not fall in the middle of the schedule (%d of %d fired before)", firedBefore, len(entries))
	}

	// Each entry's effect.
	want := map[string]string{
		"edge-surge-up":               state.EvShardRegistered,
		"helios-recalibration-pause":  state.EvSystemPaused,
		"helios-recalibration-resume": state.EvSystemResumed,
		"earth-queue-boost":           state.EvShardUpdated,
		"helios-backup-helion":        state.EvNodeRegistered,
		"solar-storm-cadence":         state.EvCheckpointConfigured,
		"governance-archive":          state.EvReportingConfigured,
		"mars-escalation":             state.EvJobRerouted,
		"earth-logistics-cancel":      state.EvJobCancelled,
		"edge-surge-down":             state.EvShardDeregistered,
	}
	for id, typ := range want {
		got := firedBy(evs, id)
		n := 0
		for _, e := range got {
			if e.Type == typ {
				n++
			}
		}
		if n != 1 {
			var types []string
			for _, e := range got {
				types = append(types, e.Type)
			}
			t.Errorf("entry %s: %d %s events, want 1 (events by it: %v)", id, n, typ, types)
		}
	}
	// checkpoint.save: the leader takes the checkpoint, records it, then
	// marks the entry fired.
	for i, e := range evs {
		if e.Type == state.EvScheduleFired && e.Detail == "post-governance-snapshot" {
			if i == 0 || evs[i-1].Type != state.EvCheckpointSaved {
				t.Errorf("post-governance-snapshot fired without a checkpoint.saved right before it")
			}
		}
	}
	for _, e := range firedBy(evs, "mars-escalation") {
		if e.Type == state.EvJobRerouted && (e.From != "mars" || e.To != "helios") {
			t.Errorf("mars-escalation rerouted %s from %s to %s", e.Job, e.From, e.To)
		}
	}
	for _, e := range firedBy(evs, "earth-logistics-cancel") {
		if e.Type == state.EvJobCancelled && e.Shard != "earth" {
			t.Errorf("earth-logistics-cancel cancelled %s in shard %s", e.Job, e.Shard)
		}
	}

	// The live state reflects them.
	m, err := c.Mission(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.SystemPaused {
		t.Error("system still paused after the resume entry")
	}
	if !strings.HasSuffix(m.CheckpointPath, "checkpoints/solar-storm.snap") || m.CheckpointIntervalMs != 200 {
		t.Errorf("checkpoint policy = %s every %dms", m.CheckpointPath, m.CheckpointIntervalMs)
	}
	if !strings.HasSuffix(m.ReportingDir, "reports/governance-archive") || m.ReportingLabel != "governance-drill" {
		t.Errorf("reporting policy = %s/%s", m.ReportingDir, m.ReportingLabel)
	}
	shards, err := c.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shards {
		if s.Name == "edge-surge" {
			t.Error("edge-surge still registered after its deregister entry")
		}
		if s.Name == "earth" && (s.MaxQueue != 6400 || s.QueueAlertThreshold != 3600) {
			t.Errorf("earth max_queue/alert = %d/%d, want 6400/3600", s.MaxQueue, s.QueueAlertThreshold)
		}
	}
	if _, err := c.Node(ctx, "helios.solaris-backup"); err != nil {
		t.Errorf("helios.solaris-backup: %v", err)
	}
	led, err := c.Ledger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	flow := int64(0)
	for _, f := range led.Flows {
		if f.From == "mars" && f.To == "helios" {
			flow = f.Jobs
		}
	}
	if flow < 1 {
		t.Errorf("mars->helios flow = %d, want >= 1", flow)
	}
	for _, inv := range led.Invariants {
		if !inv.OK {
			t.Errorf("invariant %s: %s", inv.ID, inv.Message)
		}
	}
}

// logEvents converts events read from the API to the event log's records,
// whose methods check the hash chain.
func logEvents(evs []api.Event) []state.Event {
	out := make([]state.Event, len(evs))
	for i := range evs {
		out[i] = state.Event(evs[i])
	}
	return out
}
