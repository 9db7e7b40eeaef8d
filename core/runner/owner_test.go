package runner

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// described is the first event of an owner command as the FSM emits it:
// the command's registry name and its arguments.
func described(e state.Event, name string, args command.Command) state.Event {
	b, err := json.Marshal(args)
	if err != nil {
		panic(err)
	}
	e.Command, e.Args = name, string(b)
	return e
}

func TestOwnerCommands(t *testing.T) {
	m := &mission.Mission{Schedule: []mission.ScheduleEntry{
		{ID: "cancel-tail", Reason: "trim", Action: mission.ActJobCancel,
			Args: &mission.JobAction{Locator: &mission.Locator{Shard: "earth", Tail: 2}}},
		{ID: "report", Action: mission.ActReportingConfigure,
			Args: &mission.ReportingConfigureAction{Dir: "reports/x", Label: "y"}},
		{ID: "save", Action: mission.ActCheckpointSave, Args: &mission.CheckpointSaveAction{}},
	}}
	tests := []struct {
		name    string
		evs     []state.Event
		actions []string
		cli     []string
		paths   []string
	}{
		{
			name: "system, client and undescribed events are not owner commands",
			evs: []state.Event{
				{Index: 1, Type: state.EvNodeDown, Node: "n1", Actor: "client:dev"},
				{Index: 2, Type: state.EvCheckpointSaved, Actor: "system", Detail: "c.snap sha256:ab"},
				{Index: 3, Type: state.EvShardRegistered, Shard: "earth", Actor: "mgmt", Detail: "mission"},
				described(state.Event{Index: 4, Type: state.EvNodeUpdated, Node: "n1", Actor: "client:dev"}, "node.update",
					&command.NodeUpdate{ID: "n1", Fields: []string{"plugin_state"}}),
			},
		},
		{
			name: "pause and resume by a token",
			evs: []state.Event{
				described(state.Event{Index: 4, Type: state.EvSystemPaused, Actor: "mgmt", Reason: "maintenance window"}, "pause", &command.Pause{Paused: true}),
				described(state.Event{Index: 5, Type: state.EvShardResumed, Shard: "mars", Actor: "mgmt"}, "pause", &command.Pause{Shard: "mars"}),
			},
			actions: []string{"system.pause", "shard.resume"},
			cli:     []string{"planetary operator pause -reason 'maintenance window'", "planetary operator resume -shard mars"},
			paths:   []string{"/v1/operator/pause", "/v1/operator/resume"},
		},
		{
			name: "a scheduled bulk cancel is one locator command",
			evs: []state.Event{
				described(state.Event{Index: 6, Type: state.EvScheduleFired, Actor: "schedule:cancel-tail", Detail: "cancel-tail"}, "job.cancel",
					&command.JobCancel{Locator: &command.Locator{Shard: "earth", Tail: 2}}),
				{Index: 6, Type: state.EvJobCancelled, Job: "j2", Actor: "schedule:cancel-tail"},
				{Index: 6, Type: state.EvJobCancelled, Job: "j1", Actor: "schedule:cancel-tail"},
			},
			actions: []string{"job.cancel"},
			cli:     []string{"planetary job cancel -shard earth -tail 2 -reason trim"},
			paths:   []string{"/v1/jobs/cancel"},
		},
		{
			name: "a deregistration owns its node retirements",
			evs: []state.Event{
				described(state.Event{Index: 7, Type: state.EvNodeRetired, Node: "e1", Actor: "mgmt", Reason: "done"}, "shard.deregister",
					&command.ShardDeregister{Name: "edge", SpillTo: "earth"}),
				{Index: 7, Type: state.EvJobSpilled, Job: "j3", Actor: "mgmt"},
				{Index: 7, Type: state.EvShardDeregistered, Shard: "edge", To: "earth", Actor: "mgmt", Reason: "done"},
			},
			actions: []string{"shard.deregister"},
			cli:     []string{"planetary operator shard deregister -spill-to earth -reason done edge"},
			paths:   []string{"/v1/shard/edge/deregister"},
		},
		{
			name: "reporting retarget carries its label",
			evs: []state.Event{
				described(state.Event{Index: 8, Type: state.EvScheduleFired, Actor: "schedule:report", Detail: "report"}, "reporting.configure",
					&command.ReportingConfigure{Dir: "reports/x", Label: "y"}),
				{Index: 8, Type: state.EvReportingConfigured, Actor: "schedule:report", Detail: "reports/x"},
			},
			actions: []string{"reporting.configure"},
			cli:     []string{"planetary operator reporting configure -dir reports/x -label y"},
			paths:   []string{"/v1/operator/reporting"},
		},
		{
			name: "single job reroute by a token",
			evs: []state.Event{
				described(state.Event{Index: 9, Type: state.EvJobRerouted, Job: "j9", From: "mars", To: "helios", Actor: "mgmt"}, "job.reroute",
					&command.JobReroute{IDs: []string{"j9"}, Target: "helios"}),
			},
			actions: []string{"job.reroute"},
			cli:     []string{"planetary job reroute -shard helios j9"},
			paths:   []string{"/v1/job/j9/reroute"},
		},
		{
			name: "a scheduled checkpoint save the leader carried out",
			evs: []state.Event{
				{Index: 10, Type: state.EvCheckpointSaved, Actor: "system", Detail: "c.snap sha256:ab"},
				{Index: 11, Type: state.EvScheduleFired, Actor: "schedule:save", Detail: "save", Command: "checkpoint.save"},
			},
			actions: []string{"checkpoint.save"},
			cli:     []string{"planetary operator checkpoint save"},
			paths:   []string{"/v1/operator/checkpoint/save"},
		},
		{
			name: "node update names only its fields",
			evs: []state.Event{
				described(state.Event{Index: 12, Type: state.EvNodeUpdated, Node: "n1", Actor: "mgmt"}, "node.update",
					&command.NodeUpdate{ID: "n1", Fields: []string{command.NodeCapacity, command.NodeQuota}, Node: state.Node{Capacity: 3, Quota: 9, LatencyMs: 7}}),
			},
			actions: []string{"node.update"},
			cli:     []string{"planetary node update -capacity 3 -quota 9 n1"},
			paths:   []string{"/v1/node/n1/update"},
		},
		{
			name: "a described command renders from its registry row",
			evs: []state.Event{
				described(state.Event{Index: 13, Type: state.EvNodeUpdated, Node: "n1", Actor: "schedule:swap", Reason: "swap the rack", Detail: "draining"},
					"node.drain", &command.NodeDrain{ID: "n1", DeadlineMs: 90_000}),
			},
			actions: []string{"node.drain"},
			cli:     []string{"planetary node drain -deadline 1m30s -reason 'swap the rack' n1"},
			paths:   []string{"/v1/node/n1/drain"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := OwnerCommands(tt.evs, m)
			if len(got) != len(tt.actions) {
				t.Fatalf("got %d commands %+v, want %d", len(got), got, len(tt.actions))
			}
			for i, oc := range got {
				if oc.Action != tt.actions[i] || oc.CLI != tt.cli[i] || oc.API.Path != tt.paths[i] || oc.API.Method != "POST" {
					t.Errorf("command %d = %s | %s | %s %s, want %s | %s | %s", i, oc.Action, oc.CLI, oc.API.Method, oc.API.Path,
						tt.actions[i], tt.cli[i], tt.paths[i])
				}
			}
		})
	}
}

// TestEveryOwnerCommandRenders fails when an owner command of the registry
// has no renderer (a described command's is derived from its row), so it
// would be missing from the owner ledger.
func TestEveryOwnerCommandRenders(t *testing.T) {
	for _, s := range command.Specs() {
		if s.Owner && renderers[s.Name] == nil && !s.Described() {
			t.Errorf("owner command %s has no renderer in core/runner", s.Name)
		}
	}
}

func TestPickLabel(t *testing.T) {
	tests := []struct{ requested, before, after, want string }{
		{"", "latest", "latest", "latest"},
		{"mine", "latest", "latest", "mine"},
		{"mine", "latest", "governance-drill", "governance-drill"},
		{"", "", "", "latest"},
	}
	for _, tt := range tests {
		t.Run(strings.Join([]string{tt.requested, tt.before, tt.after}, "/"), func(t *testing.T) {
			if got := pickLabel(tt.requested, tt.before, tt.after); got != tt.want {
				t.Fatalf("pickLabel = %q, want %q", got, tt.want)
			}
		})
	}
}
