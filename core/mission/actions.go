package mission

import (
	"fmt"

	"github.com/planetary/planetary/raftfsm/command"
)

// Schedule action names (the owner commands).
const (
	ActSystemPause         = "system.pause"
	ActSystemResume        = "system.resume"
	ActShardPause          = "shard.pause"
	ActShardResume         = "shard.resume"
	ActShardRegister       = "shard.register"
	ActShardDeregister     = "shard.deregister"
	ActShardUpdate         = "shard.update"
	ActNodeRegister        = "node.register"
	ActNodeRetire          = "node.retire"
	ActNodeUpdate          = "node.update"
	ActJobCancel           = "job.cancel"
	ActJobReroute          = "job.reroute"
	ActCheckpointSave      = "checkpoint.save"
	ActCheckpointConfigure = "checkpoint.configure"
	ActReportingConfigure  = "reporting.configure"
)

// OwnerAction is the typed argument set of one schedule action.
type OwnerAction interface {
	// Action is the action name, e.g. "shard.pause".
	Action() string
	// Command returns the raft command the action becomes, with meta filled
	// in. checkpoint.save returns a CheckpointSaved whose Index, Term, Path
	// and SHA256 the checkpoint loop fills after taking the snapshot.
	Command(meta command.Meta) (command.MessageType, any)
}

// PauseAction is system.pause/resume (Shard empty) or shard.pause/resume.
type PauseAction struct {
	Shard  string `json:"shard"`
	Paused bool   `json:"paused"`
}

// ShardRegisterAction is shard.register.
type ShardRegisterAction struct {
	Shard Shard `json:"shard"`
}

// ShardDeregisterAction is shard.deregister.
type ShardDeregisterAction struct {
	Shard  string `json:"shard"`
	Mode   string `json:"mode"` // "spillover" or "cancel"
	Target string `json:"target"`
}

// ShardUpdateAction is shard.update: Fields names what changes (as in
// command.ShardUpdate; spillover blocks are the "policies" field).
type ShardUpdateAction struct {
	Shard  string   `json:"shard"`
	Fields []string `json:"fields"`
	Values Shard    `json:"values"`
}

// NodeRegisterAction is node.register.
type NodeRegisterAction struct {
	Node Node `json:"node"`
}

// NodeRetireAction is node.retire.
type NodeRetireAction struct {
	Node    string `json:"node"`
	Requeue bool   `json:"requeue"`
}

// NodeUpdateAction is node.update: Fields names what changes (as in
// command.NodeUpdate).
type NodeUpdateAction struct {
	Node   string   `json:"node"`
	Fields []string `json:"fields"`
	Values Node     `json:"values"`
}

// Locator picks jobs from the tail of a shard queue.
type Locator struct {
	Shard    string `json:"shard"`
	Tail     int64  `json:"tail"`
	Offset   int64  `json:"offset"`
	InFlight bool   `json:"in_flight"`
}

// JobAction is job.cancel or job.reroute (Target set).
type JobAction struct {
	Reroute bool     `json:"reroute"`
	IDs     []string `json:"ids"`
	Locator *Locator `json:"locator"`
	Target  string   `json:"target"`
}

// CheckpointSaveAction is checkpoint.save.
type CheckpointSaveAction struct{}

// CheckpointConfigureAction is checkpoint.configure; zero fields are unchanged.
type CheckpointConfigureAction struct {
	IntervalMs int64  `json:"interval_ms"`
	Path       string `json:"path"`
}

// ReportingConfigureAction is reporting.configure; empty fields are unchanged.
type ReportingConfigureAction struct {
	Dir   string `json:"dir"`
	Label string `json:"label"`
}

// Action implements OwnerAction.
func (a *PauseAction) Action() string {
	switch {
	case a.Shard == "" && a.Paused:
		return ActSystemPause
	case a.Shard == "":
		return ActSystemResume
	case a.Paused:
		return ActShardPause
	}
	return ActShardResume
}

// Command implements OwnerAction.
func (a *PauseAction) Command(m command.Meta) (command.MessageType, any) {
	return command.PauseType, &command.Pause{Meta: m, Shard: a.Shard, Paused: a.Paused}
}

// Action implements OwnerAction.
func (a *ShardRegisterAction) Action() string { return ActShardRegister }

// Command implements OwnerAction.
func (a *ShardRegisterAction) Command(m command.Meta) (command.MessageType, any) {
	return command.ShardRegisterType, &command.ShardRegister{Meta: m, Shard: a.Shard.Record()}
}

// Action implements OwnerAction.
func (a *ShardDeregisterAction) Action() string { return ActShardDeregister }

// Command implements OwnerAction.
func (a *ShardDeregisterAction) Command(m command.Meta) (command.MessageType, any) {
	return command.ShardDeregisterType, &command.ShardDeregister{Meta: m, Name: a.Shard, SpillTo: a.Target, Cancel: a.Mode == "cancel"}
}

// Action implements OwnerAction.
func (a *ShardUpdateAction) Action() string { return ActShardUpdate }

