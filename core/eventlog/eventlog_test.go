package eventlog

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/raftfsm/state"
)

// chain builds n sealed events starting after head.
func chain(head state.ChainHead, n int) ([]state.Event, state.ChainHead) {
	out := make([]state.Event, n)
	for i := range out {
		out[i] = state.Event{Index: head.Seq + 1, Time: int64(head.Seq + 1), Type: state.EvJobSubmitted, Job: "job-" + string(rune('a'+i%26))}
		head = out[i].Seal(head)
	}
	return out, head
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Output: testWriter{t}, Level: hclog.Warn})
}

func openTest(t *testing.T, dir string, mut func(*Config)) *Log {
	t.Helper()
	cfg := DefaultConfig(dir)
	cfg.Logger = testLogger(t)
	if mut != nil {
		mut(&cfg)
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return l
}

// verify walks the whole log from its first anchor and checks the hash chain
// and that every seq in (anchor, head] is present exactly once.
func verify(t *testing.T, l *Log) []state.Event {
	t.Helper()
	a, ok := l.Anchor()
	if !ok {
		t.Fatalf("no anchor")
	}
	anchors := map[uint64]string{}
	for _, an := range l.Anchors() {
		anchors[an.Seq] = an.Hash
	}
	var all []state.Event
	after := a.Seq
	prevSeq, prevHash := a.Seq, a.Hash
	for {
		evs, err := l.Read(after, 97)
		if err != nil {
			t.Fatalf("read after %d: %v", after, err)
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			if ev.Seq != prevSeq+1 || ev.Prev != prevHash {
				h, ok := anchors[ev.Seq-1]
				if !ok {
					t.Fatalf("discontinuity before seq %d without anchor (prev %d)", ev.Seq, prevSeq)
				}
				prevHash = h
			}
			if ev.Prev != prevHash {
				t.Fatalf("seq %d: prev %s, want %s", ev.Seq, ev.Prev, prevHash)
			}
			var p [32]byte
			b, _ := hex.DecodeString(ev.Prev)
			copy(p[:], b)
			h := ev.ComputeHash(p)
			if hex.EncodeToString(h[:]) != ev.Hash {
				t.Fatalf("seq %d: bad hash", ev.Seq)
			}
			prevSeq, prevHash = ev.Seq, ev.Hash
		}
		all = append(all, evs...)
		after = evs[len(evs)-1].Seq
	}
	if head, _ := l.Head(); prevSeq != head {
		t.Fatalf("read up to %d, head %d", prevSeq, head)
	}
	return all
}

func TestAppendSyncReopen(t *testing.T) {
	cases := []struct {
		name    string
		segment int64
		tail    int
		n       int
	}{
		{"one segment", 64 << 20, 1 << 16, 500},
		{"many segments small tail", 4 << 10, 16, 3000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mut := func(c *Config) { c.SegmentBytes, c.TailEvents = tc.segment, tc.tail }
			l := openTest(t, dir, mut)
			evs, head := chain(state.ChainHead{}, tc.n)
			for i := 0; i < len(evs); i += 7 {
				l.Append(evs[i:min(i+7, len(evs))])
			}
			if err := l.Sync(head.Seq); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if got := l.Durable(); got != head.Seq {
				t.Fatalf("durable %d, want %d", got, head.Seq)
			}
			if got := len(verify(t, l)); got != tc.n {
				t.Fatalf("read %d events, want %d", got, tc.n)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			l2 := openTest(t, dir, mut)
			defer l2.Close()
			seq, hash := l2.Head()
			if seq != head.Seq || hash != hex.EncodeToString(head.Hash[:]) {
				t.Fatalf("reopened head %d %s, want %d", seq, hash, head.Seq)
			}
			if a, _ := l2.Anchor(); a.Seq != 0 || a.Hash != strings.Repeat("0", 64) {
				t.Fatalf("anchor %+v, want genesis", a)
			}
			// Reads after reopen come from disk (the tail is empty).
			if got := len(verify(t, l2)); got != tc.n {
				t.Fatalf("read %d events after reopen, want %d", got, tc.n)
			}
		})
	}
}

func TestCrashRecovery(t *testing.T) {
	cases := []struct {
		name string
		// damage is applied to the newest segment after a clean close.
		damage func(t *testing.T, path string)
	}{
		{"torn last line", func(t *testing.T, path string) {
			appendRaw(t, path, `{"seq":51,"index":51,"ty`)
		}},
		{"garbled last line", func(t *testing.T, path string) {
			appendRaw(t, path, "{\"seq\":51,garbage}\n")
		}},
		{"clean", func(t *testing.T, path string) {}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openTest(t, dir, nil)
			evs, _ := chain(state.ChainHead{}, 80)
			l.Append(evs[:50])
			if err := l.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			segs, _ := filepath.Glob(filepath.Join(dir, segPrefix+"*"))
			tc.damage(t, segs[len(segs)-1])

			l2 := openTest(t, dir, nil)
			defer l2.Close()
			if seq, _ := l2.Head(); seq != 50 {
				t.Fatalf("head after crash %d, want 50", seq)
			}
			// Replay regenerates from an earlier point: duplicates are skipped.
			l2.Append(evs[20:])
			if err := l2.Sync(80); err != nil {
				t.Fatalf("sync: %v", err)
			}
			got := verify(t, l2)
			if len(got) != 80 {
				t.Fatalf("got %d events, want 80", len(got))
			}
		})
	}
}

