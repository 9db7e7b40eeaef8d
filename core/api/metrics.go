package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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

	pluginNodes   *prometheus.Desc
	pluginProc    *prometheus.Desc
	pluginState   *prometheus.Desc
	pluginCrashes *prometheus.Desc
	heartbeatAge  *prometheus.Desc
}

// PluginStates are the plugin states a client publishes for its nodes
// (core/catalog's State* constants), in the order planetary_plugin_state
// exports them.
var PluginStates = []string{"starting", "up", "refused", "crashed", "backing_off"}

// collectorSource is implemented by backends with collectors of their own
// (core/server: placement latency histograms and raft's metrics through
// go-metrics' Prometheus sink).
type collectorSource interface {
	Collectors() []prometheus.Collector
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
		pluginNodes: prometheus.NewDesc("planetary_plugin_nodes",
			"Nodes by the plugin serving them and their status.", []string{"plugin", "status"}, nil),
		pluginProc: prometheus.NewDesc("planetary_plugin_process",
			"1 when the leader's last heartbeat of the node named a live plugin process.", []string{"node", "plugin"}, nil),
		pluginState: prometheus.NewDesc("planetary_plugin_state",
			"1 for the state the node's plugin is in as its client last published it, 0 for the others.",
			[]string{"node", "plugin", "state"}, nil),
		pluginCrashes: prometheus.NewDesc("planetary_plugin_crashes",
			"How often the node's plugin process exited, as its client last published it.", []string{"node", "plugin"}, nil),
		heartbeatAge: prometheus.NewDesc("planetary_node_heartbeat_age_seconds",
			"Age of the leader's last accepted heartbeat of the node.", []string{"node"}, nil),
	}
	// Go runtime and process collectors, as every client_golang program
	// exports them.
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("api: register metrics: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("api: register metrics: %w", err)
	}
	if cs, ok := b.(collectorSource); ok {
		for _, c := range cs.Collectors() {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("api: register metrics: %w", err)
			}
		}
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
	ch <- m.pluginNodes
	ch <- m.pluginProc
	ch <- m.pluginState
	ch <- m.pluginCrashes
	ch <- m.heartbeatAge
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
		m.collectPlugins(ch, s)
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

// collectPlugins exports plugin state: nodes by plugin and status, and per
// node its plugin's published state (one gauge per state label) and crash
// count, from the replicated records; and, where the backend tracks heartbeats (the
// leader's in-memory NodeInfo), whether a plugin process serves each node
// and how old its last heartbeat is. Plugin state fields a node record
// gains are exported here, beside these.
func (m *metrics) collectPlugins(ch chan<- prometheus.Metric, s *state.Store) {
	type key struct{ plugin, status string }
	counts := map[key]int{}
	var order []key
	pids, _ := m.b.(pluginPidSource)
	beats, _ := m.b.(heartbeatSource)
	now := time.Now()
	for _, n := range s.Nodes() {
		k := key{n.PluginKind, n.Status.String()}
		if _, ok := counts[k]; !ok {
			order = append(order, k)
		}
		counts[k]++
		if n.PluginState != "" {
			known := false
			for _, st := range PluginStates {
				v := 0.0
				if st == n.PluginState {
					v, known = 1, true
				}
				ch <- prometheus.MustNewConstMetric(m.pluginState, prometheus.GaugeValue, v, n.ID, n.PluginKind, st)
			}
			if !known {
				ch <- prometheus.MustNewConstMetric(m.pluginState, prometheus.GaugeValue, 1, n.ID, n.PluginKind, n.PluginState)
			}
			ch <- prometheus.MustNewConstMetric(m.pluginCrashes, prometheus.GaugeValue, float64(n.PluginCrashes), n.ID, n.PluginKind)
		}
		if pids != nil {
			up := 0.0
			if pids.PluginPid(n.ID) > 0 {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(m.pluginProc, prometheus.GaugeValue, up, n.ID, n.PluginKind)
		}
		if beats != nil {
			if t, ok := beats.LastHeartbeat(n.ID); ok {
				ch <- prometheus.MustNewConstMetric(m.heartbeatAge, prometheus.GaugeValue, now.Sub(t).Seconds(), n.ID)
			}
		}
	}
	for _, k := range order {
		ch <- prometheus.MustNewConstMetric(m.pluginNodes, prometheus.GaugeValue, float64(counts[k]), k.plugin, k.status)
	}
}
