package eventlog

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/planetary/planetary/raftfsm/state"
)

// fill appends n events in batches of 50, syncs them and returns the head.
func fill(t *testing.T, l *Log, head state.ChainHead, n int) state.ChainHead {
	t.Helper()
	for n > 0 {
		k := min(n, 50)
		var evs []state.Event
		evs, head = chain(head, k)
		l.Append(evs)
		n -= k
	}
	if err := l.Sync(head.Seq); err != nil {
		t.Fatalf("sync: %v", err)
	}
	return head
}

// headAt returns the chain head at seq as the log holds it.
func headAt(t *testing.T, l *Log, seq uint64) state.ChainHead {
	t.Helper()
	evs, err := l.Read(seq-1, 1)
	if err != nil || len(evs) != 1 || evs[0].Seq != seq {
		t.Fatalf("read seq %d: %v %v", seq, evs, err)
	}
	var h state.ChainHead
	h.Seq = seq
	b, _ := hex.DecodeString(evs[0].Hash)
	copy(h.Hash[:], b)
	return h
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, segPrefix+"*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func retentionLog(t *testing.T, dir string, r Retention) *Log {
	return openTest(t, dir, func(c *Config) {
		c.SegmentBytes, c.TailEvents = 4<<10, 64
		r.CheckInterval = time.Hour
		c.Retention = r
	})
}

// TestPruneOnlyBehindSnapshot crafts every way a prune could run ahead of
// the raft snapshot and its chain anchor, and sees nothing removed; only a
// snapshot head the log holds, with its hash, lets segments go.
func TestPruneOnlyBehindSnapshot(t *testing.T) {
	cases := []struct {
		name string
		// covered returns the head to report, or ok=false for none.
		covered func(t *testing.T, l *Log, head state.ChainHead) (state.ChainHead, bool)
		prunes  bool
	}{
		{"no snapshot yet", func(*testing.T, *Log, state.ChainHead) (state.ChainHead, bool) { return state.ChainHead{}, false }, false},
		{"snapshot of another history", func(t *testing.T, l *Log, head state.ChainHead) (state.ChainHead, bool) {
			h := headAt(t, l, head.Seq-10)
			h.Hash[0] ^= 0xff
			return h, true
		}, false},
		{"snapshot ahead of the durable log", func(t *testing.T, l *Log, head state.ChainHead) (state.ChainHead, bool) {
			return state.ChainHead{Seq: head.Seq + 100}, true
		}, false},
		{"snapshot before the first segment ends", func(t *testing.T, l *Log, head state.ChainHead) (state.ChainHead, bool) {
			return headAt(t, l, 3), true
		}, false},
		{"snapshot near the head", func(t *testing.T, l *Log, head state.ChainHead) (state.ChainHead, bool) {
			return headAt(t, l, head.Seq-10), true
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := retentionLog(t, dir, Retention{MaxBytes: 8 << 10})
			head := fill(t, l, state.ChainHead{}, 600)
			before := segFiles(t, dir)
			if len(before) < 5 {
				t.Fatalf("only %d segments", len(before))
			}
			if h, ok := tc.covered(t, l, head); ok {
				l.Covered(h)
			}
			res, err := l.Prune()
			if err != nil {
				t.Fatalf("prune: %v", err)
			}
			st, pruned := l.Pruned()
			after := segFiles(t, dir)
			if !tc.prunes {
				if pruned || res.Segments != 0 || len(after) != len(before) {
					t.Fatalf("pruned %d segments (state %+v), %d -> %d files", res.Segments, st, len(before), len(after))
				}
				if _, err := os.Stat(filepath.Join(dir, retentionFile)); !os.IsNotExist(err) {
					t.Fatalf("retention.json written without a prune: %v", err)
				}
				if got := verify(t, l); len(got) != 600 {
					t.Fatalf("%d events, want 600", len(got))
				}
				return
			}
			if !pruned || len(after) >= len(before) {
				t.Fatalf("nothing pruned: %d -> %d files, %+v", len(before), len(after), st)
			}
			var size int64
			for _, p := range after {
				fi, _ := os.Stat(p)
				size += fi.Size()
			}
			if size > 8<<10+4<<10 {
				t.Fatalf("%d bytes kept, limit 8 KiB plus one open segment", size)
			}
			if st.PrunedEvents != st.Anchor.Seq || st.Anchor.Seq == 0 {
				t.Fatalf("state %+v: pruned events should be the events 1..anchor", st)
			}
			checkFromAnchor(t, l, st, head)
			// Reopen: the persisted anchor is where the log starts.
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = retentionLog(t, dir, Retention{MaxBytes: 8 << 10})
			defer l.Close()
			st2, ok := l.Pruned()
			if !ok || st2 != st {
				t.Fatalf("reopened state %+v, want %+v", st2, st)
			}
			checkFromAnchor(t, l, st, head)
		})
	}
}

