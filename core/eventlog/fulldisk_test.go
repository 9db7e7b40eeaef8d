package eventlog

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/raftfsm/state"
)

// logLines keeps the lines a logger writes.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// count returns how many lines hold both level and msg.
func (l *logLines) count(level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, level) && strings.Contains(s, msg) {
			n++
		}
	}
	return n
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A disk that fills up while events arrive (a write that stores half its
// bytes, or an fsync that loses what it should have made durable, across
// segment rotations) is reported by WriteErr and Sync with ENOSPC, logged
// once at ERROR, and leaves durable events readable and blocking waits
// working; once space is back the writer's retry writes every event
// exactly once with the chain intact, logs once at INFO, and the log
// reopens whole.
func TestFullDiskAndBack(t *testing.T) {
	for _, tc := range []struct {
		name     string
		syncOnly bool
	}{
		{"writes fail", false},
		{"fsyncs fail", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			disk := &FullDisk{SyncOnly: tc.syncOnly}
			lines := &logLines{}
			l := openTest(t, dir, func(c *Config) {
				c.SegmentBytes, c.TailEvents = 4<<10, 16
				c.RetryInterval, c.RetryMax = 10*time.Millisecond, 40*time.Millisecond
				c.WrapFile = disk.Wrap
				c.Logger = hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Info,
					Output: io.MultiWriter(lines, testWriter{t})})
			})
			defer l.Close()
			evs, head := chain(state.ChainHead{}, 900)
			l.Append(evs[:300])
			if err := l.Sync(300); err != nil {
				t.Fatalf("sync before the disk filled: %v", err)
			}

			disk.Fill()
			for i := 300; i < 600; i += 7 {
				l.Append(evs[i:min(i+7, 600)])
			}
			waitUntil(t, "a failed write", func() bool {
				err := l.Sync(600)
				return err != nil && errors.Is(l.WriteErr(), syscall.ENOSPC)
			})
			if err := l.Sync(600); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("sync on a full disk: %v, want ENOSPC", err)
			}
			// What is durable reads from disk (the tail holds 16 events).
			got, err := l.Read(0, 300)
			if err != nil || len(got) != 300 || got[0].Seq != 1 || got[299].Seq != 300 {
				t.Fatalf("read of durable events on a full disk: %d events, %v", len(got), err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := l.Wait(ctx, 599); err != nil {
				t.Fatalf("wait on a full disk: %v", err)
			}
			l.Append(evs[600:])
			if seq, _ := l.Head(); seq != 900 {
				t.Fatalf("head %d on a full disk, want 900", seq)
			}

			disk.Free()
			waitUntil(t, "the writer to catch up once space is back", func() bool { return l.Sync(900) == nil })
			if err := l.WriteErr(); err != nil {
				t.Fatalf("write error after recovery: %v", err)
			}
			if got := len(verify(t, l)); got != 900 {
				t.Fatalf("read %d events after recovery, want 900", got)
			}
			if n := lines.count("[ERROR]", "event log write failed"); n != 1 {
				t.Fatalf("%d ERROR lines for the failure, want 1", n)
			}
			if n := lines.count("[INFO]", "event log writes succeed again"); n != 1 {
				t.Fatalf("%d INFO lines for the recovery, want 1", n)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}

			l2 := openTest(t, dir, nil)
			defer l2.Close()
			if seq, hash := l2.Head(); seq != head.Seq || hash != hex.EncodeToString(head.Hash[:]) {
				t.Fatalf("reopened head %d, want %d", seq, head.Seq)
			}
			all := verify(t, l2)
			if len(all) != 900 {
				t.Fatalf("reopened log holds %d events, want 900", len(all))
			}
			for i, ev := range all {
				if ev != evs[i] {
					t.Fatalf("event %d reads back as %+v, want %+v", i+1, ev, evs[i])
				}
			}
		})
	}
}

