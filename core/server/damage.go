package server

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/planetary/planetary/raftfsm/state"
)

// ErrSnapshotCorrupt names a raft snapshot in the data dir that cannot be
// read back (checksum mismatch, unreadable metadata, or a state that does
// not restore).
var ErrSnapshotCorrupt = errors.New("server: raft snapshot is corrupt")

// corruptDir is where a corrupt snapshot is moved once the server has
// started from an older one, under the server's data dir.
const corruptDir = "snapshots-corrupt"

// leftoverPatterns are the temp files an interrupted checkpoint or export
// leaves in the server's data dir: raft snapshots being written (raft's
// FileSnapshotStore keeps them in snapshots/snapshots/) and the
// export and restore spools.
var leftoverPatterns = []string{"snapshots/snapshots/*.tmp", ".export-*", ".restore-*"}

// removeLeftovers removes what a crash during a checkpoint left in the data
// dir. It runs before raft opens, so nothing of this process is writing.
func (s *Server) removeLeftovers() {
	for _, pat := range leftoverPatterns {
		matches, _ := filepath.Glob(filepath.Join(s.cfg.DataDir, pat))
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				s.logger.Warn("cannot remove leftover temp file of an interrupted checkpoint", "path", m, "error", err)
				continue
			}
			s.logger.Warn("removed leftover temp file of an interrupted checkpoint", "path", m)
		}
	}
}

// removeCheckpointLeftovers removes temp files of an interrupted checkpoint
// export next to the mission's checkpoint path (".<name>.tmp-*") that are
// older than this server's start, so a checkpoint this process is writing
// is never touched. It runs once the replay is done (the path is FSM state).
func (s *Server) removeCheckpointLeftovers() {
	var pol state.Policy
	s.fsm.Read(func(st *state.Store) { pol = st.Policy() })
	if pol.CheckpointPath == "" {
		return
	}
	path, err := s.resolveAllowed(pol.CheckpointPath)
	if err != nil {
		return
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*"))
	for _, m := range matches {
		fi, err := os.Lstat(m)
		if err != nil || !fi.Mode().IsRegular() || !fi.ModTime().Before(s.replay.opened) {
			continue
		}
		if err := os.Remove(m); err != nil {
			s.logger.Warn("cannot remove leftover temp file of an interrupted checkpoint", "path", m, "error", err)
			continue
		}
		s.logger.Warn("removed leftover temp file of an interrupted checkpoint", "path", m)
	}
}

// checkedSnapshots watches raft's start-up restore: raft opens the newest
// snapshot and, when it cannot be read or restored, the next older one.
// An older one is used only when the raft log still holds every entry
// after it up to the newest snapshot's index (otherwise starting from it
// would silently drop acknowledged entries); the corrupt ones are recorded
// for a named error.
type checkedSnapshots struct {
	raft.SnapshotStore
	logs     raft.LogStore
	starting atomic.Bool

	mu     sync.Mutex
	newest *raft.SnapshotMeta
	last   *raft.SnapshotMeta // the snapshot raft opened last during start-up
	bad    []badSnapshot
}

type badSnapshot struct {
	id    string
	index uint64
	err   error
}

func (b badSnapshot) String() string {
	return fmt.Sprintf("snapshot %s (index %d): %v", b.id, b.index, b.err)
}

// List implements raft.SnapshotStore.
func (c *checkedSnapshots) List() ([]*raft.SnapshotMeta, error) {
	list, err := c.SnapshotStore.List()
	if err == nil && len(list) > 0 && c.starting.Load() {
		c.mu.Lock()
		if c.newest == nil {
			c.newest = list[0]
		}
		c.mu.Unlock()
	}
	return list, err
}

// Open implements raft.SnapshotStore.
func (c *checkedSnapshots) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	if !c.starting.Load() {
		return c.SnapshotStore.Open(id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last != nil {
		// raft moved on to another snapshot: the last one did not restore.
		c.bad = append(c.bad, badSnapshot{c.last.ID, c.last.Index, errors.New("its state does not restore")})
		c.last = nil
	}
	meta, rc, err := c.SnapshotStore.Open(id)
	if err != nil {
		var idx uint64
		if c.newest != nil && c.newest.ID == id {
			idx = c.newest.Index
		}
		c.bad = append(c.bad, badSnapshot{id, idx, err})
		return nil, nil, err
	}
	if len(c.bad) > 0 && c.newest != nil {
		first, ferr := c.logs.FirstIndex()
		last, lerr := c.logs.LastIndex()
		if ferr != nil || lerr != nil || last < c.newest.Index || first > meta.Index+1 {
			_ = rc.Close()
			err := fmt.Errorf("the raft log (indexes %d to %d) does not hold every entry from %d to %d after it",
				first, last, meta.Index+1, c.newest.Index)
			c.bad = append(c.bad, badSnapshot{id, meta.Index, err})
			return nil, nil, err
		}
	}
	c.last = meta
	return meta, rc, nil
}

// started ends the start-up watch. restored reports whether raft restored
// a snapshot (or needed none); the result is what went wrong, if anything.
func (c *checkedSnapshots) started() (used *raft.SnapshotMeta, bad []badSnapshot) {
	c.starting.Store(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.bad
}

// snapshotOutcome turns the start-up watch into log lines and errors:
// after a fallback the corrupt snapshots are moved to snapshots-corrupt/
// and the named error is logged; when raft could restore none, the named
// error says what to do.
func (s *Server) snapshotOutcome(c *checkedSnapshots, raftErr error) error {
	used, bad := c.started()
	if len(bad) == 0 {
		if raftErr != nil {
			return fmt.Errorf("server: start raft: %w", raftErr)
		}
		return nil
	}
	var what []string
	for _, b := range bad {
		what = append(what, b.String())
	}
	detail := strings.Join(what, "; ")
	if raftErr != nil || used == nil {
		return fmt.Errorf("%w: %s; no older snapshot can replace it with the raft log in %s. "+
			"To recover, move %s aside and restart: a server of a cluster then catches up from the leader; "+
			"a single server starts empty and takes back its last checkpoint archive with "+
			"`planetary operator snapshot restore <archive>`", ErrSnapshotCorrupt, detail, s.cfg.DataDir, s.cfg.DataDir)
	}
	moved := filepath.Join(s.cfg.DataDir, corruptDir)
	for _, b := range bad {
		src := filepath.Join(s.cfg.DataDir, "snapshots", "snapshots", b.id) // FileSnapshotStore's own subdir
		if _, err := os.Stat(src); err != nil {
			continue
		}
		if err := os.MkdirAll(moved, 0o755); err == nil {
			err = os.Rename(src, filepath.Join(moved, b.id+"-"+time.Now().UTC().Format("20060102T150405")))
			if err != nil {
				s.logger.Warn("cannot move a corrupt snapshot aside", "snapshot", b.id, "error", err)
			}
		}
	}
	s.logger.Error("started from an older raft snapshot",
		"error", fmt.Errorf("%w: %s", ErrSnapshotCorrupt, detail),
		"snapshot", used.ID, "index", used.Index,
		"moved_to", moved, "action", "nothing is lost (the raft log holds every later entry); inspect and delete "+moved)
	return nil
}
