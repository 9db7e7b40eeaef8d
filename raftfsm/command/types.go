package command

import "github.com/planetary/planetary/raftfsm/state"

// MissionApply installs or updates the cluster-wide mission: shards, nodes
// declared by the mission, policy and the owner schedule. Applying the same
// Digest again is a no-op. Shards/nodes absent from a re-applied mission are
// left alone (owner commands remove them explicitly).
type MissionApply struct {
	Meta             Meta
	Name             string
	Digest           string
	Seed             uint64
	Shards           []state.Shard
	Nodes            []state.Node
	CheckpointMs     int64
	CheckpointPath   string
	ReportingDir     string
	ReportingLabel   string
	CompliancePolicy string
	Schedule         []state.ScheduleEntry
	// Retention (docs/retention.md), mission time in ms; 0 in entries
	// written before it: the leader's defaults.
	JobGCThresholdMs    int64
	JobGCIntervalMs     int64
	JobGCBatch          int64
	IdempotencyWindowMs int64
	// MaxAttempts is the mission's default attempt cap (Policy.MaxAttempts).
	MaxAttempts uint32
}

// JobSubmit is one job in a SubmitBatch. ID is chosen by the leader (or
// derived deterministically by `planetary run`); Key is the client's
// idempotency key: a second submit with the same Key returns the first job.
type JobSubmit struct {
	ID           string
	Key          string
	Shard        string
	Capabilities []string
	Priority     int64
	ValueMu      int64
	MaxPriceMu   int64
	Kind         string
	Payload      []byte
	Submitter    string
	// Units are the units the job expects per metered dimension
	// (state.Job.Units), sorted by unit.
	Units []state.Quantity
	// MaxAttempts caps the job's attempts (state.Job.MaxAttempts); the
	// server stamps its default when the submitter gives none.
	MaxAttempts uint32
}

// SubmitBatch submits many jobs in one entry. Per-job results are returned in
// order (accepted, duplicate of an existing key, or rejected with a reason).
type SubmitBatch struct {
	Time int64
	Jobs []JobSubmit
}

// Assignment places a queued job on a node. Attempt must equal the job's
// current attempt + 1, otherwise the decision is stale and rejected.
type Assignment struct {
	JobID   string
	Attempt uint32
	Node    string
	QuoteMu int64
	// A spill: the router of the job's shard places it on a node of one of
	// the shard's spillover targets. From is the shard the job is queued in
	// (empty for a placement at home), Rule the routing rule that decided
	// (router.Rule*), and the estimates the ones it compared, in
	// milliseconds: the wait at home (-1: home cannot run it), the budget
	// (0: none) and the time to start on the target.
	From        string
	Rule        string
	HomeEstMs   int64
	BudgetMs    int64
	TargetEstMs int64
	// Meters are the node's rates that QuoteMu charged for the job's
	// declared units (state.Job.Meters), sorted by unit; settlement charges
	// them for the reported usage instead.
	Meters []state.Meter
}

// AssignBatch commits a round of placement decisions.
type AssignBatch struct {
	Time        int64
	Assignments []Assignment
}

// JobAttempt fences a transition to one attempt of a job.
type JobAttempt struct {
	JobID   string
	Attempt uint32
}

// StartBatch marks assigned jobs as running.
type StartBatch struct {
	Time int64
	Jobs []JobAttempt
}

// Result is the outcome of one attempt. Duplicates (same job and attempt) and
// results for a stale attempt are ignored.
type Result struct {
	JobID     string
	Attempt   uint32
	OK        bool
	Retryable bool // a failed attempt that may be retried (requeued)
	ExitCode  int64
	Output    string
	Error     string
	// Usage is what the plugin reported the attempt consumed, sorted by
	// unit; nil when it reported nothing (the job settles at its quote).
	Usage []state.Quantity
}

// CompleteBatch records results.
type CompleteBatch struct {
	Time        int64
	MaxAttempts uint32 // a retryable failure at this attempt fails a job without its own MaxAttempts
	Results     []Result
}

// Requeue returns an assigned/running job to its shard queue.
type Requeue struct {
	JobID   string
	Attempt uint32
	Reason  string
}

// RequeueBatch requeues jobs (node lost, retryable failure, ...).
type RequeueBatch struct {
	Time int64
	Jobs []Requeue
}

// Spill moves a queued job from its shard to another (a router decision).
type Spill struct {
	JobID string
	From  string
	To    string
}

// SpillBatch commits spillover decisions.
type SpillBatch struct {
	Time   int64
	Spills []Spill
}

// Park sets aside a queued job nothing anywhere can take.
type Park struct {
	JobID  string
	Reason string
}

// ParkBatch commits park decisions. Topology is the store's topology count
// the decisions were made at; when it has moved on, each park is rejected as
// stale (the job stays queued for the next round). 0 skips the check.
type ParkBatch struct {
	Time     int64
	Parks    []Park
	Topology uint64
}