// Closing a log whose writer waits to retry a failed write returns at once
// with the write error (the retry wait is an hour), and the log reopens
// with every event that was durable.
func TestCloseWhileDiskFull(t *testing.T) {
	for _, tc := range []struct {
		name     string
		syncOnly bool
	}{
		{"writes fail", false},
		{"fsyncs fail", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			disk := &FullDisk{SyncOnly: tc.syncOnly}
			l := openTest(t, dir, func(c *Config) {
				c.SegmentBytes = 4 << 10
				c.RetryInterval, c.RetryMax = time.Hour, time.Hour
				c.WrapFile = disk.Wrap
			})
			evs, _ := chain(state.ChainHead{}, 200)
			l.Append(evs[:100])
			if err := l.Sync(100); err != nil {
				t.Fatalf("sync before the disk filled: %v", err)
			}
			disk.Fill()
			l.Append(evs[100:])
			waitUntil(t, "a failed write", func() bool {
				return l.Sync(200) != nil && l.WriteErr() != nil
			})

			closed := make(chan error, 1)
			go func() { closed <- l.Close() }()
			select {
			case err := <-closed:
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("close on a full disk: %v, want ENOSPC", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("close did not return while the writer waits to retry")
			}
			if err := l.Sync(200); err == nil {
				t.Fatal("sync after close succeeded")
			}

			disk.Free()
			l2 := openTest(t, dir, nil)
			defer l2.Close()
			seq, _ := l2.Head()
			if seq < 100 || seq > 200 {
				t.Fatalf("reopened head %d, want the 100 durable events at least", seq)
			}
			if got := verify(t, l2); len(got) != int(seq) {
				t.Fatalf("reopened log holds %d events, head %d", len(got), seq)
			}
			// The events lost with the close come back from a replay.
			l2.Append(evs)
			if err := l2.Sync(200); err != nil {
				t.Fatalf("sync of the replay: %v", err)
			}
			if got := len(verify(t, l2)); got != 200 {
				t.Fatalf("after the replay the log holds %d events, want 200", got)
			}
		})
	}
}

// An fsync that fails and drops what it should have made durable (the
// bytes no longer read back as the events written) stops the log with
// ErrLost instead of writing a hole: Sync fails from then on, even with
// space back, and the log reopens at its last fsync, from where a replay
// (the raft log's, after a restart) writes the rest.
func TestFsyncLostEvents(t *testing.T) {
	dir := t.TempDir()
	disk := &FullDisk{SyncOnly: true, Lose: true}
	l := openTest(t, dir, func(c *Config) {
		c.SegmentBytes = 1 << 20
		c.RetryInterval, c.RetryMax = 10*time.Millisecond, 10*time.Millisecond
		c.WrapFile = disk.Wrap
	})
	evs, head := chain(state.ChainHead{}, 300)
	l.Append(evs[:100])
	if err := l.Sync(100); err != nil {
		t.Fatalf("sync before the disk filled: %v", err)
	}
	disk.Fill()
	l.Append(evs[100:200])
	waitUntil(t, "the lost events reported", func() bool {
		return l.Sync(200) != nil && errors.Is(l.WriteErr(), ErrLost)
	})
	if err := l.WriteErr(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write error %v does not wrap ENOSPC", err)
	}
	disk.Free()
	l.Append(evs[200:])
	if err := l.Sync(300); !errors.Is(err, ErrLost) {
		t.Fatalf("sync with space back after a loss: %v, want ErrLost", err)
	}
	if err := l.Close(); !errors.Is(err, ErrLost) {
		t.Fatalf("close: %v, want ErrLost", err)
	}

	l2 := openTest(t, dir, nil)
	defer l2.Close()
	if seq, _ := l2.Head(); seq != 100 {
		t.Fatalf("reopened head %d, want the last fsync at 100", seq)
	}
	l2.Append(evs)
	if err := l2.Sync(head.Seq); err != nil {
		t.Fatalf("sync of the replay: %v", err)
	}
	if got := len(verify(t, l2)); got != 300 {
		t.Fatalf("after the replay the log holds %d events, want 300", got)
	}
}
