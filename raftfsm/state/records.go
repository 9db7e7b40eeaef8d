package state

//go:generate msgp -file records.go -o zz_generated_records_msgp.go -tests=false

// Payment is the running total paid to one node: the sum of the quotes of the
// jobs it completed.
type Payment struct {
	Node     string `msg:"Node"`
	AmountMu int64  `msg:"AmountMu"`
}

// NamedCounts are the ledger counts of one shard or node.
type NamedCounts struct {
	Name   string `msg:"Name"`
	Counts Counts `msg:"Counts"`
}

// StoreMeta is the small bookkeeping of a Store that is not a table: the
// event chain head and the number of events emitted, the mission clock, the
// last applied raft index and whether ACL bootstrap happened.
type StoreMeta struct {
	Head            ChainHead `msg:"Head"`
	Events          uint64    `msg:"Events"`
	Clock           int64     `msg:"Clock"`
	Index           uint64    `msg:"Index"`
	ACLBootstrapped bool      `msg:"ACLBootstrapped"`
	// Topology counts topology changes (nodes and shards that could change
	// where a job fits). Park decisions carry the count they were made at;
	// a park made before a later change is stale and rejected.
	Topology uint64 `msg:"Topology"`
	// Seqs is the highest job seq ever assigned (collected jobs leave gaps,
	// so the live jobs alone do not tell it). Written into snapshots; 0 in
	// snapshots from before garbage collection.
	Seqs uint64 `msg:"Seqs"`
}

// Collected is the share of the ledger held by jobs that garbage collection
// removed: the counts and values per state (globally, per shard, per node),
// the payments and hops their records carried. The live tables stay totals
// over every job ever submitted; invariants compare them with the live
// records plus these aggregates.
type Collected struct {
	Jobs    int64         `msg:"Jobs"`
	Global  Counts        `msg:"Global"`
	Shards  []NamedCounts `msg:"Shards"` // sorted by name
	Nodes   []NamedCounts `msg:"Nodes"`  // sorted by id
	PaidMu  int64         `msg:"PaidMu"`
	Hops    int64         `msg:"Hops"`
	Batches int64         `msg:"Batches"`
	LastAt  int64         `msg:"LastAt"` // leader time of the latest collection
}

// Tomb is what stays of a collected job for the idempotency window: its id
// and key answer "collected at" and make a resubmit a duplicate until the
// tomb itself is forgotten.
type Tomb struct {
	ID          string   `msg:"ID"`
	Key         string   `msg:"Key"`
	State       JobState `msg:"State"`
	FinishedAt  int64    `msg:"FinishedAt"`
	CollectedAt int64    `msg:"CollectedAt"`
	// CollectedIndex is the raft index of the JobGC entry (0 in tombs
	// written before it was kept).
	CollectedIndex uint64 `msg:"CollectedIndex"`
}

// RegionTotals are the ledger totals one region's ledger view reports (GET
// /v1/ledger): jobs and their value by state as the global counts show them
// (collected jobs included), the value of every job submitted, the
// spillover flows between its shards and what it paid.
type RegionTotals struct {
	Counts  Counts `msg:"Counts"`
	ValueMu int64  `msg:"ValueMu"`
	// Flows are the region's spillover and reroute flows, one per (From,
	// To), sorted; FlowJobs and FlowValueMu are their sums.
	Flows       []Flow `msg:"Flows"`
	FlowJobs    int64  `msg:"FlowJobs"`
	FlowValueMu int64  `msg:"FlowValueMu"`
	PaidMu      int64  `msg:"PaidMu"`
	// HandOffs are the region's hand-offs with each other region, one
	// line per region, sorted (empty in checkpoints from before them).
	HandOffs []HandOffLine `msg:"HandOffs,omitempty"`
}

// HandOffLine is what one region's ledger holds of its hand-offs with one
// other region (docs/architecture.md, Hand-offs). Open jobs were handed to
// Region and are not closed yet: they are still on this region's books,
// counted queued in Counts. Out jobs were accepted by Region and closed
// here: they left this region's books for good. In jobs were accepted from
// Region: they are on this region's books, in Counts like any other job.
// The global ledger counts a job accepted by the target and not yet closed
// by the source once (state.GlobalLedger, Transfer).
type HandOffLine struct {
	Region      string `msg:"Region"`
	OpenJobs    int64  `msg:"OpenJobs"`
	OpenValueMu int64  `msg:"OpenValueMu"`
	OutJobs     int64  `msg:"OutJobs"`
	OutValueMu  int64  `msg:"OutValueMu"`
	InJobs      int64  `msg:"InJobs"`
	InValueMu   int64  `msg:"InValueMu"`
}

