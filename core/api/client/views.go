package client

import (
	"encoding/json"

	"github.com/planetary/planetary/core/limits"
)

// The JSON views below are the wire types of the /v1 API. Field names are
// snake_case; times are Unix nanoseconds as stamped by the leader.
//
// Money is integer micro-credits (1 credit = 1,000,000 micro-credits) in the
// fields named *_micro, which are what Go code reads and writes. Each view
// also carries the amount in decimal credits under the older name (value,
// quote, price.base, ...), for readers of the JSON: the server fills it from
// the micro field. A request may give either; when it gives both they must
// agree.

// ErrorBody is the JSON body of every non-2xx response.
type ErrorBody struct {
	Error  string `json:"error"`
	Field  string `json:"field,omitempty"`
	Path   string `json:"path,omitempty"`
	Leader string `json:"leader,omitempty"`
	// Diagnostics are set when a mission did not parse.
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`
}

// Diagnostic is one HCL diagnostic of a mission that did not parse.
type Diagnostic struct {
	Severity string `json:"severity"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Col      int    `json:"col,omitempty"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
}

// Health is the body of GET /v1/health.
// Status is "ok", "no leader", "disk full" while a raft or event log
// write fails with ENOSPC (Message says which), or "starting" while the server replays its
// raft log at start (then the answer is a 503, ReplayTarget is raft's last
// index at open and Message says how far the replay is).
type Health struct {
	Status       string `json:"status"`
	Leader       bool   `json:"leader"`
	LeaderAddr   string `json:"leader_addr,omitempty"`
	AppliedIndex uint64 `json:"applied_index"`
	ReplayTarget uint64 `json:"replay_target,omitempty"`
	Message      string `json:"message,omitempty"`
}

// LeaderInfo is the body of GET /v1/status/leader.
type LeaderInfo struct {
	Address string `json:"address"`
	ID      string `json:"id"`
}

// Peer is one raft server of the cluster.
type Peer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"`
	Leader   bool   `json:"leader"`
}

// Credits converts micro-credits to decimal credits.
func Credits(mu int64) float64 { return float64(mu) / limits.MicroPerCredit }

// Micro converts decimal credits to micro-credits, rounding half away from
// zero; amounts beyond the money limit (docs/limits.md) are clamped to it, so
// the conversion never wraps. Routes check amounts with limits.Credits first.
func Micro(credits float64) int64 { return limits.SaturatingMicro(credits) }

// JobSubmit is one job of POST /v1/jobs.
type JobSubmit struct {
	ID           string   `json:"id,omitempty"`
	Key          string   `json:"key,omitempty"`
	Shard        string   `json:"shard"`
	Capabilities []string `json:"capabilities,omitempty"`
	Priority     int64    `json:"priority,omitempty"`
	Value        float64  `json:"value,omitempty"`
	MaxPrice     float64  `json:"max_price,omitempty"`
	// ValueMicro and MaxPriceMicro are Value and MaxPrice in micro-credits;
	// the Go client sends these only.
	ValueMicro    int64           `json:"value_micro,omitempty"`
	MaxPriceMicro int64           `json:"max_price_micro,omitempty"`
	Kind          string          `json:"kind,omitempty"`
	Payload       json.RawMessage `json:"payload,omitempty"`
	// Units the job expects per metered dimension, e.g. {"token": 800}
	// (docs/pricing.md).
	Units map[string]float64 `json:"units,omitempty"`
	// MaxAttempts caps the job's attempts (1-100); 0 or absent: the
	// mission's max_attempts, else the server's default (5).
	MaxAttempts int64 `json:"max_attempts,omitempty"`
}

// Submit statuses.
const (
	StatusAccepted  = "accepted"
	StatusDuplicate = "duplicate"
	StatusRejected  = "rejected"
)

