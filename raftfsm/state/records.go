package state

//go:generate msgp -file records.go -o zz_generated_records_msgp.go -tests=false

// Payment is the running total paid to one node: the sum of the quotes of the
// jobs it completed.
type Payment struct {
	Node     string
	AmountMu int64
}

// NamedCounts are the ledger counts of one shard or node.
type NamedCounts struct {
	Name   string
	Counts Counts
}

// StoreMeta is the small bookkeeping of a Store that is not a table: the
// event chain head and the number of events emitted, the mission clock, the
// last applied raft index and whether ACL bootstrap happened.
type StoreMeta struct {
	Head            ChainHead
	Events          uint64
	Clock           int64
	Index           uint64
	ACLBootstrapped bool
	// Topology counts topology changes (nodes and shards that could change
	// where a job fits). Park decisions carry the count they were made at;
	// a park made before a later change is stale and rejected.
	Topology uint64
	// Seqs is the highest job seq ever assigned (collected jobs leave gaps,
	// so the live jobs alone do not tell it). Written into snapshots; 0 in
	// snapshots from before garbage collection.
	Seqs uint64
}

// Collected is the share of the ledger held by jobs that garbage collection
// removed: the counts and values per state (globally, per shard, per node),
// the payments and hops their records carried. The live tables stay totals
// over every job ever submitted; invariants compare them with the live
// records plus these aggregates.
type Collected struct {
	Jobs    int64
	Global  Counts
	Shards  []NamedCounts // sorted by name
	Nodes   []NamedCounts // sorted by id
	PaidMu  int64
	Hops    int64
	Batches int64
	LastAt  int64 // leader time of the latest collection
}

// Tomb is what stays of a collected job for the idempotency window: its id
// and key answer "collected at" and make a resubmit a duplicate until the
// tomb itself is forgotten.
type Tomb struct {
	ID          string
	Key         string
	State       JobState
	FinishedAt  int64
	CollectedAt int64
	// CollectedIndex is the raft index of the JobGC entry (0 in tombs
	// written before it was kept).
	CollectedIndex uint64
}
