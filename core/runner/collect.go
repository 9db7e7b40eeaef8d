package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/core/report"
	"github.com/planetary/planetary/raftfsm/state"
)

// CollectOptions tunes Collect. Every field is optional.
type CollectOptions struct {
	// Mission is the parsed mission the fabric runs; its schedule gives the
	// owner commands fired by the schedule their full, replayable arguments.
	Mission *mission.Mission
	// Run is copied into the bundle (status, stages, timings).
	Run report.Run
	// Series are telemetry samples taken during the run.
	Series []report.Sample
	// Label and Dir override the live reporting policy in Input.Mission.
	Label string
	Dir   string
	// EventWait bounds how long Collect waits for the event log to reach
	// the ledger's chain head (default 10s).
	EventWait time.Duration
	// Now stamps GeneratedAt (default time.Now).
	Now func() time.Time
}

// Collect gathers everything a report bundle needs from a live fabric: the
// mission policy and schedule progress, shards with health and queue depth,
// nodes, the ledger with its invariants and chain head, every event from
// genesis up to that head (paged through /v1/events), the latest checkpoint
// and the owner commands derived from the owner events.
//
// The ledger is read first and events are cut at its chain head, so the
// bundle verifies even while the fabric keeps working.
//
// When event retention has pruned the start of the log, the bundle covers
// the retained window: its events start after the retention anchor, and
// Input.Pruned says what was removed.
func Collect(ctx context.Context, c *api.Client, opts CollectOptions) (report.Input, error) {
	in, _, err := collect(ctx, c, opts)
	return in, err
}

// collect is Collect that also returns the shards as the API served them,
// with their health verdicts. A prune that moves the retained window while
// the events are read makes it start over (a few times).
func collect(ctx context.Context, c *api.Client, opts CollectOptions) (report.Input, []api.Shard, error) {
	for try := 1; ; try++ {
		in, shards, err := collectOnce(ctx, c, opts)
		var ae *api.Error
		if try < 3 && errors.As(err, &ae) && ae.Status == http.StatusGone {
			continue
		}
		return in, shards, err
	}
}

func collectOnce(ctx context.Context, c *api.Client, opts CollectOptions) (report.Input, []api.Shard, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.EventWait <= 0 {
		opts.EventWait = 10 * time.Second
	}
	var in report.Input
	// The retained window is read before the ledger, so its anchor is at
	// or before the ledger's chain head.
	var anchor report.Anchor
	ret, err := c.EventRetention(ctx)
	var ae *api.Error
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		// A server without event retention keeps every event.
	case err != nil:
		return in, nil, fmt.Errorf("runner: read event retention: %w", err)
	}
	if ret.Pruned {
		anchor = report.Anchor{Seq: ret.Anchor.Seq, Hash: ret.Anchor.Hash}
		in.Pruned = &report.Pruned{Events: ret.PrunedEvents, Segments: ret.PrunedSegments, Bytes: ret.PrunedBytes,
			ArchivedSegments: ret.ArchivedSegments, ArchiveDir: ret.ArchiveDir}
	}
	led, err := c.Ledger(ctx)
	if err != nil {
		return in, nil, fmt.Errorf("runner: read ledger: %w", err)
	}
	pol, err := c.Mission(ctx)
	if err != nil {
		return in, nil, fmt.Errorf("runner: read mission: %w", err)
	}
	shards, err := c.Shards(ctx)
	if err != nil {
		return in, nil, fmt.Errorf("runner: read shards: %w", err)
	}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return in, nil, fmt.Errorf("runner: read nodes: %w", err)
	}
	evs, err := ReadEvents(ctx, c, anchor.Seq, led.Chain.Seq, opts.EventWait)
	if err != nil {
		return in, nil, err
	}

	in.GeneratedAt = opts.Now().UTC()
	in.Mission = report.Mission{Name: pol.Name, Seed: pol.Seed, Label: pol.ReportingLabel, Dir: pol.ReportingDir}
	if opts.Mission != nil {
		in.Mission.Owner, in.Mission.Currency = opts.Mission.Owner, opts.Mission.Currency
	}
	if opts.Label != "" {
		in.Mission.Label = opts.Label
	}
	if opts.Dir != "" {
		in.Mission.Dir = opts.Dir
	}
	in.Run = opts.Run
	in.Series = opts.Series
	in.Shards = shardViews(shards, pol.SystemPaused)
	in.Nodes = nodeViews(nodes)
	in.Ledger = ledgerOf(led)
	cutAtLedger(&in, led)
	in.Events = evs
	in.Anchor = anchor
	in.Checkpoint = checkpointOf(evs)
	in.Schedule = scheduleOf(pol, opts.Mission, evs)
	in.OwnerCommands = OwnerCommands(evs, opts.Mission)
	return in, shards, nil
}

