// Package state holds planetary's replicated records: shards, nodes, jobs, the
// ledger, owner policy, ACL tokens, the mission clock and the event chain head.
//
// Everything here is plain data. Amounts of money are int64 micro-credits
// (1 credit = 1_000_000) so that arithmetic is exact and deterministic.
// Times are int64 Unix nanoseconds stamped by the leader, never read from a
// clock inside Apply.
package state

// Micro is the number of micro-credits in one credit.
const Micro = 1_000_000

// JobState is the lifecycle state of a job (see docs/architecture.md).
// Values are persisted: only ever append.
type JobState uint8

const (
	JobUnknown   JobState = 0
	JobQueued    JobState = 1
	JobAssigned  JobState = 2
	JobRunning   JobState = 3
	JobCompleted JobState = 4
	JobFailed    JobState = 5
	JobCancelled JobState = 6
	JobParked    JobState = 7
)

// NumJobStates bounds arrays indexed by JobState.
const NumJobStates = 8

var jobStateNames = [...]string{"unknown", "queued", "assigned", "running", "completed", "failed", "cancelled", "parked"}

func (s JobState) String() string {
	if int(s) < len(jobStateNames) {
		return jobStateNames[s]
	}
	return "invalid"
}

// ParseJobState is the inverse of String.
func ParseJobState(s string) (JobState, bool) {
	for i, n := range jobStateNames {
		if n == s && i != 0 {
			return JobState(i), true
		}
	}
	return JobUnknown, false
}

// Terminal reports whether no further transition is possible.
func (s JobState) Terminal() bool {
	return s == JobCompleted || s == JobFailed || s == JobCancelled
}

// NodeStatus is the health of a node as recorded in the FSM.
type NodeStatus uint8

const (
	NodeUnknown NodeStatus = 0
	NodeUp      NodeStatus = 1
	NodeDown    NodeStatus = 2
	NodeRetired NodeStatus = 3 // draining or gone: takes no new work
)

var nodeStatusNames = [...]string{"unknown", "up", "down", "retired"}

func (s NodeStatus) String() string {
	if int(s) < len(nodeStatusNames) {
		return nodeStatusNames[s]
	}
	return "invalid"
}

// SpilloverPolicy moves work from a shard to a sister shard.
type SpilloverPolicy struct {
	Target string `msg:"Target"`
	// Threshold: when the queue is deeper than this, up to MaxDrain jobs a
	// round are drained to Target. 0 means "only jobs nothing here can take".
	Threshold            int64    `msg:"Threshold"`
	MaxDrain             int64    `msg:"MaxDrain"`
	RequiredCapabilities []string `msg:"RequiredCapabilities"`
	Weight               int64    `msg:"Weight"`
}

// Shard is a regional job registry with its router's policy.
type Shard struct {
	Name                string            `msg:"Name"`
	DisplayName         string            `msg:"DisplayName"`
	Region              string            `msg:"Region"`
	LatencyBudgetMs     int64             `msg:"LatencyBudgetMs"`
	MaxQueue            int64             `msg:"MaxQueue"`
	QueueAlertThreshold int64             `msg:"QueueAlertThreshold"`
	SpilloverTargets    []string          `msg:"SpilloverTargets"`
	Policies            []SpilloverPolicy `msg:"Policies"`
	Paused              bool              `msg:"Paused"`
	CreatedAt           int64             `msg:"CreatedAt"`
	// SpillGraceMs: a job whose only nodes here went down less than this
	// long ago waits for them instead of spilling (0: the servers' default,
	// twice the heartbeat TTL).
	SpillGraceMs int64 `msg:"SpillGraceMs"`
	// ServiceMeanNs is the shard's recent mean service time: an
	// exponentially weighted mean (weight 1/8) of the time from assignment
	// to result of the attempts that ended on its nodes, from leader-stamped
	// times; ServiceSamples counts them. The router's wait estimate reads it.
	ServiceMeanNs  int64 `msg:"ServiceMeanNs"`
	ServiceSamples int64 `msg:"ServiceSamples"`
}

// Resources are what a node's deployment offers.
type Resources struct {
	CPUCores  float64 `msg:"CPUCores"`
	MemoryGB  float64 `msg:"MemoryGB"`
	GPUClass  string  `msg:"GPUClass"`
	GPUs      int64   `msg:"GPUs"`
	StorageGB float64 `msg:"StorageGB"`
}

// Deployment is a node's container DNA.
type Deployment struct {
	Orchestration string    `msg:"Orchestration"`
	Image         string    `msg:"Image"`
	Runtime       string    `msg:"Runtime"`
	Entrypoint    string    `msg:"Entrypoint"`
	Version       string    `msg:"Version"`
	Resources     Resources `msg:"Resources"`
	Zones         []string  `msg:"Zones"`
}

