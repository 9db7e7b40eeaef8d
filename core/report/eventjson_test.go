package report

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/planetary/planetary/raftfsm/state"
)

// trickyStrings covers every escaping rule of encoding/json.
var trickyStrings = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "ctl \x00\x01\x1f\x7f",
	"\b\f\n\r\t", "utf8 ünïcødé ☃ 𝄞", "bad \xff\xfe utf8", "trunc \xe2\x82", "sep \u2028 \u2029",
	"mixed <\u2028\xff\n>",
}

func randomString(r *rand.Rand) string {
	const alphabet = "ab<>&\"\\\x00\x1f\n\t\u2028é☃\xff"
	n := r.IntN(12)
	var b []byte
	for range n {
		i := r.IntN(len(alphabet))
		b = append(b, alphabet[i])
	}
	return string(b)
}

func randomEvent(r *rand.Rand) state.Event {
	pick := func() string {
		if r.IntN(3) == 0 {
			return ""
		}
		if r.IntN(2) == 0 {
			return trickyStrings[r.IntN(len(trickyStrings))]
		}
		return randomString(r)
	}
	num := func() int64 {
		switch r.IntN(4) {
		case 0:
			return 0
		case 1:
			return -r.Int64()
		case 2:
			return -1 << 63
		}
		return r.Int64()
	}
	return state.Event{
		Seq: r.Uint64(), Index: r.Uint64() >> r.IntN(64), Time: num(), Type: pick(), Job: pick(),
		Attempt: uint32(r.IntN(3)) * r.Uint32(), Shard: pick(), From: pick(), To: pick(), Node: pick(),
		ValueMu: num(), AmountMu: num(), Actor: pick(), Reason: pick(), Detail: pick(), Prev: pick(), Hash: pick(),
	}
}

func TestAppendEventLineMatchesJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	evs := []state.Event{{}, {Seq: 1, Type: "job.submitted", Prev: "00", Hash: "ff"}}
	for _, s := range trickyStrings {
		evs = append(evs, state.Event{Seq: 7, Type: s, Job: s, Shard: s, From: s, To: s, Node: s, Actor: s,
			Reason: s, Detail: s, Prev: s, Hash: s, Attempt: 1<<32 - 1, ValueMu: -1 << 63, AmountMu: 1<<63 - 1})
	}
	for range 5000 {
		evs = append(evs, randomEvent(r))
	}
	for i := range evs {
		want, err := json.Marshal(&evs[i])
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, '\n')
		if got := appendEventLine(nil, &evs[i]); !bytes.Equal(got, want) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// strict decodes line the way Verify's slow path does.
func strict(line []byte) (state.Event, error) {
	var e state.Event
	err := jsonv2.Unmarshal(line, &e, jsonv2.RejectUnknownMembers(true))
	return e, err
}

