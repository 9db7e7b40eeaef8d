package command

import "github.com/planetary/planetary/raftfsm/state"

// MissionApply installs or updates the cluster-wide mission: shards, nodes
// declared by the mission, policy and the owner schedule. Applying the same
// Digest again is a no-op. Shards/nodes absent from a re-applied mission are
// left alone (owner commands remove them explicitly).
type MissionApply struct {
	Meta             Meta                  `msg:"Meta"`
	Name             string                `msg:"Name"`
	Digest           string                `msg:"Digest"`
	Seed             uint64                `msg:"Seed"`
	Shards           []state.Shard         `msg:"Shards"`
	Nodes            []state.Node          `msg:"Nodes"`
	CheckpointMs     int64                 `msg:"CheckpointMs"`
	CheckpointPath   string                `msg:"CheckpointPath"`
	ReportingDir     string                `msg:"ReportingDir"`
	ReportingLabel   string                `msg:"ReportingLabel"`
	CompliancePolicy string                `msg:"CompliancePolicy"`
	Schedule         []state.ScheduleEntry `msg:"Schedule"`
	// Retention (docs/retention.md), mission time in ms; 0 in entries
	// written before it: the leader's defaults.
	JobGCThresholdMs    int64 `msg:"JobGCThresholdMs"`
	JobGCIntervalMs     int64 `msg:"JobGCIntervalMs"`
	JobGCBatch          int64 `msg:"JobGCBatch"`
	IdempotencyWindowMs int64 `msg:"IdempotencyWindowMs"`
	// MaxAttempts is the mission's default attempt cap (Policy.MaxAttempts).
	MaxAttempts uint32 `msg:"MaxAttempts"`
}

// JobSubmit is one job in a SubmitBatch. ID is chosen by the leader (or
// derived deterministically by `planetary run`); Key is the client's
// idempotency key: a second submit with the same Key returns the first job.
type JobSubmit struct {
	ID           string   `msg:"ID"`
	Key          string   `msg:"Key"`
	Shard        string   `msg:"Shard"`
	Capabilities []string `msg:"Capabilities"`
	Priority     int64    `msg:"Priority"`
	ValueMu      int64    `msg:"ValueMu"`
	MaxPriceMu   int64    `msg:"MaxPriceMu"`
	Kind         string   `msg:"Kind"`
	Payload      []byte   `msg:"Payload"`
	Submitter    string   `msg:"Submitter"`
	// Units are the units the job expects per metered dimension
	// (state.Job.Units), sorted by unit.
	Units []state.Quantity `msg:"Units"`
	// MaxAttempts caps the job's attempts (state.Job.MaxAttempts); the
	// server stamps its default when the submitter gives none.
	MaxAttempts uint32 `msg:"MaxAttempts"`
}

// SubmitBatch submits many jobs in one entry. Per-job results are returned in
// order (accepted, duplicate of an existing key, or rejected with a reason).
type SubmitBatch struct {
	Time int64       `msg:"Time"`
	Jobs []JobSubmit `msg:"Jobs"`
}

// Assignment places a queued job on a node. Attempt must equal the job's
// current attempt + 1, otherwise the decision is stale and rejected.
type Assignment struct {
	JobID   string `msg:"JobID"`
	Attempt uint32 `msg:"Attempt"`
	Node    string `msg:"Node"`
	QuoteMu int64  `msg:"QuoteMu"`
	// A spill: the router of the job's shard places it on a node of one of
	// the shard's spillover targets. From is the shard the job is queued in
	// (empty for a placement at home), Rule the routing rule that decided
	// (router.Rule*), and the estimates the ones it compared, in
	// milliseconds: the wait at home (-1: home cannot run it), the budget
	// (0: none) and the time to start on the target.
	From        string `msg:"From"`
	Rule        string `msg:"Rule"`
	HomeEstMs   int64  `msg:"HomeEstMs"`
	BudgetMs    int64  `msg:"BudgetMs"`
	TargetEstMs int64  `msg:"TargetEstMs"`
	// Meters are the node's rates that QuoteMu charged for the job's
	// declared units (state.Job.Meters), sorted by unit; settlement charges
	// them for the reported usage instead.
	Meters []state.Meter `msg:"Meters"`
}