// RegionPayments sums a region's payments table: Count is its rows (the
// nodes paid), AmountMu their sum (RegionTotals.PaidMu).
type RegionPayments struct {
	Count    int64 `msg:"Count"`
	AmountMu int64 `msg:"AmountMu"`
}

// RegionCheckpoint is what one region publishes of its ledger: its totals
// at RaftIndex, with the head of its event chain and its mission clock, so
// a reader can tell how fresh the figures are and check them against the
// region's own log. Store.Checkpoint builds the local region's; the
// RegionCheckpoint command stores another region's.
type RegionCheckpoint struct {
	Region        string         `msg:"Region"`
	RaftIndex     uint64         `msg:"RaftIndex"`
	Totals        RegionTotals   `msg:"Totals"`
	Payments      RegionPayments `msg:"Payments"`
	EventCount    uint64         `msg:"EventCount"`
	ChainHead     ChainHead      `msg:"ChainHead"`
	MissionTimeNs int64          `msg:"MissionTimeNs"`
	// Shards are the shards the region holds, sorted (empty in checkpoints
	// built before they were kept).
	Shards []string `msg:"Shards,omitempty"`
	// StoredAtNs is, in a checkpoint another region stored, the time (Unix
	// ns) its leader stamped on the entry that stored it (the command's
	// Meta.Time): the freshness of the line is the age of that stamp at a
	// read. 0 in a region's own checkpoint and in checkpoints stored before
	// the stamp was kept. Apply sets it; the value a checkpoint arrives with
	// is not kept.
	StoredAtNs int64 `msg:"StoredAtNs,omitempty"`
}

// HandOffState is the fate of a hand-off at its source region. Values are
// persisted: only ever append.
type HandOffState uint8

const (
	HandOffUnknown HandOffState = 0
	// HandOffOpen: the job is out of placement, offered to the target.
	HandOffOpen HandOffState = 1
	// HandOffAccepted: the target accepted it; the job left the source.
	HandOffAccepted HandOffState = 2
	// HandOffReturned: the target refused it (or it was taken back); the
	// job is queued at the source again.
	HandOffReturned HandOffState = 3
)

var handOffStateNames = [...]string{"unknown", "open", "accepted", "returned"}

func (s HandOffState) String() string {
	if int(s) < len(handOffStateNames) {
		return handOffStateNames[s]
	}
	return "invalid"
}

// HandOffJob is what a target region needs of a handed job to recreate it:
// its submit fields and where its journey stands.
type HandOffJob struct {
	ID           string     `msg:"ID"`
	Key          string     `msg:"Key"`
	Home         string     `msg:"Home"`
	Capabilities []string   `msg:"Capabilities"`
	Priority     int64      `msg:"Priority"`
	ValueMu      int64      `msg:"ValueMu"`
	MaxPriceMu   int64      `msg:"MaxPriceMu"`
	Kind         string     `msg:"Kind"`
	Payload      []byte     `msg:"Payload"`
	Submitter    string     `msg:"Submitter"`
	Units        []Quantity `msg:"Units"`
	MaxAttempts  uint32     `msg:"MaxAttempts"`
	Attempt      uint32     `msg:"Attempt"`
	Hops         uint32     `msg:"Hops"`
	SubmittedAt  int64      `msg:"SubmittedAt"`
}

// HandOff is a hand-off as its source region records it: the job (its seq
// in the source, and what the target needs of it) moving from FromShard of
// FromRegion to ToShard of ToRegion under ID, a name no other hand-off
// ever takes. While State is HandOffOpen the job's record stays in the
// source, queued and out of placement.
type HandOff struct {
	ID         string       `msg:"ID"`
	FromRegion string       `msg:"FromRegion"`
	FromShard  string       `msg:"FromShard"`
	ToRegion   string       `msg:"ToRegion"`
	ToShard    string       `msg:"ToShard"`
	Seq        uint64       `msg:"Seq"`
	Job        HandOffJob   `msg:"Job"`
	State      HandOffState `msg:"State"`
	// Reason is the target's refusal of a returned hand-off.
	Reason   string `msg:"Reason"`
	BegunAt  int64  `msg:"BegunAt"`
	ClosedAt int64  `msg:"ClosedAt"`
}

// HandIn is a hand-off as its target region records it: accepted (the job
// was created in Shard as Job) or refused (Reason). A second delivery of
// the same ID finds it and answers the same outcome.
type HandIn struct {
	ID         string `msg:"ID"`
	FromRegion string `msg:"FromRegion"`
	FromShard  string `msg:"FromShard"`
	Shard      string `msg:"Shard"`
	Job        string `msg:"Job"`
	ValueMu    int64  `msg:"ValueMu"`
	Hops       uint32 `msg:"Hops"`
	Accepted   bool   `msg:"Accepted"`
	Reason     string `msg:"Reason"`
	At         int64  `msg:"At"`
}
