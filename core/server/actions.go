package server

import "github.com/planetary/planetary/raftfsm/command"

// ActionType maps an owner schedule action name (ScheduleEntry.Action, as
// core/mission spells it) to the command it becomes. The entry's Args are
// the msgpack body of that command. checkpoint.save is special: the leader
// takes the checkpoint when the entry fires and sends the CheckpointSaved
// record it produced.
func ActionType(action string) (command.MessageType, bool) {
	switch action {
	case "system.pause", "system.resume", "shard.pause", "shard.resume":
		return command.PauseType, true
	case "shard.register":
		return command.ShardRegisterType, true
	case "shard.deregister":
		return command.ShardDeregisterType, true
	case "shard.update":
		return command.ShardUpdateType, true
	case "node.register":
		return command.NodeRegisterType, true
	case "node.retire":
		return command.NodeRetireType, true
	case "node.update":
		return command.NodeUpdateType, true
	case "job.cancel":
		return command.JobCancelType, true
	case "job.reroute":
		return command.JobRerouteType, true
	case "checkpoint.save":
		return command.CheckpointSavedType, true
	case "checkpoint.configure":
		return command.CheckpointConfigureType, true
	case "reporting.configure":
		return command.ReportingConfigureType, true
	}
	return 0, false
}
