package server

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/planetary/planetary/core/scheduler"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// monitorLeadership starts the leader loops when raft reports leadership and
// stops them when it is lost.
func (s *Server) monitorLeadership(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case isLeader := <-s.notifyCh:
			if isLeader {
				s.startLeader()
			} else {
				s.stopLeader()
			}
		}
	}
}

func (s *Server) startLeader() {
	s.leaderMu.Lock()
	defer s.leaderMu.Unlock()
	if s.leaderCancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(s.shutdownCtx)
	done := make(chan struct{})
	s.leaderCancel, s.leaderDone = cancel, done
	go func() {
		defer close(done)
		s.leaderLoop(ctx)
	}()
}

func (s *Server) stopLeader() {
	s.leaderMu.Lock()
	cancel, done := s.leaderCancel, s.leaderDone
	s.leaderCancel, s.leaderDone = nil, nil
	s.leaderMu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// leaderLoop issues a barrier (so the FSM holds every entry of earlier
// terms), establishes leadership and runs the loops until ctx ends.
func (s *Server) leaderLoop(ctx context.Context) {
	for {
		f := s.raft.Barrier(s.cfg.ApplyTimeout)
		err := s.waitFuture(ctx, f)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		s.logger.Warn("leader barrier failed; retrying", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.logger.Info("leadership established", "index", s.fsm.AppliedIndex())
	s.leading.Store(true)
	defer s.leading.Store(false)

	// Never stamp a time behind what is already committed.
	s.fsm.Read(func(st *state.Store) { s.floorNow(st.Clock()) })

	s.hb.start(ctx)
	defer s.hb.stop()

	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){s.schedulerLoop, s.heartbeatLoop, s.clockLoop, s.checkpointLoop, s.gcLoop, s.followUpLoop} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
	wg.Wait()
	s.logger.Info("leadership lost; leader loops stopped")
}

var _ scheduler.View = (*state.Store)(nil)

// roundsInFlight bounds the scheduler rounds proposed and not yet applied.
const roundsInFlight = 4

// rejectedBackoff is the pause after a round whose every decision the FSM
// rejected, before the next plan.
const rejectedBackoff = 25 * time.Millisecond

// schedulerLoop runs placement rounds: woken by every applied entry, by
// results proposed and by a slow ticker. A round is planned over the store
// with what is in flight laid on top (see pendingWork): rounds still
// committing, and results whose entries are queued ahead, so a slot is
// refilled while its result is still being written and raft writes the
// result and the next assignment together.
func (s *Server) schedulerLoop(ctx context.Context) {
	tick := time.NewTicker(s.cfg.SchedulerTick)
	defer tick.Stop()
	pending := s.pending
	type outcome struct {
		r          *inflightRound
		progressed bool
	}
	done := make(chan outcome, roundsInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	inFlight := 0
	settle := func(o outcome) bool {
		pending.removeRound(o.r)
		inFlight--
		return o.progressed
	}
	for {
		ch := s.changes()
		var (
			d    scheduler.Decisions
			topo uint64
			r    *inflightRound
		)
		s.fsm.Read(func(st *state.Store) {
			began := time.Now()
			d = s.sched.Plan(pending.view(st), st.Policy().MissionSeed)
			s.placement.plan.Observe(time.Since(began).Seconds())
			topo = st.Meta().Topology
			if !d.Empty() {
				r = pending.addRound(st, &d)
			}
		})
		s.stats.schedRounds.Add(1)
		if r != nil {
			inFlight++
			wg.Add(1)
			go func() {
				defer wg.Done()
				done <- outcome{r, s.commitRound(ctx, d, topo)}
			}()
		}
		if ctx.Err() != nil {
			return
		}
		// Wait for a change or a settled round; with the limit reached,
		// only a settled round frees the next one.
		progressed := true
		for waiting := true; waiting; {
			if inFlight >= roundsInFlight {
				select {
				case <-ctx.Done():
					return
				case o := <-done:
					progressed = settle(o)
				}
				break
			}
			if r != nil {
				break // plan again at once: the overlay holds what was taken
			}
			select {
			case <-ctx.Done():
				return
			case o := <-done:
				progressed = settle(o)
				waiting = false
			case <-ch:
				waiting = false
			case <-s.kick:
				waiting = false
			case <-tick.C:
				waiting = false
			}
		}
		if !progressed {
			// A round that decided something but committed nothing (stale:
			// the fabric changed under it) would spin on its own rejected
			// entries; back off briefly.
			select {
			case <-ctx.Done():
				return
			case <-time.After(rejectedBackoff):
			case <-tick.C:
			}
		}
	}
}

// commitRound commits one round (AssignBatch, spills included, and
// ParkBatch, each only when non-empty) and reports whether any decision was applied.
func (s *Server) commitRound(ctx context.Context, d scheduler.Decisions, topo uint64) bool {
	applied := 0
	commit := func(t command.MessageType, msg marshaler, n int) {
		began := time.Now()
		resp, err := s.Apply(ctx, t, msg)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, ErrNotLeader) {
				s.logger.Error("commit scheduler decisions", "type", t, "error", err)
			}
			return
		}
		ok := n
		if resp != nil && len(resp.Outcomes) > 0 {
			ok = 0
			for _, o := range resp.Outcomes {
				if o.Status == raftfsm.Rejected {
					continue
				}
				ok++
			}
		}
		s.stats.rejected.Add(uint64(n - ok))
		applied += ok
		switch t {
		case command.AssignBatchType:
			s.stats.assigned.Add(uint64(ok))
			s.placement.commit.Observe(time.Since(began).Seconds())
			if ok > 0 {
				s.observeAssigned(d.Assign[0].JobID)
			}
			s.stats.spilled.Add(uint64(spilled(d.Assign, resp)))
		case command.ParkBatchType:
			s.stats.parked.Add(uint64(ok))
		}
	}
	if len(d.Assign) > 0 {
		commit(command.AssignBatchType, &command.AssignBatch{Time: s.Now(), Assignments: d.Assign}, len(d.Assign))
	}
	if len(d.Park) > 0 && ctx.Err() == nil {
		commit(command.ParkBatchType, &command.ParkBatch{Time: s.Now(), Parks: d.Park, Topology: topo}, len(d.Park))
	}
	return applied > 0
}

// spilled counts the spills among assignments the FSM applied.
func spilled(as []command.Assignment, resp *raftfsm.Response) int {
	n := 0
	for i, a := range as {
		if a.From == "" {
			continue
		}
		if resp != nil && i < len(resp.Outcomes) && resp.Outcomes[i].Status == raftfsm.Rejected {
			continue
		}
		n++
	}
	return n
}

// heartbeatLoop arms TTL timers for Up nodes that have none, on every
// change (timers themselves run in the heartbeats type).
func (s *Server) heartbeatLoop(ctx context.Context) {
	tick := time.NewTicker(max(s.cfg.HeartbeatTTL/2, 10*time.Millisecond))
	defer tick.Stop()
	for {
		ch := s.changes()
		s.hb.sweep()
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-tick.C:
		}
	}
}

