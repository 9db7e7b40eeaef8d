package mission

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/planetary/planetary/raftfsm/command"
)

// A described owner command (node.drain) is a schedule action whose
// attributes are its params: decoded into its command, shown by name, and
// checked like any other action (the node must exist, a duration must
// parse, an unknown attribute is refused at its line).
func TestScheduleDescribedCommand(t *testing.T) {
	src := small + `
schedule "swap" {
  at       = "2s"
  action   = "node.drain"
  node     = "a.n1"
  deadline = "1m30s"
  reason   = "swap the rack"
}
`
	m, diags := ParseMission([]byte(src), "m.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	e := m.Schedule[len(m.Schedule)-1]
	a, ok := e.Args.(*CommandAction)
	if !ok || a.Action() != "node.drain" || a.Arg() != "a.n1" {
		t.Fatalf("entry args %#v", e.Args)
	}
	typ, c := a.Command(command.Meta{Actor: "schedule:swap", Reason: e.Reason})
	d, ok := c.(*command.NodeDrain)
	if typ != command.NodeDrainType || !ok || d.ID != "a.n1" || d.DeadlineMs != 90_000 || d.Force || d.Meta.Reason != "swap the rack" {
		t.Fatalf("command %d %+v", typ, c)
	}
	if a.Cmd.(*command.NodeDrain).Meta.Actor != "" {
		t.Error("Command changed the entry's own command")
	}
	if b, err := json.Marshal(a); err != nil || string(b) != `{"deadline":"1m30s","node":"a.n1"}` {
		t.Errorf("shown as %s (%v)", b, err)
	}

	for _, tc := range []struct{ body, want string }{
		{"node = \"zz\"", `"zz"`},
		{"node = \"a.n1\"\n  deadline = \"soon\"", "deadline"},
		{"node = \"a.n1\"\n  forse = true", "forse"},
		{"deadline = \"1s\"", "node"},
	} {
		bad := small + "\nschedule \"x\" {\n  at = \"1s\"\n  action = \"node.drain\"\n  " + tc.body + "\n}\n"
		_, diags := ParseMission([]byte(bad), "bad.hcl")
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) || !strings.Contains(diags.Error(), "bad.hcl:") {
			t.Errorf("%q: diagnostics %v, want an error naming %s", tc.body, diags, tc.want)
		}
	}
}
