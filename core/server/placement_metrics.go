package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/planetary/planetary/raftfsm/state"
)

// placementMetrics are the leader's placement latency histograms. They are
// per Server (no global registry); the HTTP API registers them through
// Collectors.
type placementMetrics struct {
	plan   prometheus.Histogram // one scheduler pass over the read view
	commit prometheus.Histogram // an AssignBatch from proposal to apply
	wait   prometheus.Histogram // submit to assignment, one job per committed round
}

func newPlacementMetrics() *placementMetrics {
	return &placementMetrics{
		plan: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "planetary_placement_plan_seconds",
			Help:    "Time the leader's scheduler takes to plan one round over the FSM's read view.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "planetary_placement_commit_seconds",
			Help:    "Time from proposing a round's assignments to their raft commit.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "planetary_placement_wait_seconds",
			Help:    "Time from a job's submission to its assignment (the first job of each committed round).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}),
	}
}

// Collectors are the server's Prometheus collectors (placement latency
// histograms, the endpoints' call counters and raft's own metrics), for the
// HTTP API's registry.
// The raft sinks are the process's own (see raftMetrics).
func (s *Server) Collectors() []prometheus.Collector {
	out := []prometheus.Collector{s.placement.plan, s.placement.commit, s.placement.wait, endpointMetrics{s: s,
		desc: prometheus.NewDesc("planetary_endpoint_calls_total",
			"Calls of each write endpoint by outcome: ok, refused (before proposing) or failed (proposed).",
			[]string{"endpoint", "outcome"}, nil)}}
	if sinks, err := raftMetrics(); err == nil {
		out = append(out, sinks...)
	}
	return out
}

// observeAssigned records the submit-to-assign wait of job, read from the
// applied state (one lookup per round, not per job).
func (s *Server) observeAssigned(job string) {
	var sub, at int64
	s.fsm.Read(func(st *state.Store) {
		if j := st.Job(job); j != nil {
			sub, at = j.SubmittedAt, j.AssignedAt
		}
	})
	if sub > 0 && at >= sub {
		s.placement.wait.Observe(time.Duration(at - sub).Seconds())
	}
}