// clockLoop advances the mission clock every ClockTick while a mission is
// applied, and fires due owner schedule entries.
func (s *Server) clockLoop(ctx context.Context) {
	tick := time.NewTicker(s.cfg.ClockTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var (
			applied bool
			pol     state.Policy
			clock   int64
			done    int64
		)
		var grace bool
		s.fsm.Read(func(st *state.Store) {
			pol = st.Policy()
			applied = pol.MissionDigest != ""
			clock = st.Clock()
			done = st.Global().N[state.JobCompleted]
			grace = s.pendingGrace(st)
		})
		if !applied {
			continue
		}
		// The clock only matters while timed schedule entries are pending
		// or queued jobs wait out a spill_grace; an idle fabric writes
		// nothing to its log.
		now := s.Now()
		if now > clock && (pendingTimed(pol) || grace) {
			if _, err := s.Apply(ctx, command.ClockAdvanceType, &command.ClockAdvance{Time: now}); err != nil {
				if ctx.Err() == nil {
					s.logger.Error("advance mission clock", "error", err)
				}
				continue
			}
			s.stats.clockAdvances.Add(1)
			clock = now
		}
		s.fireDue(ctx, pol, clock, done)
	}
}

// pendingGrace reports whether a shard with queued jobs has a node that
// went down less than the shard's spill_grace ago on the mission clock:
// the clock must move on for the scheduler to see the grace end.
func (s *Server) pendingGrace(st *state.Store) bool {
	clock := st.Clock()
	for _, n := range st.Nodes() {
		if n.Status != state.NodeDown {
			continue
		}
		sh := st.Shard(n.Shard)
		if sh == nil || st.QueueLen(sh.Name) == 0 {
			continue
		}
		grace := int64(2 * s.cfg.HeartbeatTTL)
		if sh.SpillGraceMs > 0 {
			grace = sh.SpillGraceMs * int64(time.Millisecond)
		}
		if clock-n.LastStatusAt < grace {
			return true
		}
	}
	return false
}

// dueEntries returns the schedule entries due at clock with done jobs
// completed, not yet fired or skipped, in schedule order.
func dueEntries(pol state.Policy, clock, done int64) []state.ScheduleEntry {
	var out []state.ScheduleEntry
	elapsedMs := (clock - pol.MissionStart) / int64(time.Millisecond)
	for _, e := range pol.Schedule {
		if slices.Contains(pol.Fired, e.ID) || slices.Contains(pol.Skipped, e.ID) {
			continue
		}
		due := false
		switch {
		case e.AfterCompleted > 0:
			due = done >= e.AfterCompleted
		default:
			due = pol.MissionStart > 0 && elapsedMs >= e.AtMs
		}
		if due {
			out = append(out, e)
		}
	}
	return out
}

