package state

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

// refHash is the chain hash written out field by field, as the format is
// documented on ComputeHash.
func refHash(e *Event, prev [32]byte) [32]byte {
	h := sha256.New()
	u := func(v uint64) { h.Write(binary.BigEndian.AppendUint64(nil, v)) }
	s := func(v string) { u(uint64(len(v))); h.Write([]byte(v)) }
	h.Write(prev[:])
	u(e.Seq)
	u(e.Index)
	u(uint64(e.Time))
	s(e.Type)
	s(e.Job)
	u(uint64(e.Attempt))
	s(e.Shard)
	s(e.From)
	s(e.To)
	s(e.Node)
	u(uint64(e.ValueMu))
	u(uint64(e.AmountMu))
	s(e.Actor)
	s(e.Reason)
	s(e.Detail)
	if e.Command != "" || e.Args != "" {
		s(e.Command)
		s(e.Args)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func TestSeal(t *testing.T) {
	long := string(make([]byte, 3000)) // past the stack buffer
	cases := []struct {
		name string
		ev   Event
	}{
		{"empty", Event{}},
		{"assigned", Event{Index: 7, Time: -1, Type: EvJobAssigned, Job: "j-1", Attempt: 2, Shard: "eu", Node: "mars.gpu", ValueMu: 5, AmountMu: -3, Actor: "system"}},
		{"long detail", Event{Type: EvJobFailed, Job: "j", Reason: "x", Detail: long, From: "a", To: "b"}},
		{"owner command", Event{Type: EvNodeRetired, Node: "n", Actor: "mgmt", Command: "node.retire", Args: `{"ID":"n","Requeue":true}`}},
	}
	prev := ChainHead{Seq: 41, Hash: sha256.Sum256([]byte("prev"))}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tc.ev, tc.ev
			ha := a.Seal(prev)
			hb := b.SealAfter(prev, hex.EncodeToString(prev.Hash[:]))
			want := tc.ev
			want.Seq = 42
			if ha.Hash != refHash(&want, prev.Hash) || ha != hb || a != b {
				t.Fatalf("seal differs: %+v %+v", ha, hb)
			}
			if a.Seq != 42 || a.Prev != hex.EncodeToString(prev.Hash[:]) || a.Hash != hex.EncodeToString(ha.Hash[:]) {
				t.Fatalf("fields: %+v", a)
			}
		})
	}
}

func BenchmarkSeal(b *testing.B) {
	ev := Event{Index: 7, Time: 1, Type: EvJobCompleted, Job: "job-000123", Attempt: 1, Shard: "default", Node: "mars.gpu-helion", ValueMu: 5, Actor: "client:c1"}
	cases := []struct {
		name string
		keep bool
	}{{"Seal", false}, {"SealAfter", true}}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var head ChainHead
			prevHex := ""
			for b.Loop() {
				e := ev
				head = e.SealAfter(head, prevHex)
				if tc.keep {
					prevHex = e.Hash
				}
			}
		})
	}
}
