package eventlog

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/planetary/planetary/raftfsm/state"
)

// jsonLine is the reference encoding: what the log wrote with encoding/json.
func jsonLine(t testing.TB, r record) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&r); err != nil {
		t.Fatalf("encode: %v", err)
	}
	return buf.Bytes()
}

// randString draws from pieces that exercise every escaping rule: quotes,
// backslashes, control bytes, HTML characters, multi-byte runes, U+2028/9
// and invalid UTF-8.
func randString(rng *rand.Rand) string {
	pieces := []string{"", "a", "job-42", `"`, `\`, "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f",
		"<", ">", "&", "é", "世界", "\u2028", "\u2029", "\xff", "\xe2\x80", "\U0001F600", " ", "/"}
	if rng.IntN(3) == 0 {
		return ""
	}
	var b []byte
	for range rng.IntN(6) {
		b = append(b, pieces[rng.IntN(len(pieces))]...)
	}
	return string(b)
}

func randInt(rng *rand.Rand) int64 {
	switch rng.IntN(5) {
	case 0:
		return 0
	case 1:
		return math.MinInt64
	case 2:
		return math.MaxInt64
	case 3:
		return -rng.Int64N(1000)
	}
	return rng.Int64()
}

func randEvent(rng *rand.Rand) state.Event {
	ev := state.Event{
		Seq: rng.Uint64(), Index: uint64(rng.IntN(3)) * rng.Uint64(), Time: randInt(rng),
		Type: randString(rng), Job: randString(rng), Shard: randString(rng), From: randString(rng),
		To: randString(rng), Node: randString(rng), ValueMu: randInt(rng), AmountMu: randInt(rng),
		Actor: randString(rng), Reason: randString(rng), Detail: randString(rng),
		Prev: randString(rng), Hash: randString(rng),
	}
	if rng.IntN(2) == 0 {
		ev.Attempt = rng.Uint32()
	}
	if rng.IntN(4) == 0 {
		// An owner command's event.
		args, _ := json.Marshal(map[string]any{"ID": randString(rng), "Force": rng.IntN(2) == 0, "DeadlineMs": randInt(rng)})
		ev.Command, ev.Args = randString(rng), string(args)
	}
	return ev
}

func TestAppendRecordMatchesJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sealed, _ := chain(state.ChainHead{}, 3)
	cases := []struct {
		name string
		n    int
		gen  func() record
	}{
		{"sealed events", len(sealed), func() record { ev := sealed[0]; sealed = sealed[1:]; return record{Event: ev} }},
		{"zero event", 1, func() record { return record{} }},
		{"anchor", 20, func() record {
			return record{Anchor: true, Event: state.Event{Seq: rng.Uint64(), Hash: randString(rng)}}
		}},
		{"random events", 20000, func() record { return record{Event: randEvent(rng)} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for range tc.n {
				r := tc.gen()
				want := jsonLine(t, r)
				got := appendRecord(nil, r.Anchor, &r.Event)
				if !bytes.Equal(got, want) {
					t.Fatalf("encoding differs for %+v\n got %s\nwant %s", r, got, want)
				}
				// Decoding gives what encoding/json decodes from the same line.
				var ref record
				if err := json.Unmarshal(want, &ref); err != nil {
					t.Fatalf("reference decode: %v", err)
				}
				dec, err := decodeRecord(got)
				if err != nil {
					t.Fatalf("decode %s: %v", got, err)
				}
				if !reflect.DeepEqual(dec, ref) {
					t.Fatalf("decode differs\n got %+v\nwant %+v", dec, ref)
				}
			}
		})
	}
}

func TestDecodeRecordOtherShapes(t *testing.T) {
	cases := []struct {
		name    string
		line    string
		want    record
		wantErr bool
	}{
		{"fast path", `{"seq":2,"index":1,"time":-5,"type":"job.submitted","job":"j","prev":"aa","hash":"bb"}` + "\n",
			record{Event: state.Event{Seq: 2, Index: 1, Time: -5, Type: "job.submitted", Job: "j", Prev: "aa", Hash: "bb"}}, false},
		{"reordered fields", `{"hash":"bb","seq":2,"index":1,"time":3,"type":"t","prev":"aa"}`,
			record{Event: state.Event{Seq: 2, Index: 1, Time: 3, Type: "t", Prev: "aa", Hash: "bb"}}, false},
		{"escaped string", `{"seq":1,"index":1,"time":1,"type":"a\"b","prev":"","hash":"h"}`,
			record{Event: state.Event{Seq: 1, Index: 1, Time: 1, Type: `a"b`, Hash: "h"}}, false},
		{"whitespace", `{ "seq": 1, "index": 1, "time": 1, "type": "t", "prev": "", "hash": "h" }`,
			record{Event: state.Event{Seq: 1, Index: 1, Time: 1, Type: "t", Hash: "h"}}, false},
		{"anchor", `{"anchor":true,"seq":9,"index":0,"time":0,"type":"","prev":"","hash":"ab"}`,
			record{Anchor: true, Event: state.Event{Seq: 9, Hash: "ab"}}, false},
		{"torn", `{"seq":1,"index":1,"ti`, record{}, true},
		{"leading zero", `{"seq":01,"index":1,"time":1,"type":"t","prev":"","hash":"h"}`, record{}, true},
		{"garbage", `xyz`, record{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeRecord([]byte(tc.line))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func BenchmarkAppendRecord(b *testing.B) {
	evs, _ := chain(state.ChainHead{}, 64)
	for i := range evs {
		evs[i].Node, evs[i].Shard, evs[i].Attempt = "mars.gpu-helion", "default", 1
	}
	cases := []struct {
		name string
		enc  func(dst []byte, ev *state.Event) []byte
	}{
		{"appendRecord", func(dst []byte, ev *state.Event) []byte { return appendRecord(dst[:0], false, ev) }},
		{"encoding/json", func(dst []byte, ev *state.Event) []byte {
			buf := bytes.NewBuffer(dst[:0])
			enc := json.NewEncoder(buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(&record{Event: *ev})
			return buf.Bytes()
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for i := 0; b.Loop(); i++ {
				buf = tc.enc(buf, &evs[i%len(evs)])
			}
		})
	}
}

func BenchmarkDecodeRecord(b *testing.B) {
	evs, _ := chain(state.ChainHead{}, 64)
	lines := make([][]byte, len(evs))
	for i := range evs {
		lines[i] = appendRecord(nil, false, &evs[i])
	}
	cases := []struct {
		name string
		dec  func([]byte) error
	}{
		{"decodeRecord", func(l []byte) error { _, err := decodeRecord(l); return err }},
		{"encoding/json", func(l []byte) error { var r record; return json.Unmarshal(l, &r) }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := tc.dec(lines[i%len(lines)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppend is the FSM's side of the log: batches of 1,000 sealed
// events handed to Append while the writer encodes and writes them.
func BenchmarkAppend(b *testing.B) {
	l, err := New(DefaultConfig(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	const batch = 1000
	var head state.ChainHead
	pre := make([][]state.Event, 64)
	for i := range pre {
		pre[i], head = chain(head, batch)
		for k := range pre[i] {
			pre[i][k].Node, pre[i][k].Shard, pre[i][k].Attempt = "mars.gpu-helion", "default", 1
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		evs := pre[i%len(pre)]
		if i >= len(pre) {
			// Re-seal so the chain continues without a discontinuity.
			for k := range evs {
				head = evs[k].Seal(head)
			}
		}
		l.Append(evs)
	}
	if err := l.Sync(head.Seq); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
}
