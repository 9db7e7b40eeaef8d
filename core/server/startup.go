package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// ErrStarting is returned while the server replays its raft log at start:
// its state is not yet what it acknowledged before it stopped.
var ErrStarting = errors.New("starting")

// Readiness is how far the start-up replay of the raft log has come.
// Target is raft's last log index when the server opened its data dir;
// Applied is the FSM's applied index. Ready latches once the FSM holds
// every entry up to Target (or this server has established leadership,
// whose barrier implies it).
type Readiness struct {
	Ready   bool
	Applied uint64
	Target  uint64
	// Halted is set (and Ready false) once the FSM stopped at an entry of
	// a newer command format than this server knows (version.go).
	Halted error
}

// Error is the answer a request gets while the server is not ready:
// ErrStarting with the replay's progress, or nil when ready.
func (r Readiness) Error() error {
	if r.Halted != nil {
		return r.Halted
	}
	if r.Ready {
		return nil
	}
	return fmt.Errorf("%w, replaying raft log (index %d of %d)", ErrStarting, r.Applied, r.Target)
}

// replay is the start-up replay state, set by setupRaft.
type replay struct {
	// target is raft's LastIndex at open, cmdTarget the last entry at or
	// below it that the FSM applies (no-op and configuration entries
	// never reach the FSM).
	target, cmdTarget uint64
	opened            time.Time
}

// initReplay records the replay target right after raft opened the log.
func (s *Server) initReplay(logs raft.LogStore) {
	s.replay.opened = time.Now()
	s.replay.target = s.raft.LastIndex()
	applied := s.fsm.AppliedIndex()
	s.replay.cmdTarget = applied
	if s.replay.target <= applied {
		s.ready.Store(true)
		s.onReady()
		return
	}
	// Find the last command entry; a start usually ends on one or on the
	// no-op of the previous term's first entry.
	first, err := logs.FirstIndex()
	if err != nil {
		first = 0
	}
	for idx := s.replay.target; idx > applied && idx >= first && s.replay.target-idx < 4096; idx-- {
		var l raft.Log
		if err := logs.GetLog(idx, &l); err != nil {
			break
		}
		if l.Type == raft.LogCommand {
			s.replay.cmdTarget = idx
			break
		}
	}
	s.logger.Info("replaying raft log", "from", applied, "to", s.replay.target)
}

// Readiness reports the start-up replay's progress.
func (s *Server) Readiness() Readiness {
	r := Readiness{Ready: s.ready.Load(), Applied: s.fsm.AppliedIndex(), Target: s.replay.target}
	if r.Halted = s.Halted(); r.Halted != nil {
		r.Ready = false
		return r
	}
	if r.Ready {
		return r
	}
	caughtUp := s.raft.AppliedIndex() >= s.replay.target && r.Applied >= s.replay.cmdTarget
	if caughtUp || s.leading.Load() {
		if s.ready.CompareAndSwap(false, true) {
			s.logger.Info("raft log replayed", "index", r.Applied, "target", s.replay.target,
				"duration", time.Since(s.replay.opened).Round(time.Millisecond))
			s.onReady()
		}
		r.Ready = true
	}
	return r
}

// WaitReplayed returns once Readiness is ready, or ctx ends.
func (s *Server) WaitReplayed(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !s.Readiness().Ready {
		if err := s.Halted(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.shutdownCtx.Done():
			return ErrShutdown
		case <-s.changes():
		case <-t.C:
		}
	}
	return nil
}

// watchReplay latches readiness as soon as the replay completes, and logs
// progress every 5s while it runs.
func (s *Server) watchReplay(ctx context.Context) {
	if s.ready.Load() {
		return
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	lastLog := time.Now()
	for {
		r := s.Readiness()
		if r.Ready {
			return
		}
		if time.Since(lastLog) >= 5*time.Second {
			lastLog = time.Now()
			s.logger.Info("replaying raft log", "index", r.Applied, "target", r.Target)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.changes():
		case <-tick.C:
		}
	}
}

// onReady runs once, when the replay is done: the FSM now holds the
// mission's checkpoint path, so an interrupted export's temp file can be
// found and removed.
func (s *Server) onReady() {
	if !s.cfg.InMemory {
		s.removeCheckpointLeftovers()
	}
}
