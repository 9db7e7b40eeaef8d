package command

import "github.com/tinylib/msgp/msgp"

// MessageType values, one per registry row. Append new types at the end,
// with their rows. Never renumber.
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
	NodeDrainType           MessageType = 30
	RegionCheckpointType    MessageType = 31
	HandOffBeginType        MessageType = 32
	HandOffAcceptType       MessageType = 33
	HandOffCloseType        MessageType = 34
)

// Command is a replicated command struct: every row of the registry builds
// one, and the generated codec encodes and decodes it.
type Command interface {
	msgp.Marshaler
	msgp.Unmarshaler
	msgp.Sizer
}

// Spec is one row of the command registry: everything the rest of planetary
// needs to know about a command type, in one place. The codec (New, Decode),
// the FSM's handler table, the owner schedule (which actions a schedule entry
// may run), the owner-command ledger and the event vocabulary read it.
type Spec struct {
	// Type is the type byte in the raft log; never renumbered.
	Type MessageType
	// Name is the command's stable name (e.g. "node.retire"): the event
	// vocabulary of owner commands, logs and reports use it.
	Name string
	// Owner marks a command an owner issues (a token holder through the
	// API, or a schedule entry). Owner events carry Name and the command's
	// arguments (state.Event.Command, Args).
	Owner bool
	// Schedulable marks a command a ScheduleFire may carry (the FSM refuses
	// any other Action).
	Schedulable bool
	// Actions are the owner-schedule action names that become this command
	// (as core/mission spells them); a command with none cannot be
	// scheduled by name.
	Actions []string
	// Fields are the field-mask names the command's Fields may hold
	// (NodeUpdate, ShardUpdate).
	Fields []string
	// New returns a zero command struct.
	New func() Command
	// Version is the format version that introduced the command (see
	// FormatVersion); 0 in a row means 1. A server applies an entry only of
	// a version it knows, and a leader proposes one only once every server
	// in the raft configuration reports a version at least this.
	Version uint16
	// Synopsis, Help and Params describe an owner command whose arguments
	// its struct declares (see params.go); empty on other rows.
	Synopsis string
	Help     string
	Params   []Param
}

// FormatVersion is the highest format version of the raft log this build
// knows: the highest Version of its registry rows. Each version adds
// command types (a new field of an existing command keeps its version: it
// decodes as zero on an older server, see docs/architecture.md). Never
// change a row's version once it shipped.
//
//	1: every command type up to JobGC (27).
//	2: client identities: ClientJoin (28), ClientRevoke (29).
//	3: NodeDrain (30); regional sovereignty: RegionCheckpoint (31).
//	4: cross-region hand-offs: HandOffBegin (32), HandOffAccept (33),
//	   HandOffClose (34).
const FormatVersion uint16 = 4

// VersionOf is the format version of command type t: its row's Version, or
// 0 when this build has no row for t (a type of a version it does not
// know).
func VersionOf(t MessageType) uint16 {
	s := table[t]
	if s == nil {
		return 0
	}
	return max(s.Version, 1)
}

// Field-mask names of NodeUpdate.Fields.
const (
	NodeCapacity       = "capacity"
	NodeMaxConcurrency = "max_concurrency"
	NodeQuota          = "quota"
	NodePrice          = "price"
	NodePluginPrice    = "plugin_price"
	NodeDeployment     = "deployment"
	NodeAttestations   = "attestations"
	NodeCapabilities   = "capabilities"
	NodeLatencyMs      = "latency_ms"
	NodeLabels         = "labels"
	NodeEndpoint       = "endpoint"
	NodeHeartbeatSec   = "heartbeat_sec"
	NodePluginKind     = "plugin_kind"
	NodePluginState    = "plugin_state"
)

