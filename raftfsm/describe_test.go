package raftfsm_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/fsmtest"
	"github.com/planetary/planetary/raftfsm/state"
	"github.com/tinylib/msgp/msgp"
)

// TestOwnerEventsCarryCommand checks that the first event of an owner
// command carries the command's registry name and its arguments (without
// Meta), the later events of the same entry and leader decisions neither,
// and that a command fired by a schedule entry is described on its own
// first event.
func TestOwnerEventsCarryCommand(t *testing.T) {
	pauseBody, _ := command.EncodeBody(&command.Pause{Meta: command.Meta{Actor: "x"}, Shard: "eu", Paused: true})
	cases := []struct {
		name    string
		typ     command.MessageType
		msg     msgp.Marshaler
		want    string // command of the first described event
		args    command.Command
		wantArg command.Command
	}{
		{"retire", command.NodeRetireType, &command.NodeRetire{Meta: command.Meta{Time: 5, Actor: "mgmt", Reason: "r"}, ID: "b", Requeue: true},
			"node.retire", &command.NodeRetire{}, &command.NodeRetire{ID: "b", Requeue: true}},
		{"cancel", command.JobCancelType, &command.JobCancel{Meta: command.Meta{Time: 5, Actor: "mgmt"}, Locator: &command.Locator{Shard: "eu", Tail: 2}},
			"job.cancel", &command.JobCancel{}, &command.JobCancel{Locator: &command.Locator{Shard: "eu", Tail: 2}}},
		{"scheduled pause", command.ScheduleFireType, &command.ScheduleFire{Meta: command.Meta{Time: 5, Actor: "leader"}, EntryID: "e1", Action: command.PauseType, Body: pauseBody},
			"pause", &command.Pause{}, &command.Pause{Shard: "eu", Paused: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := &recordingSink{}
			a := &fsmtest.Applier{FSM: raftfsm.New(raftfsm.Config{Events: sink})}
			mustApply(t, a, command.MissionApplyType, &command.MissionApply{Meta: command.Meta{Time: 1}, Name: "m", Digest: "d",
				Shards: []state.Shard{{Name: "eu"}}, Nodes: []state.Node{{ID: "b", Shard: "eu", Capacity: 5}}})
			mustApply(t, a, command.SubmitBatchType, &command.SubmitBatch{Time: 2, Jobs: []command.JobSubmit{{ID: "j1", Shard: "eu"}, {ID: "j2", Shard: "eu"}}})
			sink.evs = nil
			mustApply(t, a, tc.typ, tc.msg)
			var described []state.Event
			for _, e := range sink.evs {
				if e.Command != "" {
					described = append(described, e)
				}
			}
			if len(described) != 1 || described[0].Command != tc.want {
				t.Fatalf("described events %+v, want one %s", described, tc.want)
			}
			if err := json.Unmarshal([]byte(described[0].Args), tc.args); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tc.args, tc.wantArg) {
				t.Fatalf("args %+v, want %+v", tc.args, tc.wantArg)
			}
		})
	}
}