// Paging of ReadEvents: pages of eventPage events, up to pagesInFlight
// requested at once.
const (
	eventPage     = 10000
	pagesInFlight = 2
)

// ReadEvents pages through /v1/events from after (exclusive) up to head
// (inclusive), waiting up to wait for the event log to catch up with head.
//
// Sequence numbers have no gaps, so the range is cut into pages of
// eventPage events read side by side (the server encodes one while the
// client decodes another); a page the log answers short of its end, or
// from past its start (a log that begins at an anchor), is read on from
// where the answer stopped.
func ReadEvents(ctx context.Context, c *api.Client, after, head uint64, wait time.Duration) ([]state.Event, error) {
	return readEvents(ctx, c, after, head, wait, eventPage)
}

// readEvents is ReadEvents with pages of size events.
func readEvents(ctx context.Context, c *api.Client, after, head uint64, wait time.Duration, size uint64) ([]state.Event, error) {
	if head <= after {
		return []state.Event{}, nil
	}
	deadline := time.Now().Add(wait)
	n := int((head - after + size - 1) / size)
	pages := make([][]state.Event, n)
	errs := make([]error, n)
	next := make(chan int)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range min(pagesInFlight, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				from := after + uint64(k)*size
				pages[k], errs[k] = readRange(ctx, c, from, min(from+size, head), head, deadline)
				if errs[k] != nil {
					cancel()
				}
			}
		}()
	}
	for k := range n {
		next <- k
	}
	close(next)
	wg.Wait()
	total := 0
	for k := range pages {
		if errs[k] != nil {
			return nil, errs[k]
		}
		total += len(pages[k])
	}
	out := make([]state.Event, 0, total)
	for _, p := range pages {
		out = append(out, p...)
	}
	return out, nil
}

// readRange reads the events with from < seq <= to, asking again from
// where an answer stopped until to is reached or deadline passes; head is
// the ledger's chain head, for the error.
func readRange(ctx context.Context, c *api.Client, from, to, head uint64, deadline time.Time) ([]state.Event, error) {
	idx := from
	var out []state.Event
	for idx < to {
		page, err := c.Events(ctx, idx, 500*time.Millisecond, "", int(to-idx))
		if err != nil {
			return nil, fmt.Errorf("runner: read events after %d: %w", idx, err)
		}
		evs := stateEvents(page.Events)
		if k := sort.Search(len(evs), func(i int) bool { return evs[i].Seq > to }); k < len(evs) {
			evs = evs[:k]
		}
		if out == nil {
			out = evs // the usual case: one answer holds the range
		} else {
			out = append(out, evs...)
		}
		if page.Index > idx {
			idx = page.Index
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("runner: event log stops at seq %d, ledger head is %d: %w", idx, head, ErrEventsBehind)
		}
	}
	return out, nil
}

// stateEvents views events read from the API as the event log's records
// without a copy: api.Event has state.Event's fields in the same order (the
// pointer conversion below compiles only while that holds).
func stateEvents(evs []api.Event) []state.Event {
	if len(evs) == 0 {
		return []state.Event{}
	}
	return unsafe.Slice((*state.Event)(&evs[0]), len(evs))
}

// cutAtLedger makes the per-shard and per-node figures of in agree with the
// ledger read, whose chain head is where the events are cut. Shards and nodes
// are listed by later requests, while a live fabric keeps working, so their
// own counts can be ahead of the events; the ledger's counts come from the
// same FSM read as the chain head. A node the ledger does not know yet was
// registered after the cut and had no work at it.
func cutAtLedger(in *report.Input, led api.Ledger) {
	for i := range in.Nodes {
		n := &in.Nodes[i]
		c := led.Nodes[n.ID]
		n.Active = c[state.JobAssigned.String()].Jobs + c[state.JobRunning.String()].Jobs
		n.Completed = c[state.JobCompleted.String()].Jobs
		n.EarnedMu = in.Ledger.Payments[n.ID]
	}
	for i := range in.Shards {
		if c, ok := in.Ledger.Shards[in.Shards[i].Name]; ok {
			in.Shards[i].Counts, in.Shards[i].ValueMu = c.Jobs, c.ValueMu
		}
	}
}

func countsOf(c api.Counts) (map[string]int64, map[string]int64) {
	jobs, val := map[string]int64{}, map[string]int64{}
	for _, st := range report.States() {
		jobs[st], val[st] = 0, 0
	}
	for k, v := range c {
		jobs[k], val[k] = v.Jobs, v.ValueMicro
	}
	return jobs, val
}

