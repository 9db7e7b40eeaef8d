package server

import (
	"fmt"
	"sync"

	gometrics "github.com/hashicorp/go-metrics"
	compat "github.com/hashicorp/go-metrics/compat"
	compatprom "github.com/hashicorp/go-metrics/compat/prometheus"
	gmprom "github.com/hashicorp/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// raftSinks receive the metrics raft and raft-boltdb emit. Both emit
// through go-metrics' process-wide globals (raft through
// hashicorp/go-metrics, raft-boltdb through its compat package, which
// resolves to armon/go-metrics), so there is one sink of each per process,
// installed before the first raft starts, whatever the number of servers
// in it; every server's Collectors hand the same sinks to its API's
// registry. Families are named as raft names them: raft_apply,
// raft_commitTime, raft_fsm_apply, raft_boltdb_... (no service prefix).
var raftSinks struct {
	once       sync.Once
	collectors []prometheus.Collector
	err        error
}

// raftMetrics installs the process-wide sinks once and returns them.
func raftMetrics() ([]prometheus.Collector, error) {
	raftSinks.once.Do(func() {
		// The sinks are collected through each API's own registry, never
		// the default one.
		opts := gmprom.DefaultPrometheusOpts
		opts.Registerer = prometheus.NewRegistry()
		opts.Name = "planetary_raft_sink"
		sink, err := gmprom.NewPrometheusSinkFrom(opts)
		if err != nil {
			raftSinks.err = fmt.Errorf("server: raft metrics sink: %w", err)
			return
		}
		cfg := gometrics.DefaultConfig("")
		cfg.EnableHostname = false
		cfg.EnableHostnameLabel = false
		cfg.EnableRuntimeMetrics = false // client_golang's Go collector has them
		if _, err := gometrics.NewGlobal(cfg, sink); err != nil {
			raftSinks.err = fmt.Errorf("server: raft metrics: %w", err)
			return
		}
		bopts := compatprom.DefaultPrometheusOpts
		bopts.Registerer = prometheus.NewRegistry()
		bopts.Name = "planetary_raft_boltdb_sink"
		bsink, err := compatprom.NewPrometheusSinkFrom(bopts)
		if err != nil {
			raftSinks.err = fmt.Errorf("server: raft-boltdb metrics sink: %w", err)
			return
		}
		bcfg := compat.DefaultConfig("")
		bcfg.EnableHostname = false
		bcfg.EnableHostnameLabel = false
		bcfg.EnableRuntimeMetrics = false
		if _, err := compat.NewGlobal(bcfg, bsink); err != nil {
			raftSinks.err = fmt.Errorf("server: raft-boltdb metrics: %w", err)
			return
		}
		raftSinks.collectors = []prometheus.Collector{sink, bsink}
	})
	return raftSinks.collectors, raftSinks.err
}
