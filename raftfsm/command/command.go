// Package command defines the replicated commands of planetary's FSM.
//
// A raft log entry is one MessageType byte followed by the msgpack encoding of
// the command struct (generated codec, see zz_generated files). Types are only
// ever appended, never renumbered. A type with IgnoreUnknownFlag set may be
// skipped by an older server that does not know it.
//
// Each command type has one row in the registry (registry.go): its type
// byte, stable name, flags, arguments and constructor. Every command carries
// the leader-stamped time (Unix nanoseconds); Apply never
// reads a clock. Owner commands carry Meta (who and why).
package command

// MessageType identifies a command in the raft log.
type MessageType uint8

// IgnoreUnknownFlag marks an optional command that an older FSM may skip.
const IgnoreUnknownFlag MessageType = 128

// The MessageType constants sit with the registry's rows (registry.go).

// Meta says who issued an owner command and why.
type Meta struct {
	Time   int64  `msg:"Time"`
	Actor  string `msg:"Actor"` // token accessor or "schedule:<id>" or "system"
	Reason string `msg:"Reason"`
}
