package eventlog

import (
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/planetary/planetary/raftfsm/state"
)

// ErrPruned is returned when events were removed by retention: a segment a
// reader was about to open is gone.
var ErrPruned = errors.New("eventlog: events pruned by retention")

// retentionFile holds the RetentionState, next to the segments.
const retentionFile = "retention.json"

// defaultCheckInterval is how often a log with a MaxAge looks for old
// segments when nothing else wakes its pruner.
const defaultCheckInterval = time.Minute

// Retention bounds the event log on disk. Closed segments (never the one
// being written) are pruned oldest first while the log is larger than
// MaxBytes, or while the oldest segment was last written more than MaxAge
// ago; a pruned segment is deleted, or first archived gzip-compressed to
// ArchiveDir.
//
// A segment is pruned only once every event in it is covered by a durable
// raft snapshot (Covered): raft then never replays the entries that made
// those events, so the log will not be asked for them again. Before any file
// is removed, the chain anchor at the new start of the log (the seq and hash
// of the last pruned event) is persisted in retention.json, so the retained
// window verifies from it.
type Retention struct {
	// MaxAge prunes segments last written longer ago than this (0: no age
	// limit).
	MaxAge time.Duration
	// MaxBytes prunes the oldest segments while all segments together are
	// larger than this (0: no size limit).
	MaxBytes int64
	// ArchiveDir, when set, receives each pruned segment as
	// events-<first seq>.ndjson.gz before it is removed.
	ArchiveDir string
	// CheckInterval is how often age is checked when no snapshot or segment
	// rotation wakes the pruner (default 1m).
	CheckInterval time.Duration
}

// Enabled reports whether the policy prunes anything.
func (r Retention) Enabled() bool { return r.MaxAge > 0 || r.MaxBytes > 0 }

// Validate checks the policy.
func (r Retention) Validate() error {
	switch {
	case r.MaxAge < 0:
		return errors.New("eventlog: Retention.MaxAge must not be negative")
	case r.MaxBytes < 0:
		return errors.New("eventlog: Retention.MaxBytes must not be negative")
	case r.CheckInterval < 0:
		return errors.New("eventlog: Retention.CheckInterval must not be negative")
	case r.ArchiveDir != "" && !r.Enabled():
		return errors.New("eventlog: Retention.ArchiveDir needs MaxAge or MaxBytes")
	}
	return nil
}

// RetentionState records what retention removed. It is written to
// retention.json before the segments it counts are removed.
type RetentionState struct {
	// Anchor is where the retained log starts: the last pruned event's seq
	// and hash. The first retained event has Seq Anchor.Seq+1 and Prev
	// Anchor.Hash (or the log resumes there from an anchor record).
	Anchor Anchor `json:"anchor"`
	// Covered is the snapshot chain head that allowed the latest prune.
	Covered Anchor `json:"covered"`
	// PrunedEvents, PrunedSegments and PrunedBytes add up every prune.
	PrunedEvents   uint64 `json:"pruned_events"`
	PrunedSegments int    `json:"pruned_segments"`
	PrunedBytes    int64  `json:"pruned_bytes"`
	// ArchivedSegments of the pruned segments were archived to ArchiveDir.
	ArchivedSegments int    `json:"archived_segments"`
	ArchiveDir       string `json:"archive_dir,omitempty"`
}

// PruneResult is what one Prune removed.
type PruneResult struct {
	Segments int
	Events   uint64
	Bytes    int64
	Anchor   Anchor
	// Archives are the files written to the archive dir.
	Archives []string
}

// Covered tells the log the chain head of a raft snapshot that is durable
// in the snapshot store (or was just restored from it): the events up to it
// are no longer needed to rebuild state. It implements
// raftfsm.SnapshotCovered. The latest call wins.
func (l *Log) Covered(head state.ChainHead) {
	l.mu.Lock()
	l.covered = Anchor{Seq: head.Seq, Hash: hex.EncodeToString(head.Hash[:])}
	l.mu.Unlock()
	l.wakePruner()
}

// Retention returns the log's retention policy.
func (l *Log) Retention() Retention { return l.cfg.Retention }

// Pruned returns what retention has removed; ok is false while nothing was.
func (l *Log) Pruned() (st RetentionState, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pruned, l.pruned.PrunedSegments > 0
}

