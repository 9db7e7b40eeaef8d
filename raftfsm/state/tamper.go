package state

// Tamper edits a Store's tables without keeping them consistent. It exists so
// that tests and verification tools can show that every invariant detects the
// inconsistency it guards against. Never use it in Apply.
type Tamper struct{ s *Store }

// Tamper returns the tampering handle of s.
func (s *Store) Tamper() Tamper { return Tamper{s} }

// SetGlobal overwrites the global counts.
func (t Tamper) SetGlobal(c Counts) { t.s.global = c }

// SetShardCounts overwrites one shard's counts.
func (t Tamper) SetShardCounts(name string, c Counts) { t.s.shardCounts[name] = &c }

// SetNodeCounts overwrites one node's counts.
func (t Tamper) SetNodeCounts(id string, c Counts) { t.s.nodeCounts[id] = &c }

// ReplaceJob swaps the record with j.Seq for j without touching queues,
// active sets or counts.
func (t Tamper) ReplaceJob(j *Job) { t.s.jobs[j.Seq-1-t.s.jobBase] = j }

// AddActive puts seq in a node's active set.
func (t Tamper) AddActive(node string, seq uint64) {
	t.s.active[node] = sortedInsert(t.s.active[node], seq)
}

// SetPayment overwrites a node's payments.
func (t Tamper) SetPayment(node string, amountMu int64) { t.s.payments[node] = amountMu }

// AddFlow adds to a flow without moving any job.
func (t Tamper) AddFlow(from, to string, jobs int64) { t.s.AddFlow(from, to, jobs, 0) }

// SetEvents overwrites the number of events emitted.
func (t Tamper) SetEvents(n uint64) { t.s.meta.Events = n }

// SetCollected overwrites garbage collection's global aggregates (jobs,
// counts, payments and hops).
func (t Tamper) SetCollected(jobs int64, c Counts, paidMu, hops int64) {
	t.s.gc.jobs, t.s.gc.global, t.s.gc.paidMu, t.s.gc.hops = jobs, c, paidMu, hops
}

// SetCollectedShard overwrites one shard's collected counts.
func (t Tamper) SetCollectedShard(name string, c Counts) { t.s.gc.shards[name] = &c }

// AddTomb records a tomb without removing any job.
func (t Tamper) AddTomb(tb Tomb) { t.s.gc.addTomb(tb) }

// DropHandOffHold forgets that an open hand-off holds the job of seq,
// leaving the job queued in no queue.
func (t Tamper) DropHandOffHold(seq uint64) { delete(t.s.ho.inFlight, seq) }

// SetHandOffLine overwrites the hand-off line of one region.
func (t Tamper) SetHandOffLine(l HandOffLine) { t.s.ho.lines[l.Region] = &l }
