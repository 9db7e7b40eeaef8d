package server

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/planetary/planetary/core/testport"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// TestVersionGate runs three servers over raft TCP with BoltDB on disk, one
// of them (s2) claiming format version 1, and a command of version 2
// (ClientJoin). The leader does not propose it while s2 has not reported a
// version, nor while it reports 1: the call fails with ErrCommandVersion
// naming s2 and the raft log does not move. An entry of it that reaches s2
// anyway (proposed past the gate) halts s2's FSM with
// command.ErrUnknownCommandVersion, before the entry, while the other two
// apply it and go on committing. Restarted on its data dir at the version
// it lacked, s2 applies the entry from its log, reports version 2, and the
// leader then proposes version 2 commands.
func TestVersionGate(t *testing.T) {
	cfgs := make([]Config, 3)
	servers := make([]*Server, 3)
	for i := range cfgs {
		cfg := clusterConfig(t, t.TempDir())
		cfg.NodeID = []string{"s0", "s1", "s2"}[i]
		cfg.BindAddr = testport.Addr(t)
		cfg.Bootstrap = i == 0
		cfgs[i] = cfg
	}
	cfgs[2].FormatVersion = 1
	servers[0] = startServer(t, cfgs[0])
	s0 := servers[0]
	for i := 1; i < 3; i++ {
		s, err := New(cfgs[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown() })
		servers[i] = s
		if err := s0.AddVoter(ctxT(t), s.ID(), s.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	registerShard(t, s0, "eu")
	waitFor(t, 30*time.Second, "replication", func() bool {
		return servers[1].AppliedIndex() >= s0.AppliedIndex() && servers[2].AppliedIndex() >= s0.AppliedIndex()
	})
	if v := servers[2].Self().FormatVersion; v != 1 {
		t.Fatalf("s2 reports format version %d, want 1", v)
	}

	token := func(name string) state.Token {
		return state.Token{AccessorID: "acc-" + name, SecretHash: "hash-" + name, Type: state.TokenClientIdentity, Name: name}
	}
	join := func(name string) *command.ClientJoin {
		return &command.ClientJoin{Meta: command.Meta{Time: s0.Now(), Actor: "test"}, Token: token(name)}
	}
	refused := func(want string) {
		t.Helper()
		before := s0.LastIndex()
		_, err := s0.Apply(ctxT(t), command.ClientJoinType, join("c1"))
		if !errors.Is(err, ErrCommandVersion) || !strings.Contains(err.Error(), want) {
			t.Fatalf("apply of a version 2 command: %v, want ErrCommandVersion naming %q", err, want)
		}
		if after := s0.LastIndex(); after != before {
			t.Fatalf("the refused command moved the raft log from %d to %d", before, after)
		}
	}
	// The leader knows only its own version so far.
	refused("client.join needs format version 2 on every server; server s1 has not reported its version yet")
	// Versions as the agents exchange them (GET /v1/status/self).
	for _, s := range servers[1:] {
		si := s.Self()
		s0.SetFormatVersion(si.ID, si.FormatVersion)
	}
	refused("server s2 knows up to version 1 (upgrade it, or remove it from the cluster)")
	registerShard(t, s0, "us") // version 1 commands go on

	// Past the gate, the entry reaches s2, which refuses it by name.
	entry, err := command.Encode(command.ClientJoinType, join("c1"))
	if err != nil {
		t.Fatal(err)
	}
	f := s0.raft.Apply(entry, 10*time.Second)
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	if r := f.Response().(*raftfsm.Response); r.Err != nil {
		t.Fatalf("s0 applying the entry: %v", r.Err)
	}
	idx := f.Index()
	waitFor(t, 30*time.Second, "s2 to halt", func() bool { return servers[2].Halted() != nil })
	herr := servers[2].Halted()
	if !errors.Is(herr, ErrHalted) || !errors.Is(herr, command.ErrUnknownCommandVersion) ||
		!strings.Contains(herr.Error(), "client.join (type 28) needs format version 2, this server knows up to version 1") {
		t.Fatalf("s2 halted with %v", herr)
	}
	if a := servers[2].AppliedIndex(); a >= idx {
		t.Fatalf("s2 applied index %d, at or past the refused entry %d", a, idx)
	}
	if err := servers[2].Readiness().Error(); !errors.Is(err, command.ErrUnknownCommandVersion) {
		t.Fatalf("s2 readiness: %v", err)
	}
	if si := servers[2].Self(); !strings.Contains(si.Halted, "needs format version 2") {
		t.Fatalf("s2 self info: halted %q", si.Halted)
	}
	waitFor(t, 30*time.Second, "s1 to apply the entry", func() bool { return servers[1].AppliedIndex() >= idx })
	registerShard(t, s0, "ap") // s0 and s1 are a quorum

	// s2 restarts on its data dir with the version it lacked.
	if err := servers[2].Shutdown(); err != nil {
		t.Fatal(err)
	}
	cfgs[2].FormatVersion = 0
	s2, err := New(cfgs[2])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s2.Shutdown() })
	servers[2] = s2
	waitFor(t, 60*time.Second, "s2 to catch up", func() bool { return s2.AppliedIndex() >= s0.AppliedIndex() })
	if s2.Halted() != nil {
		t.Fatal(s2.Halted())
	}
	var joined bool
	s2.Read(func(st *state.Store) {
		for _, tok := range st.Tokens() {
			joined = joined || tok.Name == "c1"
		}
	})
	if !joined {
		t.Fatal("s2 did not apply the entry it had refused")
	}
	// Before s2 reports its new version the gate still holds.
	refused("server s2 knows up to version 1")
	si := s2.Self()
	s0.SetFormatVersion(si.ID, si.FormatVersion)
	if _, err := s0.Apply(ctxT(t), command.ClientRevokeType, &command.ClientRevoke{Meta: command.Meta{Time: s0.Now(), Actor: "test"}, Client: "c1"}); err != nil {
		t.Fatalf("version 2 command once every server knows it: %v", err)
	}
	if err := s0.raft.Barrier(10 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "replicas to agree", func() bool {
		d0, i0 := s0.Digest()
		for _, s := range servers[1:] {
			if d, i := s.Digest(); i != i0 || d != d0 {
				return false
			}
		}
		return true
	})
}
