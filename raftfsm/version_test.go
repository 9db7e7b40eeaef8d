package raftfsm_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
	"github.com/tinylib/msgp/msgp"
)

func entry(t *testing.T, typ command.MessageType, m msgp.Marshaler) []byte {
	t.Helper()
	b, err := command.Encode(typ, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHaltsOnNewerFormat: an FSM that knows format version 1 refuses an
// entry of version 2 (or of a type it does not know) with
// ErrUnknownCommandVersion naming the type and the versions, reports it
// once, applies nothing from then on, takes no snapshot, and a restore
// resumes it.
func TestHaltsOnNewerFormat(t *testing.T) {
	token := state.Token{AccessorID: "acc", SecretHash: "hash", Type: state.TokenClientIdentity, Name: "c1"}
	join := func(t *testing.T) []byte {
		return entry(t, command.ClientJoinType, &command.ClientJoin{Meta: command.Meta{Time: 1, Actor: "a"}, Token: token})
	}
	fire := func(t *testing.T) []byte {
		body, err := command.EncodeBody(&command.ClientRevoke{Client: "c1"})
		if err != nil {
			t.Fatal(err)
		}
		return entry(t, command.ScheduleFireType, &command.ScheduleFire{EntryID: "e1", Action: command.ClientRevokeType, Body: body})
	}
	cases := []struct {
		name  string
		max   uint16
		entry func(t *testing.T) []byte
		halts string // part of the error; "" when it applies
	}{
		{"known-version", 2, join, ""},
		{"default-knows-all", 0, join, ""},
		{"newer-version", 1, join, "client.join (type 28) needs format version 2, this server knows up to version 1"},
		{"unknown-type", 0, func(*testing.T) []byte { return []byte{99, 0x80} }, "type 99 is not known to this server"},
		{"scheduled-newer-command", 1, fire, "schedule entry e1 carries command of an unknown format version: client.revoke (type 29) needs format version 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var halts []error
			f := raftfsm.New(raftfsm.Config{MaxVersion: c.max, OnHalt: func(err error) { halts = append(halts, err) }})
			apply := func(idx uint64, data []byte) *raftfsm.Response {
				r, _ := f.Apply(&raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: data}).(*raftfsm.Response)
				return r
			}
			pause := entry(t, command.PauseType, &command.Pause{Meta: command.Meta{Time: 1}, Paused: true})
			if r := apply(1, pause); r == nil || r.Err != nil {
				t.Fatalf("pause: %+v", r)
			}
			r := apply(2, c.entry(t))
			if c.halts == "" {
				if r == nil || errors.Is(r.Err, command.ErrUnknownCommandVersion) || f.Halted() != nil || f.AppliedIndex() != 2 {
					t.Fatalf("known entry: %+v halted %v applied %d", r, f.Halted(), f.AppliedIndex())
				}
				return
			}
			if r == nil || !errors.Is(r.Err, command.ErrUnknownCommandVersion) || !strings.Contains(r.Err.Error(), c.halts) {
				t.Fatalf("response %+v, want an error naming %q", r, c.halts)
			}
			if len(halts) != 1 || !errors.Is(halts[0], command.ErrUnknownCommandVersion) || !errors.Is(f.Halted(), command.ErrUnknownCommandVersion) {
				t.Fatalf("halt reports %v, Halted %v", halts, f.Halted())
			}
			before := f.Digest()
			resume := entry(t, command.PauseType, &command.Pause{Meta: command.Meta{Time: 2}, Paused: false})
			if r := apply(3, resume); r == nil || !errors.Is(r.Err, command.ErrUnknownCommandVersion) {
				t.Fatalf("an entry after the halt: %+v", r)
			}
			if f.AppliedIndex() != 1 || f.Digest() != before || len(halts) != 1 {
				t.Fatalf("halted FSM moved: applied %d, %d halt reports", f.AppliedIndex(), len(halts))
			}
			var paused bool
			f.Read(func(s *state.Store) { paused = s.Policy().SystemPaused })
			if !paused {
				t.Fatal("the entry after the halt was applied")
			}
			if _, err := f.Snapshot(); !errors.Is(err, command.ErrUnknownCommandVersion) {
				t.Fatalf("snapshot while halted: %v", err)
			}
			// A snapshot of a replica that applied the entry resumes it.
			other := raftfsm.New(raftfsm.DefaultConfig())
			for i, e := range [][]byte{pause, c.entry(t)} {
				other.Apply(&raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: e})
			}
			if other.Halted() != nil {
				return // a type no build knows: nothing to restore from
			}
			if err := f.Restore(io.NopCloser(bytes.NewReader(persist(t, other)))); err != nil {
				t.Fatal(err)
			}
			if f.Halted() != nil || f.Digest() != other.Digest() {
				t.Fatalf("restored: halted %v", f.Halted())
			}
			if r := apply(3, resume); r == nil || r.Err != nil || f.AppliedIndex() != 3 {
				t.Fatalf("after restore: %+v", r)
			}
		})
	}
}