// AssignBatch commits a round of placement decisions.
type AssignBatch struct {
	Time        int64        `msg:"Time"`
	Assignments []Assignment `msg:"Assignments"`
}

// JobAttempt fences a transition to one attempt of a job.
type JobAttempt struct {
	JobID   string `msg:"JobID"`
	Attempt uint32 `msg:"Attempt"`
}

// StartBatch marks assigned jobs as running.
type StartBatch struct {
	Time int64        `msg:"Time"`
	Jobs []JobAttempt `msg:"Jobs"`
}

// Result is the outcome of one attempt. Duplicates (same job and attempt) and
// results for a stale attempt are ignored.
type Result struct {
	JobID     string `msg:"JobID"`
	Attempt   uint32 `msg:"Attempt"`
	OK        bool   `msg:"OK"`
	Retryable bool   `msg:"Retryable"` // a failed attempt that may be retried (requeued)
	ExitCode  int64  `msg:"ExitCode"`
	Output    string `msg:"Output"`
	Error     string `msg:"Error"`
	// Usage is what the plugin reported the attempt consumed, sorted by
	// unit; nil when it reported nothing (the job settles at its quote).
	Usage []state.Quantity `msg:"Usage"`
}

// CompleteBatch records results.
type CompleteBatch struct {
	Time        int64    `msg:"Time"`
	MaxAttempts uint32   `msg:"MaxAttempts"` // a retryable failure at this attempt fails a job without its own MaxAttempts
	Results     []Result `msg:"Results"`
}

// Requeue returns an assigned/running job to its shard queue.
type Requeue struct {
	JobID   string `msg:"JobID"`
	Attempt uint32 `msg:"Attempt"`
	Reason  string `msg:"Reason"`
}

// RequeueBatch requeues jobs (node lost, retryable failure, ...).
type RequeueBatch struct {
	Time int64     `msg:"Time"`
	Jobs []Requeue `msg:"Jobs"`
}

// Spill moves a queued job from its shard to another (a router decision).
type Spill struct {
	JobID string `msg:"JobID"`
	From  string `msg:"From"`
	To    string `msg:"To"`
}

// SpillBatch commits spillover decisions.
type SpillBatch struct {
	Time   int64   `msg:"Time"`
	Spills []Spill `msg:"Spills"`
}

// Park sets aside a queued job nothing anywhere can take.
type Park struct {
	JobID  string `msg:"JobID"`
	Reason string `msg:"Reason"`
}

// ParkBatch commits park decisions. Topology is the store's topology count
// the decisions were made at; when it has moved on, each park is rejected as
// stale (the job stays queued for the next round). 0 skips the check.
type ParkBatch struct {
	Time     int64  `msg:"Time"`
	Parks    []Park `msg:"Parks"`
	Topology uint64 `msg:"Topology"`
}

// NodeRegister adds a node (owner command or client registration).
type NodeRegister struct {
	Meta Meta       `msg:"Meta"`
	Node state.Node `msg:"Node"`
}

// NodeUpdate changes a node. Only fields named in Fields are applied
// (e.g. "capacity", "max_concurrency", "quota", "price", "deployment",
// "attestations", "capabilities", "latency_ms"). Shrinking capacity requeues
// the overflow (newest assignments first).
type NodeUpdate struct {
	Meta   Meta       `msg:"Meta"`
	ID     string     `msg:"ID"`
	Fields []string   `msg:"Fields"`
	Node   state.Node `msg:"Node"`
}

// NodeStatusChange marks a node up or down. Down requeues its jobs.
type NodeStatusChange struct {
	Meta              Meta             `msg:"Meta"`
	ID                string           `msg:"ID"`
	Status            state.NodeStatus `msg:"Status"`
	MeasuredLatencyMs int64            `msg:"MeasuredLatencyMs"`
}

// NodeRetire drains a node: it takes no new work; Requeue=true also requeues
// its running jobs at once.
type NodeRetire struct {
	Meta    Meta   `msg:"Meta"`
	ID      string `msg:"ID"`
	Requeue bool   `msg:"Requeue"`
}