// PriceRate is a per-unit rate: Unit names a capability, a resource
// ("gpu_second", "token", "second") or a job attribute.
type PriceRate struct {
	Unit      string `msg:"Unit"`
	PerUnitMu int64  `msg:"PerUnitMu"`
}

// PriceSchedule prices a job on a node without calling the plugin:
// quote = BaseMu + sum(rate * units(job)) [+ CEL Expr result in micro-credits].
type PriceSchedule struct {
	Currency string      `msg:"Currency"`
	Unit     string      `msg:"Unit"` // "job" in the example fabric
	BaseMu   int64       `msg:"BaseMu"`
	Rates    []PriceRate `msg:"Rates"`
	Expr     string      `msg:"Expr"` // optional CEL over job attributes, evaluated by the scheduler
}

// Attestations are a node's compliance envelope.
type Attestations struct {
	Certifications []string `msg:"Certifications"`
	Jurisdiction   string   `msg:"Jurisdiction"`
	DataResidency  []string `msg:"DataResidency"`
	Tags           []string `msg:"Tags"`
}

// Node is an agent node in the marketplace.
type Node struct {
	ID                string        `msg:"ID"`
	Shard             string        `msg:"Shard"`
	Client            string        `msg:"Client"` // hosting client id; empty until claimed
	PluginKind        string        `msg:"PluginKind"`
	Capabilities      []string      `msg:"Capabilities"`
	Capacity          int64         `msg:"Capacity"` // concurrent jobs it can hold (assigned+running)
	MaxConcurrency    int64         `msg:"MaxConcurrency"`
	Quota             int64         `msg:"Quota"` // max jobs it may complete in total; 0 = unlimited
	LatencyMs         int64         `msg:"LatencyMs"`
	HeartbeatSec      int64         `msg:"HeartbeatSec"`
	Endpoint          string        `msg:"Endpoint"`
	Deployment        Deployment    `msg:"Deployment"`
	Price             PriceSchedule `msg:"Price"`
	Attestations      Attestations  `msg:"Attestations"`
	Status            NodeStatus    `msg:"Status"`
	StatusReason      string        `msg:"StatusReason"`
	RegisteredAt      int64         `msg:"RegisteredAt"`
	LastStatusAt      int64         `msg:"LastStatusAt"`
	MeasuredLatencyMs int64         `msg:"MeasuredLatencyMs"`
	Labels            []string      `msg:"Labels"`
	// PluginState is the node's plugin as its client last published it
	// (starting, up, refused, crashed, backing_off; "" before any report),
	// PluginCrashes how often it exited, PluginReason why it is not up.
	PluginState   string `msg:"PluginState"`
	PluginCrashes int64  `msg:"PluginCrashes"`
	PluginReason  string `msg:"PluginReason"`
	// PriceSource is PricePlugin while the schedule its plugin published is
	// in force (Price), "" while the mission's (or an owner's) is. The
	// plugin's wins (docs/pricing.md); DeclaredPrice then keeps the
	// mission's or owner's schedule, which a re-applied mission or an
	// owner's price update changes without displacing the plugin's.
	PriceSource   string        `msg:"PriceSource"`
	DeclaredPrice PriceSchedule `msg:"DeclaredPrice"`
	// A drain (node.drain): since when (0: not draining), until when the
	// node's jobs may finish before the leader requeues them (0: no
	// deadline) and the owner's reason. A draining node takes no new work.
	DrainSince    int64  `msg:"DrainSince"`
	DrainDeadline int64  `msg:"DrainDeadline"`
	DrainReason   string `msg:"DrainReason"`
}

// Draining reports whether the node is being drained.
func (n *Node) Draining() bool { return n.DrainSince != 0 }

//msgp:ignore NodeCondition

// NodeCondition is one condition of a node, derived from its record (never
// stored): Type names it ("ready", "draining"), Status is "true" or
// "false", Reason why, Since and Until the times it began and ends (0:
// unknown, none).
type NodeCondition struct {
	Type   string
	Status string
	Reason string
	Since  int64
	Until  int64
}

// Conditions lists the node's conditions: whether it is ready (up), and
// whatever holds it back from new work.
func (n *Node) Conditions() []NodeCondition {
	ready := NodeCondition{Type: "ready", Status: "true", Since: n.LastStatusAt}
	if n.Status != NodeUp {
		ready.Status, ready.Reason = "false", n.Status.String()
		if n.StatusReason != "" {
			ready.Reason += ": " + n.StatusReason
		}
	}
	out := []NodeCondition{ready}
	if n.Draining() {
		out = append(out, NodeCondition{Type: "draining", Status: "true", Reason: n.DrainReason, Since: n.DrainSince, Until: n.DrainDeadline})
	}
	return out
}