// NodeOwnerFields are the NodeUpdate fields an owner sets by scalar value
// (a mission's node.update attributes, the CLI's node update flags), in
// the order they are documented.
var NodeOwnerFields = []string{NodeCapacity, NodeMaxConcurrency, NodeQuota, NodeLatencyMs, NodeCapabilities, NodeLabels, NodeEndpoint}

// Field-mask names of ShardUpdate.Fields.
const (
	ShardLatencyBudgetMs     = "latency_budget_ms"
	ShardMaxQueue            = "max_queue"
	ShardQueueAlertThreshold = "queue_alert_threshold"
	ShardSpilloverTargets    = "spillover_targets"
	ShardPolicies            = "policies"
	ShardDisplayName         = "display_name"
	ShardRegion              = "region"
	ShardSpillGraceMs        = "spill_grace_ms"
)

// ShardOwnerFields are the ShardUpdate fields an owner sets by scalar value
// (a mission's shard.update attributes), in the order they are documented.
var ShardOwnerFields = []string{ShardDisplayName, ShardLatencyBudgetMs, ShardMaxQueue, ShardQueueAlertThreshold, ShardSpilloverTargets}

// Owner-schedule action names (core/mission's spelling) of commands whose
// action is not their Name.
const (
	ActionSystemPause    = "system.pause"
	ActionSystemResume   = "system.resume"
	ActionShardPause     = "shard.pause"
	ActionShardResume    = "shard.resume"
	ActionCheckpointSave = "checkpoint.save"
)

func row[T any, PT interface {
	*T
	Command
}](t MessageType, name string) Spec {
	return Spec{Type: t, Name: name, New: func() Command { return PT(new(T)) }}
}

// owner marks a row as an owner command, schedulable under its name and
// the given extra action names.
func (s Spec) owner(actions ...string) Spec {
	s.Owner, s.Schedulable = true, true
	if len(actions) == 0 {
		actions = []string{s.Name}
	}
	s.Actions = actions
	return s
}

// since sets the format version that introduced the command.
func (s Spec) since(v uint16) Spec {
	s.Version = v
	return s
}

func (s Spec) fields(f ...string) Spec {
	s.Fields = f
	return s
}

