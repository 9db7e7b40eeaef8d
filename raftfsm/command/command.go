// Package command defines the replicated commands of planetary's FSM.
//
// A raft log entry is one MessageType byte followed by the msgpack encoding of
// the command struct (generated codec, see zz_generated files). Types are only
// ever appended, never renumbered. A type with IgnoreUnknownFlag set may be
// skipped by an older server that does not know it.
//
// Every command carries the leader-stamped time (Unix nanoseconds); Apply never
// reads a clock. Owner commands carry Meta (who and why).
package command

// MessageType identifies a command in the raft log.
type MessageType uint8

// IgnoreUnknownFlag marks an optional command that an older FSM may skip.
const IgnoreUnknownFlag MessageType = 128

// Append new types at the end. Never renumber.
const (
	MissionApplyType        MessageType = 1
	SubmitBatchType         MessageType = 2
	AssignBatchType         MessageType = 3
	StartBatchType          MessageType = 4
	CompleteBatchType       MessageType = 5
	RequeueBatchType        MessageType = 6
	SpillBatchType          MessageType = 7
	ParkBatchType           MessageType = 8
	NodeRegisterType        MessageType = 9
	NodeUpdateType          MessageType = 10
	NodeStatusType          MessageType = 11
	NodeRetireType          MessageType = 12
	ShardRegisterType       MessageType = 13
	ShardUpdateType         MessageType = 14
	ShardDeregisterType     MessageType = 15
	PauseType               MessageType = 16
	JobCancelType           MessageType = 17
	JobRerouteType          MessageType = 18
	CheckpointConfigureType MessageType = 19
	ReportingConfigureType  MessageType = 20
	ClockAdvanceType        MessageType = 21
	ScheduleFireType        MessageType = 22
	ACLBootstrapType        MessageType = 23
	ACLTokenCreateType      MessageType = 24
	CheckpointSavedType     MessageType = 25
	NodeClaimType           MessageType = 26
	JobGCType               MessageType = 27
	ClientJoinType          MessageType = 28
	ClientRevokeType        MessageType = 29
)

// Meta says who issued an owner command and why.
type Meta struct {
	Time   int64  `msg:"Time"`
	Actor  string `msg:"Actor"` // token accessor or "schedule:<id>" or "system"
	Reason string `msg:"Reason"`
}
