package state

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Event types. Every state change of a record in the FSM yields one event
// (a batch of like changes of one shard may share one, e.g. jobs.unparked).
// Strings are persisted in the event log: only ever add new ones.
const (
	EvMissionApplied       = "mission.applied"
	EvJobSubmitted         = "job.submitted"
	EvJobAssigned          = "job.assigned"
	EvJobStarted           = "job.started"
	EvJobCompleted         = "job.completed"
	EvJobFailed            = "job.failed"
	EvJobRequeued          = "job.requeued"
	EvJobSpilled           = "job.spilled"
	EvJobRerouted          = "job.rerouted"
	EvJobParked            = "job.parked"
	EvJobUnparked          = "job.unparked"
	EvJobCancelled         = "job.cancelled"
	EvNodeRegistered       = "node.registered"
	EvNodeUpdated          = "node.updated"
	EvNodeUp               = "node.up"
	EvNodeDown             = "node.down"
	EvNodeRetired          = "node.retired"
	EvShardRegistered      = "shard.registered"
	EvShardUpdated         = "shard.updated"
	EvShardDeregistered    = "shard.deregistered"
	EvShardPaused          = "shard.paused"
	EvShardResumed         = "shard.resumed"
	EvSystemPaused         = "system.paused"
	EvSystemResumed        = "system.resumed"
	EvCheckpointConfigured = "checkpoint.configured"
	EvCheckpointSaved      = "checkpoint.saved"
	EvReportingConfigured  = "reporting.configured"
	EvScheduleFired        = "schedule.fired"
	EvScheduleSkipped      = "schedule.skipped"
	EvACLBootstrapped      = "acl.bootstrapped"
	EvACLTokenCreated      = "acl.token_created"
	// EvJobsCollected: one per garbage collection batch; Detail says how
	// many jobs and tombs, and the first and last job id.
	EvJobsCollected = "jobs.collected"
	// EvJobsUnparked: one per shard at a topology change that re-queues
	// parked jobs (instead of one job.unparked per job, which entries
	// written before it still hold): Shard, ValueMu the sum of their
	// values, Detail "N jobs unparked, topology T". Each such job's
	// record keeps the event's seq (Job.UnparkedSeq).
	EvJobsUnparked  = "jobs.unparked"
	EvClientJoined  = "acl.client_joined"
	EvClientRevoked = "acl.client_revoked"
	// Hand-offs between regions (docs/architecture.md, Hand-offs). At the
	// source: EvJobHandedOff when a job leaves placement into an open
	// hand-off (Shard its shard, To the target shard, Detail the hand-off
	// id and target region), EvJobHandOffAccepted when the target's accept
	// closes it (the job leaves the region's books; From and To the flow),
	// EvJobHandOffReturned when the target's refusal closes it (the job is
	// queued in Shard again; Reason the refusal). At the target:
	// EvJobHandedIn when the job is created in Shard (From the source
	// shard), EvJobHandOffRefused when it is refused (Reason).
	EvJobHandedOff       = "job.handed_off"
	EvJobHandOffAccepted = "job.handoff_accepted"
	EvJobHandOffReturned = "job.handoff_returned"
	EvJobHandedIn        = "job.handed_in"
	EvJobHandOffRefused  = "job.handoff_refused"
)

// Event is one entry of the hash-chained event log. Fields that do not apply
// to a type are zero. Hash = sha256(Prev || canonical(fields)).
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
	// Command and Args are set on the first event of an owner command:
	// its registry name (command.Spec.Name, e.g. "node.drain") and its
	// arguments, the command struct as compact JSON without its Meta
	// (a string, so an Event stays comparable and converts to the API's).
	Command string `json:"command,omitempty"`
	Args    string `json:"args,omitempty"`
	Prev    string `json:"prev"` // hex
	Hash    string `json:"hash"` // hex
}

// ComputeHash returns the chain hash of e given the previous hash. It reads
// every field except Prev and Hash, in a fixed order with length prefixes, so
// the result is the same on every replica and in offline verification:
// sha256(prev || seq || index || time || type || job || attempt || shard ||
// from || to || node || value_mu || amount_mu || actor || reason || detail
// [|| command || args]), integers as 8-byte big-endian, strings as their
// 8-byte length then bytes. Command and args enter only when one is set, so
// events written before they existed keep their hashes.
func (e *Event) ComputeHash(prev [32]byte) [32]byte {
	var b [512]byte
	return sha256.Sum256(e.appendCanonical(b[:0], prev))
}

func (e *Event) appendCanonical(b []byte, prev [32]byte) []byte {
	s := func(b []byte, v string) []byte {
		b = binary.BigEndian.AppendUint64(b, uint64(len(v)))
		return append(b, v...)
	}
	b = append(b, prev[:]...)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, e.Index)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time))
	b = s(b, e.Type)
	b = s(b, e.Job)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Attempt))
	b = s(b, e.Shard)
	b = s(b, e.From)
	b = s(b, e.To)
	b = s(b, e.Node)
	b = binary.BigEndian.AppendUint64(b, uint64(e.ValueMu))
	b = binary.BigEndian.AppendUint64(b, uint64(e.AmountMu))
	b = s(b, e.Actor)
	b = s(b, e.Reason)
	b = s(b, e.Detail)
	if e.Command != "" || e.Args != "" {
		b = s(b, e.Command)
		b = s(b, e.Args)
	}
	return b
}

// Seal sets Prev and Hash from the previous head and returns the new head.
func (e *Event) Seal(prev ChainHead) ChainHead {
	return e.SealAfter(prev, "")
}

// SealAfter is Seal for a caller that kept the previous event's Hash:
// prevHex, when not empty, must be hex(prev.Hash) and becomes Prev without
// a fresh encoding. Only Hash is allocated.
func (e *Event) SealAfter(prev ChainHead, prevHex string) ChainHead {
	e.Seq = prev.Seq + 1
	hsh := e.ComputeHash(prev.Hash)
	if prevHex == "" {
		prevHex = hexString(&prev.Hash)
	}
	e.Prev = prevHex
	e.Hash = hexString(&hsh)
	return ChainHead{Seq: e.Seq, Hash: hsh}
}

func hexString(h *[32]byte) string {
	var out [64]byte
	hex.Encode(out[:], h[:])
	return string(out[:])
}
