package eventlog

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/planetary/planetary/raftfsm/state"
)

// TestPeekRecord: the open scan's in-place read of a line gives the seq and
// hash decodeRecord gives for every event line appendRecord writes, and
// declines anchors and lines in any other shape, which are then decoded.
func TestPeekRecord(t *testing.T) {
	var head state.ChainHead
	for i, e := range []state.Event{
		{Type: state.EvJobSubmitted, Job: "j-1", Shard: "earth", ValueMu: 10},
		{Type: state.EvJobCompleted, Job: "j-1", Node: "earth.n1", AmountMu: 3, Detail: `quote "1", usage none`},
		{Type: state.EvJobsCollected, Reason: "garbage collection", Detail: "2 jobs collected, 0 tombs forgotten, a..b"},
		{Type: state.EvNodeUp, Node: "ünïcode.n2"},
	} {
		e.Index, e.Time = uint64(i+1), int64(i)*1000
		head = e.Seal(head)
		line := appendRecord(nil, false, &e)
		seq, hash, ok := peekRecord(line)
		r, err := decodeRecord(line)
		if !ok || err != nil || seq != r.Seq || string(hash) != r.Hash || seq != e.Seq {
			t.Fatalf("event %d: peek %d %s %v, decode %d %s %v", i, seq, hash, ok, r.Seq, r.Hash, err)
		}
		if _, _, ok := peekRecord(appendRecord(nil, true, &e)); ok {
			t.Fatalf("event %d: an anchor line peeked as an event", i)
		}
	}
	good := string(appendRecord(nil, false, &state.Event{Seq: 7, Type: "x", Hash: strings.Repeat("a", 64)}))
	for _, bad := range []string{
		"", "\n", "{}\n", `{"seq":,"hash":"` + strings.Repeat("a", 64) + `"}` + "\n",
		strings.Replace(good, `"seq":7`, `"seq":-7`, 1),
		strings.Replace(good, `"seq":7`, `"seq":123456789012345678901`, 1),
		strings.Replace(good, strings.Repeat("a", 64), strings.Repeat("a", 63)+"X", 1),
		strings.Replace(good, `"hash"`, `"hush"`, 1),
		strings.TrimSuffix(good, "}\n") + "\n",
		` ` + good,
	} {
		if _, _, ok := peekRecord([]byte(bad)); ok {
			t.Errorf("peeked %q", bad)
		}
	}
}

// TestScanSegmentLargeAligned: a segment of lines exactly 512 bytes long
// fills the scan's 256 KiB buffer to a line end again and again, and a
// torn-tail check after such a line must not disturb it. The scan of a
// closed and of a newest segment agree with decoding every line.
func TestScanSegmentLargeAligned(t *testing.T) {
	const lines = 20_000
	var (
		head state.ChainHead
		buf  []byte
		want []record
	)
	for i := 0; i < lines; i++ {
		e := state.Event{Index: uint64(i + 1), Time: int64(i), Type: state.EvJobSubmitted, Job: fmt.Sprintf("j-%d", i), Shard: "earth"}
		base := len(appendRecord(nil, false, &state.Event{Seq: head.Seq + 1, Index: e.Index, Time: e.Time, Type: e.Type, Job: e.Job, Shard: e.Shard,
			Detail: "x", Prev: strings.Repeat("0", 64), Hash: strings.Repeat("0", 64)}))
		e.Detail = strings.Repeat("x", 512-base+1)
		head = e.Seal(head)
		line := appendRecord(nil, false, &e)
		if len(line) != 512 {
			t.Fatalf("line %d is %d bytes (base %d): %s", i, len(line), base, line)
		}
		buf = append(buf, line...)
		r, err := decodeRecord(line)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r)
	}
	path := filepath.Join(t.TempDir(), segName(1))
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, newest := range []bool{false, true} {
		sg := &segment{path: path}
		res, err := scanSegment(sg, newest)
		last := want[len(want)-1]
		if err != nil || res.torn || res.events != lines || res.firstEvent != 1 || res.firstPrev != want[0].Prev ||
			res.lastEvent != last.Seq || res.lastEventHash != last.Hash || res.lastHash != last.Hash || res.goodSize != int64(len(buf)) {
			t.Fatalf("newest=%v: %+v %v", newest, res, err)
		}
		for k, ix := range sg.index {
			if w := want[k*indexEvery]; ix.seq != w.Seq || ix.off != int64(k*indexEvery*512) {
				t.Fatalf("newest=%v: index point %d is %+v, want seq %d at %d", newest, k, ix, w.Seq, k*indexEvery*512)
			}
		}
	}
}