// TestLineDecoderAgreesWithStrict checks that every line the fast path
// accepts decodes to the strict decoder's event, and that it accepts the
// lines the bundle writer produces when their strings need no escapes.
func TestLineDecoderAgreesWithStrict(t *testing.T) {
	ev := state.Event{Seq: 12, Index: 9, Time: -5, Type: "job.completed", Job: "j-1", Attempt: 2, Shard: "earth",
		From: "a", To: "b", Node: "earth.n1", ValueMu: 40, AmountMu: -3, Actor: "owner", Reason: "ok",
		Detail: "path sha256:ab ☃", Prev: "00aa", Hash: "11bb"}
	good := string(appendEventLine(nil, &ev))
	good = good[:len(good)-1]
	cases := []struct {
		name   string
		line   string
		fastOK bool
	}{
		{"written", good, true},
		{"minimal", `{"seq":1,"index":0,"time":0,"type":"x","prev":"","hash":""}`, true},
		{"explicit zero", `{"seq":1,"index":0,"time":0,"type":"x","job":"","attempt":0,"prev":"","hash":""}`, true},
		{"negative zero", `{"seq":1,"index":0,"time":-0,"type":"x","prev":"","hash":""}`, true},
		{"max values", `{"seq":18446744073709551615,"index":0,"time":-9223372036854775808,"type":"x","attempt":4294967295,"value_mu":9223372036854775807,"prev":"","hash":""}`, true},
		{"seq overflow", `{"seq":18446744073709551616,"index":0,"time":0,"type":"x","prev":"","hash":""}`, false},
		{"time overflow", `{"seq":1,"index":0,"time":9223372036854775808,"type":"x","prev":"","hash":""}`, false},
		{"attempt overflow", `{"seq":1,"index":0,"time":0,"type":"x","attempt":4294967296,"prev":"","hash":""}`, false},
		{"leading zero", `{"seq":01,"index":0,"time":0,"type":"x","prev":"","hash":""}`, false},
		{"escaped string", `{"seq":1,"index":0,"time":0,"type":"\u0078","prev":"","hash":""}`, false},
		{"html escape", `{"seq":1,"index":0,"time":0,"type":"x","detail":"\u003cb\u003e","prev":"","hash":""}`, false},
		{"invalid utf8", "{\"seq\":1,\"index\":0,\"time\":0,\"type\":\"\xff\",\"prev\":\"\",\"hash\":\"\"}", false},
		{"unknown member", `{"seq":1,"index":0,"time":0,"type":"x","extra":1,"prev":"","hash":""}`, false},
		{"duplicate member", `{"seq":1,"index":0,"time":0,"type":"x","job":"a","job":"b","prev":"","hash":""}`, false},
		{"other order", `{"index":0,"seq":1,"time":0,"type":"x","prev":"","hash":""}`, false},
		{"spaces", `{"seq": 1,"index":0,"time":0,"type":"x","prev":"","hash":""}`, false},
		{"fraction", `{"seq":1.0,"index":0,"time":0,"type":"x","prev":"","hash":""}`, false},
		{"trailing", `{"seq":1,"index":0,"time":0,"type":"x","prev":"","hash":""}x`, false},
		{"missing hash", `{"seq":1,"index":0,"time":0,"type":"x","prev":""}`, false},
		{"wrong case", `{"Seq":1,"index":0,"time":0,"type":"x","prev":"","hash":""}`, false},
		{"non-hex prev", `{"seq":1,"index":0,"time":0,"type":"x","prev":"0A","hash":""}`, false},
		{"escaped hash", `{"seq":1,"index":0,"time":0,"type":"x","prev":"","hash":"\u0030"}`, false},
		{"string number", `{"seq":"1","index":0,"time":0,"type":"x","prev":"","hash":""}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got state.Event
			prev, hash, ok := newLineDecoder().decode([]byte(tc.line), &got)
			if ok != tc.fastOK {
				t.Fatalf("fast path ok = %v, want %v", ok, tc.fastOK)
			}
			if !ok {
				return
			}
			want, err := strict([]byte(tc.line))
			if err != nil {
				t.Fatalf("fast path accepts a line the strict decoder refuses: %v", err)
			}
			got.Prev, got.Hash = string(prev), string(hash)
			if got != want {
				t.Fatalf("fast path gives %+v, strict %+v", got, want)
			}
		})
	}
}

func FuzzLineDecoder(f *testing.F) {
	f.Add([]byte(`{"seq":1,"index":0,"time":0,"type":"x","job":"j","attempt":3,"prev":"","hash":""}`))
	f.Add([]byte(`{"seq":1,"index":0,"time":-12,"type":"x","shard":"s","from":"a","to":"b","node":"n","value_mu":5,"amount_mu":-6,"actor":"o","reason":"r","detail":"d","prev":"p","hash":"h"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var got state.Event
		prev, hash, ok := newLineDecoder().decode(line, &got)
		if !ok {
			return
		}
		want, err := strict(line)
		if err != nil {
			t.Fatalf("fast path accepts %q, strict refuses: %v", line, err)
		}
		got.Prev, got.Hash = string(prev), string(hash)
		if got != want {
			t.Fatalf("%q: fast path gives %+v, strict %+v", line, got, want)
		}
	})
}

// TestVerifyLongLine checks a line longer than Verify's read buffer, with
// escapes that take the strict path.
func TestVerifyLongLine(t *testing.T) {
	in := synthetic(3)
	in.Events[1].Detail = string(bytes.Repeat([]byte("<long detail>"), 150_000))
	var head state.ChainHead
	for i := range in.Events {
		head = in.Events[i].Seal(head)
	}
	in.Ledger.Head.Hash = hexOf(head.Hash)
	dir := t.TempDir()
	if _, err := Write(dir, in); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(dir)
	if err != nil || !res.OK() || res.Events != len(in.Events) || res.Head != in.Ledger.Head {
		t.Fatalf("verify: %v %+v", err, res)
	}
}

func hexOf(h [32]byte) string { return hex.EncodeToString(h[:]) }