// registry is the table, one row per MessageType, in type order. Append new
// rows with their new types at the end; a new type takes a new format
// version (.since(FormatVersion+1), and FormatVersion moves to it) unless
// it is released with others of the version not yet shipped.
func registry() []Spec {
	return []Spec{
		row[MissionApply](MissionApplyType, "mission.apply"),
		row[SubmitBatch](SubmitBatchType, "job.submit"),
		row[AssignBatch](AssignBatchType, "job.assign"),
		row[StartBatch](StartBatchType, "job.start"),
		row[CompleteBatch](CompleteBatchType, "job.complete"),
		row[RequeueBatch](RequeueBatchType, "job.requeue"),
		row[SpillBatch](SpillBatchType, "job.spill"),
		row[ParkBatch](ParkBatchType, "job.park"),
		row[NodeRegister](NodeRegisterType, "node.register").owner(),
		row[NodeUpdate](NodeUpdateType, "node.update").owner().fields(NodeCapacity, NodeMaxConcurrency, NodeQuota,
			NodePrice, NodePluginPrice, NodeDeployment, NodeAttestations, NodeCapabilities, NodeLatencyMs, NodeLabels,
			NodeEndpoint, NodeHeartbeatSec, NodePluginKind, NodePluginState),
		// A schedule entry may carry a status change (no action name
		// spells it); the leader and clients issue it otherwise.
		{Type: NodeStatusType, Name: "node.status", Schedulable: true, New: func() Command { return &NodeStatusChange{} }},
		row[NodeRetire](NodeRetireType, "node.retire").owner(),
		row[ShardRegister](ShardRegisterType, "shard.register").owner(),
		row[ShardUpdate](ShardUpdateType, "shard.update").owner().fields(ShardLatencyBudgetMs, ShardMaxQueue,
			ShardQueueAlertThreshold, ShardSpilloverTargets, ShardPolicies, ShardDisplayName, ShardRegion, ShardSpillGraceMs),
		row[ShardDeregister](ShardDeregisterType, "shard.deregister").owner(),
		row[Pause](PauseType, "pause").owner(ActionSystemPause, ActionSystemResume, ActionShardPause, ActionShardResume),
		row[JobCancel](JobCancelType, "job.cancel").owner(),
		row[JobReroute](JobRerouteType, "job.reroute").owner(),
		row[CheckpointConfigure](CheckpointConfigureType, "checkpoint.configure").owner(),
		row[ReportingConfigure](ReportingConfigureType, "reporting.configure").owner(),
		row[ClockAdvance](ClockAdvanceType, "clock.advance"),
		row[ScheduleFire](ScheduleFireType, "schedule.fire"),
		row[ACLBootstrap](ACLBootstrapType, "acl.bootstrap"),
		row[ACLTokenCreate](ACLTokenCreateType, "acl.token_create"),
		// A scheduled checkpoint.save is the leader's: it takes the
		// checkpoint, records it as this command, then fires the entry
		// with no action, so the FSM does not schedule it itself.
		{Type: CheckpointSavedType, Name: "checkpoint.save", Owner: true, Actions: []string{ActionCheckpointSave},
			New: func() Command { return &CheckpointSaved{} }},
		row[NodeClaim](NodeClaimType, "node.claim"),
		row[JobGC](JobGCType, "job.gc"),
		row[ClientJoin](ClientJoinType, "client.join").since(2),
		row[ClientRevoke](ClientRevokeType, "client.revoke").since(2),
		row[NodeDrain](NodeDrainType, "node.drain").owner().since(3).described("Drain a node",
			`Drains a node: it takes no new work, and its assigned and running jobs
			finish there. With -deadline, what is still active that long after the
			drain began is requeued on its shard; -force requeues it now. The node
			stays out of placement until -disable ends the drain.`),
		row[RegionCheckpoint](RegionCheckpointType, "region.checkpoint").since(3),
		row[HandOffBegin](HandOffBeginType, "handoff.begin").since(4),
		row[HandOffAccept](HandOffAcceptType, "handoff.accept").since(4),
		row[HandOffClose](HandOffCloseType, "handoff.close").since(4),
	}
}

// table indexes the registry by type byte; built once, never changed.
var table = func() (t [256]*Spec) {
	for _, s := range registry() {
		if t[s.Type] != nil {
			panic("command: two registry rows for type " + s.Name)
		}
		s := s
		t[s.Type] = &s
	}
	return t
}()

// Specs returns the registry's rows in type order.
func Specs() []Spec {
	var out []Spec
	for _, s := range table {
		if s != nil {
			out = append(out, *s)
		}
	}
	return out
}

// Lookup returns the row of type t.
func Lookup(t MessageType) (Spec, bool) {
	if s := table[t]; s != nil {
		return *s, true
	}
	return Spec{}, false
}

// ByName returns the row of the command named name.
func ByName(name string) (Spec, bool) {
	for _, s := range table {
		if s != nil && s.Name == name {
			return *s, true
		}
	}
	return Spec{}, false
}

// ByAction returns the row of the command an owner-schedule action name
// becomes (e.g. "shard.pause" is Pause).
func ByAction(action string) (Spec, bool) {
	for _, s := range table {
		if s == nil {
			continue
		}
		for _, a := range s.Actions {
			if a == action {
				return *s, true
			}
		}
	}
	return Spec{}, false
}

// Actions lists every owner-schedule action name, in registry order.
func Actions() []string {
	var out []string
	for _, s := range table {
		if s != nil {
			out = append(out, s.Actions...)
		}
	}
	return out
}

// HasField reports whether f is a field-mask name of the command.
func (s Spec) HasField(f string) bool {
	for _, x := range s.Fields {
		if x == f {
			return true
		}
	}
	return false
}
