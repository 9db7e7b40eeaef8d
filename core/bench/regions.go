package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/agent"
	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/core/region"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// BenchRegions are the regions of the R group's fabric: the example
// mission's four, each one shard of its own name (its own raft group on the
// region host).
var BenchRegions = []string{"earth", "luna", "mars", "helios"}

// CutOff returns a BeforeLoad that cuts region off from every other region
// of the agent's host, both ways, on every kind of link (Host.SetLinkFault).
func CutOff(name string) func(context.Context, *agent.Agent) error {
	return func(_ context.Context, a *agent.Agent) error {
		h := a.Host()
		if h == nil {
			return fmt.Errorf("bench: cut off %s: the agent runs no region host", name)
		}
		for _, r := range h.Regions() {
			if r == name {
				continue
			}
			for _, f := range []region.LinkFault{{From: name, To: r, Partitioned: true}, {From: r, To: name, Partitioned: true}} {
				if err := h.SetLinkFault(f); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// CheckpointLatencyConfig configures a checkpoint delivery run: a region
// host of Regions (no nodes), Latency one-way on both directions of the
// link between From and To, and Samples changes in From.
type CheckpointLatencyConfig struct {
	Logger hclog.Logger
	// Regions of the host (default BenchRegions); From and To are two of
	// them (default earth and mars).
	Regions  []string
	From, To string
	// Latency is the one-way latency of both legs of both directions
	// between From and To (0: none).
	Latency time.Duration
	// Samples is the number of changes measured (default 5).
	Samples int
	// Timeout bounds one sample (default 10 × Latency + 30 s).
	Timeout time.Duration
	// DataDir holds the host's regions (a temp dir when empty).
	DataDir string
}

// CheckpointLatencyResult is what the run measured.
type CheckpointLatencyResult struct {
	// Latencies are, per sample, the time from From's raft committing a
	// change (one job submitted) to To's raft applying a checkpoint of
	// From that includes it.
	Latencies []time.Duration
	// Busy counts the samples whose change found the link still carrying
	// an earlier checkpoint (not idle within the sample's wait).
	Busy int
}

func (c *CheckpointLatencyConfig) fill() {
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if len(c.Regions) == 0 {
		c.Regions = BenchRegions
	}
	if c.From == "" {
		c.From = "earth"
	}
	if c.To == "" {
		c.To = "mars"
	}
	if c.Samples <= 0 {
		c.Samples = 5
	}
	if c.Timeout <= 0 {
		c.Timeout = 10*c.Latency + 30*time.Second
	}
}

// CheckpointLatency measures how long a change in one region takes to reach
// another as a ledger checkpoint over the region host's links: a region
// host of cfg.Regions in this process (real raft on BoltDB, the checkpoint
// mesh over core/link), cfg.Latency on the From–To link, then for each
// sample it waits until the From→To link carries nothing unacknowledged,
// submits one job in From (a new event, so a new checkpoint) and waits until
// To has stored a checkpoint of From whose event count covers it.
func CheckpointLatency(ctx context.Context, cfg CheckpointLatencyConfig) (CheckpointLatencyResult, error) {
	cfg.fill()
	dir := cfg.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "planetary-bench-regions-")
		if err != nil {
			return CheckpointLatencyResult{}, fmt.Errorf("bench: temp dir: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	src := shardsHCL(cfg.Regions, WorkloadSim, 0, 1, "")
	m, diags := mission.ParseMission([]byte(src), "bench-regions.hcl")
	if diags.HasErrors() {
		return CheckpointLatencyResult{}, fmt.Errorf("bench: mission: %w", diags)
	}
	sc := server.DefaultConfig()
	sc.NodeID, sc.Logger = "bench", cfg.Logger
	sc.AllowedRoots = []string{"checkpoints", "reports"} // under each region's dir
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	h, err := region.New(sctx, region.Config{DataDir: dir, Mission: m, Server: sc, Logger: cfg.Logger})
	if err != nil {
		return CheckpointLatencyResult{}, fmt.Errorf("bench: region host: %w", err)
	}
	defer h.Shutdown()
	from, to := h.Region(cfg.From), h.Region(cfg.To)
	if from == nil || to == nil {
		return CheckpointLatencyResult{}, fmt.Errorf("bench: from %q or to %q is not a region of %s", cfg.From, cfg.To, strings.Join(cfg.Regions, ", "))
	}
	for _, f := range []region.LinkFault{{From: cfg.From, To: cfg.To, Latency: cfg.Latency}, {From: cfg.To, To: cfg.From, Latency: cfg.Latency}} {
		if err := h.SetLinkFault(f); err != nil {
			return CheckpointLatencyResult{}, fmt.Errorf("bench: link fault: %w", err)
		}
	}
	var res CheckpointLatencyResult
	for i := range cfg.Samples {
		sctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		idle, err := waitLinkIdle(sctx, h, cfg.From, cfg.To, 3*cfg.Latency+5*time.Second)
		if err != nil {
			cancel()
			return res, err
		}
		if !idle {
			res.Busy++
		}
		job := command.JobSubmit{ID: fmt.Sprintf("cp-%04d", i), Shard: cfg.From, Kind: string(WorkloadSim),
			Capabilities: []string{"bench"}, Payload: payloadFor(WorkloadSim), ValueMu: 10_000}
		if _, err := from.Submit(sctx, []command.JobSubmit{job}, "bench"); err != nil {
			cancel()
			return res, fmt.Errorf("bench: submit in %s: %w", cfg.From, err)
		}
		committed := time.Now()
		want := from.RegionCheckpoint().EventCount
		err = waitCheckpoint(sctx, to, cfg.From, want)
		cancel()
		if err != nil {
			return res, fmt.Errorf("bench: sample %d: %s's checkpoint with %d events not stored in %s: %w", i+1, cfg.From, want, cfg.To, err)
		}
		res.Latencies = append(res.Latencies, time.Since(committed))
	}
	return res, nil
}

// waitLinkIdle waits, at most wait, until the from→to checkpoint link has
// every checkpoint it took acknowledged; false when it did not get there.
func waitLinkIdle(ctx context.Context, h *region.Host, from, to string, wait time.Duration) (bool, error) {
	deadline := time.Now().Add(wait)
	for {
		for _, s := range h.Publishing() {
			if s.From == from && s.To == to && s.Offered > 0 && s.Link.Backlog == 0 && s.Acked+s.Coalesced >= s.Offered {
				return true, nil
			}
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitCheckpoint waits until srv's state holds a checkpoint of region with
// at least events events.
func waitCheckpoint(ctx context.Context, srv *server.Server, region string, events uint64) error {
	for {
		idx := srv.AppliedIndex()
		var got uint64
		srv.Read(func(s *state.Store) {
			if cp, ok := s.RegionCheckpoint(region); ok {
				got = cp.EventCount
			}
		})
		if got >= events {
			return nil
		}
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_ = srv.WaitIndex(wctx, idx+1)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// regionCfg is the R group's lifecycle run: P1's job shape and method
// (1,000-job batches from 4 submitters, at most 40,000 unfinished, sim jobs
// of zero duration) over the four-region host, batches round robin over
// the regions, each region with P1's two sim nodes of capacity 10,000.
func (s *suite) regionCfg(jobs int) LifecycleConfig {
	c := s.lifecycleCfg(WorkloadSim, jobs)
	c.Shards, c.Regions = BenchRegions, true
	return c
}

const regionNote = "P1's harness over `agent -dev -regions` in the bench process: earth, luna, mars and helios, each one shard " +
	"and its own raft group (BoltDB with fsync) with 2 sim nodes (one plugin process each) of capacity 10,000; " +
	"1,000-job batches round robin over the regions through the host's front from 4 goroutines, at most 40,000 jobs unfinished"

func (s *suite) r1(ctx context.Context) {
	// P1's sizes, so that the ratio compares like with like (-quick too).
	jobs := s.size(100_000, 20_000)
	n := s.size(runs, 1)
	cmd := "bin/planetary bench -only P1,R1"
	f := Figure{ID: "R1", Name: fmt.Sprintf("lifecycle, four-region host, sim jobs of zero duration (%s jobs per run, aggregate over the regions, sustained after 10%% warm-up)", num(float64(jobs))),
		Unit: "jobs/s", Command: cmd, Note: regionNote}
	per := map[string][]float64{}
	var perJob []float64
	for i := 0; i < n; i++ {
		r, err := Lifecycle(ctx, s.regionCfg(jobs))
		if err != nil {
			f.Skipped = err.Error()
			break
		}
		s.logf("R1 run %d: %.0f jobs/s aggregate (%s), %.4f entries/job", i+1, r.Sustained, perShardText(r.PerShard), r.EntriesPerJob)
		f.Values = append(f.Values, r.Sustained)
		perJob = append(perJob, r.EntriesPerJob)
		for _, reg := range BenchRegions {
			per[reg] = append(per[reg], r.PerShard[reg])
		}
	}
	p1 := s.median("P1", "lifecycle, one dev agent")
	if p1 > 0 {
		f.Goal = atLeast(p1, fmt.Sprintf("≥ P1 (%s jobs/s, same suite run)", num(p1)))
	}
	s.add(f)
	ratio := Figure{ID: "R1", Name: "four-region lifecycle ÷ one-agent lifecycle (R1 median ÷ P1 median, same suite run)", Command: cmd,
		Goal: atLeast(1, "≥ 1")}
	switch {
	case len(f.Values) == 0:
		ratio.Skipped = "R1 not measured"
	case p1 == 0:
		ratio.Skipped = "P1 not run in this suite run"
	default:
		ratio.Values = []float64{Summarize(f.Values).Median / p1}
	}
	s.add(ratio)
	if len(f.Values) == 0 {
		return
	}
	for _, reg := range BenchRegions {
		s.add(Figure{Name: "R1 lifecycle of one region of the four, " + reg, Unit: "jobs/s", Values: per[reg], Command: cmd})
	}
	s.add(Figure{Name: "raft entries per job in the four-region lifecycle run (all regions)", Unit: "entries/job", Values: perJob, Command: cmd})
}

func (s *suite) r2(ctx context.Context) {
	jobs := s.size(100_000, 4_000)
	n := s.size(runs, 1)
	cmd := "bin/planetary bench -only R2"
	cut := Figure{ID: "R2", Name: fmt.Sprintf("earth's lifecycle while mars is cut off from every region, four-region host (%s jobs per run over the four)", num(float64(jobs))),
		Unit: "jobs/s", Command: cmd,
		Note: regionNote + "; mars's links to and from every region (checkpoints, ACL tokens) partitioned through Host.SetLinkFault once the nodes are up, before the first submit, " +
			"so the whole measured interval is inside the cut; mars keeps running its own jobs"}
	base := Figure{ID: "R2", Name: "earth's lifecycle without the cut (same harness, runs alternating with the cut's)", Unit: "jobs/s", Command: cmd}
	ratio := Figure{ID: "R2", Name: "earth with mars cut off ÷ earth without (per pair of runs)", Command: cmd,
		Goal: atLeast(0.9, "≥ 0.9 (the partition drill's -min-rate-ratio)")}
	marsCut := Figure{Name: "R2 mars's own lifecycle while cut off", Unit: "jobs/s", Command: cmd}
	var why string
	for i := 0; i < n && why == ""; i++ {
		b, err := Lifecycle(ctx, s.regionCfg(jobs))
		if err != nil {
			why = "without the cut: " + err.Error()
			break
		}
		c := s.regionCfg(jobs)
		c.BeforeLoad = CutOff("mars")
		r, err := Lifecycle(ctx, c)
		if err != nil {
			why = "with mars cut off: " + err.Error()
			break
		}
		s.logf("R2 pair %d: earth %.0f jobs/s with mars cut off, %.0f without (%s | %s)", i+1, r.PerShard["earth"], b.PerShard["earth"],
			perShardText(r.PerShard), perShardText(b.PerShard))
		cut.Values = append(cut.Values, r.PerShard["earth"])
		base.Values = append(base.Values, b.PerShard["earth"])
		marsCut.Values = append(marsCut.Values, r.PerShard["mars"])
		if b.PerShard["earth"] > 0 {
			ratio.Values = append(ratio.Values, r.PerShard["earth"]/b.PerShard["earth"])
		}
	}
	if why != "" {
		for _, f := range []*Figure{&cut, &base, &ratio} {
			if len(f.Values) == 0 {
				f.Skipped = why
			} else {
				f.Note += "; a later run failed: " + why
			}
		}
	}
	s.add(cut)
	s.add(base)
	s.add(ratio)
	if len(marsCut.Values) > 0 {
		s.add(marsCut)
	}
}

func (s *suite) r3(ctx context.Context) {
	lat := s.sizeDur(2*time.Second, 200*time.Millisecond)
	samples := s.size(5, 2)
	cmd := "bin/planetary bench -only R3"
	note := "region host in the bench process (earth, luna, mars, helios: one shard each, no nodes, real raft on BoltDB, the checkpoint mesh over core/link's in-process transport); " +
		"per sample: wait until the earth→mars checkpoint link has nothing unacknowledged, submit one job in earth (a new event: a new checkpoint), " +
		"time from earth's commit to mars's raft holding earth's checkpoint with that event; " +
		"the hand-off protocol is not on main yet, so this measures checkpoint delivery, not a hand-off"
	for _, l := range []time.Duration{lat, 0} {
		f := Figure{ID: "R3", Unit: "s", Command: cmd,
			Name: fmt.Sprintf("cross-region ledger checkpoint delivery earth→mars, %s one-way latency on both legs of both directions (earth commits a change → mars stores earth's checkpoint)", l)}
		if l == 0 {
			f.ID, f.Name = "", "cross-region ledger checkpoint delivery earth→mars, no latency on the link (the fabric's own cost)"
		} else {
			f.Note = note
		}
		r, err := CheckpointLatency(ctx, CheckpointLatencyConfig{Logger: s.cfg.Logger, Latency: l, Samples: samples})
		for _, d := range r.Latencies {
			f.Values = append(f.Values, d.Seconds())
		}
		if err != nil && len(f.Values) == 0 {
			f.Skipped = err.Error()
		} else if err != nil {
			f.Note += "; stopped early: " + err.Error()
		}
		if r.Busy > 0 {
			f.Note += fmt.Sprintf("; %d samples found the link still busy", r.Busy)
		}
		s.logf("R3 latency %s: %v (busy %d)", l, r.Latencies, r.Busy)
		s.add(f)
	}
}

func perShardText(m map[string]float64) string {
	var parts []string
	for _, r := range BenchRegions {
		parts = append(parts, fmt.Sprintf("%s %.0f", r, m[r]))
	}
	return strings.Join(parts, ", ")
}