// NodeDrain drains a node: it takes no new work, its assigned and running
// jobs finish there, and what is still active at the deadline is requeued
// (the leader forces the drain then). Force requeues at once; Disable ends
// a drain.
type NodeDrain struct {
	Meta       Meta   `msg:"Meta"`
	ID         string `msg:"ID" param:"node,node,arg" help:"The node to drain."`
	DeadlineMs int64  `msg:"DeadlineMs" param:"deadline,duration" help:"Requeue what is still active on the node this long after the drain began (none: jobs finish however long they take)."`
	Force      bool   `msg:"Force" param:"force,bool" help:"Requeue the node's assigned and running jobs now."`
	Disable    bool   `msg:"Disable" param:"disable,bool" help:"End the drain: the node takes new work again."`
}

// NodeClaim binds nodes to a hosting client, which serves them.
type NodeClaim struct {
	Meta   Meta     `msg:"Meta"`
	Client string   `msg:"Client"`
	Nodes  []string `msg:"Nodes"`
}

// ShardRegister adds a shard, live at once.
type ShardRegister struct {
	Meta  Meta        `msg:"Meta"`
	Shard state.Shard `msg:"Shard"`
}

// ShardUpdate retunes a shard. Only fields named in Fields are applied
// ("latency_budget_ms", "max_queue", "queue_alert_threshold",
// "spillover_targets", "policies", "display_name").
type ShardUpdate struct {
	Meta   Meta        `msg:"Meta"`
	Name   string      `msg:"Name"`
	Fields []string    `msg:"Fields"`
	Shard  state.Shard `msg:"Shard"`
}

// ShardDeregister removes a shard. Its queued, parked and in-flight jobs move
// to SpillTo, or are cancelled when Cancel is set. Its nodes are retired.
type ShardDeregister struct {
	Meta    Meta   `msg:"Meta"`
	Name    string `msg:"Name"`
	SpillTo string `msg:"SpillTo"`
	Cancel  bool   `msg:"Cancel"`
}

// Pause pauses or resumes dispatching for the whole system (Shard == "") or
// one shard. Heartbeats and node health are unaffected.
type Pause struct {
	Meta   Meta   `msg:"Meta"`
	Shard  string `msg:"Shard"`
	Paused bool   `msg:"Paused"`
}

// Locator picks jobs from the tail of a shard queue: the Tail newest queued
// jobs after skipping Offset from the tail; InFlight also includes assigned
// and running jobs of that shard.
type Locator struct {
	Shard    string `msg:"Shard"`
	Tail     int64  `msg:"Tail"`
	Offset   int64  `msg:"Offset"`
	InFlight bool   `msg:"InFlight"`
}

// JobCancel cancels jobs by id or locator. Terminal jobs are left alone.
type JobCancel struct {
	Meta    Meta     `msg:"Meta"`
	IDs     []string `msg:"IDs"`
	Locator *Locator `msg:"Locator"`
}

// JobReroute moves jobs to another shard (counted as spillover).
type JobReroute struct {
	Meta    Meta     `msg:"Meta"`
	IDs     []string `msg:"IDs"`
	Locator *Locator `msg:"Locator"`
	Target  string   `msg:"Target"`
}

// CheckpointConfigure retargets the checkpoint cadence and export path.
// Zero/empty fields are left unchanged.
type CheckpointConfigure struct {
	Meta       Meta   `msg:"Meta"`
	IntervalMs int64  `msg:"IntervalMs"`
	Path       string `msg:"Path"`
}

// CheckpointSaved records that a snapshot was taken and exported.
type CheckpointSaved struct {
	Meta   Meta   `msg:"Meta"`
	Index  uint64 `msg:"Index"`
	Term   uint64 `msg:"Term"`
	Path   string `msg:"Path"`
	SHA256 string `msg:"SHA256"`
}

// ReportingConfigure retargets report output. Empty fields are unchanged.
type ReportingConfigure struct {
	Meta  Meta   `msg:"Meta"`
	Dir   string `msg:"Dir"`
	Label string `msg:"Label"`
}

// ClockAdvance moves the mission clock forward (never backward).
type ClockAdvance struct {
	Time int64 `msg:"Time"`
}

