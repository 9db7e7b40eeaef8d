package report

import (
	"strings"
	"testing"

	"github.com/planetary/planetary/raftfsm/state"
)

// TestReplayJobsUnparked: a jobs.unparked event re-queues the jobs parked
// in its shard only, and one whose count or value is not theirs is an
// impossible transition.
func TestReplayJobsUnparked(t *testing.T) {
	base := []state.Event{
		{Type: state.EvJobSubmitted, Job: "a", Shard: "eu", ValueMu: 2},
		{Type: state.EvJobSubmitted, Job: "b", Shard: "eu", ValueMu: 3},
		{Type: state.EvJobSubmitted, Job: "c", Shard: "us", ValueMu: 5},
		{Type: state.EvJobParked, Job: "a", Shard: "eu"},
		{Type: state.EvJobParked, Job: "b", Shard: "eu"},
		{Type: state.EvJobParked, Job: "c", Shard: "us"},
		{Type: state.EvJobCancelled, Job: "b", Shard: "eu"},
	}
	cases := []struct {
		name string
		ev   state.Event
		err  string
	}{
		{"exact", state.Event{Type: state.EvJobsUnparked, Shard: "eu", ValueMu: 2, Detail: "1 jobs unparked, topology 4"}, ""},
		{"count", state.Event{Type: state.EvJobsUnparked, Shard: "eu", ValueMu: 2, Detail: "2 jobs unparked, topology 4"}, "names 2 jobs"},
		{"value", state.Event{Type: state.EvJobsUnparked, Shard: "eu", ValueMu: 5, Detail: "1 jobs unparked, topology 4"}, "of value 5"},
		{"detail", state.Event{Type: state.EvJobsUnparked, Shard: "eu", ValueMu: 2, Detail: "some jobs"}, "unreadable detail"},
		{"no shard", state.Event{Type: state.EvJobsUnparked, ValueMu: 2, Detail: "1 jobs unparked, topology 4"}, "without a shard"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rp := newReplay()
			for i := range base {
				if err := rp.apply(&base[i]); err != nil {
					t.Fatal(err)
				}
			}
			err := rp.apply(&tc.ev)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]state.JobState{"a": state.JobQueued, "b": state.JobCancelled, "c": state.JobParked}
			for id, st := range want {
				if rp.jobs[id].state != st {
					t.Errorf("job %s is %s, want %s", id, rp.jobs[id].state, st)
				}
			}
			// The shard's next unpark finds none of those jobs parked.
			again := tc.ev
			if err := rp.apply(&again); err == nil {
				t.Error("a second jobs.unparked of the same jobs was accepted")
			}
		})
	}
}
