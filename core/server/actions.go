package server

import "github.com/planetary/planetary/raftfsm/command"

// ActionType maps an owner schedule action name (ScheduleEntry.Action, as
// core/mission spells it) to the command it becomes, from the command
// registry (command.ByAction). The entry's Args are the msgpack body of that
// command. checkpoint.save is special: the leader takes the checkpoint when
// the entry fires and sends the CheckpointSaved record it produced.
func ActionType(action string) (command.MessageType, bool) {
	s, ok := command.ByAction(action)
	return s.Type, ok
}
