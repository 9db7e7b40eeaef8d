package state

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Event types. Every state change in the FSM yields exactly one event.
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
	Prev     string `json:"prev"` // hex
	Hash     string `json:"hash"` // hex
}

// ComputeHash returns the chain hash of e given the previous hash. It reads
// every field except Prev and Hash, in a fixed order with length prefixes, so
// the result is the same on every replica and in offline verification.
func (e *Event) ComputeHash(prev [32]byte) [32]byte {
	h := sha256.New()
	var buf [8]byte
	u := func(v uint64) {
		binary.BigEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	s := func(v string) {
		u(uint64(len(v)))
		h.Write([]byte(v))
	}
	h.Write(prev[:])
	u(e.Seq)
	u(e.Index)
	u(uint64(e.Time))
	s(e.Type)
	s(e.Job)
	u(uint64(e.Attempt))
	s(e.Shard)
	s(e.From)
	s(e.To)
	s(e.Node)
	u(uint64(e.ValueMu))
	u(uint64(e.AmountMu))
	s(e.Actor)
	s(e.Reason)
	s(e.Detail)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Seal sets Prev and Hash from the previous head and returns the new head.
func (e *Event) Seal(prev ChainHead) ChainHead {
	e.Seq = prev.Seq + 1
	hsh := e.ComputeHash(prev.Hash)
	e.Prev = hex.EncodeToString(prev.Hash[:])
	e.Hash = hex.EncodeToString(hsh[:])
	return ChainHead{Seq: e.Seq, Hash: hsh}
}