// RunSlots is how many jobs the node runs at once: its Capacity, or its
// MaxConcurrency when that is lower.
func (n *Node) RunSlots() int64 {
	if n.MaxConcurrency > 0 && n.MaxConcurrency < n.Capacity {
		return n.MaxConcurrency
	}
	return n.Capacity
}

// Hold is how many jobs the node may hold now (assigned and running): its
// Capacity, unless a condition holds it back from new work.
func (n *Node) Hold() int64 {
	if n.Draining() {
		return 0
	}
	return n.Capacity
}

// Schedulable reports whether the scheduler may place new work on the
// node: up, with room it may hold.
func (n *Node) Schedulable() bool { return n.Status == NodeUp && n.Hold() > 0 }

// PricePlugin is Node.PriceSource while the node's plugin's published price
// schedule overrides the mission's.
const PricePlugin = "plugin"

//msgp:tuple Job

// Job is one unit of work. Records are treated as immutable by readers:
// Apply replaces a *Job with an updated copy, so a snapshot may hold the old
// pointer while Apply continues.
type Job struct {
	Seq          uint64   `msg:"Seq"` // submit order, 1-based, assigned by the FSM
	ID           string   `msg:"ID"`
	Key          string   `msg:"Key"`   // client idempotency key
	Home         string   `msg:"Home"`  // shard it was submitted to
	Shard        string   `msg:"Shard"` // shard it is queued in / ran in
	Capabilities []string `msg:"Capabilities"`
	Priority     int64    `msg:"Priority"`
	ValueMu      int64    `msg:"ValueMu"`
	MaxPriceMu   int64    `msg:"MaxPriceMu"` // 0 = no limit
	Kind         string   `msg:"Kind"`       // payload kind for the executing agent (sim, exec, ...)
	Payload      []byte   `msg:"Payload"`    // opaque to the FSM; JSON for built-in agents
	State        JobState `msg:"State"`
	Node         string   `msg:"Node"`
	Attempt      uint32   `msg:"Attempt"`
	Hops         uint32   `msg:"Hops"`
	QuoteMu      int64    `msg:"QuoteMu"`
	ParkedReason string   `msg:"ParkedReason"`
	Output       string   `msg:"Output"` // bounded result text
	ExitCode     int64    `msg:"ExitCode"`
	Error        string   `msg:"Error"`
	SubmittedAt  int64    `msg:"SubmittedAt"`
	AssignedAt   int64    `msg:"AssignedAt"`
	FinishedAt   int64    `msg:"FinishedAt"`
	Submitter    string   `msg:"Submitter"`
	// Origin is the shard whose router placed the current attempt on a node
	// of Shard (a spill); empty when the job runs where it is queued. An
	// attempt that ends without a result goes back to Origin's queue.
	Origin string `msg:"Origin"`
	// Metering (docs/pricing.md). Units are the units the job declares it
	// expects per metered dimension, sorted by Unit. Meters are the rates of
	// the current attempt's quote that meter a declared dimension (QuoteMu
	// charges them the declared units), sorted by Unit. Usage is what the
	// completing attempt's plugin reported, sorted by Unit (nil: none).
	// SettledMu is what the completed job was paid: settled from Usage,
	// capped at QuoteMu and MaxPriceMu (see Settle).
	Units     []Quantity `msg:"Units"`
	Meters    []Meter    `msg:"Meters"`
	Usage     []Quantity `msg:"Usage"`
	SettledMu int64      `msg:"SettledMu"`
	// MaxAttempts caps the attempts of the job: at it, a retryable failure
	// or a requeue of a lost attempt fails the job. 0 (jobs submitted before
	// the field existed) leaves retryable failures to CompleteBatch's cap
	// and requeues uncapped.
	MaxAttempts uint32 `msg:"MaxAttempts"`
	// UnparkedSeq is the seq of the jobs.unparked event of the topology
	// change that last took the job from parked back to its queue (0:
	// never unparked, or unparked before the shard-level event existed).
	// A job's timeline (GET /v1/events?job=) reads it.
	UnparkedSeq uint64 `msg:"UnparkedSeq"`
}

//msgp:tuple Quantity Meter

// Meter is a per-unit rate of a node's price schedule that a quote charged
// for a dimension the job declares units of.
type Meter struct {
	Unit      string `msg:"Unit"`
	PerUnitMu int64  `msg:"PerUnitMu"`
}

// Quantity is an amount of one metered dimension in micro-units (one unit
// is 1,000,000), so that metering is integer arithmetic.
type Quantity struct {
	Unit  string `msg:"Unit"`
	Micro int64  `msg:"Micro"`
}