// SubmitResult is the per-job answer of POST /v1/jobs, in input order.
type SubmitResult struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Job is the view of one job.
type Job struct {
	Seq          uint64          `json:"seq"`
	ID           string          `json:"id"`
	Key          string          `json:"key,omitempty"`
	Home         string          `json:"home"`
	Shard        string          `json:"shard"`
	Capabilities []string        `json:"capabilities,omitempty"`
	Priority     int64           `json:"priority"`
	Value        float64         `json:"value"`
	MaxPrice     float64         `json:"max_price,omitempty"`
	Kind         string          `json:"kind,omitempty"`
	Payload      json.RawMessage `json:"payload,omitempty"`
	State        string          `json:"state"`
	Node         string          `json:"node,omitempty"`
	Attempt      uint32          `json:"attempt"`
	Hops         uint32          `json:"hops"`
	Quote        float64         `json:"quote,omitempty"`
	ParkedReason string          `json:"parked_reason,omitempty"`
	Output       string          `json:"output,omitempty"`
	ExitCode     int64           `json:"exit_code,omitempty"`
	Error        string          `json:"error,omitempty"`
	SubmittedAt  int64           `json:"submitted_at"`
	AssignedAt   int64           `json:"assigned_at,omitempty"`
	FinishedAt   int64           `json:"finished_at,omitempty"`
	Submitter    string          `json:"submitter,omitempty"`
	// Metering (docs/pricing.md): the declared units, the metered rates of
	// the quote (credits a unit), the usage the plugin reported, and, once
	// completed, the settled amount and how it was arrived at.
	Units       map[string]float64 `json:"units,omitempty"`
	Meters      map[string]float64 `json:"meters,omitempty"`
	Usage       map[string]float64 `json:"usage,omitempty"`
	Settled     *float64           `json:"settled,omitempty"`
	Settlement  string             `json:"settlement,omitempty"`
	MaxAttempts uint32             `json:"max_attempts,omitempty"`
	// Money in micro-credits: value, max price, quote and, once completed,
	// the settled amount (Value, MaxPrice, Quote and Settled in credits).
	ValueMicro    int64  `json:"value_micro"`
	MaxPriceMicro int64  `json:"max_price_micro,omitempty"`
	QuoteMicro    int64  `json:"quote_micro,omitempty"`
	SettledMicro  *int64 `json:"settled_micro,omitempty"`
}

// JobList is the body of GET /v1/jobs. Next is the cursor for the following
// page (pass it as after=); 0 when there is none.
type JobList struct {
	Jobs []Job  `json:"jobs"`
	Next uint64 `json:"next,omitempty"`
}

// JobQuery filters GET /v1/jobs.
type JobQuery struct {
	State string
	Shard string
	Node  string
	// Q keeps the jobs whose id contains it.
	Q     string
	After uint64
	Limit int
}

