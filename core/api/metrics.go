package api

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/planetary/planetary/raftfsm/state"
)

// metrics are the API's Prometheus metrics. Gauges are read from the FSM
// at scrape time, so they are always consistent with one another.
type metrics struct {
	b             Backend
	reg           *prometheus.Registry
	handler       http.Handler
	submitLatency prometheus.Histogram
	forwarded     prometheus.Counter

	jobs     *prometheus.Desc
	queue    *prometheus.Desc
	nodes    *prometheus.Desc
	applied  *prometheus.Desc
	events   *prometheus.Desc
	isLeader *prometheus.Desc
}

func newMetrics(reg *prometheus.Registry, b Backend) (*metrics, error) {
	m := &metrics{
		b:   b,
		reg: reg,
		submitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "planetary_submit_latency_seconds",
			Help:    "Time from receiving a job batch to its raft commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "planetary_api_forwarded_total",
			Help: "Requests this server forwarded to the raft leader.",
		}),
		jobs:     prometheus.NewDesc("planetary_jobs", "Jobs by state.", []string{"state"}, nil),
		queue:    prometheus.NewDesc("planetary_queue_depth", "Queued jobs per shard.", []string{"shard"}, nil),
		nodes:    prometheus.NewDesc("planetary_nodes", "Nodes by status.", []string{"status"}, nil),
		applied:  prometheus.NewDesc("planetary_raft_applied_index", "Raft index applied to the FSM.", nil, nil),
		events:   prometheus.NewDesc("planetary_events_head", "Sequence number of the event chain head.", nil, nil),
		isLeader: prometheus.NewDesc("planetary_leader", "1 when this server is the raft leader.", nil, nil),
	}
	if err := reg.Register(m.submitLatency); err != nil {
		return nil, fmt.Errorf("api: register metrics: %w", err)
	}
	if err := reg.Register(m.forwarded); err != nil {
		return nil, fmt.Errorf("api: register metrics: %w", err)
	}
	if err := reg.Register(m); err != nil {
		return nil, fmt.Errorf("api: register metrics: %w", err)
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m, nil
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.jobs
	ch <- m.queue
	ch <- m.nodes
	ch <- m.applied
	ch <- m.events
	ch <- m.isLeader
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.b.Read(func(s *state.Store) {
		g := s.Global()
		for i := 1; i < state.NumJobStates; i++ {
			ch <- prometheus.MustNewConstMetric(m.jobs, prometheus.GaugeValue, float64(g.N[i]), state.JobState(i).String())
		}
		for _, sh := range s.Shards() {
			ch <- prometheus.MustNewConstMetric(m.queue, prometheus.GaugeValue, float64(s.QueueLen(sh.Name)), sh.Name)
		}
		var byStatus [4]int
		for _, n := range s.Nodes() {
			if int(n.Status) < len(byStatus) {
				byStatus[n.Status]++
			}
		}
		for st, n := range byStatus {
			ch <- prometheus.MustNewConstMetric(m.nodes, prometheus.GaugeValue, float64(n), state.NodeStatus(st).String())
		}
		ch <- prometheus.MustNewConstMetric(m.events, prometheus.GaugeValue, float64(s.Head().Seq))
	})
	ch <- prometheus.MustNewConstMetric(m.applied, prometheus.GaugeValue, float64(m.b.AppliedIndex()))
	leader := 0.0
	if m.b.IsLeader() {
		leader = 1
	}
	ch <- prometheus.MustNewConstMetric(m.isLeader, prometheus.GaugeValue, leader)
}

func (h *HTTP) metricsHandler(w http.ResponseWriter, r *http.Request) (any, error) {
	h.metrics.handler.ServeHTTP(w, r)
	return nil, nil
}
