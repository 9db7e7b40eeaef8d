package server

import (
	"context"
	"fmt"
	"time"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// The retention defaults, used for a policy field of 0 (a mission applied
// before retention existed); a mission's retention block sets them.
const (
	DefaultJobGCThreshold    = time.Hour
	DefaultJobGCInterval     = time.Minute
	DefaultJobGCBatch        = 1000
	DefaultIdempotencyWindow = 24 * time.Hour
)

// Retention is the garbage collection policy in effect.
type Retention struct {
	Threshold time.Duration // terminal jobs finished this long ago are collected
	Interval  time.Duration // between periodic passes; 0: no periodic pass
	Batch     int           // most jobs per JobGC entry
	Window    time.Duration // tombs collected this long ago are forgotten
}

// RetentionOf reads the policy's retention, with the defaults for fields
// of 0. An interval is 0 only when the mission said so (-1 in the policy).
func RetentionOf(p state.Policy) Retention {
	ms := func(v int64, def time.Duration) time.Duration {
		if v == 0 {
			return def
		}
		return time.Duration(max(v, 0)) * time.Millisecond
	}
	r := Retention{
		Threshold: ms(p.JobGCThresholdMs, DefaultJobGCThreshold),
		Interval:  ms(p.JobGCIntervalMs, DefaultJobGCInterval),
		Batch:     int(p.JobGCBatch),
		Window:    ms(p.IdempotencyWindowMs, DefaultIdempotencyWindow),
	}
	if r.Batch <= 0 {
		r.Batch = DefaultJobGCBatch
	}
	return r
}

// GCOptions shape one garbage collection pass.
type GCOptions struct {
	// Threshold, when >= 0, replaces the policy's job threshold for this
	// pass (0: every terminal job); -1 uses the policy.
	Threshold time.Duration
	Actor     string
	Reason    string
}

// GCResult says what a pass collected.
type GCResult struct {
	Before       int64  // mission-time cut-off: jobs finished at or before it
	ForgetBefore int64  // tombs collected before it were forgotten (0: none due)
	Collected    int    // jobs collected
	Forgotten    int    // tombs forgotten
	Skipped      int    // ids the FSM refused (changed since the pass read them)
	Batches      int    // JobGC entries committed
	First, Last  string // first and last job collected
	Index        uint64 // raft index of the last JobGC entry
	LiveJobs     int    // job records after the pass
	Tombs        int    // tombs in the idempotency window after the pass
}

// CollectGarbage runs one pass on the leader: it advances the mission clock
// to now when there is something to collect, then commits JobGC entries of
// at most the policy's batch of terminal jobs that finished at least the
// threshold ago on the mission clock, the first also forgetting the tombs
// older than the idempotency window. Each entry is atomic; a pass that ends
// early (leadership lost, a crash) leaves whole batches behind it, and the
// next pass takes up the rest. Only one pass runs at a time.
func (s *Server) CollectGarbage(ctx context.Context, opt GCOptions) (GCResult, error) {
	if !s.IsLeader() {
		return GCResult{}, ErrNotLeader
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	if opt.Actor == "" {
		opt.Actor = "gc"
	}
	var (
		ret      Retention
		clock    int64
		anything bool
		res      GCResult
	)
	now := s.Now()
	s.fsm.Read(func(st *state.Store) {
		ret, clock = RetentionOf(st.Policy()), st.Clock()
		if opt.Threshold >= 0 {
			ret.Threshold = opt.Threshold
		}
		cut := now - int64(ret.Threshold)
		st.JobsIter(func(j *state.Job) bool {
			anything = j.State.Terminal() && j.FinishedAt <= cut
			return !anything
		})
		st.TombsIter(func(t state.Tomb) bool {
			anything = anything || t.CollectedAt < now-int64(ret.Window)
			return false
		})
		res.LiveJobs, res.Tombs = st.LiveJobs(), st.Tombs()
	})
	if !anything {
		return res, nil
	}
	if now > clock {
		if _, err := s.Apply(ctx, command.ClockAdvanceType, &command.ClockAdvance{Time: now}); err != nil {
			return res, fmt.Errorf("server: gc: advance the mission clock: %w", err)
		}
		s.stats.clockAdvances.Add(1)
		clock = now
	}
	res.Before = clock - int64(ret.Threshold)
	forget := clock - int64(ret.Window)
	var cursor uint64
	for {
		var ids []string
		var tombsDue bool
		var tombs int
		s.fsm.Read(func(st *state.Store) {
			tombs = st.Tombs()
			n := uint64(st.NumJobs())
			for seq := max(cursor+1, st.FirstSeq()); seq <= n && len(ids) < ret.Batch; seq++ {
				cursor = seq
				if j := st.JobBySeq(seq); j != nil && j.State.Terminal() && j.FinishedAt <= res.Before {
					ids = append(ids, j.ID)
				}
			}
			st.TombsIter(func(t state.Tomb) bool {
				tombsDue = forget > 0 && t.CollectedAt < forget
				return false
			})
		})
		if len(ids) == 0 && !tombsDue {
			break
		}
		m := &command.JobGC{Meta: s.systemMeta(opt.Actor, opt.Reason), Before: res.Before, IDs: ids}
		if tombsDue {
			m.ForgetBefore, res.ForgetBefore = forget, forget
		}
		resp, err := s.Apply(ctx, command.JobGCType, m)
		if err != nil {
			return s.gcTail(res), fmt.Errorf("server: gc: %w", err)
		}
		res.Batches++
		res.Index = resp.Index
		collected := 0
		for _, o := range resp.Outcomes {
			switch o.Status {
			case raftfsm.Applied:
				if res.First == "" {
					res.First = o.ID
				}
				res.Last = o.ID
				collected++
			default:
				res.Skipped++
			}
		}
		res.Collected += collected
		// Only JobGC changes tombs, and passes run one at a time: the tombs
		// the entry forgot are the ones missing after it.
		s.fsm.Read(func(st *state.Store) { res.Forgotten += max(tombs+collected-st.Tombs(), 0) })
		if len(ids) < ret.Batch {
			break
		}
	}
	return s.gcTail(res), nil
}

func (s *Server) gcTail(res GCResult) GCResult {
	s.fsm.Read(func(st *state.Store) { res.LiveJobs, res.Tombs = st.LiveJobs(), st.Tombs() })
	if res.Collected > 0 || res.Forgotten > 0 {
		s.logger.Info("garbage collected", "jobs", res.Collected, "tombs_forgotten", res.Forgotten,
			"batches", res.Batches, "before", res.Before, "index", res.Index)
	}
	return res
}

// gcLoop runs a garbage collection pass every retention interval of the
// policy (counted from the end of the previous pass).
func (s *Server) gcLoop(ctx context.Context) {
	last := time.Now()
	every(ctx, 100*time.Millisecond, func() {
		var (
			ret     Retention
			applied bool
		)
		s.fsm.Read(func(st *state.Store) {
			p := st.Policy()
			ret, applied = RetentionOf(p), p.MissionDigest != ""
		})
		if !applied || ret.Interval <= 0 || time.Since(last) < ret.Interval {
			return
		}
		_, err := s.CollectGarbage(ctx, GCOptions{Threshold: -1, Actor: "gc", Reason: "retention"})
		last = time.Now()
		if err != nil && ctx.Err() == nil {
			s.logger.Error("garbage collection", "error", err)
		}
	})
}
