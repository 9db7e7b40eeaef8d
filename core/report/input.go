// Package report turns the state of a mission into a self-contained bundle of
// files: machine-readable summaries, the event log with its hash chain, an
// offline-verifiable ledger, a topology atlas (Mermaid and SVG), a plain
// language chronicle and a dashboard that works from file:// with no network.
//
// The package defines its own Input, over the event records of
// raftfsm/state and the API's node view (core/api/client); callers adapt
// their other views into it.
package report

import (
	"time"

	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/health"
	"github.com/planetary/planetary/raftfsm/state"
)

// Input is everything a report bundle is built from. Money is int64
// micro-credits (state.Micro per credit). Counts are keyed by job state names
// (state.JobState.String(): "queued", "assigned", ...).
type Input struct {
	Mission     Mission     `json:"mission"`
	GeneratedAt time.Time   `json:"generated_at"`
	Run         Run         `json:"run"`
	Shards      []ShardView `json:"shards"`
	Nodes       []NodeView  `json:"nodes"`
	Ledger      Ledger      `json:"ledger"`
	// Events are the chained events after Anchor, in seq order.
	Events []state.Event `json:"-"`
	// Anchor is the chain position the events start after: Events[0].Prev
	// must equal Anchor.Hash and Events[0].Seq Anchor.Seq+1. The zero anchor
	// (seq 0, 64 zero hex digits or empty) is the genesis of the chain.
	Anchor Anchor `json:"anchor"`
	// Pruned, when set, says what event retention removed before Anchor:
	// the bundle covers the retained window only.
	Pruned        *Pruned        `json:"pruned,omitempty"`
	Checkpoint    Checkpoint     `json:"checkpoint"`
	Schedule      Schedule       `json:"schedule"`
	OwnerCommands []OwnerCommand `json:"owner_commands"`
	Series        []Sample       `json:"series"`
}

// Mission identifies the run.
type Mission struct {
	Name  string `json:"name"`
	Seed  uint64 `json:"seed"`
	Owner string `json:"owner,omitempty"`
	Label string `json:"label,omitempty"`
	Dir   string `json:"dir,omitempty"`
	// Currency labels every amount of money (the mission's currency).
	Currency string `json:"currency,omitempty"`
}

// Run describes how the run went.
type Run struct {
	Status             string  `json:"status"`
	StoppedEarly       bool    `json:"stopped_early"`
	StopReason         string  `json:"stop_reason,omitempty"`
	CheckpointRestored bool    `json:"checkpoint_restored"`
	Stages             []Stage `json:"stages,omitempty"`
	// Outage says what became of the run's planned outage (injected,
	// restored, skipped and why); empty when it planned none.
	Outage string `json:"outage,omitempty"`
	// Timings are named durations in milliseconds (submit, drain, ...).
	Timings map[string]float64 `json:"timings_ms,omitempty"`
}

// Stage is one phase of the run.
type Stage struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Jobs  int64     `json:"jobs"`
}

// Health values of shards and nodes used for colouring. A shard's health
// is its verdict in the one health model (core/health): ok, degraded or
// alert, as the API serves it; paused and down are older values a bundle
// written before that model may hold.
const (
	HealthOK       = health.OK
	HealthDegraded = health.Degraded
	HealthAlert    = health.Alert
	HealthPaused   = "paused" // shard or system paused (older bundles)
	HealthDown     = "down"
)

// SpilloverPolicy is a shard's spillover rule.
type SpilloverPolicy struct {
	Target               string   `json:"target"`
	Threshold            int64    `json:"threshold,omitempty"`
	MaxDrain             int64    `json:"max_drain,omitempty"`
	RequiredCapabilities []string `json:"required_capabilities,omitempty"`
	Weight               int64    `json:"weight,omitempty"`
}

// ShardView is one shard at report time.
type ShardView struct {
	Name                string            `json:"name"`
	DisplayName         string            `json:"display_name,omitempty"`
	Region              string            `json:"region,omitempty"`
	LatencyBudgetMs     int64             `json:"latency_budget_ms,omitempty"`
	MaxQueue            int64             `json:"max_queue,omitempty"`
	QueueAlertThreshold int64             `json:"queue_alert_threshold,omitempty"`
	SpilloverTargets    []string          `json:"spillover_targets,omitempty"`
	Policies            []SpilloverPolicy `json:"policies,omitempty"`
	Paused              bool              `json:"paused"`
	Health              string            `json:"health"`
	// HealthReasons say why Health is not ok, worst first.
	HealthReasons []string `json:"health_reasons,omitempty"`
	QueueDepth    int64    `json:"queue_depth"`
	// Counts and ValueMu are jobs (and their value) currently in this shard
	// by state name.
	Counts  map[string]int64 `json:"counts"`
	ValueMu map[string]int64 `json:"value_mu"`
}