// Command implements OwnerAction.
func (a *ShardUpdateAction) Command(m command.Meta) (command.MessageType, any) {
	rec := a.Values.Record()
	rec.Name = a.Shard
	return command.ShardUpdateType, &command.ShardUpdate{Meta: m, Name: a.Shard, Fields: append([]string(nil), a.Fields...), Shard: rec}
}

// Action implements OwnerAction.
func (a *NodeRegisterAction) Action() string { return ActNodeRegister }

// Command implements OwnerAction.
func (a *NodeRegisterAction) Command(m command.Meta) (command.MessageType, any) {
	return command.NodeRegisterType, &command.NodeRegister{Meta: m, Node: a.Node.Record()}
}

// Action implements OwnerAction.
func (a *NodeRetireAction) Action() string { return ActNodeRetire }

// Command implements OwnerAction.
func (a *NodeRetireAction) Command(m command.Meta) (command.MessageType, any) {
	return command.NodeRetireType, &command.NodeRetire{Meta: m, ID: a.Node, Requeue: a.Requeue}
}

// Action implements OwnerAction.
func (a *NodeUpdateAction) Action() string { return ActNodeUpdate }

// Command implements OwnerAction.
func (a *NodeUpdateAction) Command(m command.Meta) (command.MessageType, any) {
	rec := a.Values.Record()
	rec.ID = a.Node
	return command.NodeUpdateType, &command.NodeUpdate{Meta: m, ID: a.Node, Fields: append([]string(nil), a.Fields...), Node: rec}
}

// Action implements OwnerAction.
func (a *JobAction) Action() string {
	if a.Reroute {
		return ActJobReroute
	}
	return ActJobCancel
}

// Command implements OwnerAction.
func (a *JobAction) Command(m command.Meta) (command.MessageType, any) {
	var loc *command.Locator
	if a.Locator != nil {
		loc = &command.Locator{Shard: a.Locator.Shard, Tail: a.Locator.Tail, Offset: a.Locator.Offset, InFlight: a.Locator.InFlight}
	}
	ids := append([]string(nil), a.IDs...)
	if a.Reroute {
		return command.JobRerouteType, &command.JobReroute{Meta: m, IDs: ids, Locator: loc, Target: a.Target}
	}
	return command.JobCancelType, &command.JobCancel{Meta: m, IDs: ids, Locator: loc}
}

// Action implements OwnerAction.
func (a *CheckpointSaveAction) Action() string { return ActCheckpointSave }

// Command implements OwnerAction.
func (a *CheckpointSaveAction) Command(m command.Meta) (command.MessageType, any) {
	return command.CheckpointSavedType, &command.CheckpointSaved{Meta: m}
}

// Action implements OwnerAction.
func (a *CheckpointConfigureAction) Action() string { return ActCheckpointConfigure }

// Command implements OwnerAction.
func (a *CheckpointConfigureAction) Command(m command.Meta) (command.MessageType, any) {
	return command.CheckpointConfigureType, &command.CheckpointConfigure{Meta: m, IntervalMs: a.IntervalMs, Path: a.Path}
}

// Action implements OwnerAction.
func (a *ReportingConfigureAction) Action() string { return ActReportingConfigure }

// Command implements OwnerAction.
func (a *ReportingConfigureAction) Command(m command.Meta) (command.MessageType, any) {
	return command.ReportingConfigureType, &command.ReportingConfigure{Meta: m, Dir: a.Dir, Label: a.Label}
}

var (
	_ OwnerAction = (*PauseAction)(nil)
	_ OwnerAction = (*ShardRegisterAction)(nil)
	_ OwnerAction = (*ShardDeregisterAction)(nil)
	_ OwnerAction = (*ShardUpdateAction)(nil)
	_ OwnerAction = (*NodeRegisterAction)(nil)
	_ OwnerAction = (*NodeRetireAction)(nil)
	_ OwnerAction = (*NodeUpdateAction)(nil)
	_ OwnerAction = (*JobAction)(nil)
	_ OwnerAction = (*CheckpointSaveAction)(nil)
	_ OwnerAction = (*CheckpointConfigureAction)(nil)
	_ OwnerAction = (*ReportingConfigureAction)(nil)
)

// WritePath is a filesystem path a mission makes the agent write to, with
// the field that names it.
type WritePath struct {
	Field, Path string
}

// WritePaths lists every path the mission writes to: the checkpoint path,
// the report directory and those of its schedule entries
// (checkpoint.configure, reporting.configure). A server checks each against
// its allowed roots before applying the mission.
func (m *Mission) WritePaths() []WritePath {
	var out []WritePath
	if m.Checkpoint.Path != "" {
		out = append(out, WritePath{"checkpoint.path", m.Checkpoint.Path})
	}
	if m.Reporting.Dir != "" {
		out = append(out, WritePath{"reporting.directory", m.Reporting.Dir})
	}
	for _, e := range m.Schedule {
		switch a := e.Args.(type) {
		case *CheckpointConfigureAction:
			if a.Path != "" {
				out = append(out, WritePath{fmt.Sprintf("schedule.%s.path", e.ID), a.Path})
			}
		case *ReportingConfigureAction:
			if a.Dir != "" {
				out = append(out, WritePath{fmt.Sprintf("schedule.%s.directory", e.ID), a.Dir})
			}
		}
	}
	return out
}
