package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// chain returns n chained events (each prev the previous hash) with a mix
// of fields, as the log holds them.
func chain(rng *rand.Rand, n int) []Event {
	prev := strings.Repeat("0", 64)
	evs := make([]Event, n)
	shards := []string{"earth", "luna", "mars"}
	for i := range evs {
		e := Event{Seq: uint64(i + 1), Index: uint64(i + 3), Time: rng.Int64(), Type: "job.submitted",
			Job: fmt.Sprintf("job-%d", i/4), Shard: shards[rng.IntN(3)]}
		switch rng.IntN(6) {
		case 0:
			e.Type, e.Node, e.Attempt, e.AmountMu = "job.completed", "earth.n1", rng.Uint32(), -rng.Int64()
		case 1:
			e.Type, e.From, e.To, e.ValueMu = "job.spilled", "earth", "mars", rng.Int64()
		case 2:
			e.Type, e.Job, e.Actor, e.Reason, e.Detail = "checkpoint.saved", "", "owner", "nightly ☃", "/tmp/x sha256:ab\n<&>"
		case 3:
			e.Type, e.Job, e.Actor, e.Node, e.Command, e.Args = "node.retired", "", "owner", "earth.n1", "node.retire", `{"ID":"earth.n1"}`
		}
		e.Prev, e.Hash = prev, fmt.Sprintf("%016x%016x%016x%016x", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())
		prev = e.Hash
		evs[i] = e
	}
	return evs
}

func TestEventPageRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	full := chain(rng, 300)
	// Every third event: prev no longer equals the previous hash.
	var filtered []Event
	for i := 0; i < len(full); i += 3 {
		filtered = append(filtered, full[i])
	}
	cases := []struct {
		name string
		page Events
	}{
		{"empty", Events{Events: []Event{}, Index: 7, Head: 9}},
		{"chain", Events{Events: full, Index: full[len(full)-1].Seq, Head: 1 << 40}},
		{"filtered", Events{Events: filtered, Index: 300, Head: 300}},
		{"zero event", Events{Events: []Event{{}}, Index: 1, Head: 1}},
		{"extremes", Events{Events: []Event{{Seq: 1<<64 - 1, Index: 1<<64 - 1, Time: -1 << 63, Attempt: 1<<32 - 1,
			ValueMu: -1 << 63, AmountMu: 1<<63 - 1, Type: "t", Prev: "p", Hash: "p"}}, Index: 1<<64 - 1, Head: 0}},
	}
	d := newEventDecoder()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := appendEventsPage(nil, &tc.page)
			w := NewEventPageWriter(len(tc.page.Events))
			for i := range tc.page.Events {
				w.Add(&tc.page.Events[i])
			}
			if streamed := w.Finish(tc.page.Index, tc.page.Head); !bytes.Equal(streamed, appendEventsPageFixed(tc.page)) {
				t.Fatalf("streamed page differs from the one-go page")
			}
			for _, body := range [][]byte{b, appendEventsPageFixed(tc.page)} {
				got, err := d.decodePage(body)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.page) {
					t.Fatalf("round trip:\n got %+v\nwant %+v", got, tc.page)
				}
			}
		})
	}
}

// appendEventsPageFixed is appendEventsPage with the 32-bit events header
// the streaming writer uses.
func appendEventsPageFixed(p Events) []byte {
	b := msgp.AppendArrayHeader(nil, eventPageFields)
	b = append(b, 0xdd, byte(len(p.Events)>>24), byte(len(p.Events)>>16), byte(len(p.Events)>>8), byte(len(p.Events)))
	for i := range p.Events {
		b = appendEvent(b, &p.Events[i])
	}
	b = msgp.AppendUint64(b, p.Index)
	return msgp.AppendUint64(b, p.Head)
}

// TestEventPageSkipsNewFields checks that a reader skips fields a later
// version appends to an event or to the page.
func TestEventPageSkipsNewFields(t *testing.T) {
	evs := chain(rand.New(rand.NewPCG(7, 8)), 5)
	b := msgp.AppendArrayHeader(nil, eventPageFields+2)
	b = msgp.AppendArrayHeader(b, uint32(len(evs)))
	for i := range evs {
		ev := appendEvent(nil, &evs[i])
		ev[2]++ // array 16 header (17 fields): one field more
		ev = msgp.AppendMapHeader(ev, 1)
		ev = msgp.AppendString(ev, "k")
		ev = msgp.AppendArrayHeader(ev, 2)
		ev = msgp.AppendBool(ev, true)
		ev = msgp.AppendNil(ev)
		b = append(b, ev...)
	}
	b = msgp.AppendUint64(b, 5)
	b = msgp.AppendUint64(b, 6)
	b = msgp.AppendString(b, "later")
	b = msgp.AppendFloat64(b, 1.5)
	got, err := newEventDecoder().decodePage(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Events{Events: evs, Index: 5, Head: 6}); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestEventPageMalformed(t *testing.T) {
	evs := chain(rand.New(rand.NewPCG(9, 10)), 3)
	good := appendEventsPage(nil, &Events{Events: evs, Index: 3, Head: 3})
	short := msgp.AppendArrayHeader(nil, eventPageFields)
	short = msgp.AppendArrayHeader(short, 1)
	short = msgp.AppendArrayHeader(short, eventFields-1)
	cases := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-3]},
		{"trailing", append(bytes.Clone(good), 0xc0)},
		{"short page", msgp.AppendArrayHeader(nil, eventPageFields-1)},
		{"short event", short},
		{"huge count", append(msgp.AppendArrayHeader(nil, eventPageFields), 0xdd, 0xff, 0xff, 0xff, 0xff)},
		{"wrong type", msgp.AppendString(nil, "events")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := newEventDecoder().decodePage(tc.body); !errors.Is(err, ErrWire) {
				t.Fatalf("err = %v, want ErrWire", err)
			}
		})
	}
	// Every prefix of a good page fails cleanly.
	for i := range good {
		if _, err := newEventDecoder().decodePage(good[:i]); !errors.Is(err, ErrWire) {
			t.Fatalf("prefix %d: err = %v, want ErrWire", i, err)
		}
	}
}

func FuzzEventPage(f *testing.F) {
	f.Add(appendEventsPage(nil, &Events{Events: chain(rand.New(rand.NewPCG(1, 1)), 4), Index: 4, Head: 4}))
	f.Fuzz(func(t *testing.T, b []byte) {
		page, err := newEventDecoder().decodePage(b)
		if err != nil {
			return
		}
		again, err := newEventDecoder().decodePage(appendEventsPage(nil, &page))
		if err != nil || !reflect.DeepEqual(again, page) {
			t.Fatalf("re-encoded page: %v %+v != %+v", err, again, page)
		}
	})
}

// BenchmarkEventPage measures one 10,000-event page of GET /v1/events, as
// Collect reads it, in msgpack and in JSON, each encoded and decoded.
func BenchmarkEventPage(b *testing.B) {
	evs := chain(rand.New(rand.NewPCG(11, 12)), 10_000)
	page := Events{Events: evs, Index: 10_000, Head: 10_000}
	b.Run("msgpack", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := NewEventPageWriter(len(evs))
			for i := range evs {
				w.Add(&evs[i])
			}
			if _, err := newEventDecoder().decodePage(w.Finish(page.Index, page.Head)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var buf bytes.Buffer
			if err := json.NewEncoder(&buf).Encode(page); err != nil {
				b.Fatal(err)
			}
			var out Events
			if err := json.NewDecoder(&buf).Decode(&out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