func appendRaw(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestUnflushedLossThenReplay(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, nil)
	evs, _ := chain(state.ChainHead{}, 100)
	l.Append(evs[:40])
	if err := l.Sync(40); err != nil {
		t.Fatal(err)
	}
	// Simulate a crash: the writer never sees 41..100; files are closed.
	l.mu.Lock()
	l.closed = true
	l.pending = nil
	l.broadcastLocked()
	l.mu.Unlock()
	l.wake <- struct{}{}
	<-l.done

	l2 := openTest(t, dir, nil)
	defer l2.Close()
	if seq, _ := l2.Head(); seq != 40 {
		t.Fatalf("head %d, want 40", seq)
	}
	l2.Append(evs) // full replay from the raft log
	if err := l2.Sync(100); err != nil {
		t.Fatal(err)
	}
	if n := len(verify(t, l2)); n != 100 {
		t.Fatalf("got %d, want 100", n)
	}
}

func TestAnchorOnJump(t *testing.T) {
	cases := []struct {
		name   string
		before int // events written before the jump
	}{
		{"empty log starts mid-chain", 0},
		{"gap after events", 30},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openTest(t, dir, nil)
			evs, _ := chain(state.ChainHead{}, 200)
			if tc.before > 0 {
				l.Append(evs[:tc.before])
			}
			l.Append(evs[120:]) // a snapshot installed at seq 120
			if err := l.Sync(200); err != nil {
				t.Fatal(err)
			}
			check := func(l *Log) {
				t.Helper()
				as := l.Anchors()
				last := as[len(as)-1]
				if last.Seq != 120 || last.Hash != evs[119].Hash {
					t.Fatalf("last anchor %+v, want seq 120 hash %s", last, evs[119].Hash)
				}
				want := 80 + tc.before
				if n := len(verify(t, l)); n != want {
					t.Fatalf("got %d events, want %d", n, want)
				}
			}
			check(l)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l2 := openTest(t, dir, nil)
			defer l2.Close()
			check(l2)
			if first, _ := l2.Anchor(); tc.before == 0 && first.Seq != 120 {
				t.Fatalf("first anchor %+v, want 120", first)
			}
		})
	}
}

func TestWait(t *testing.T) {
	l := openTest(t, t.TempDir(), nil)
	defer l.Close()
	evs, _ := chain(state.ChainHead{}, 3)
	l.Append(evs[:1])

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait with nothing new: %v", err)
	}

	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		errc <- l.Wait(ctx, 1)
	}()
	l.Append(evs[1:])
	wg.Wait()
	if err := <-errc; err != nil {
		t.Fatalf("wait: %v", err)
	}
	got, err := l.Read(1, 10)
	if err != nil || len(got) != 2 || got[0].Seq != 2 {
		t.Fatalf("read after wait: %v %v", got, err)
	}
}