// NodeRegister adds a node (owner command or client registration).
type NodeRegister struct {
	Meta Meta
	Node state.Node
}

// NodeUpdate changes a node. Only fields named in Fields are applied
// (e.g. "capacity", "max_concurrency", "quota", "price", "deployment",
// "attestations", "capabilities", "latency_ms"). Shrinking capacity requeues
// the overflow (newest assignments first).
type NodeUpdate struct {
	Meta   Meta
	ID     string
	Fields []string
	Node   state.Node
}

// NodeStatusChange marks a node up or down. Down requeues its jobs.
type NodeStatusChange struct {
	Meta              Meta
	ID                string
	Status            state.NodeStatus
	MeasuredLatencyMs int64
}

// NodeRetire drains a node: it takes no new work; Requeue=true also requeues
// its running jobs at once.
type NodeRetire struct {
	Meta    Meta
	ID      string
	Requeue bool
}

// NodeClaim binds nodes to a hosting client, which serves them.
type NodeClaim struct {
	Meta   Meta
	Client string
	Nodes  []string
}

// ShardRegister adds a shard, live at once.
type ShardRegister struct {
	Meta  Meta
	Shard state.Shard
}

// ShardUpdate retunes a shard. Only fields named in Fields are applied
// ("latency_budget_ms", "max_queue", "queue_alert_threshold",
// "spillover_targets", "policies", "display_name").
type ShardUpdate struct {
	Meta   Meta
	Name   string
	Fields []string
	Shard  state.Shard
}

// ShardDeregister removes a shard. Its queued, parked and in-flight jobs move
// to SpillTo, or are cancelled when Cancel is set. Its nodes are retired.
type ShardDeregister struct {
	Meta    Meta
	Name    string
	SpillTo string
	Cancel  bool
}

// Pause pauses or resumes dispatching for the whole system (Shard == "") or
// one shard. Heartbeats and node health are unaffected.
type Pause struct {
	Meta   Meta
	Shard  string
	Paused bool
}

// Locator picks jobs from the tail of a shard queue: the Tail newest queued
// jobs after skipping Offset from the tail; InFlight also includes assigned
// and running jobs of that shard.
type Locator struct {
	Shard    string
	Tail     int64
	Offset   int64
	InFlight bool
}

// JobCancel cancels jobs by id or locator. Terminal jobs are left alone.
type JobCancel struct {
	Meta    Meta
	IDs     []string
	Locator *Locator
}

// JobReroute moves jobs to another shard (counted as spillover).
type JobReroute struct {
	Meta    Meta
	IDs     []string
	Locator *Locator
	Target  string
}

// CheckpointConfigure retargets the checkpoint cadence and export path.
// Zero/empty fields are left unchanged.
type CheckpointConfigure struct {
	Meta       Meta
	IntervalMs int64
	Path       string
}

// CheckpointSaved records that a snapshot was taken and exported.
type CheckpointSaved struct {
	Meta   Meta
	Index  uint64
	Term   uint64
	Path   string
	SHA256 string
}

// ReportingConfigure retargets report output. Empty fields are unchanged.
type ReportingConfigure struct {
	Meta  Meta
	Dir   string
	Label string
}

// ClockAdvance moves the mission clock forward (never backward).
type ClockAdvance struct {
	Time int64
}

// ScheduleFire marks a schedule entry fired (or skipped, with a reason) and
// carries the owner command it runs, so it is one atomic entry.
type ScheduleFire struct {
	Meta    Meta
	EntryID string
	Skipped bool
	// Action and Body are the owner command to apply, e.g. PauseType and its
	// msgpack body; Action 0 means nothing to apply.
	Action MessageType
	Body   []byte
}

// ACLBootstrap stores the first management token. Rejected once done.
type ACLBootstrap struct {
	Time  int64
	Token state.Token
}

// ACLTokenCreate stores a new token (management only).
type ACLTokenCreate struct {
	Meta  Meta
	Token state.Token
}

// JobGC collects terminal jobs (garbage collection, proposed by the leader in
// bounded batches). Before is the mission time at or before which a job must
// have finished; it may not be later than the mission clock. A job that is
// not terminal, finished after Before, or unknown is rejected per job.
// ForgetBefore, when set, also ends the idempotency window of the tombs
// collected before it.
type JobGC struct {
	Meta         Meta
	Before       int64
	IDs          []string
	ForgetBefore int64
}

// ClientJoin stores the identity issued to a client agent when it joins
// (Token.Type is TokenClientIdentity and Token.Name the client's name).
// Rejected when that client already holds an identity, live or revoked.
type ClientJoin struct {
	Meta  Meta
	Token state.Token
}

// ClientRevoke revokes a client agent's identity: its calls are refused
// from then on, and its name cannot join again.
type ClientRevoke struct {
	Meta   Meta
	Client string
}
