package report

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/planetary/planetary/raftfsm/state"
)

func fixture() Input { return Example() }

func writeFixture(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := Write(dir, fixture()); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readLines(t *testing.T, dir string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, FileEvents))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(bytes.TrimRight(b, "\n"), []byte("\n"))
}

func writeLines(t *testing.T, dir string, lines [][]byte) {
	t.Helper()
	var out []byte
	for _, l := range lines {
		out = append(out, bytes.TrimRight(l, "\n")...)
		out = append(out, '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, FileEvents), out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rehashFrom decodes every line, applies edit to event at index i, and
// re-seals the chain from there so the log is internally consistent.
func rehashFrom(t *testing.T, lines [][]byte, i int, edit func(*state.Event)) [][]byte {
	t.Helper()
	evs := make([]state.Event, len(lines))
	for k, l := range lines {
		if err := json.Unmarshal(l, &evs[k]); err != nil {
			t.Fatal(err)
		}
	}
	edit(&evs[i])
	var head state.ChainHead
	if i > 0 {
		h, _ := hex.DecodeString(evs[i-1].Hash)
		copy(head.Hash[:], h)
		head.Seq = evs[i-1].Seq
	}
	out := make([][]byte, len(lines))
	copy(out, lines[:i])
	for k := i; k < len(evs); k++ {
		head = evs[k].Seal(head)
		b, _ := json.Marshal(&evs[k])
		out[k] = b
	}
	return out
}

func TestVerify(t *testing.T) {
	cases := []struct {
		name    string
		tamper  func(t *testing.T, dir string)
		wantErr error
		badSeq  uint64
		reason  string
	}{
		{name: "valid bundle", tamper: func(*testing.T, string) {}},
		{name: "flipped byte in a job id", wantErr: ErrChain, badSeq: 10, reason: "hash does not match",
			tamper: func(t *testing.T, dir string) {
				lines := readLines(t, dir)
				l := lines[9]
				i := bytes.Index(l, []byte(`"job-04"`))
				l[i+5] ^= 0x01
				writeLines(t, dir, lines)
			}},
		{name: "flipped byte breaks json", wantErr: ErrChain, badSeq: 7, reason: "unreadable",
			tamper: func(t *testing.T, dir string) {
				lines := readLines(t, dir)
				lines[6][0] ^= 0x20
				writeLines(t, dir, lines)
			}},
		{name: "flipped byte in amount", wantErr: ErrChain, badSeq: 21, reason: "hash does not match",
			tamper: func(t *testing.T, dir string) {
				lines := readLines(t, dir)
				lines[20] = bytes.Replace(lines[20], []byte(`"amount_mu":700000`), []byte(`"amount_mu":900000`), 1)
				writeLines(t, dir, lines)
			}},
		{name: "deleted event", wantErr: ErrChain, badSeq: 15, reason: "event 15 is missing",
			tamper: func(t *testing.T, dir string) {
				lines := readLines(t, dir)
				writeLines(t, dir, append(lines[:14:14], lines[15:]...))
			}},
		{name: "truncated log", wantErr: ErrHead, badSeq: 31, reason: "missing",
			tamper: func(t *testing.T, dir string) {
				writeLines(t, dir, readLines(t, dir)[:30])
			}},
		{name: "forged payment rehashed after", wantErr: ErrHead, badSeq: 21, reason: "event 21",
			tamper: func(t *testing.T, dir string) {
				lines := readLines(t, dir)
				writeLines(t, dir, rehashFrom(t, lines, 20, func(e *state.Event) { e.AmountMu = 9_000_000 }))
			}},
		{name: "forged chain and head and marks", wantErr: ErrLedger, reason: "earned 2100000 mu; events give 0, 3, 10400000 mu",
			tamper: func(t *testing.T, dir string) {
				lines := rehashFrom(t, readLines(t, dir), 20, func(e *state.Event) { e.AmountMu = 9_000_000 })
				writeLines(t, dir, lines)
				var led map[string]any
				b, _ := os.ReadFile(filepath.Join(dir, FileLedger))
				_ = json.Unmarshal(b, &led)
				var last state.Event
				_ = json.Unmarshal(lines[len(lines)-1], &last)
				led["chain"] = map[string]any{"seq": last.Seq, "hash": last.Hash}
				delete(led, "marks")
				b, _ = json.Marshal(led)
				_ = os.WriteFile(filepath.Join(dir, FileLedger), b, 0o644)
			}},
		{name: "ledger edited", wantErr: ErrLedger, reason: "global.completed",
			tamper: func(t *testing.T, dir string) {
				p := filepath.Join(dir, FileLedger)
				b, _ := os.ReadFile(p)
				var led LedgerDoc
				_ = json.Unmarshal(b, &led)
				cv := led.Global["completed"]
				cv.Jobs++
				led.Global["completed"] = cv
				// keep shard totals consistent so only the replay catches it
				sc := led.Shards["earth"]["completed"]
				sc.Jobs++
				led.Shards["earth"]["completed"] = sc
				b, _ = json.Marshal(led)
				_ = os.WriteFile(p, b, 0o644)
			}},
		{name: "impossible transition", wantErr: ErrLedger, badSeq: 23, reason: "job.started for job job-01 that is already completed",
			tamper: func(t *testing.T, dir string) {
				lines := readLines(t, dir)
				writeLines(t, dir, rehashFrom(t, lines, 22, func(e *state.Event) { e.Job = "job-01" }))
				var led map[string]any
				b, _ := os.ReadFile(filepath.Join(dir, FileLedger))
				_ = json.Unmarshal(b, &led)
				delete(led, "marks")
				var last state.Event
				ls := readLines(t, dir)
				_ = json.Unmarshal(ls[len(ls)-1], &last)
				led["chain"] = map[string]any{"seq": last.Seq, "hash": last.Hash}
				b, _ = json.Marshal(led)
				_ = os.WriteFile(filepath.Join(dir, FileLedger), b, 0o644)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFixture(t)
			tc.tamper(t, dir)
			res, err := Verify(dir)
			if tc.wantErr == nil {
				if err != nil || !res.OK() || !res.LedgerChecked || !res.LedgerOK {
					t.Fatalf("want ok, got %v %+v", err, res)
				}
				if res.Events != len(fixture().Events) {
					t.Fatalf("events = %d", res.Events)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v (res %+v)", err, tc.wantErr, res)
			}
			if tc.badSeq != 0 && res.BadSeq != tc.badSeq {
				t.Fatalf("bad seq = %d, want %d (%s)", res.BadSeq, tc.badSeq, res.Reason)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %q does not mention %q", err, tc.reason)
			}
		})
	}
}