// A bundle's node has the API's shapes (core/api/client): the view that
// GET /v1/nodes serves, so every field of a node (its deployment's
// entrypoint, its price in micro-credits, its plugin state ...) reaches the
// bundle without a converter of its own.
type (
	Resources    = client.Resources
	Deployment   = client.Deployment
	PriceRate    = client.PriceRate
	Price        = client.Price
	Attestations = client.Attestations
)

// NodeView is one node at report time: the API's node view (FromStore
// builds it with core/api/view, as the API does), plus what it earned.
// Active is assigned+running jobs on the node.
type NodeView struct {
	client.Node
	EarnedMu int64 `json:"earned_mu"`
}

// Counts are job counts and values by state name.
type Counts struct {
	Jobs    map[string]int64 `json:"jobs"`
	ValueMu map[string]int64 `json:"value_mu"`
}

// Flow is a spillover (or reroute) flow between shards.
type Flow struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Jobs    int64  `json:"jobs"`
	ValueMu int64  `json:"value_mu"`
	// Rules counts the moves of this flow by the rule that decided each
	// (a spill event's reason; "owner reroute" for a reroute), over the
	// events the bundle holds.
	Rules map[string]int64 `json:"rules,omitempty"`
}

// Invariant is one ledger invariant check.
type Invariant struct {
	ID      string `json:"id"`
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
}

// Ledger is the FSM's ledger at report time.
type Ledger struct {
	Global Counts `json:"global"`
	// Shards are per-shard counts including shards deregistered since
	// (whose finished jobs stay counted). When nil, the counts of the
	// ShardViews are used.
	Shards map[string]Counts `json:"shards,omitempty"`
	Flows  []Flow            `json:"flows"`
	// Payments are micro-credits paid per node.
	Payments   map[string]int64 `json:"payments_mu"`
	Invariants []Invariant      `json:"invariants"`
	// Head is the chain head anchored in the FSM.
	Head Anchor `json:"head"`
	// Regions and GlobalTotals are the global ledger read with the rest
	// (GET /v1/ledger regions and global_totals): every region's latest
	// checkpoint, the local one built from the same state, and their sum.
	// Empty for a source that has none.
	Regions      []client.RegionLedger `json:"regions,omitempty"`
	GlobalTotals *client.LedgerTotals  `json:"global_totals,omitempty"`
}

// Pruned describes the events event retention removed from the fabric's
// event log before a bundle's anchor (they are not in events.ndjson).
type Pruned struct {
	Events           uint64 `json:"events"`
	Segments         int    `json:"segments"`
	Bytes            int64  `json:"bytes"`
	ArchivedSegments int    `json:"archived_segments,omitempty"`
	ArchiveDir       string `json:"archive_dir,omitempty"`
}

// Anchor is a position in the event hash chain.
type Anchor struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"` // hex
}

// Checkpoint describes the latest exported checkpoint.
type Checkpoint struct {
	Index  uint64 `json:"index"`
	Term   uint64 `json:"term,omitempty"`
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Schedule is the owner schedule's progress.
type Schedule struct {
	Executed []Entry `json:"executed"`
	Skipped  []Entry `json:"skipped"`
	Pending  []Entry `json:"pending"`
}

// Entry is one owner schedule entry.
type Entry struct {
	ID             string    `json:"id"`
	AtMs           int64     `json:"at_ms,omitempty"`
	AfterCompleted int64     `json:"after_completed,omitempty"`
	Action         string    `json:"action"`
	Note           string    `json:"note,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	FiredAt        time.Time `json:"fired_at,omitzero"`
}

// OwnerCommand is one owner action, replayable from the CLI or the API.
type OwnerCommand struct {
	Time   time.Time  `json:"time"`
	Actor  string     `json:"actor,omitempty"`
	Action string     `json:"action"`
	Reason string     `json:"reason,omitempty"`
	CLI    string     `json:"cli"`
	API    APIRequest `json:"api"`
}

// APIRequest is a replayable HTTP request.
type APIRequest struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Body   any    `json:"body,omitempty"`
}

// Sample is one telemetry sample.
type Sample struct {
	TimeMs   int64                  `json:"time_ms"`
	PerShard map[string]ShardSample `json:"per_shard"`
}

// ShardSample is one shard's telemetry at a sample time.
type ShardSample struct {
	QueueDepth int64 `json:"queue_depth"`
	Completed  int64 `json:"completed"`
}