func TestConcurrentAppendRead(t *testing.T) {
	l := openTest(t, t.TempDir(), func(c *Config) { c.SegmentBytes, c.TailEvents = 16<<10, 64 })
	defer l.Close()
	const n = 5000
	evs, _ := chain(state.ChainHead{}, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i += 13 {
			l.Append(evs[i:min(i+13, n)])
		}
	}()
	var after uint64
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for after < n {
		if err := l.Wait(ctx, after); err != nil {
			t.Fatalf("wait: %v", err)
		}
		got, err := l.Read(after, 100)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		for _, ev := range got {
			if ev.Seq != after+1 {
				t.Fatalf("seq %d after %d", ev.Seq, after)
			}
			after = ev.Seq
		}
	}
	<-done
}

// TestRewoundChain covers a restore of an older snapshot: the chain
// continues from seq 50 with a different history. The old log is set aside
// and the new one starts from an anchor at 50.
func TestRewoundChain(t *testing.T) {
	cases := []struct {
		name  string
		close bool // reopen between the two histories
	}{
		{"live", false},
		{"after reopen", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openTest(t, dir, nil)
			old, _ := chain(state.ChainHead{}, 100)
			l.Append(old)
			if err := l.Sync(100); err != nil {
				t.Fatal(err)
			}
			if tc.close {
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				l = openTest(t, dir, nil)
			}
			defer l.Close()
			// The restored state's head is old[49]; new events differ.
			var h [32]byte
			b, _ := hex.DecodeString(old[49].Hash)
			copy(h[:], b)
			fresh, _ := chain(state.ChainHead{Seq: 50, Hash: h}, 30)
			for i := range fresh {
				fresh[i].Detail = "after restore"
			}
			// Re-seal with the changed detail.
			head := state.ChainHead{Seq: 50, Hash: h}
			for i := range fresh {
				head = fresh[i].Seal(head)
			}
			l.Append(fresh)
			if err := l.Sync(80); err != nil {
				t.Fatal(err)
			}
			if seq, hash := l.Head(); seq != 80 || hash != fresh[29].Hash {
				t.Fatalf("head %d", seq)
			}
			if a, _ := l.Anchor(); a.Seq != 50 || a.Hash != old[49].Hash {
				t.Fatalf("anchor %+v", a)
			}
			evs := verify(t, l)
			if len(evs) != 30 || evs[0].Detail != "after restore" {
				t.Fatalf("got %d events", len(evs))
			}
			forks, _ := filepath.Glob(filepath.Join(dir, "forked-*", segPrefix+"*"))
			if len(forks) == 0 {
				t.Fatal("old log not set aside")
			}
		})
	}
}

// TestNextEventFromOtherHistory: a restore whose head equals the log's head
// seq but not its hash continues with an anchor, no files moved.
func TestNextEventFromOtherHistory(t *testing.T) {
	l := openTest(t, t.TempDir(), nil)
	defer l.Close()
	a, _ := chain(state.ChainHead{}, 10)
	l.Append(a)
	other := state.ChainHead{Seq: 10, Hash: [32]byte{1}}
	b, _ := chain(other, 5)
	l.Append(b)
	if err := l.Sync(15); err != nil {
		t.Fatal(err)
	}
	as := l.Anchors()
	if len(as) != 2 || as[1].Seq != 10 || as[1].Hash != b[0].Prev {
		t.Fatalf("anchors %+v", as)
	}
	if n := len(verify(t, l)); n != 15 {
		t.Fatalf("got %d", n)
	}
}

// A tail the raft log can no longer regenerate (the next event delivered
// after a restart comes after a gap) is a named error at WARN with the
// hole's range, and the log continues from an anchor after it.
func TestHoleReported(t *testing.T) {
	dir := t.TempDir()
	evs, _ := chain(state.ChainHead{}, 80)
	l := openTest(t, dir, nil)
	l.Append(evs[:40])
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	l2 := openTest(t, dir, func(c *Config) {
		c.Logger = hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Info})
	})
	defer l2.Close()
	l2.Append(evs[60:])
	if err := l2.Sync(80); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "[WARN]") || !strings.Contains(out, ErrHole.Error()+": events 41 to 60 are missing") {
		t.Fatalf("log does not name the hole:\n%s", out)
	}
	if got := l2.Anchors(); len(got) != 2 || got[1].Seq != 60 {
		t.Fatalf("anchors %+v, want a second one at 60", got)
	}
}
