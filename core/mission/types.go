// Package mission reads planetary's HCL files: the per-host agent config, the
// cluster-wide mission (fabric, policy, workloads, owner schedule and run
// plan) and job files. Every user mistake is an hcl.Diagnostic with a source
// range; all of them are collected before returning. The schema is declared
// once, as data (see Reference), and both the decoder and the docs use it.
package mission

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/planetary/planetary/core/limits"
	"github.com/planetary/planetary/raftfsm/state"
)

// File is the content of one HCL file: an optional agent config and an
// optional mission. Sources holds the parsed files for FormatDiagnostics.
type File struct {
	Agent   *AgentConfig
	Mission *Mission
	Sources map[string]*hcl.File
}

// Mission is the cluster-wide mission. Money is in micro-credits, durations
// in milliseconds.
type Mission struct {
	Name        string `json:"name"`
	Seed        uint64 `json:"seed"`
	Owner       string `json:"owner"`
	Description string `json:"description"`
	// Currency labels every amount of money in the mission; money is one
	// unit (credits) whatever the label, so every price uses it.
	Currency   string          `json:"currency"`
	Shards     []Shard         `json:"shards"`
	Nodes      []Node          `json:"nodes"`
	Compliance Compliance      `json:"compliance"`
	Checkpoint Checkpoint      `json:"checkpoint"`
	Reporting  Reporting       `json:"reporting"`
	Retention  Retention       `json:"retention"`
	Workloads  []Workload      `json:"workloads"`
	Schedule   []ScheduleEntry `json:"schedule"`
	Plan       Plan            `json:"plan"`
	// MaxAttempts is the attempt cap of every job submitted without its
	// own; 0 leaves the server's default (DefaultMaxAttempts).
	MaxAttempts int64 `json:"max_attempts,omitempty"`
	// Region is set on a region's own mission (ForRegion): the region it
	// holds. Remote lists that region's routes into shards of other
	// regions, which its shards and schedule leave out.
	Region string        `json:"region,omitempty"`
	Remote []RemoteRoute `json:"remote,omitempty"`
}

// DefaultMaxAttempts is the attempt cap of a job when neither it nor the
// mission names one; MaxMaxAttempts bounds max_attempts anywhere.
const (
	DefaultMaxAttempts = 5
	MaxMaxAttempts     = limits.MaxAttempts
)

// Shard is a regional job registry and its router policy.
type Shard struct {
	Name                string      `json:"name"`
	DisplayName         string      `json:"display_name"`
	Region              string      `json:"region"`
	LatencyBudgetMs     int64       `json:"latency_budget_ms"`
	MaxQueue            int64       `json:"max_queue"`
	QueueAlertThreshold int64       `json:"queue_alert_threshold"`
	SpilloverTargets    []string    `json:"spillover_targets"`
	Spillover           []Spillover `json:"spillover"`
	SpillGraceMs        int64       `json:"spill_grace_ms,omitempty"`
}

// Spillover drains work to Target when the queue is deeper than Threshold.
type Spillover struct {
	Target               string   `json:"target"`
	Threshold            int64    `json:"threshold"`
	MaxDrain             int64    `json:"max_drain"`
	RequiredCapabilities []string `json:"required_capabilities"`
	Weight               int64    `json:"weight"`
}

// Node is an agent node declared by the mission.
type Node struct {
	ID             string         `json:"id"`
	Shard          string         `json:"shard"`
	Plugin         string         `json:"plugin"`
	Capabilities   []string       `json:"capabilities"`
	Capacity       int64          `json:"capacity"`
	MaxConcurrency int64          `json:"max_concurrency"`
	Quota          int64          `json:"quota"`
	LatencyMs      int64          `json:"latency_ms"`
	HeartbeatSec   int64          `json:"heartbeat_sec"`
	Endpoint       string         `json:"endpoint"`
	Labels         []string       `json:"labels"`
	Deployment     Deployment     `json:"deployment"`
	Price          Price          `json:"price"`
	Attestations   Attestations   `json:"attestations"`
	Config         map[string]any `json:"config"` // plugin config: string, float64, bool or []string
	ConfigSource   ConfigSource   `json:"-"`
}

// Deployment is a node's container description.
type Deployment struct {
	Orchestration string    `json:"orchestration"`
	Image         string    `json:"image"`
	Runtime       string    `json:"runtime"`
	Entrypoint    string    `json:"entrypoint"`
	Version       string    `json:"version"`
	Zones         []string  `json:"zones"`
	Resources     Resources `json:"resources"`
}

// Resources a deployment offers.
type Resources struct {
	CPUCores  float64 `json:"cpu_cores"`
	MemoryGB  float64 `json:"memory_gb"`
	GPUClass  string  `json:"gpu_class"`
	GPUs      int64   `json:"gpus"`
	StorageGB float64 `json:"storage_gb"`
}

// Price is a node's price schedule in micro-credits.
type Price struct {
	Currency string `json:"currency"`
	Unit     string `json:"unit"`
	BaseMu   int64  `json:"base_mu"`
	Rates    []Rate `json:"rates"`
	Expr     string `json:"expr"`
}

// Rate is a per-unit price.
type Rate struct {
	Unit      string `json:"unit"`
	PerUnitMu int64  `json:"per_unit_mu"`
}

// Attestations are a node's compliance envelope.
type Attestations struct {
	Certifications []string `json:"certifications"`
	Jurisdiction   string   `json:"jurisdiction"`
	DataResidency  []string `json:"data_residency"`
	Tags           []string `json:"tags"`
}