func (l *Log) wakePruner() {
	select {
	case l.pruneWake <- struct{}{}:
	default:
	}
}

// pruner runs Prune when a snapshot is covered, a segment is closed, or
// CheckInterval passes, until the writer stops.
func (l *Log) pruner() {
	defer close(l.pruneDone)
	r := l.cfg.Retention
	if !r.Enabled() {
		<-l.done
		return
	}
	iv := r.CheckInterval
	if iv <= 0 {
		iv = defaultCheckInterval
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-l.pruneWake:
		case <-t.C:
		}
		if _, err := l.Prune(); err != nil {
			l.logger.Warn("event log retention", "error", err)
		}
	}
}

// Prune removes (or archives, then removes) the closed segments the
// retention policy selects, oldest first, stopping at the first segment that
// is within the policy or holds an event after the covered snapshot head.
// Nothing is removed before a snapshot was reported to Covered, while its
// head is not yet durable in the log, or when the log does not hold that
// head with the same hash (a different history).
func (l *Log) Prune() (PruneResult, error) {
	var res PruneResult
	r := l.cfg.Retention
	if !r.Enabled() {
		return res, nil
	}
	l.pruneMu.Lock()
	defer l.pruneMu.Unlock()

	l.mu.Lock()
	covered, durable, closed := l.covered, l.durable, l.closed
	segs := append([]*segment(nil), l.segs...)
	done := l.pruned
	l.mu.Unlock()
	if closed || covered.Seq == 0 || covered.Seq > durable || len(segs) < 2 {
		return res, nil
	}
	if ok, err := l.holds(covered); err != nil || !ok {
		if err == nil {
			l.logger.Debug("snapshot chain head not in the event log; not pruning", "seq", covered.Seq)
		}
		return res, err
	}

	sizes := make([]int64, len(segs))
	mtimes := make([]time.Time, len(segs))
	var total int64
	for i, sg := range segs {
		fi, err := os.Stat(sg.path)
		if err != nil {
			return res, fmt.Errorf("eventlog: retention: %w", err)
		}
		sizes[i], mtimes[i] = fi.Size(), fi.ModTime()
		total += fi.Size()
	}
	now := l.cfg.Now()
	n := 0
	anchor := done.Anchor
	var events uint64
	for i := 0; i < len(segs)-1; i++ {
		sg := segs[i]
		if sg.events > 0 && sg.last > covered.Seq {
			break
		}
		over := r.MaxBytes > 0 && total > r.MaxBytes
		old := r.MaxAge > 0 && now.Sub(mtimes[i]) > r.MaxAge
		if !over && !old {
			break
		}
		total -= sizes[i]
		n = i + 1
		events += sg.events
		if sg.events > 0 {
			anchor = Anchor{Seq: sg.last, Hash: sg.lastHash}
		}
	}
	if n == 0 || anchor.Hash == "" {
		return res, nil
	}
	// The retained log must continue from the anchor: its next event
	// follows the last pruned one, or starts from an anchor record.
	next, err := l.readNoWait(anchor.Seq)
	if err != nil || next == nil {
		return res, err
	}
	if next.Seq != anchor.Seq+1 || next.Prev != anchor.Hash {
		found := false
		l.mu.Lock()
		for _, a := range l.anchors {
			if a.Seq == next.Seq-1 && a.Hash == next.Prev {
				anchor, found = a, true
			}
		}
		l.mu.Unlock()
		if !found {
			return res, fmt.Errorf("%w: event %d does not follow the last pruned event %d", ErrCorrupt, next.Seq, anchor.Seq)
		}
	}

	victims := segs[:n]
	if r.ArchiveDir != "" {
		for _, sg := range victims {
			p, err := archiveSegment(sg.path, r.ArchiveDir)
			if err != nil {
				return res, err
			}
			res.Archives = append(res.Archives, p)
		}
	}
	st := done
	st.Anchor, st.Covered = anchor, covered
	st.PrunedEvents += events
	st.PrunedSegments += n
	for i := range victims {
		st.PrunedBytes += sizes[i]
		res.Bytes += sizes[i]
	}
	if r.ArchiveDir != "" {
		st.ArchivedSegments += n
		st.ArchiveDir = r.ArchiveDir
	}
	if err := writeJSONFile(filepath.Join(l.cfg.Dir, retentionFile), st); err != nil {
		return res, err
	}

	l.mu.Lock()
	if len(l.segs) < n || l.segs[0] != victims[0] {
		l.mu.Unlock()
		return res, errors.New("eventlog: retention: segments changed during a prune")
	}
	l.segs = l.segs[n:]
	l.pruned = st
	l.firstSeq = anchor.Seq + 1
	kept := []Anchor{anchor}
	for _, a := range l.anchors {
		if a.Seq > anchor.Seq {
			kept = append(kept, a)
		}
	}
	l.anchors = kept
	l.mu.Unlock()

	for _, sg := range victims {
		if err := os.Remove(sg.path); err != nil && !os.IsNotExist(err) {
			return res, fmt.Errorf("eventlog: retention: %w", err)
		}
	}
	if err := syncDir(l.cfg.Dir); err != nil {
		return res, err
	}
	res.Segments, res.Events, res.Anchor = n, events, anchor
	l.logger.Info("event log segments pruned", "segments", n, "events", events, "bytes", res.Bytes,
		"anchor_seq", anchor.Seq, "snapshot_seq", covered.Seq, "archived", len(res.Archives))
	return res, nil
}