// fireDue commits one ScheduleFire per due entry. An entry's command goes
// through its endpoint's checks first, as a call of it would; one they
// refuse is recorded as skipped with the refusal. checkpoint.save takes and
// records the checkpoint first (CheckpointSaved), then marks the entry fired.
// An entry the FSM refuses outright is recorded as skipped, so it is not
// retried every tick.
func (s *Server) fireDue(ctx context.Context, pol state.Policy, clock, done int64) {
	for _, e := range dueEntries(pol, clock, done) {
		fire := &command.ScheduleFire{Meta: s.systemMeta("schedule:"+e.ID, e.Note), EntryID: e.ID}
		t, ok := ActionType(e.Action)
		switch {
		case !ok:
			fire.Skipped = true
			fire.Meta.Reason = "unknown action " + e.Action
		case t == command.CheckpointSavedType:
			if _, err := s.Checkpoint(ctx); err != nil {
				if ctx.Err() != nil || errors.Is(err, ErrNotLeader) {
					return
				}
				s.logger.Error("scheduled checkpoint", "entry", e.ID, "error", err)
				fire.Skipped = true
				fire.Meta.Reason = "checkpoint failed: " + err.Error()
			}
		default:
			// The entry's command passes the checks its endpoint runs on
			// a call (endpoints.go), on the state it fires into.
			var err error
			s.fsm.Read(func(st *state.Store) { err = s.checkScheduled(st, t, e.Args) })
			if err != nil {
				fire.Skipped = true
				fire.Meta.Reason = "refused: " + err.Error()
				break
			}
			fire.Action, fire.Body = t, e.Args
		}
		resp, err := s.Apply(ctx, command.ScheduleFireType, fire)
		if err != nil && resp != nil && !fire.Skipped && !firedIn(resp, e.ID) {
			// Refused as a whole (e.g. an invalid action): record the skip.
			s.logger.Warn("schedule entry refused; skipping it", "entry", e.ID, "error", err)
			skip := &command.ScheduleFire{Meta: s.systemMeta("schedule:"+e.ID, "refused: "+err.Error()), EntryID: e.ID, Skipped: true}
			_, err = s.Apply(ctx, command.ScheduleFireType, skip)
		}
		if err != nil && resp == nil {
			if ctx.Err() == nil {
				s.logger.Error("fire schedule entry", "entry", e.ID, "error", err)
			}
			return
		}
		s.stats.scheduleFires.Add(1)
		s.logger.Info("schedule entry fired", "entry", e.ID, "action", e.Action, "skipped", fire.Skipped)
	}
}

// firedIn reports whether the FSM recorded the entry (its action may still
// have been refused, which the response error carries).
func firedIn(resp *raftfsm.Response, id string) bool {
	for _, o := range resp.Outcomes {
		if o.ID == id && o.Status != raftfsm.Rejected {
			return true
		}
	}
	return false
}

// pendingTimed reports whether a schedule entry with a mission-clock
// offset has neither fired nor been skipped.
func pendingTimed(pol state.Policy) bool {
	done := make(map[string]bool, len(pol.Fired)+len(pol.Skipped))
	for _, id := range pol.Fired {
		done[id] = true
	}
	for _, id := range pol.Skipped {
		done[id] = true
	}
	for _, e := range pol.Schedule {
		if e.AtMs >= 0 && e.AfterCompleted == 0 && !done[e.ID] {
			return true
		}
	}
	return false
}

// checkpointLoop exports a checkpoint every Policy.CheckpointIntervalMs,
// counted from the end of the previous one, and skips it when nothing but
// checkpoint records changed since then.
func (s *Server) checkpointLoop(ctx context.Context) {
	var (
		last     = time.Now()
		lastHead uint64
	)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var (
			pol  state.Policy
			head uint64
		)
		s.fsm.Read(func(st *state.Store) { pol, head = st.Policy(), st.Head().Seq })
		if pol.CheckpointIntervalMs <= 0 || pol.CheckpointPath == "" || head == lastHead {
			continue
		}
		if time.Since(last) < time.Duration(pol.CheckpointIntervalMs)*time.Millisecond {
			continue
		}
		_, err := s.Checkpoint(ctx)
		last = time.Now()
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Error("periodic checkpoint", "error", err)
			}
			continue
		}
		s.fsm.Read(func(st *state.Store) { lastHead = st.Head().Seq })
	}
}

// followUpTick is how often the leader looks for endpoint follow-ups due.
const followUpTick = 100 * time.Millisecond

// followUpLoop proposes what the endpoints' follow-ups (endpoint.due) find
// due in the applied state, as the system, through the endpoints' own
// checks: a follow-up refused because the state moved on is dropped, and
// the next look decides again.
func (s *Server) followUpLoop(ctx context.Context) {
	system := Actor{Name: "system", Caps: CapAll}
	every(ctx, followUpTick, func() {
		var due []command.Command
		now := s.Now()
		s.fsm.Read(func(st *state.Store) {
			for _, ep := range endpoints() {
				if ep.due != nil {
					due = append(due, ep.due(st, now)...)
				}
			}
		})
		for _, c := range due {
			var re *RequestError
			if _, err := s.Command(ctx, system, c); err != nil && ctx.Err() == nil && !errors.As(err, &re) {
				s.logger.Warn("follow-up", "error", err)
			}
		}
	})
}

// every runs fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fn()
		}
	}
}
