package server

import (
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/raft"
	"github.com/tinylib/msgp/msgp"

	"github.com/planetary/planetary/raftfsm/command"
)

// ErrCommandVersion is returned by Apply (and every endpoint that proposes)
// for a command of a format version that some server in the raft
// configuration does not report knowing: proposing it would stop that
// server's FSM (command.ErrUnknownCommandVersion). It is proposed once
// every server reports the version, or the old ones have left.
var ErrCommandVersion = errors.New("server: not every server knows the command's format version")

// ErrHalted is returned while this server's FSM has stopped at an entry of
// a newer command format than it knows (see Halted).
var ErrHalted = errors.New("server: halted")

// formatVersion is the highest command format version this server applies.
func (s *Server) formatVersion() uint16 {
	if v := s.cfg.FormatVersion; v != 0 {
		return v
	}
	return command.FormatVersion
}

// SetFormatVersion records the command format version server id reports
// (GET /v1/status/self, SelfInfo.FormatVersion); the leader's version gate
// reads it.
func (s *Server) SetFormatVersion(id string, v uint16) {
	if id == "" {
		return
	}
	s.mem.mu.Lock()
	defer s.mem.mu.Unlock()
	if s.mem.version == nil {
		s.mem.version = map[string]uint16{}
	}
	s.mem.version[id] = v
}

// FormatVersionOf is the format version server id reported (0: none yet).
func (s *Server) FormatVersionOf(id string) uint16 {
	if id == s.cfg.NodeID {
		return s.formatVersion()
	}
	s.mem.mu.RLock()
	defer s.mem.mu.RUnlock()
	return s.mem.version[id]
}

// versionGate refuses a command whose format version (the highest of its
// type and, for a ScheduleFire, the command it carries) a server in the raft
// configuration has not reported knowing. Version 1 commands pass without a
// look at the configuration: every server knows them.
func (s *Server) versionGate(t command.MessageType, msg msgp.Marshaler) error {
	need := command.VersionOf(t)
	if sf, ok := msg.(*command.ScheduleFire); ok && sf.Action != 0 && !sf.Skipped {
		need = max(need, command.VersionOf(sf.Action))
	}
	if need <= 1 {
		return nil
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("server: version gate of %s: %w", t, mapRaftErr(err))
	}
	servers := append([]raft.Server(nil), f.Configuration().Servers...)
	sort.Slice(servers, func(i, j int) bool { return servers[i].ID < servers[j].ID })
	for _, srv := range servers {
		id := string(srv.ID)
		switch v := s.FormatVersionOf(id); {
		case v == 0:
			return fmt.Errorf("%w: %s needs format version %d on every server; server %s has not reported its version yet", ErrCommandVersion, t, need, id)
		case v < need:
			return fmt.Errorf("%w: %s needs format version %d on every server; server %s knows up to version %d (upgrade it, or remove it from the cluster)", ErrCommandVersion, t, need, id, v)
		}
	}
	return nil
}

// onHalt is the FSM's OnHalt: the FSM stopped at an entry of a newer format
// than this server knows. The server stops its raft member too, so that it
// neither leads nor votes with a state that lags the log, and answers every
// request with the error until it is restarted by a build that knows the
// format; the entries stay in its raft log and are applied then.
func (s *Server) onHalt(err error) {
	s.halted.Store(&err)
	s.logger.Error("halted: stopping this server's raft member until it is restarted by a build that knows the format", "error", err)
	go func() {
		s.stopLeader()
		if e := s.raft.Shutdown().Error(); e != nil {
			s.logger.Warn("raft shutdown after halt", "error", e)
		}
	}()
}

// Halted returns why this server stopped applying the raft log, or nil: an
// error wrapping ErrHalted and command.ErrUnknownCommandVersion.
func (s *Server) Halted() error {
	if p := s.halted.Load(); p != nil {
		return fmt.Errorf("%w: %w", ErrHalted, *p)
	}
	return nil
}

func haltText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