// Locator selects jobs from the tail of a shard queue for the bulk cancel and
// reroute routes.
type Locator struct {
	Shard    string `json:"shard"`
	Tail     int64  `json:"tail"`
	Offset   int64  `json:"offset,omitempty"`
	InFlight bool   `json:"in_flight,omitempty"`
	Target   string `json:"target,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// OwnerRequest is the body of owner routes that take only a reason.
type OwnerRequest struct {
	Reason string `json:"reason,omitempty"`
}

// GCRequest is the body of POST /v1/operator/gc. Threshold, when set,
// replaces the mission's job_gc_threshold for this pass ("0s": every
// finished job).
type GCRequest struct {
	Threshold string `json:"threshold,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// GCResult is what one garbage collection pass collected. Times are mission
// time in Unix ns.
type GCResult struct {
	Before       int64  `json:"before"`
	ForgetBefore int64  `json:"forget_before,omitempty"`
	Collected    int    `json:"collected"`
	Forgotten    int    `json:"tombs_forgotten"`
	Skipped      int    `json:"skipped"`
	Batches      int    `json:"batches"`
	First        string `json:"first,omitempty"`
	Last         string `json:"last,omitempty"`
	Index        uint64 `json:"index"`
	LiveJobs     int    `json:"live_jobs"`
	Tombs        int    `json:"tombs"`
}

// RerouteRequest is the body of POST /v1/job/{id}/reroute.
type RerouteRequest struct {
	Shard  string `json:"shard"`
	Reason string `json:"reason,omitempty"`
}

// WriteResult answers an owner command: the raft index it committed at.
type WriteResult struct {
	Index uint64 `json:"index"`
}

// SpilloverPolicy is a shard's spillover rule.
type SpilloverPolicy struct {
	Target               string   `json:"target"`
	Threshold            int64    `json:"threshold,omitempty"`
	MaxDrain             int64    `json:"max_drain,omitempty"`
	RequiredCapabilities []string `json:"required_capabilities,omitempty"`
	Weight               int64    `json:"weight,omitempty"`
}

// Shard is the view of a shard, and the body of POST /v1/shards.
type Shard struct {
	Name                string            `json:"name"`
	DisplayName         string            `json:"display_name,omitempty"`
	Region              string            `json:"region,omitempty"`
	LatencyBudgetMs     int64             `json:"latency_budget_ms,omitempty"`
	MaxQueue            int64             `json:"max_queue,omitempty"`
	QueueAlertThreshold int64             `json:"queue_alert_threshold,omitempty"`
	SpilloverTargets    []string          `json:"spillover_targets,omitempty"`
	Policies            []SpilloverPolicy `json:"policies,omitempty"`
	SpillGraceMs        int64             `json:"spill_grace_ms,omitempty"`  // 0: the servers' default
	ServiceMeanMs       float64           `json:"service_mean_ms,omitempty"` // recent mean service time (read only)
	Paused              bool              `json:"paused,omitempty"`
	CreatedAt           int64             `json:"created_at,omitempty"`
	QueueDepth          int64             `json:"queue_depth"`
	Counts              Counts            `json:"counts,omitempty"`
	// Health is the shard's verdict in the one health model (core/health):
	// ok, degraded or alert, with HealthReasons worst first.
	Health        string         `json:"health,omitempty"`
	HealthReasons []HealthReason `json:"health_reasons,omitempty"`
	Reason        string         `json:"reason,omitempty"` // request only
}

// HealthReason is one reason of a shard's health verdict (core/health
// computes them; health.Reason is this type).
type HealthReason struct {
	Code   string `json:"code"`
	Status string `json:"status"`
	Text   string `json:"text"`
}

// ShardUpdate is the body of POST /v1/shard/{name}/update; only non-nil
// fields are changed.
type ShardUpdate struct {
	DisplayName         *string            `json:"display_name,omitempty"`
	LatencyBudgetMs     *int64             `json:"latency_budget_ms,omitempty"`
	MaxQueue            *int64             `json:"max_queue,omitempty"`
	QueueAlertThreshold *int64             `json:"queue_alert_threshold,omitempty"`
	SpilloverTargets    *[]string          `json:"spillover_targets,omitempty"`
	Policies            *[]SpilloverPolicy `json:"policies,omitempty"`
	SpillGraceMs        *int64             `json:"spill_grace_ms,omitempty"`
	Reason              string             `json:"reason,omitempty"`
}

// ShardDeregister is the body of POST /v1/shard/{name}/deregister: either
// SpillTo names the shard that takes its jobs, or Cancel cancels them.
type ShardDeregister struct {
	SpillTo string `json:"spill_to,omitempty"`
	Cancel  bool   `json:"cancel,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Resources are what a node's deployment offers.
type Resources struct {
	CPUCores  float64 `json:"cpu_cores,omitempty"`
	MemoryGB  float64 `json:"memory_gb,omitempty"`
	GPUClass  string  `json:"gpu_class,omitempty"`
	GPUs      int64   `json:"gpus,omitempty"`
	StorageGB float64 `json:"storage_gb,omitempty"`
}

// Deployment is a node's container DNA.
type Deployment struct {
	Orchestration string    `json:"orchestration,omitempty"`
	Image         string    `json:"image,omitempty"`
	Runtime       string    `json:"runtime,omitempty"`
	Entrypoint    string    `json:"entrypoint,omitempty"`
	Version       string    `json:"version,omitempty"`
	Resources     Resources `json:"resources"`
	Zones         []string  `json:"zones,omitempty"`
}

// PriceRate is a per-unit rate: PerUnitMicro micro-credits (PerUnit in
// credits).
type PriceRate struct {
	Unit         string  `json:"unit"`
	PerUnit      float64 `json:"per_unit"`
	PerUnitMicro int64   `json:"per_unit_micro"`
}

// Price is a node's price schedule: a base of BaseMicro micro-credits (Base
// in credits) and its rates.
type Price struct {
	Currency  string      `json:"currency,omitempty"`
	Unit      string      `json:"unit,omitempty"`
	Base      float64     `json:"base"`
	BaseMicro int64       `json:"base_micro"`
	Rates     []PriceRate `json:"rates,omitempty"`
	Expr      string      `json:"expr,omitempty"`
}

// Attestations are a node's compliance envelope.
type Attestations struct {
	Certifications []string `json:"certifications,omitempty"`
	Jurisdiction   string   `json:"jurisdiction,omitempty"`
	DataResidency  []string `json:"data_residency,omitempty"`
	Tags           []string `json:"tags,omitempty"`
}

// Node is the view of a node, and the body of POST /v1/nodes.
type Node struct {
	ID             string     `json:"id"`
	Shard          string     `json:"shard"`
	Client         string     `json:"client,omitempty"`
	Plugin         string     `json:"plugin,omitempty"`
	Capabilities   []string   `json:"capabilities,omitempty"`
	Capacity       int64      `json:"capacity"`
	MaxConcurrency int64      `json:"max_concurrency,omitempty"`
	Quota          int64      `json:"quota,omitempty"`
	LatencyMs      int64      `json:"latency_ms,omitempty"`
	HeartbeatSec   int64      `json:"heartbeat_sec,omitempty"`
	Endpoint       string     `json:"endpoint,omitempty"`
	Deployment     Deployment `json:"deployment"`
	Price          Price      `json:"price"`
	// PriceSource says whose schedule Price is: "plugin" (the node's plugin
	// published it; it overrides the mission's, which is DeclaredPrice) or
	// "mission" (the mission's or an owner's). See docs/pricing.md.
	PriceSource       string       `json:"price_source,omitempty"`
	DeclaredPrice     *Price       `json:"declared_price,omitempty"`
	Attestations      Attestations `json:"attestations"`
	Labels            []string     `json:"labels,omitempty"`
	Status            string       `json:"status,omitempty"`
	StatusReason      string       `json:"status_reason,omitempty"`
	RegisteredAt      int64        `json:"registered_at,omitempty"`
	LastStatusAt      int64        `json:"last_status_at,omitempty"`
	MeasuredLatencyMs int64        `json:"measured_latency_ms,omitempty"`
	Active            int64        `json:"active"`
	Completed         int64        `json:"completed"`
	// HeartbeatAgeMs is the time since the last heartbeat the serving node
	// saw; -1 when it has none (a follower, or no heartbeat yet).
	HeartbeatAgeMs int64 `json:"heartbeat_age_ms"`
	// PluginPid is the pid of the plugin process serving the node, as its
	// last heartbeat to the serving leader reported; 0 when unknown.
	PluginPid int `json:"plugin_pid"`
	// PluginState is the plugin's state as its client last published it
	// (starting, up, refused, crashed, backing_off; empty before any
	// report), PluginCrashes how often it exited, PluginReason why it is
	// not up (for a sha256 mismatch: the plugin block, both hashes).
	PluginState   string `json:"plugin_state,omitempty"`
	PluginCrashes int64  `json:"plugin_crashes,omitempty"`
	PluginReason  string `json:"plugin_reason,omitempty"`
	Counts        Counts `json:"counts,omitempty"`
	// Schedulable says whether new work may be placed on the node (up and
	// not held back, e.g. by a drain); Conditions say why.
	Schedulable bool            `json:"schedulable"`
	Conditions  []NodeCondition `json:"conditions,omitempty"`
	Reason      string          `json:"reason,omitempty"` // request only
}

// NodeCondition is one condition of a node: Type ("ready", "draining"),
// Status ("true" or "false"), Reason, and Since and Until (unix ns; 0:
// unknown, none).
type NodeCondition struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	Since  int64  `json:"since,omitempty"`
	Until  int64  `json:"until,omitempty"`
}

// NodeUpdate is the body of POST /v1/node/{id}/update; only non-nil fields
// are changed.
type NodeUpdate struct {
	Capacity       *int64        `json:"capacity,omitempty"`
	MaxConcurrency *int64        `json:"max_concurrency,omitempty"`
	Quota          *int64        `json:"quota,omitempty"`
	LatencyMs      *int64        `json:"latency_ms,omitempty"`
	Capabilities   *[]string     `json:"capabilities,omitempty"`
	Price          *Price        `json:"price,omitempty"`
	Deployment     *Deployment   `json:"deployment,omitempty"`
	Attestations   *Attestations `json:"attestations,omitempty"`
	Reason         string        `json:"reason,omitempty"`
}

// NodeRetire is the body of POST /v1/node/{id}/retire.
type NodeRetire struct {
	Requeue bool   `json:"requeue,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// StateCount is the number and value of jobs in one state.
type StateCount struct {
	Jobs       int64   `json:"jobs"`
	Value      float64 `json:"value"`
	ValueMicro int64   `json:"value_micro"`
}

// Counts are job counts by state name.
type Counts map[string]StateCount

// Flow is a spillover flow between shards.
type Flow struct {
	From       string  `json:"from"`
	To         string  `json:"to"`
	Jobs       int64   `json:"jobs"`
	Value      float64 `json:"value"`
	ValueMicro int64   `json:"value_micro"`
}

// Invariant is one ledger invariant check.
type Invariant struct {
	ID      string `json:"id"`
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
}

// ChainHead is the head of the event hash chain.
type ChainHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Ledger is the body of GET /v1/ledger.
type Ledger struct {
	Global   Counts             `json:"global"`
	Shards   map[string]Counts  `json:"shards"`
	Nodes    map[string]Counts  `json:"nodes"`
	Flows    []Flow             `json:"flows"`
	Payments map[string]float64 `json:"payments"`
	// PaymentsMicro is Payments in micro-credits.
	PaymentsMicro map[string]int64 `json:"payments_micro"`
	Invariants    []Invariant      `json:"invariants"`
	Chain         ChainHead        `json:"chain"`
	AppliedIndex  uint64           `json:"applied_index"`
	// Regions is the latest ledger checkpoint of every region this server
	// holds, its own region's included (built at AppliedIndex), sorted by
	// region; GlobalTotals is their sum. With one region they are this
	// ledger's own figures.
	Regions      []RegionLedger `json:"regions"`
	GlobalTotals LedgerTotals   `json:"global_totals"`
}

// LedgerTotals are the totals of a ledger: jobs and their value by state
// (Jobs and ValueMicro their sums: every job submitted), the spillover
// flows between shards, what was paid, the rows of the payments table (the
// nodes paid) and the events emitted.
type LedgerTotals struct {
	Counts         Counts  `json:"counts"`
	Jobs           int64   `json:"jobs"`
	Value          float64 `json:"value"`
	ValueMicro     int64   `json:"value_micro"`
	Flows          []Flow  `json:"flows"`
	FlowJobs       int64   `json:"flow_jobs"`
	FlowValue      float64 `json:"flow_value"`
	FlowValueMicro int64   `json:"flow_value_micro"`
	Paid           float64 `json:"paid"`
	PaidMicro      int64   `json:"paid_micro"`
	Payments       int64   `json:"payments"`
	Events         uint64  `json:"events"`
	// HandOffs are a region's hand-off lines, one per other region it
	// exchanged hand-offs with (none on the global totals).
	HandOffs []HandOffLine `json:"hand_offs,omitempty"`
	// TransferJobs and TransferValueMicro, on the global totals, are the
	// handed jobs the regions' checkpoints would count twice (accepted by
	// the target, not yet closed by the source) or not at all (negative:
	// closed before the target's checkpoint shows them); the global totals
	// count them once, taken out of (or added to) the queued ones.
	TransferJobs       int64 `json:"transfer_jobs,omitempty"`
	TransferValueMicro int64 `json:"transfer_value_micro,omitempty"`
}

// HandOffLine is what one region's ledger holds of its hand-offs with
// Region: open (handed, not closed: still counted queued here), out
// (accepted there: left this region's books) and in (accepted from there:
// on this region's books).
type HandOffLine struct {
	Region         string `json:"region"`
	OpenJobs       int64  `json:"open_jobs"`
	OpenValueMicro int64  `json:"open_value_micro"`
	OutJobs        int64  `json:"out_jobs"`
	OutValueMicro  int64  `json:"out_value_micro"`
	InJobs         int64  `json:"in_jobs"`
	InValueMicro   int64  `json:"in_value_micro"`
}

// RegionLedger is one region's line of the global ledger: its latest
// checkpoint (at raft index Index of the region's own log, its event chain
// at Chain, the shards it holds) and how fresh it is.
//
// Freshness is AgeNs: how long before the read this server's region stored
// the checkpoint (StoredAt, Unix ns, the stamp its leader put on the entry
// that stored it), computed by the server at the read; 0 for the local
// region, whose line is built in the read. It is absent when the server
// does not know when the checkpoint was stored (a checkpoint stored before
// the stamp was kept). A region publishes only when its ledger changes, so
// the age of an idle region's line grows while its figures stay current:
// the age says how long the line has been as it is here, and IndexLag and
// EventLag, when set, how far it is behind the region itself (entries of its
// raft log and events of its chain). The server sets them to 0 for the
// local region; a reader that holds each region's own line fills them for
// the others (WithLag).
//
// MissionTime is the region's mission clock and BehindNs how far it is
// behind the local region's (negative when ahead): a region's mission clock
// runs only while it has timed schedule entries, so BehindNs compares
// schedules, not freshness.
type RegionLedger struct {
	Region      string       `json:"region"`
	Local       bool         `json:"local"`
	Index       uint64       `json:"index"`
	MissionTime int64        `json:"mission_time"`
	BehindNs    int64        `json:"behind_ns"`
	Chain       ChainHead    `json:"chain"`
	Totals      LedgerTotals `json:"totals"`
	Shards      []string     `json:"shards,omitempty"`
	// Leader is the raft id of the region's leader when the server knows
	// it (its own region's).
	Leader   string  `json:"leader,omitempty"`
	StoredAt int64   `json:"stored_at,omitempty"`
	AgeNs    *int64  `json:"age_ns,omitempty"`
	IndexLag *uint64 `json:"index_lag,omitempty"`
	EventLag *uint64 `json:"event_lag,omitempty"`
}

// WithLag returns lines with the IndexLag and EventLag of each line that is
// not local filled from current, the regions' own lines (each the Local
// line of that region's GET /v1/ledger): how many raft entries and events
// the region had applied beyond the checkpoint. A region missing from
// current, or whose own line is behind the checkpoint (read earlier), keeps
// its lags unset.
func WithLag(lines []RegionLedger, current []RegionLedger) []RegionLedger {
	own := map[string]RegionLedger{}
	for _, c := range current {
		if c.Local {
			own[c.Region] = c
		}
	}
	out := make([]RegionLedger, len(lines))
	for i, l := range lines {
		out[i] = l
		c, ok := own[l.Region]
		if l.Local || !ok || c.Index < l.Index || c.Totals.Events < l.Totals.Events {
			continue
		}
		ix, ev := c.Index-l.Index, c.Totals.Events-l.Totals.Events
		out[i].IndexLag, out[i].EventLag = &ix, &ev
	}
	return out
}

// Events is the body of GET /v1/events. Index is the seq to pass as index=
// next time; Head is the newest seq the serving node holds.
type Events struct {
	Events []Event `json:"events"`
	Index  uint64  `json:"index"`
	Head   uint64  `json:"head"`
}

// Event is one event of the hash-chained event log, as GET /v1/events
// sends it. It has the fields of the replicated record (state.Event) in the
// same order, so the server converts one to the other without a copy and a
// reader converts back (state.Event(e)) to check the chain.
type Event struct {
	Seq      uint64 `json:"seq"`
	Index    uint64 `json:"index"` // raft index of the command that caused it
	Time     int64  `json:"time"`  // leader-stamped, Unix nanoseconds
	Type     string `json:"type"`
	Job      string `json:"job,omitempty"`
	Attempt  uint32 `json:"attempt,omitempty"`
	Shard    string `json:"shard,omitempty"`
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
	Node     string `json:"node,omitempty"`
	ValueMu  int64  `json:"value_mu,omitempty"`
	AmountMu int64  `json:"amount_mu,omitempty"`
	Actor    string `json:"actor,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Detail   string `json:"detail,omitempty"`
	// Command and Args are set on the first event of an owner command: its
	// registry name (e.g. "node.drain") and arguments (compact JSON).
	Command string `json:"command,omitempty"`
	Args    string `json:"args,omitempty"`
	Prev    string `json:"prev"` // hex
	Hash    string `json:"hash"` // hex
}

// EventRetention is the body of GET /v1/events/retention: the server's
// event retention policy and what it has pruned. Events after Anchor (from
// FirstSeq on) are retained; Anchor is where their chain verifies from.
type EventRetention struct {
	MaxAgeMs         int64     `json:"max_age_ms"`
	MaxBytes         int64     `json:"max_bytes"`
	ArchiveDir       string    `json:"archive_dir,omitempty"`
	Pruned           bool      `json:"pruned"`
	Anchor           ChainHead `json:"anchor"`
	FirstSeq         uint64    `json:"first_seq"`
	Head             uint64    `json:"head"`
	Covered          ChainHead `json:"covered"`
	PrunedEvents     uint64    `json:"pruned_events"`
	PrunedSegments   int       `json:"pruned_segments"`
	PrunedBytes      int64     `json:"pruned_bytes"`
	ArchivedSegments int       `json:"archived_segments"`
}

// PauseRequest is the body of POST /v1/operator/pause and /resume.
type PauseRequest struct {
	Shard  string `json:"shard,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// CheckpointConfig is the body of POST /v1/operator/checkpoint.
type CheckpointConfig struct {
	IntervalMs int64  `json:"interval_ms,omitempty"`
	Path       string `json:"path,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// ReportingConfig is the body of POST /v1/operator/reporting.
type ReportingConfig struct {
	Dir    string `json:"dir,omitempty"`
	Label  string `json:"label,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Snapshot describes an exported archive (checkpoint or snapshot download).
type Snapshot struct {
	Index  uint64 `json:"index"`
	Term   uint64 `json:"term,omitempty"`
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
}

// ScheduleEntry is one owner schedule entry of the applied mission.
type ScheduleEntry struct {
	ID             string `json:"id"`
	AtMs           int64  `json:"at_ms,omitempty"`
	AfterCompleted int64  `json:"after_completed,omitempty"`
	Note           string `json:"note,omitempty"`
	Action         string `json:"action"`
	Fired          bool   `json:"fired"`
}

// Mission is the body of GET /v1/mission: the applied mission's policy.
type Mission struct {
	Name                 string          `json:"name"`
	Digest               string          `json:"digest"`
	Seed                 uint64          `json:"seed"`
	Start                int64           `json:"start"`
	Clock                int64           `json:"clock"`
	CheckpointIntervalMs int64           `json:"checkpoint_interval_ms,omitempty"`
	CheckpointPath       string          `json:"checkpoint_path,omitempty"`
	ReportingDir         string          `json:"reporting_dir,omitempty"`
	ReportingLabel       string          `json:"reporting_label,omitempty"`
	CompliancePolicy     string          `json:"compliance_policy,omitempty"`
	SystemPaused         bool            `json:"system_paused"`
	OwnerCommands        int64           `json:"owner_commands"`
	Pauses               int64           `json:"pauses"`
	Schedule             []ScheduleEntry `json:"schedule,omitempty"`
	Skipped              []string        `json:"skipped,omitempty"`
}

// MissionApply is the body of PUT /v1/mission.
type MissionApply struct {
	Filename string `json:"filename"`
	HCL      string `json:"hcl"`
	Reason   string `json:"reason,omitempty"`
}

// MissionApplied answers PUT /v1/mission.
type MissionApplied struct {
	Changed bool     `json:"changed"`
	Digest  string   `json:"digest"`
	Diff    []string `json:"diff"`
	Index   uint64   `json:"index,omitempty"`
}

// Token types as written in the API.
const (
	TokenTypeRead       = "read"
	TokenTypeSubmit     = "submit"
	TokenTypeManagement = "management"
	// TokenTypeClient is a join credential for client agents.
	TokenTypeClient = "client"
	// TokenTypeClientIdentity is a client agent's own identity, issued
	// when it joins.
	TokenTypeClientIdentity = "client-identity"
)

// Token is an ACL token. SecretID is set only in the answer that creates it.
type Token struct {
	AccessorID string `json:"accessor_id"`
	SecretID   string `json:"secret_id,omitempty"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	CreatedAt  int64  `json:"created_at,omitempty"`
	// RevokedAt is set on a revoked client identity.
	RevokedAt int64 `json:"revoked_at,omitempty"`
}

// ClientJoin is the body of POST /v1/client/join.
type ClientJoin struct {
	Client string `json:"client"`
}

// ClientJoined answers POST /v1/client/join. Secret is the client's new
// identity, set only in the answer that issues it; a client that already
// presents its identity gets an empty Secret.
type ClientJoined struct {
	Client     string `json:"client"`
	AccessorID string `json:"accessor_id"`
	Secret     string `json:"secret,omitempty"`
}

// ClientRevoke is the optional body of POST /v1/acl/client/{name}/revoke.
type ClientRevoke struct {
	Reason string `json:"reason,omitempty"`
}

// TokenRequest is the body of POST /v1/acl/tokens.
type TokenRequest struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// ClientRegister is the body of POST /v1/client/register.
type ClientRegister struct {
	Client string   `json:"client"`
	Nodes  []Node   `json:"nodes"`
	Kinds  []string `json:"kinds"`
}

// ClientRegistered answers POST /v1/client/register.
type ClientRegistered struct {
	Claimed []string `json:"claimed"`
}

// NodeBeat is one node's heartbeat.
type NodeBeat struct {
	ID        string `json:"id"`
	Healthy   bool   `json:"healthy"`
	LatencyMs int64  `json:"latency_ms,omitempty"`
	// PluginPid is the pid of the plugin process serving the node.
	PluginPid int `json:"plugin_pid,omitempty"`
}

// ClientHeartbeat is the body of POST /v1/client/heartbeat.
type ClientHeartbeat struct {
	Client string     `json:"client"`
	Nodes  []NodeBeat `json:"nodes"`
}

// Assignment is one line of the GET /v1/client/assignments NDJSON stream.
type Assignment struct {
	JobID        string   `json:"job"`
	Attempt      uint32   `json:"attempt"`
	Node         string   `json:"node"`
	Kind         string   `json:"kind,omitempty"`
	Payload      []byte   `json:"payload,omitempty"` // exact bytes, base64 in JSON
	Capabilities []string `json:"capabilities,omitempty"`
	Seed         uint64   `json:"seed"`
	Quote        float64  `json:"quote,omitempty"`
}

// JobAttempt names one attempt of a job.
type JobAttempt struct {
	JobID   string `json:"job"`
	Attempt uint32 `json:"attempt"`
}

// Result is the outcome of one attempt.
type Result struct {
	JobID     string `json:"job"`
	Attempt   uint32 `json:"attempt"`
	OK        bool   `json:"ok"`
	Retryable bool   `json:"retryable,omitempty"`
	ExitCode  int64  `json:"exit_code,omitempty"`
	Output    string `json:"output,omitempty"`
	Error     string `json:"error,omitempty"`
	// Usage is what the plugin reported the attempt consumed, units per
	// dimension (e.g. {"token": 812}); absent when it reported nothing.
	Usage map[string]float64 `json:"usage,omitempty"`
}

// ClientResults is the body of POST /v1/client/results.
type ClientResults struct {
	Client  string       `json:"client"`
	Started []JobAttempt `json:"started,omitempty"`
	Results []Result     `json:"results,omitempty"`
}
