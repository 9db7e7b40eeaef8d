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
	"github.com/planetary/planetary/raftfsm"
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

// RegionLinkConfig configures a latency run between two regions
// (CheckpointLatency, HandOffLatency): a region host of Regions (no nodes),
// Latency one-way on both directions of the links between From and To, and
// Samples messages from From to To.
type RegionLinkConfig struct {
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

func (c *RegionLinkConfig) fill() {
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
func CheckpointLatency(ctx context.Context, cfg RegionLinkConfig) (CheckpointLatencyResult, error) {
	cfg.fill()
	h, done, err := startLatencyHost(ctx, cfg)
	if err != nil {
		return CheckpointLatencyResult{}, err
	}
	defer done()
	from, to := h.Region(cfg.From), h.Region(cfg.To)
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

// startLatencyHost starts a region host of cfg.Regions, one shard each and
// no nodes, cfg.From's shard paused (a submitted job stays queued), with
// cfg.Latency on both directions between cfg.From and cfg.To; done shuts it down and removes
// its temp dir.
func startLatencyHost(ctx context.Context, cfg RegionLinkConfig) (h *region.Host, done func(), err error) {
	dir := cfg.DataDir
	cleanup := func() {}
	if dir == "" {
		d, err := os.MkdirTemp("", "planetary-bench-regions-")
		if err != nil {
			return nil, nil, fmt.Errorf("bench: temp dir: %w", err)
		}
		dir, cleanup = d, func() { os.RemoveAll(d) }
	}
	src := shardsHCL(cfg.Regions, WorkloadSim, 0, 1, "")
	m, diags := mission.ParseMission([]byte(src), "bench-regions.hcl")
	if diags.HasErrors() {
		cleanup()
		return nil, nil, fmt.Errorf("bench: mission: %w", diags)
	}
	sc := server.DefaultConfig()
	sc.NodeID, sc.Logger = "bench", cfg.Logger
	sc.AllowedRoots = []string{"checkpoints", "reports"} // under each region's dir
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	h, err = region.New(sctx, region.Config{DataDir: dir, Mission: m, Server: sc, Logger: cfg.Logger})
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("bench: region host: %w", err)
	}
	done = func() { _ = h.Shutdown(); cleanup() }
	if h.Region(cfg.From) == nil || h.Region(cfg.To) == nil || cfg.From == cfg.To {
		done()
		return nil, nil, fmt.Errorf("bench: from %q and to %q must be two regions of %s", cfg.From, cfg.To, strings.Join(cfg.Regions, ", "))
	}
	for _, f := range []region.LinkFault{{From: cfg.From, To: cfg.To, Latency: cfg.Latency}, {From: cfg.To, To: cfg.From, Latency: cfg.Latency}} {
		if err := h.SetLinkFault(f); err != nil {
			done()
			return nil, nil, fmt.Errorf("bench: link fault: %w", err)
		}
	}
	// From's shard has no node: paused, a job submitted there stays queued
	// (for a hand-off) rather than parked.
	if _, err := h.Region(cfg.From).Pause(sctx, server.Actor{Name: "bench", Caps: server.CapAll}, command.Pause{Shard: cfg.From, Paused: true}); err != nil {
		done()
		return nil, nil, fmt.Errorf("bench: pause %s: %w", cfg.From, err)
	}
	return h, done, nil
}

// HandOffLatencyResult is what a hand-off run measured, per sample.
type HandOffLatencyResult struct {
	// Accepted is the time from From's raft opening the hand-off
	// (Host.HandOff returned) to To's raft recording it accepted; Closed
	// to From's raft closing it accepted (the job left From).
	Accepted, Closed []time.Duration
	// Busy counts the samples whose hand-off found a link between From and
	// To still carrying an earlier message.
	Busy int
}

// HandOffLatency measures a cross-region hand-off over the region host's
// hand-off links: a region host as CheckpointLatency's (cfg.Latency on both
// directions between From and To), then for each sample it waits until
// both hand-off links between From and To carry nothing unacknowledged,
// submits one job in From (it stays queued: From's shard is paused), hands it
// to To's shard (Host.HandOff) and times To's accept and From's close.
func HandOffLatency(ctx context.Context, cfg RegionLinkConfig) (HandOffLatencyResult, error) {
	cfg.fill()
	h, done, err := startLatencyHost(ctx, cfg)
	if err != nil {
		return HandOffLatencyResult{}, err
	}
	defer done()
	from, to := h.Region(cfg.From), h.Region(cfg.To)
	toShard := cfg.To // each region is the one shard of its name
	var res HandOffLatencyResult
	for i := range cfg.Samples {
		sctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		r, err := handOffOnce(sctx, h, from, to, cfg, toShard, i)
		cancel()
		if err != nil {
			return res, fmt.Errorf("bench: hand-off sample %d: %w", i+1, err)
		}
		res.Accepted, res.Closed = append(res.Accepted, r.accepted), append(res.Closed, r.closed)
		if !r.idle {
			res.Busy++
		}
	}
	return res, nil
}

type handOffSample struct {
	accepted, closed time.Duration
	idle             bool
}

func handOffOnce(ctx context.Context, h *region.Host, from, to *server.Server, cfg RegionLinkConfig, toShard string, i int) (handOffSample, error) {
	var r handOffSample
	idle, err := waitHandOffsIdle(ctx, h, cfg.From, cfg.To, 3*cfg.Latency+5*time.Second)
	if err != nil {
		return r, err
	}
	r.idle = idle
	id := fmt.Sprintf("ho-%04d", i)
	job := command.JobSubmit{ID: id, Shard: cfg.From, Kind: string(WorkloadSim),
		Capabilities: []string{"bench"}, Payload: payloadFor(WorkloadSim), ValueMu: 10_000}
	if _, err := from.Submit(ctx, []command.JobSubmit{job}, "bench"); err != nil {
		return r, fmt.Errorf("submit in %s: %w", cfg.From, err)
	}
	outs, err := h.HandOff(ctx, []string{id}, toShard)
	if err != nil {
		return r, err
	}
	begun := time.Now()
	if len(outs) != 1 || outs[0].Status != raftfsm.Applied {
		return r, fmt.Errorf("hand-off of %s to %s not begun: %+v", id, toShard, outs)
	}
	hid := outs[0].Reason
	err = waitState(ctx, to, func(s *state.Store) bool {
		in, ok := s.HandIn(hid)
		return ok && in.Accepted
	})
	if err != nil {
		return r, fmt.Errorf("hand-off %s not accepted in %s: %w", hid, cfg.To, err)
	}
	r.accepted = time.Since(begun)
	err = waitState(ctx, from, func(s *state.Store) bool {
		ho, ok := s.HandOff(hid)
		return ok && ho.State == state.HandOffAccepted
	})
	if err != nil {
		return r, fmt.Errorf("hand-off %s not closed in %s: %w", hid, cfg.From, err)
	}
	r.closed = time.Since(begun)
	return r, nil
}

// waitHandOffsIdle waits, at most wait, until both hand-off links between
// a and b have had an answer (a link's first request is a probe) and have
// nothing sent and unacknowledged; false when they did not get there.
func waitHandOffsIdle(ctx context.Context, h *region.Host, a, b string, wait time.Duration) (bool, error) {
	deadline := time.Now().Add(wait)
	for {
		n := 0
		for _, s := range h.HandOffs() {
			if ((s.From == a && s.To == b) || (s.From == b && s.To == a)) && s.Link.Backlog == 0 && !s.Link.LastContact.IsZero() {
				n++
			}
		}
		if n == 2 {
			return true, nil
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

// waitState waits until ok holds of srv's state, checking after each
// applied batch.
func waitState(ctx context.Context, srv *server.Server, ok func(*state.Store) bool) error {
	for {
		idx := srv.AppliedIndex()
		var done bool
		srv.Read(func(s *state.Store) { done = ok(s) })
		if done {
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

// waitLinkIdle waits, at most wait, until the from→to checkpoint link has
// every checkpoint it took acknowledged; false when it did not get there.
func waitLinkIdle(ctx context.Context, h *region.Host, from, to string, wait time.Duration) (bool, error) {
	deadline := time.Now().Add(wait)
	for {
		for _, s := range h.Publishing() {
			if s.From == from && s.To == to && s.Offered > 0 && s.Link.Backlog == 0 && !s.Link.LastContact.IsZero() && s.Acked+s.Coalesced >= s.Offered {
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
	return waitState(ctx, srv, func(s *state.Store) bool {
		cp, ok := s.RegionCheckpoint(region)
		return ok && cp.EventCount >= events
	})
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
	// Quick runs keep enough of earth's jobs for its sustained rate to
	// span more than one sample (with 1,000, a fast run had none).
	jobs := s.size(100_000, 12_000)
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
	if why == "" && len(ratio.Values) == 0 {
		ratio.Skipped = "earth's rate without the cut was not measured in any pair (too few jobs for a sustained rate)"
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
	host := "region host in the bench process (earth, luna, mars, helios: one shard each, no nodes, real raft on BoltDB, " +
		"the hand-off and checkpoint meshes over core/link's in-process transport, through the host's link faults); "
	for _, l := range []time.Duration{lat, 0} {
		cfg := RegionLinkConfig{Logger: s.cfg.Logger, Latency: l, Samples: samples}
		on := fmt.Sprintf("%s one-way latency on both legs of both directions earth↔mars", l)
		id := "R3"
		if l == 0 {
			on, id = "no latency on the links (the fabric's own cost)", ""
		}
		acc := Figure{ID: id, Unit: "ms", Command: cmd, Name: "cross-region hand-off earth→mars, opened in earth → accepted in mars, " + on}
		cls := Figure{ID: id, Unit: "ms", Command: cmd, Name: "cross-region hand-off earth→mars, opened in earth → closed accepted in earth, " + on}
		if l > 0 {
			acc.Note = host + "per sample: wait until both hand-off links between earth and mars have nothing unacknowledged, submit one job in earth (its shard paused, so the job stays queued), " +
				"Host.HandOff it to shard mars; from Host.HandOff's return (handoff.begin committed in earth) to mars's raft holding the hand-in accepted " +
				"(one offer leg, then handoff.accept committed in mars)"
			cls.Note = "the same samples, to earth's raft holding the hand-off accepted (the outcome's leg back, then handoff.close committed in earth): two one-way legs and three commits in all"
		}
		r, err := HandOffLatency(ctx, cfg)
		for i := range r.Closed {
			acc.Values, cls.Values = append(acc.Values, ms(r.Accepted[i])), append(cls.Values, ms(r.Closed[i]))
		}
		s.noteRun(&acc, err, r.Busy)
		s.noteRun(&cls, err, r.Busy)
		s.logf("R3 hand-off, latency %s: accepted %v, closed %v (busy %d)", l, r.Accepted, r.Closed, r.Busy)
		s.add(acc)
		s.add(cls)
		cp := Figure{Unit: "ms", Command: cmd, Name: "cross-region ledger checkpoint delivery earth→mars (earth commits a change → mars stores earth's checkpoint), " + on}
		if l > 0 {
			cp.Note = host + "per sample: wait until the earth→mars checkpoint link has nothing unacknowledged, submit one job in earth (a new event: a new checkpoint), " +
				"time from earth's commit to mars's raft holding earth's checkpoint with that event"
		}
		c, err := CheckpointLatency(ctx, cfg)
		for _, d := range c.Latencies {
			cp.Values = append(cp.Values, ms(d))
		}
		s.noteRun(&cp, err, c.Busy)
		s.logf("R3 checkpoint, latency %s: %v (busy %d)", l, c.Latencies, c.Busy)
		s.add(cp)
	}
}

// noteRun records a latency run's error (no values: not measured) and the
// samples that found their link busy.
func (s *suite) noteRun(f *Figure, err error, busy int) {
	switch {
	case err != nil && len(f.Values) == 0:
		f.Skipped = err.Error()
	case err != nil:
		f.Note += "; stopped early: " + err.Error()
	}
	if busy > 0 {
		f.Note += fmt.Sprintf("; %d samples found the link still busy", busy)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func perShardText(m map[string]float64) string {
	var parts []string
	for _, r := range BenchRegions {
		parts = append(parts, fmt.Sprintf("%s %.0f", r, m[r]))
	}
	return strings.Join(parts, ", ")
}
