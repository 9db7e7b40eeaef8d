package eventlog

import (
	"testing"

	"github.com/planetary/planetary/raftfsm/state"
)

func TestRing(t *testing.T) {
	cases := []struct {
		name   string
		size   int
		pushes int
	}{
		{"partly filled", 10, 3},
		{"exactly full", 10, 10},
		{"wrapped", 10, 27},
		{"several blocks, wrapped", 3*ringChunk + 5, 7*ringChunk + 11},
		{"one", 1, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRing(tc.size)
			for i := 1; i <= tc.pushes; i++ {
				r.push(&state.Event{Seq: uint64(i)})
			}
			held := min(tc.size, tc.pushes)
			if r.n != held {
				t.Fatalf("holds %d, want %d", r.n, held)
			}
			first := uint64(tc.pushes - held + 1)
			for i := range held {
				if got := r.at(i).Seq; got != first+uint64(i) {
					t.Fatalf("at(%d) = %d, want %d", i, got, first+uint64(i))
				}
			}
			r.reset()
			r.push(&state.Event{Seq: 99})
			if r.n != 1 || r.at(0).Seq != 99 {
				t.Fatalf("after reset: n=%d first=%d", r.n, r.at(0).Seq)
			}
		})
	}
}
