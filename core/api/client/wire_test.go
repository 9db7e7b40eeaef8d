package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

func randAssignment(rng *rand.Rand, i int) Assignment {
	a := Assignment{JobID: fmt.Sprintf("job-%d", i), Attempt: rng.Uint32(), Node: []string{"earth.n1", "mars.gpu"}[rng.IntN(2)],
		Kind: []string{"", "sim", "exec"}[rng.IntN(3)], Seed: rng.Uint64(), Quote: float64(rng.IntN(1000)) / 8}
	if rng.IntN(2) == 0 {
		a.Payload = []byte(fmt.Sprintf(`{"duration_ms":%d}`, rng.IntN(100)))
	}
	for range rng.IntN(3) {
		a.Capabilities = append(a.Capabilities, []string{"sim", "gpu", "é"}[rng.IntN(3)])
	}
	return a
}

func TestAssignmentFrames(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var batches [][]Assignment
	for b := range 20 {
		var batch []Assignment
		for i := range rng.IntN(50) {
			batch = append(batch, randAssignment(rng, b*100+i))
		}
		batches = append(batches, batch)
	}
	cases := []struct {
		name   string
		frames int // frames written per batch
		write  func(b []byte, batch []Assignment) []byte
	}{
		{"frames", 1, AppendAssignments},
		{"keep-alives between frames", 2, func(b []byte, batch []Assignment) []byte {
			return AppendAssignments(msgp.AppendNil(b), batch)
		}},
		{"a later version with extra fields", 1, func(b []byte, batch []Assignment) []byte {
			// Re-encode each assignment with two trailing fields.
			b = msgp.AppendArrayHeader(b, uint32(len(batch)))
			for _, a := range batch {
				one := AppendAssignments(nil, []Assignment{a})
				_, rest, _ := msgp.ReadArrayHeaderBytes(one) // the frame's header
				_, rest, _ = msgp.ReadArrayHeaderBytes(rest) // the record's header
				b = msgp.AppendArrayHeader(b, assignmentFields+2)
				b = append(b, rest...)
				b = msgp.AppendString(b, "future")
				b = msgp.AppendMapHeader(b, 0)
			}
			return b
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stream []byte
			for _, batch := range batches {
				stream = tc.write(stream, batch)
			}
			r := msgp.NewReader(bytes.NewReader(stream))
			cache := strCache{}
			var got []Assignment
			var buf []Assignment
			for range len(batches) * tc.frames {
				var err error
				if buf, err = readAssignmentFrame(r, cache, buf); err != nil {
					t.Fatalf("read: %v", err)
				}
				got = append(got, buf...)
			}
			if _, err := readAssignmentFrame(r, cache, buf); !errors.Is(err, io.EOF) {
				t.Fatalf("after the last frame: %v, want EOF", err)
			}
			var want []Assignment
			for _, b := range batches {
				want = append(want, b...)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded assignments differ:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestResultsBody(t *testing.T) {
	full := ClientResults{
		Client:  "c1",
		Started: []JobAttempt{{"a", 1}, {"b", 2}},
		Results: []Result{
			{JobID: "a", Attempt: 1, OK: true, Usage: map[string]float64{"token": 812, "second": 1.5}},
			{JobID: "b", Attempt: 2, Retryable: true, ExitCode: -3, Output: "out\n", Error: "boom ✗"},
		},
	}
	good := appendResults(nil, &full)
	// A result as written before usage was carried: seven fields.
	old := msgp.AppendArrayHeader(nil, resultsFields)
	old = msgp.AppendString(old, "c3")
	old = msgp.AppendArrayHeader(old, 0)
	old = msgp.AppendArrayHeader(old, 1)
	old = msgp.AppendArrayHeader(old, resultFields)
	old = msgp.AppendString(old, "a")
	old = msgp.AppendUint32(old, 1)
	old = msgp.AppendBool(old, true)
	old = msgp.AppendBool(old, false)
	old = msgp.AppendInt64(old, 0)
	old = msgp.AppendString(old, "")
	old = msgp.AppendString(old, "")
	extended := msgp.AppendArrayHeader(nil, resultsFields+1)
	_, rest, _ := msgp.ReadArrayHeaderBytes(good)
	extended = msgp.AppendString(append(extended, rest...), "future")
	cases := []struct {
		name    string
		body    []byte
		want    ClientResults
		wantErr bool
	}{
		{"full", good, full, false},
		{"empty", appendResults(nil, &ClientResults{Client: "c2"}), ClientResults{Client: "c2"}, false},
		{"extra trailing field", extended, full, false},
		{"result without usage", old, ClientResults{Client: "c3", Results: []Result{{JobID: "a", Attempt: 1, OK: true}}}, false},
		{"truncated", good[:len(good)-3], ClientResults{}, true},
		{"trailing bytes", append(append([]byte(nil), good...), 0xc0), ClientResults{}, true},
		{"too few fields", msgp.AppendString(msgp.AppendArrayHeader(nil, 1), "c1"), ClientResults{}, true},
		{"not msgpack", []byte(`{"client":"c1"}`), ClientResults{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeResults(tc.body)
			if tc.wantErr {
				if !errors.Is(err, ErrWire) {
					t.Fatalf("err = %v, want ErrWire", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

func BenchmarkAssignmentCodec(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	batch := make([]Assignment, 1000)
	for i := range batch {
		batch[i] = randAssignment(rng, i)
	}
	b.Run("msgpack", func(b *testing.B) {
		var frame []byte
		var out []Assignment
		for b.Loop() {
			frame = AppendAssignments(frame[:0], batch)
			var err error
			if out, err = readAssignmentFrame(msgp.NewReader(bytes.NewReader(frame)), strCache{}, out); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/assignment")
	})
	b.Run("ndjson", func(b *testing.B) {
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			enc := json.NewEncoder(&buf)
			for i := range batch {
				if err := enc.Encode(&batch[i]); err != nil {
					b.Fatal(err)
				}
			}
			for line := range bytes.Lines(buf.Bytes()) {
				var a Assignment
				if err := json.Unmarshal(line, &a); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/assignment")
	})
}
