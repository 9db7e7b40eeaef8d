package mission

import (
	"slices"
	"testing"

	"github.com/planetary/planetary/raftfsm/command"
)

// TestActionsMatchRegistry fails when a schedule action the parser accepts
// has no command in the registry, or a registry action has no schema here
// (so it could not be written in a mission).
func TestActionsMatchRegistry(t *testing.T) {
	var docs []string
	for _, a := range actionDocs() {
		docs = append(docs, a.Name)
		if _, ok := command.ByAction(a.Name); !ok {
			t.Errorf("action %q has no command in the registry", a.Name)
		}
	}
	for _, a := range command.Actions() {
		if !slices.Contains(docs, a) {
			t.Errorf("registry action %q has no schedule schema in core/mission", a)
		}
	}
}
