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

// TestScanMatchesRead: Scan visits exactly what Read returns, from the
// in-memory tail and from disk.
func TestScanMatchesRead(t *testing.T) {
	l := openTest(t, t.TempDir(), func(c *Config) { c.TailEvents = 50 })
	defer l.Close()
	evs, head := chain(state.ChainHead{}, 200)
	l.Append(evs)
	if err := l.Sync(head.Seq); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		after uint64
		max   int
	}{
		{"from disk", 0, 1000},
		{"disk, bounded", 10, 7},
		{"tail", 160, 1000},
		{"tail, one", 150, 1},
		{"last", 199, 5},
		{"past the head", 200, 5},
		{"nothing asked", 10, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := l.Read(tc.after, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			var got []state.Event
			n, err := l.Scan(tc.after, tc.max, func(e *state.Event) { got = append(got, *e) })
			if err != nil || n != len(want) || len(got) != len(want) {
				t.Fatalf("Scan visited %d (%v), Read returned %d", n, err, len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("event %d: %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}