// Compliance holds the CEL policy the scheduler evaluates over a node's
// attestations and the job. Empty means no policy.
type Compliance struct {
	Policy string `json:"policy"`
}

// Checkpoint is the checkpoint policy.
type Checkpoint struct {
	IntervalMs int64  `json:"interval_ms"`
	Path       string `json:"path"`
}

// Reporting is where reports go.
type Reporting struct {
	Dir   string `json:"dir"`
	Label string `json:"label"`
}

// Retention is the garbage collection policy of finished jobs
// (docs/retention.md); durations are mission time in milliseconds.
type Retention struct {
	JobGCThresholdMs    int64 `json:"job_gc_threshold_ms"`
	JobGCIntervalMs     int64 `json:"job_gc_interval_ms"`
	JobGCBatch          int64 `json:"job_gc_batch"`
	IdempotencyWindowMs int64 `json:"idempotency_window_ms"`
}

// Workload is a job blueprint: Count jobs of one class.
type Workload struct {
	Name         string           `json:"name"`
	Mission      string           `json:"-"` // the mission name, for idempotency keys
	Shard        string           `json:"shard"`
	Count        int64            `json:"count"`
	IDPrefix     string           `json:"id_prefix"`
	Capabilities []string         `json:"capabilities"`
	Priority     int64            `json:"priority"`
	ValueMu      int64            `json:"value_mu"`
	ValueStepMu  int64            `json:"value_step_mu"`
	MaxPriceMu   int64            `json:"max_price_mu"`
	Units        []state.Quantity `json:"units,omitempty"`
	Kind         string           `json:"kind"`
	DurationMs   int64            `json:"duration_ms"`
	Payload      []byte           `json:"payload"` // JSON object or nil
	Note         string           `json:"note"`
}

// ScheduleEntry is one owner schedule entry. Exactly one of AtMs (mission
// clock offset) and AfterCompleted is set; AtMs is -1 when unset.
type ScheduleEntry struct {
	ID             string      `json:"id"`
	AtMs           int64       `json:"at_ms"`
	AfterCompleted int64       `json:"after_completed"`
	Note           string      `json:"note"`
	Reason         string      `json:"reason"`
	Action         string      `json:"action"`
	Args           OwnerAction `json:"args"`
}

// Plan holds the run directives for `planetary run`; flags override them.
type Plan struct {
	Jobs             int64   `json:"jobs"` // 0: the blueprint's own count
	OutageNode       string  `json:"outage_node"`
	OutageAtMs       int64   `json:"outage_at_ms"`
	StopAfterMs      int64   `json:"stop_after_ms"`      // 0: run to completion
	StopAfterPercent float64 `json:"stop_after_percent"` // or stop when this share of jobs completed
	Label            string  `json:"label"`
	DeadlineMs       int64   `json:"deadline_ms"`
}

// JobSpec is one job to submit, from a job file or a workload.
type JobSpec struct {
	ID           string           `json:"id"`
	Key          string           `json:"key"`
	Shard        string           `json:"shard"`
	Capabilities []string         `json:"capabilities"`
	Priority     int64            `json:"priority"`
	ValueMu      int64            `json:"value_mu"`
	MaxPriceMu   int64            `json:"max_price_mu"`
	Units        []state.Quantity `json:"units,omitempty"` // expected units per metered dimension
	Kind         string           `json:"kind"`
	Payload      []byte           `json:"payload"` // JSON
}

// AgentConfig is the per-host agent configuration, defaults filled.
type AgentConfig struct {
	Name         string
	DataDir      string
	LogLevel     string
	LogJSON      bool
	HTTPAddr     string
	AllowedRoots []string
	Server       ServerConfig
	Client       ClientConfig
	ACL          ACLConfig
	TLS          TLSConfig
	Plugins      []PluginSpec
	// EventRetention bounds the event log (zero limits: keep everything).
	EventRetention EventRetentionConfig
}

// ServerConfig is the server role.
type ServerConfig struct {
	Enabled         bool
	Bind            string
	BootstrapExpect int64
	Join            []string
	// SnapshotThreshold, TrailingLogs and SnapshotIntervalMs tune raft's
	// snapshots and log compaction.
	SnapshotThreshold  int64
	TrailingLogs       int64
	SnapshotIntervalMs int64
	// Region is the mission region the server's raft group holds ("":
	// the whole mission, one raft group).
	Region string
}

// EventRetentionConfig is the event_retention block: limits of 0 mean none.
type EventRetentionConfig struct {
	MaxAgeMs     int64
	MaxBytes     int64
	ArchiveDir   string
	SegmentBytes int64
}

// ClientConfig is the client role.
type ClientConfig struct {
	Enabled             bool
	Servers             []string
	Nodes               []string // glob patterns of mission node ids served here
	HeartbeatIntervalMs int64
}

// ACLConfig turns token checks on or off.
type ACLConfig struct {
	Enabled bool
}

// TLSConfig enables mTLS when all files are set.
type TLSConfig struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// PluginSpec is one plugin the agent may launch. Builtin plugins are served
// by the planetary binary itself; external ones are pinned by SHA256.
type PluginSpec struct {
	Name    string
	Path    string
	SHA256  string
	Builtin bool
	Config  map[string]any // string, float64, bool or []string
	// ConfigSource locates the config block for CheckConfig diagnostics.
	ConfigSource ConfigSource
}

// ConfigSource records where a plugin config block and its attributes are
// written, so that checking it against a plugin's schema yields ranges.
type ConfigSource struct {
	Block hcl.Range
	Attrs map[string]hcl.Range
}
