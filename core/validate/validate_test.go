package validate

import (
	"errors"
	"testing"

	"github.com/planetary/planetary/raftfsm/command"
)

func TestRules(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		field string // "" when the value passes
	}{
		{"spill to another", SpillTarget("spillover_targets[0]", "eu", "us"), ""},
		{"spill to itself", SpillTarget("spillover_targets[1]", "eu", "eu"), "spillover_targets[1]"},
		{"deregister neither", Deregister("eu", "", false), "spill_to"},
		{"deregister both", Deregister("eu", "us", true), "cancel"},
		{"deregister to itself", Deregister("eu", "eu", false), "spill_to"},
		{"deregister cancel", Deregister("eu", "", true), ""},
		{"reroute to itself", RerouteTarget("eu", "eu"), "target"},
		{"reroute", RerouteTarget("eu", "us"), ""},
		{"label with a slash", ReportingLabel("../x"), "label"},
		{"label", ReportingLabel("nightly"), ""},
		{"negative count", Count("max_queue", -1), "max_queue"},
		{"count past the limit", Count("max_queue", 1<<62), "max_queue"},
		{"negative interval", CheckpointInterval(-5), "interval_ms"},
		{"long list", AtMost("policies", 65, 64), "policies"},
		{"required", Required("name", "", "shard name"), "name"},
		{"job without shard", Job(3, command.JobSubmit{}), "jobs[3].shard"},
		{"job id", Job(0, command.JobSubmit{ID: "../x", Shard: "eu"}), "jobs[0].id"},
		{"job", Job(0, command.JobSubmit{ID: "a", Shard: "eu", Priority: 3}), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e *Error
			switch {
			case tc.field == "" && tc.err != nil:
				t.Fatalf("refused: %v", tc.err)
			case tc.field == "":
			case !errors.As(tc.err, &e) || e.Field != tc.field || e.Msg == "":
				t.Fatalf("got %#v, want a refusal of %s", tc.err, tc.field)
			}
		})
	}
}
