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
}
