package state

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

func TestAssignedSince(t *testing.T) {
	type step struct {
		job     string
		state   JobState
		node    string
		attempt uint32
	}
	type read struct {
		node  string
		after int // index into the generations recorded so far; -1 = 0
		want  []string
	}
	cases := []struct {
		name  string
		steps []step
		reads []read
	}{
		{
			name: "assigned then running is logged once, in order",
			steps: []step{
				{"a", JobAssigned, "n1", 1}, {"b", JobAssigned, "n1", 1}, {"c", JobAssigned, "n2", 1},
				{"a", JobRunning, "n1", 1},
			},
			reads: []read{
				{"n1", -1, []string{"a@1", "b@1"}},
				{"n2", -1, []string{"c@1"}},
				{"n1", 0, []string{"b@1"}},
				{"n1", 3, nil},
			},
		},
		{
			name: "finished attempts vanish; a retry is logged again",
			steps: []step{
				{"a", JobAssigned, "n1", 1}, {"b", JobAssigned, "n1", 1},
				{"a", JobCompleted, "n1", 1}, {"b", JobQueued, "", 1}, {"b", JobAssigned, "n1", 2},
			},
			reads: []read{
				{"n1", -1, []string{"b@2"}},
				{"n1", 4, nil},
			},
		},
		{
			name: "a reroute to another node is logged there",
			steps: []step{
				{"a", JobAssigned, "n1", 1}, {"a", JobAssigned, "n2", 1},
			},
			reads: []read{
				{"n1", -1, nil},
				{"n2", -1, []string{"a@1"}},
				{"n2", 0, []string{"a@1"}},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStore()
			s.PutShard(&Shard{Name: "eu"})
			gens := []uint64{}
			for _, st := range tc.steps {
				j := s.Job(st.job)
				if j == nil {
					j = &Job{ID: st.job, Shard: "eu", State: JobQueued}
					s.PutJob(j)
					j = s.Job(st.job)
				}
				j = j.Clone()
				j.State, j.Node, j.Attempt = st.state, st.node, st.attempt
				s.PutJob(j)
				gens = append(gens, s.AssignGen())
			}
			for _, r := range tc.reads {
				var after uint64
				if r.after >= 0 {
					after = gens[r.after]
				}
				var got []string
				s.AssignedSince(r.node, after, func(j *Job) { got = append(got, fmt.Sprintf("%s@%d", j.ID, j.Attempt)) })
				if !reflect.DeepEqual(got, r.want) {
					t.Errorf("AssignedSince(%s, gen after step %d) = %v, want %v", r.node, r.after, got, r.want)
				}
			}
			// FromImage rebuilds the log from the active jobs.
			rs, err := FromImage(s.Image())
			if err != nil {
				t.Fatal(err)
			}
			for _, node := range []string{"n1", "n2"} {
				var want, got []string
				s.AssignedSince(node, 0, func(j *Job) { want = append(want, j.ID) })
				rs.AssignedSince(node, 0, func(j *Job) { got = append(got, j.ID) })
				if len(want) != len(got) {
					t.Errorf("restored %s: %v, want %v (any order)", node, got, want)
				}
			}
		})
	}
}

// TestAssignLogStaysBounded: with one long-running attempt at the front, the
// log is compacted to within a small factor of the node's active set.
func TestAssignLogStaysBounded(t *testing.T) {
	s := NewStore()
	s.PutShard(&Shard{Name: "eu"})
	put := func(id string, st JobState) {
		j := s.Job(id)
		if j == nil {
			s.PutJob(&Job{ID: id, Shard: "eu", State: JobQueued})
			j = s.Job(id)
		}
		j = j.Clone()
		j.State, j.Node, j.Attempt = st, "n", 1
		s.PutJob(j)
	}
	put("long", JobRunning)
	for i := range 20000 {
		id := fmt.Sprint("j", i)
		put(id, JobAssigned)
		put(id, JobCompleted)
	}
	if n := len(s.assigned["n"].ents); n > 2*s.ActiveCount("n")+1024+1 {
		t.Fatalf("log holds %d entries for %d active", n, s.ActiveCount("n"))
	}
	var got []string
	s.AssignedSince("n", 0, func(j *Job) { got = append(got, j.ID) })
	if !reflect.DeepEqual(got, []string{"long"}) {
		t.Fatalf("live = %v", got)
	}
}

func TestSortedSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	cases := []struct {
		name   string
		span   uint64 // values drawn from [1, span]
		ops    int
		fifoed bool // removals take the smallest value, as finishing jobs mostly do
	}{
		{"random", 50, 5000, false},
		{"dense", 8, 2000, false},
		{"fifo", 1 << 20, 5000, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s []uint64
			ref := map[uint64]bool{}
			for range tc.ops {
				v := 1 + rng.Uint64N(tc.span)
				remove := rng.IntN(2) == 0
				if tc.fifoed && remove && len(s) > 0 {
					v = s[0]
				}
				if remove {
					s = sortedRemove(s, v)
					delete(ref, v)
				} else {
					s = sortedInsert(s, v)
					ref[v] = true
				}
				if len(s) != len(ref) || !slices.IsSorted(s) {
					t.Fatalf("set %v, reference has %d", s, len(ref))
				}
				for _, x := range s {
					if !ref[x] {
						t.Fatalf("%d in set, not in reference", x)
					}
				}
			}
		})
	}
}

// BenchmarkActiveSetFIFO is a node's active set with 20,000 attempts in
// flight, finishing in the order they were assigned.
func BenchmarkActiveSetFIFO(b *testing.B) {
	var s []uint64
	for v := range uint64(20000) {
		s = sortedInsert(s, v+1)
	}
	next := uint64(20001)
	for b.Loop() {
		s = sortedRemove(s, s[0])
		s = sortedInsert(s, next)
		next++
	}
}