// checkFromAnchor verifies the log from st's anchor to head.
func checkFromAnchor(t *testing.T, l *Log, st RetentionState, head state.ChainHead) {
	t.Helper()
	a, _ := l.Anchor()
	if a != st.Anchor {
		t.Fatalf("first anchor %+v, want the retention anchor %+v", a, st.Anchor)
	}
	got := verify(t, l)
	if len(got) == 0 || got[0].Seq != st.Anchor.Seq+1 || got[0].Prev != st.Anchor.Hash {
		t.Fatalf("retained log does not start after the anchor %+v", st.Anchor)
	}
	if uint64(len(got)) != head.Seq-st.Anchor.Seq {
		t.Fatalf("%d events retained, want %d", len(got), head.Seq-st.Anchor.Seq)
	}
}

func TestPruneArchivesUnderDir(t *testing.T) {
	dir := t.TempDir()
	arch := filepath.Join(t.TempDir(), "archive", "events")
	l := retentionLog(t, dir, Retention{MaxBytes: 8 << 10, ArchiveDir: arch})
	defer l.Close()
	head := fill(t, l, state.ChainHead{}, 600)
	orig := map[string][]byte{}
	for _, p := range segFiles(t, dir) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		orig[filepath.Base(p)] = b
	}
	l.Covered(headAt(t, l, head.Seq))
	if _, err := l.Prune(); err != nil {
		t.Fatal(err)
	}
	st, ok := l.Pruned()
	if !ok || st.ArchivedSegments != st.PrunedSegments || st.ArchiveDir != arch {
		t.Fatalf("state %+v", st)
	}
	gz, _ := filepath.Glob(filepath.Join(arch, "*"))
	if len(gz) != st.PrunedSegments {
		t.Fatalf("%d archive files for %d pruned segments: %v", len(gz), st.PrunedSegments, gz)
	}
	var events int
	for _, p := range gz {
		name := filepath.Base(p)
		want, ok := orig[name[:len(name)-len(".gz")]]
		if !ok || filepath.Ext(p) != ".gz" {
			t.Fatalf("unexpected archive file %s", p)
		}
		if _, err := os.Stat(filepath.Join(dir, name[:len(name)-3])); !os.IsNotExist(err) {
			t.Fatalf("archived segment %s still in the log", name)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		f.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s does not decompress to the pruned segment (err %v)", p, err)
		}
		events += bytes.Count(got, []byte("\n"))
	}
	if uint64(events) != st.PrunedEvents {
		t.Fatalf("archives hold %d events, %d pruned", events, st.PrunedEvents)
	}
}

func TestPruneByAge(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	l := openTest(t, dir, func(c *Config) {
		c.SegmentBytes, c.TailEvents = 4<<10, 64
		c.Retention = Retention{MaxAge: time.Hour, CheckInterval: time.Hour}
		c.Now = func() time.Time { return now }
	})
	defer l.Close()
	head := fill(t, l, state.ChainHead{}, 300)
	segs := segFiles(t, dir)
	// The two oldest segments were last written two hours ago.
	for _, p := range segs[:2] {
		old := now.Add(-2 * time.Hour)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	l.Covered(headAt(t, l, head.Seq))
	res, err := l.Prune()
	if err != nil {
		t.Fatal(err)
	}
	st, _ := l.Pruned()
	if st.PrunedSegments != 2 || len(segFiles(t, dir)) != len(segs)-2 {
		t.Fatalf("pruned %+v (this call %d), want the 2 old segments", st, res.Segments)
	}
	checkFromAnchor(t, l, st, head)
}

// A crash after retention.json is written but before the segments it
// counts are removed: reopening removes them.
func TestPruneCrashBeforeRemove(t *testing.T) {
	dir := t.TempDir()
	l := retentionLog(t, dir, Retention{MaxBytes: 8 << 10})
	head := fill(t, l, state.ChainHead{}, 600)
	keep := map[string][]byte{}
	for _, p := range segFiles(t, dir) {
		b, _ := os.ReadFile(p)
		keep[p] = b
	}
	l.Covered(headAt(t, l, head.Seq))
	if _, err := l.Prune(); err != nil {
		t.Fatal(err)
	}
	st, _ := l.Pruned()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for p, b := range keep { // put the removed segments back
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l = retentionLog(t, dir, Retention{MaxBytes: 8 << 10})
	defer l.Close()
	if n := len(segFiles(t, dir)); n != len(keep)-st.PrunedSegments {
		t.Fatalf("%d segments after reopen, want %d", n, len(keep)-st.PrunedSegments)
	}
	checkFromAnchor(t, l, st, head)
	// Reading before the window names the missing segment's removal.
	if _, err := l.Read(0, 10); err != nil && !errors.Is(err, ErrPruned) {
		t.Fatalf("read before the window: %v", err)
	}
}
