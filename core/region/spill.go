package region

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/state"
)

// Spillover between regions. A region's own mission keeps its spillover
// policies into other regions' shards aside (mission.ForRegion, Remote), so
// its scheduler never routes into a shard it does not hold. The host runs
// them instead, as hand-offs: every SpillTick, for each such policy whose
// source shard's queue (jobs not already in a hand-off) is deeper than its
// threshold, the newest queued jobs the policy applies to (as the router
// drains: up to max_drain a round, never below the threshold) are handed to
// the target shard (Host.HandOff), but no more than the target shard can
// start now: the free run slots of its up nodes, less its own queue. A
// region that is stopped, or a target that is stopped or paused, takes no
// round. Decisions read only the regions' applied state; each is recorded
// in both regions' logs as its hand-off.

// DefaultSpillTick is how often the host looks at cross-region spillover.
const DefaultSpillTick = 500 * time.Millisecond

// remotePolicy is one spillover policy from a shard into another region.
type remotePolicy struct {
	shard, from string // the source shard and its region
	target, to  string // the target shard and its region
	threshold   int64
	maxDrain    int64
	required    []string
}

// remotePolicies lists the mission's spillover policies with a threshold
// whose target lies in another region, by source shard order then policy
// order.
func remotePolicies(m *mission.Mission) []remotePolicy {
	var out []remotePolicy
	for _, s := range m.Shards {
		for _, p := range s.Spillover {
			to := m.RegionOf(p.Target)
			if p.Threshold <= 0 || to == "" || to == s.Region {
				continue
			}
			out = append(out, remotePolicy{shard: s.Name, from: s.Region, target: p.Target, to: to,
				threshold: p.Threshold, maxDrain: p.MaxDrain, required: slices.Clone(p.RequiredCapabilities)})
		}
	}
	return out
}

// spiller runs the cross-region spillover rounds.
type spiller struct {
	h        *Host
	policies []remotePolicy
	tick     time.Duration
	logger   hclog.Logger
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu      sync.Mutex
	handed  map[string]uint64 // jobs handed per policy (source->target shard)
	refused map[string]uint64
}

// startSpill starts the rounds; nil when no policy crosses regions.
func startSpill(h *Host) *spiller {
	ps := remotePolicies(h.cfg.Mission)
	if len(ps) == 0 || len(h.order) < 2 {
		return nil
	}
	tick := h.cfg.SpillTick
	if tick <= 0 {
		tick = DefaultSpillTick
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &spiller{h: h, policies: ps, tick: tick, logger: h.cfg.Logger.Named("spill"), cancel: cancel,
		handed: map[string]uint64{}, refused: map[string]uint64{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for _, p := range s.policies {
				s.round(ctx, p)
			}
		}
	}()
	return s
}

func (s *spiller) stop() {
	s.cancel()
	s.wg.Wait()
}

// round hands the jobs policy p drains now.
func (s *spiller) round(ctx context.Context, p remotePolicy) {
	h := s.h
	if h.isStopped(p.from) || h.isStopped(p.to) {
		return
	}
	room := int64(0)
	h.servers[p.to].Read(func(st *state.Store) {
		sh := st.Shard(p.target)
		if sh == nil || sh.Paused || st.Policy().SystemPaused {
			return
		}
		for _, n := range st.NodesOfShard(p.target) {
			if n.Schedulable() {
				room += max(0, min(n.RunSlots(), n.Hold())-int64(st.ActiveCount(n.ID)))
			}
		}
		room -= int64(st.QueueLen(p.target))
	})
	if room <= 0 {
		return
	}
	var ids []string
	h.servers[p.from].Read(func(st *state.Store) {
		if sh := st.Shard(p.shard); sh == nil || sh.Paused {
			return
		}
		var queued []*state.Job
		st.Queue(p.shard, func(j *state.Job) bool {
			if st.HandOffOf(j.Seq) == "" {
				queued = append(queued, j)
			}
			return true
		})
		limit := int64(len(queued)) - p.threshold
		if p.maxDrain > 0 {
			limit = min(limit, p.maxDrain)
		}
		limit = min(limit, room)
		for i := len(queued) - 1; i >= 0 && int64(len(ids)) < limit; i-- {
			if applies(p.required, queued[i].Capabilities) {
				ids = append(ids, queued[i].ID)
			}
		}
	})
	if len(ids) == 0 {
		return
	}
	outs, err := h.HandOff(ctx, ids, p.target)
	if err != nil {
		if ctx.Err() == nil {
			s.logger.Warn("spillover hand-off", "shard", p.shard, "target", p.target, "error", err)
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := p.shard + "->" + p.target
	for _, o := range outs {
		if o.Status == raftfsm.Applied {
			s.handed[k]++
		} else {
			s.refused[k]++
		}
	}
}

// applies reports whether a policy requiring required applies to a job
// with caps: it requires nothing, or the job needs one of them (as the
// router's policies do).
func applies(required, caps []string) bool {
	if len(required) == 0 {
		return true
	}
	for _, r := range required {
		if slices.Contains(caps, r) {
			return true
		}
	}
	return false
}

// SpillStatus is one cross-region spillover policy's count of jobs handed
// off (Handed) and of hand-offs its rounds could not begin (NotBegun).
type SpillStatus struct {
	Shard    string `json:"shard"`
	Target   string `json:"target"`
	Handed   uint64 `json:"handed"`
	NotBegun uint64 `json:"not_begun"`
}

// Spillover returns every cross-region spillover policy's counts, in
// policy order; none when no policy crosses regions.
func (h *Host) Spillover() []SpillStatus {
	s := h.spill
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SpillStatus, len(s.policies))
	for i, p := range s.policies {
		k := p.shard + "->" + p.target
		out[i] = SpillStatus{Shard: p.shard, Target: p.target, Handed: s.handed[k], NotBegun: s.refused[k]}
	}
	return out
}