// ScheduleFire marks a schedule entry fired (or skipped, with a reason) and
// carries the owner command it runs, so it is one atomic entry.
type ScheduleFire struct {
	Meta    Meta   `msg:"Meta"`
	EntryID string `msg:"EntryID"`
	Skipped bool   `msg:"Skipped"`
	// Action and Body are the owner command to apply, e.g. PauseType and its
	// msgpack body; Action 0 means nothing to apply.
	Action MessageType `msg:"Action"`
	Body   []byte      `msg:"Body"`
}

// ACLBootstrap stores the first management token. Rejected once done.
type ACLBootstrap struct {
	Time  int64       `msg:"Time"`
	Token state.Token `msg:"Token"`
}

// ACLTokenCreate stores a new token (management only).
type ACLTokenCreate struct {
	Meta  Meta        `msg:"Meta"`
	Token state.Token `msg:"Token"`
}

// JobGC collects terminal jobs (garbage collection, proposed by the leader in
// bounded batches). Before is the mission time at or before which a job must
// have finished; it may not be later than the mission clock. A job that is
// not terminal, finished after Before, or unknown is rejected per job.
// ForgetBefore, when set, also ends the idempotency window of the tombs
// collected before it.
type JobGC struct {
	Meta         Meta     `msg:"Meta"`
	Before       int64    `msg:"Before"`
	IDs          []string `msg:"IDs"`
	ForgetBefore int64    `msg:"ForgetBefore"`
}

// ClientJoin stores the identity issued to a client agent when it joins
// (Token.Type is TokenClientIdentity and Token.Name the client's name).
// Rejected when that client already holds an identity, live or revoked.
type ClientJoin struct {
	Meta  Meta        `msg:"Meta"`
	Token state.Token `msg:"Token"`
}

// ClientRevoke revokes a client agent's identity: its calls are refused
// from then on, and its name cannot join again.
type ClientRevoke struct {
	Meta   Meta   `msg:"Meta"`
	Client string `msg:"Client"`
}

// RegionCheckpoint stores another region's ledger checkpoint (the latest
// it published, relayed by the region host). The FSM keeps the latest per
// region: one at or below the stored checkpoint's raft index is a no-op, so
// redelivery is idempotent. It changes no job and emits no event, so a
// received checkpoint never changes the local region's own ledger or chain.
type RegionCheckpoint struct {
	Meta       Meta                   `msg:"Meta"`
	Checkpoint state.RegionCheckpoint `msg:"Checkpoint"`
}

// HandOffBegin starts hand-offs of queued jobs of this region (FromRegion)
// to shard ToShard of region ToRegion: each job leaves placement into an
// open hand-off record (state.HandOff) whose id the FSM gives, the next
// free of the region (FromRegion.N). Proposed by the region host, not an
// owner. A job that is not queued, or already in a hand-off, is rejected
// alone.
type HandOffBegin struct {
	Meta       Meta     `msg:"Meta"`
	FromRegion string   `msg:"FromRegion"`
	ToRegion   string   `msg:"ToRegion"`
	ToShard    string   `msg:"ToShard"`
	IDs        []string `msg:"IDs"`
}

// HandOffAccept delivers a hand-off to its target region: the job is
// created in HandOff.ToShard's queue, or refused with a reason (unknown
// shard, queue full, the job id taken). Either outcome is recorded under
// the hand-off id (state.HandIn), so a second delivery is a duplicate that
// answers the stored outcome, never a second job.
type HandOffAccept struct {
	Meta    Meta          `msg:"Meta"`
	HandOff state.HandOff `msg:"HandOff"`
}

// HandOffClose closes an open hand-off at its source region with the
// target's outcome: Accepted, the job leaves this region's books (a flow
// from its shard to the target shard); else it is returned, queued here
// again, with the target's Reason. Closing a closed hand-off again with the
// same outcome is a duplicate.
type HandOffClose struct {
	Meta     Meta   `msg:"Meta"`
	ID       string `msg:"ID"`
	Accepted bool   `msg:"Accepted"`
	Reason   string `msg:"Reason"`
}