// Counts are per-state job counts and values.
type Counts struct {
	N       [NumJobStates]int64 `msg:"N"`
	ValueMu [NumJobStates]int64 `msg:"ValueMu"`
}

// Flow is a spillover flow between shards.
type Flow struct {
	From    string `msg:"From"`
	To      string `msg:"To"`
	Jobs    int64  `msg:"Jobs"`
	ValueMu int64  `msg:"ValueMu"`
}

// ScheduleEntry is one owner schedule entry of the applied mission.
type ScheduleEntry struct {
	ID string `msg:"ID"`
	// AtMs: fire at this mission-clock offset (milliseconds since mission start);
	// AfterCompleted: or when this many jobs have completed. One of them is set.
	AtMs           int64  `msg:"AtMs"`
	AfterCompleted int64  `msg:"AfterCompleted"`
	Note           string `msg:"Note"`
	Action         string `msg:"Action"` // e.g. "shard.pause"; see raftfsm/command
	Args           []byte `msg:"Args"`   // msgpack-encoded owner command body
}

// Policy is the owner's live policy.
type Policy struct {
	CheckpointIntervalMs int64           `msg:"CheckpointIntervalMs"`
	CheckpointPath       string          `msg:"CheckpointPath"`
	ReportingDir         string          `msg:"ReportingDir"`
	ReportingLabel       string          `msg:"ReportingLabel"`
	SystemPaused         bool            `msg:"SystemPaused"`
	CompliancePolicy     string          `msg:"CompliancePolicy"` // CEL over node attestations and job attributes
	MissionDigest        string          `msg:"MissionDigest"`
	MissionName          string          `msg:"MissionName"`
	MissionSeed          uint64          `msg:"MissionSeed"`
	MissionStart         int64           `msg:"MissionStart"`
	Fired                []string        `msg:"Fired"` // schedule entry ids fired, sorted
	Schedule             []ScheduleEntry `msg:"Schedule"`
	Skipped              []string        `msg:"Skipped"`
	OwnerCommands        int64           `msg:"OwnerCommands"`
	Pauses               int64           `msg:"Pauses"`
	// The last checkpoint recorded by CheckpointSaved.
	LastCheckpointIndex  uint64 `msg:"LastCheckpointIndex"`
	LastCheckpointTerm   uint64 `msg:"LastCheckpointTerm"`
	LastCheckpointPath   string `msg:"LastCheckpointPath"`
	LastCheckpointSHA256 string `msg:"LastCheckpointSHA256"`
	LastCheckpointAt     int64  `msg:"LastCheckpointAt"`
	// Retention of finished jobs (docs/retention.md), mission time in ms;
	// 0 (a mission applied before retention existed): the defaults.
	JobGCThresholdMs    int64 `msg:"JobGCThresholdMs"`
	JobGCIntervalMs     int64 `msg:"JobGCIntervalMs"`
	JobGCBatch          int64 `msg:"JobGCBatch"`
	IdempotencyWindowMs int64 `msg:"IdempotencyWindowMs"`
	// MaxAttempts is the mission's default attempt cap, stamped by the
	// leader into jobs submitted without one; 0: the server's default.
	MaxAttempts uint32 `msg:"MaxAttempts"`
}

// TokenType is an ACL token's power.
type TokenType uint8

const (
	TokenNone       TokenType = 0
	TokenRead       TokenType = 1
	TokenSubmit     TokenType = 2
	TokenManagement TokenType = 3
	// TokenClient is a join credential: it lets a client agent join once
	// (POST /v1/client/join) and be issued its own client identity; it
	// grants nothing else.
	TokenClient TokenType = 4
	// TokenClientIdentity is a client agent's own identity, issued when it
	// joins: Name is the client's name, and it grants the client protocol
	// routes for that client only (and reads).
	TokenClientIdentity TokenType = 5
)

var tokenTypeNames = [...]string{"none", "read", "submit", "management", "client", "client-identity"}

func (t TokenType) String() string {
	if int(t) < len(tokenTypeNames) {
		return tokenTypeNames[t]
	}
	return "invalid"
}

// Token is an ACL token; only the SHA-256 of its secret is stored.
type Token struct {
	AccessorID string    `msg:"AccessorID"`
	SecretHash string    `msg:"SecretHash"` // hex sha256 of the secret
	Type       TokenType `msg:"Type"`
	Name       string    `msg:"Name"`
	CreatedAt  int64     `msg:"CreatedAt"`
	// RevokedAt is when a client identity was revoked (0: live). A revoked
	// identity stays recorded, so its client name cannot join again.
	RevokedAt int64 `msg:"RevokedAt,omitempty"`
}

// ChainHead is the head of the event hash chain.
type ChainHead struct {
	Seq  uint64   `msg:"Seq"`
	Hash [32]byte `msg:"Hash"`
}