// holds reports whether the log holds a's event with a's hash.
func (l *Log) holds(a Anchor) (bool, error) {
	ev, err := l.readNoWait(a.Seq - 1)
	if err != nil || ev == nil {
		return false, err
	}
	return ev.Seq == a.Seq && ev.Hash == a.Hash, nil
}

// readNoWait returns the first event with seq > after that is written, or
// nil; unlike Read it never waits for the writer.
func (l *Log) readNoWait(after uint64) (*state.Event, error) {
	l.mu.Lock()
	written, segs := l.written, l.segsLocked()
	l.mu.Unlock()
	if written <= after {
		return nil, nil
	}
	evs, err := l.readDisk(after, 1, written, segs)
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	return &evs[0], nil
}

// loadRetention reads retention.json and removes segments it already counts
// as pruned (a crash between persisting it and removing them).
func (l *Log) loadRetention() error {
	b, err := os.ReadFile(filepath.Join(l.cfg.Dir, retentionFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("eventlog: read retention state: %w", err)
	}
	var st RetentionState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, retentionFile, err)
	}
	l.pruned = st
	keep := l.segs[:0]
	for i, sg := range l.segs {
		if i+1 < len(l.segs) && l.segs[i+1].first <= st.Anchor.Seq+1 {
			l.logger.Info("removing event segment already pruned", "segment", sg.path)
			if err := os.Remove(sg.path); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("eventlog: retention: %w", err)
			}
			continue
		}
		keep = append(keep, sg)
	}
	l.segs = keep
	return nil
}

// setAsideRetention moves retention.json along with the segments it
// describes (see setAside) and forgets it.
func (l *Log) setAsideRetention(dst string) error {
	src := filepath.Join(l.cfg.Dir, retentionFile)
	if err := os.Rename(src, filepath.Join(dst, retentionFile)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("eventlog: set aside: %w", err)
	}
	l.mu.Lock()
	l.pruned, l.covered = RetentionState{}, Anchor{}
	l.mu.Unlock()
	return nil
}

// archiveSegment writes src gzip-compressed to dir as <name>.gz, durably,
// and returns its path.
func archiveSegment(src, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("eventlog: archive dir: %w", err)
	}
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("eventlog: archive: %w", err)
	}
	defer in.Close()
	dst := filepath.Join(dir, filepath.Base(src)+".gz")
	tmp := dst + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return "", fmt.Errorf("eventlog: archive: %w", err)
	}
	gz := gzip.NewWriter(f)
	gz.Name = filepath.Base(src)
	_, err = io.Copy(gz, in)
	if err == nil {
		err = gz.Close()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("eventlog: archive %s: %w", filepath.Base(src), err)
	}
	return dst, syncDir(dir)
}

// writeJSONFile replaces path with v's JSON durably (temp file, fsync,
// rename, fsync of the directory).
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("eventlog: encode %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("eventlog: write %s: %w", filepath.Base(path), err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("eventlog: write %s: %w", filepath.Base(path), err)
	}
	return syncDir(filepath.Dir(path))
}
