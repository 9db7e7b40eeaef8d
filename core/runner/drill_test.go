package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/planetary/planetary/raftfsm/state"
)

// TestCheckExecutions runs the fencing check over sim exec logs split at
// the kill and cut where the bundle's ledger was read.
func TestCheckExecutions(t *testing.T) {
	assigned := func(job string, att uint32, idx uint64) state.Event {
		return state.Event{Type: state.EvJobAssigned, Job: job, Attempt: att, Index: idx}
	}
	completed := func(job string, att uint32, idx uint64) state.Event {
		return state.Event{Type: state.EvJobCompleted, Job: job, Attempt: att, Index: idx}
	}
	tests := []struct {
		name string
		// before and after are the exec log lines of the two lifetimes;
		// late are lines logged after the cut.
		before, after, late []string
		evs                 []state.Event
		killIndex           uint64
		want                string // "" = ok, else a problem substring
	}{
		{"clean", []string{"j1 1"}, []string{"j2 1"}, nil,
			[]state.Event{assigned("j1", 1, 5), completed("j1", 1, 6), assigned("j2", 1, 9)}, 7, ""},
		{"uncommitted attempt re-delivered", []string{"j1 1"}, []string{"j1 1"}, nil,
			[]state.Event{assigned("j1", 1, 5), completed("j1", 1, 9)}, 7, ""},
		{"committed attempt re-ran", []string{"j1 1"}, []string{"j1 1"}, nil,
			[]state.Event{assigned("j1", 1, 5), completed("j1", 1, 6)}, 7, "re-ran after the crash"},
		{"never assigned", nil, []string{"j3 1"}, nil, nil, 7, "never assigned"},
		{"ran twice in one lifetime", []string{"j1 1", "j1 1"}, nil, nil,
			[]state.Event{assigned("j1", 1, 5)}, 7, "ran 2 times"},
		{"executions after the cut are not read", []string{"j1 1"}, nil, []string{"j9 1", "j9 1"},
			[]state.Event{assigned("j1", 1, 5)}, 7, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "nodes", "earth.core-alpha", ExecLogName)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			text := func(lines []string) string {
				if len(lines) == 0 {
					return ""
				}
				return strings.Join(lines, "\n") + "\n"
			}
			b, a, l := text(tt.before), text(tt.after), text(tt.late)
			if err := os.WriteFile(p, []byte(b+a+l), 0o644); err != nil {
				t.Fatal(err)
			}
			offsets := map[string]int64{p: int64(len(b))}
			cut := map[string]int64{p: int64(len(b) + len(a))}
			got := checkExecutions(dir, offsets, cut, tt.evs, tt.killIndex)
			if tt.want == "" && !got.check.OK {
				t.Fatalf("check failed: %s", got.check.Detail)
			}
			if tt.want != "" && (got.check.OK || !strings.Contains(got.check.Detail, tt.want)) {
				t.Fatalf("check ok=%v detail %q, want a problem with %q", got.check.OK, got.check.Detail, tt.want)
			}
			if n := len(tt.before) + len(tt.after); got.executions != n {
				t.Errorf("executions = %d, want %d", got.executions, n)
			}
		})
	}
}