func shardViews(shards []api.Shard, systemPaused bool) []report.ShardView {
	out := make([]report.ShardView, 0, len(shards))
	for _, s := range shards {
		jobs, val := countsOf(s.Counts)
		v := report.ShardView{
			Name: s.Name, DisplayName: s.DisplayName, Region: s.Region, LatencyBudgetMs: s.LatencyBudgetMs,
			MaxQueue: s.MaxQueue, QueueAlertThreshold: s.QueueAlertThreshold,
			SpilloverTargets: append([]string(nil), s.SpilloverTargets...),
			Paused:           s.Paused || systemPaused, QueueDepth: s.QueueDepth,
			Counts: jobs, ValueMu: val, Health: report.HealthOK,
		}
		for _, p := range s.Policies {
			v.Policies = append(v.Policies, report.SpilloverPolicy{Target: p.Target, Threshold: p.Threshold,
				MaxDrain: p.MaxDrain, RequiredCapabilities: append([]string(nil), p.RequiredCapabilities...), Weight: p.Weight})
		}
		// The API's verdict (core/health), as the console shows it.
		v.Health, v.HealthReasons = report.ShardHealth(s.Health, s.HealthReasons)
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// nodeViews keeps the API's node views as they are: a bundle's node is the
// API's view (its earnings are filled from the ledger by cutAtLedger).
func nodeViews(nodes []api.Node) []report.NodeView {
	out := make([]report.NodeView, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, report.NodeView{Node: n})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func ledgerOf(l api.Ledger) report.Ledger {
	jobs, val := countsOf(l.Global)
	out := report.Ledger{
		Global:   report.Counts{Jobs: jobs, ValueMu: val},
		Shards:   map[string]report.Counts{},
		Flows:    []report.Flow{},
		Payments: map[string]int64{},
		Head:     report.Anchor{Seq: l.Chain.Seq, Hash: l.Chain.Hash},
	}
	for name, c := range l.Shards {
		j, v := countsOf(c)
		out.Shards[name] = report.Counts{Jobs: j, ValueMu: v}
	}
	for _, f := range l.Flows {
		out.Flows = append(out.Flows, report.Flow{From: f.From, To: f.To, Jobs: f.Jobs, ValueMu: f.ValueMicro})
	}
	for node, p := range l.PaymentsMicro {
		out.Payments[node] = p
	}
	for _, inv := range l.Invariants {
		out.Invariants = append(out.Invariants, report.Invariant{ID: inv.ID, OK: inv.OK, Message: inv.Message})
	}
	if len(l.Regions) > 0 {
		out.Regions = l.Regions
		g := l.GlobalTotals
		out.GlobalTotals = &g
	}
	return out
}

// checkpointOf finds the latest checkpoint.saved event ("<path> sha256:<hex>").
func checkpointOf(evs []state.Event) report.Checkpoint {
	var cp report.Checkpoint
	for i := range evs {
		e := &evs[i]
		if e.Type != state.EvCheckpointSaved {
			continue
		}
		path, sum, _ := strings.Cut(e.Detail, " sha256:")
		cp = report.Checkpoint{Index: e.Index, Path: path, SHA256: sum}
	}
	return cp
}

func scheduleOf(pol api.Mission, m *mission.Mission, evs []state.Event) report.Schedule {
	firedAt := map[string]time.Time{}
	for i := range evs {
		e := &evs[i]
		if e.Type == state.EvScheduleFired || e.Type == state.EvScheduleSkipped {
			firedAt[e.Detail] = time.Unix(0, e.Time).UTC()
		}
	}
	reasons := map[string]string{}
	if m != nil {
		for _, e := range m.Schedule {
			reasons[e.ID] = e.Reason
		}
	}
	skipped := map[string]bool{}
	for _, id := range pol.Skipped {
		skipped[id] = true
	}
	s := report.Schedule{Executed: []report.Entry{}, Skipped: []report.Entry{}, Pending: []report.Entry{}}
	for _, e := range pol.Schedule {
		en := report.Entry{ID: e.ID, AtMs: e.AtMs, AfterCompleted: e.AfterCompleted, Action: e.Action, Note: e.Note,
			Reason: reasons[e.ID], FiredAt: firedAt[e.ID]}
		switch {
		case skipped[e.ID]:
			s.Skipped = append(s.Skipped, en)
		case e.Fired:
			s.Executed = append(s.Executed, en)
		default:
			en.FiredAt = time.Time{}
			s.Pending = append(s.Pending, en)
		}
	}
	return s
}
