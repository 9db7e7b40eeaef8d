package runner

import (
	"strings"
	"testing"

	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/raftfsm/state"
)

func TestOwnerCommands(t *testing.T) {
	m := &mission.Mission{Schedule: []mission.ScheduleEntry{
		{ID: "cancel-tail", Reason: "trim", Action: mission.ActJobCancel,
			Args: &mission.JobAction{Locator: &mission.Locator{Shard: "earth", Tail: 2}}},
		{ID: "report", Action: mission.ActReportingConfigure,
			Args: &mission.ReportingConfigureAction{Dir: "reports/x", Label: "y"}},
	}}
	tests := []struct {
		name    string
		evs     []state.Event
		actions []string
		cli     []string
		paths   []string
	}{
		{
			name: "system and client events are not owner commands",
			evs: []state.Event{
				{Index: 1, Type: state.EvNodeDown, Node: "n1", Actor: "client:dev"},
				{Index: 2, Type: state.EvCheckpointSaved, Actor: "system", Detail: "c.snap sha256:ab"},
				{Index: 3, Type: state.EvShardRegistered, Shard: "earth", Actor: "mgmt", Detail: "mission"},
			},
		},
		{
			name: "pause and resume by a token",
			evs: []state.Event{
				{Index: 4, Type: state.EvSystemPaused, Actor: "mgmt", Reason: "maintenance window"},
				{Index: 5, Type: state.EvShardResumed, Shard: "mars", Actor: "mgmt"},
			},
			actions: []string{"system.pause", "shard.resume"},
			cli:     []string{"planetary operator pause -reason 'maintenance window'", "planetary operator resume -shard mars"},
			paths:   []string{"/v1/operator/pause", "/v1/operator/resume"},
		},
		{
			name: "a scheduled bulk cancel folds into one locator command",
			evs: []state.Event{
				{Index: 6, Type: state.EvScheduleFired, Actor: "schedule:cancel-tail", Detail: "cancel-tail"},
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
				{Index: 7, Type: state.EvNodeRetired, Node: "e1", Actor: "mgmt", Reason: "shard deregistered"},
				{Index: 7, Type: state.EvJobSpilled, Job: "j3", Actor: "mgmt"},
				{Index: 7, Type: state.EvShardDeregistered, Shard: "edge", To: "earth", Actor: "mgmt", Reason: "done"},
			},
			actions: []string{"shard.deregister"},
			cli:     []string{"planetary operator shard deregister -spill-to earth -reason done edge"},
			paths:   []string{"/v1/shard/edge/deregister"},
		},
		{
			name: "reporting retarget takes its label from the schedule",
			evs: []state.Event{
				{Index: 8, Type: state.EvReportingConfigured, Actor: "schedule:report", Detail: "reports/x"},
			},
			actions: []string{"reporting.configure"},
			cli:     []string{"planetary operator reporting configure -dir reports/x -label y"},
			paths:   []string{"/v1/operator/reporting"},
		},
		{
			name: "single job reroute by a token",
			evs: []state.Event{
				{Index: 9, Type: state.EvJobRerouted, Job: "j9", From: "mars", To: "helios", Actor: "mgmt"},
			},
			actions: []string{"job.reroute"},
			cli:     []string{"planetary job reroute -shard helios j9"},
			paths:   []string{"/v1/job/j9/reroute"},
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
