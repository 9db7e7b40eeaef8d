package link

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// watched is an inbox that lets a benchmark wait for a through without
// polling.
type watched struct {
	Inbox
	mu      sync.Mutex
	through uint64
	changed chan struct{}
}

func watch(in Inbox) *watched { return &watched{Inbox: in, changed: make(chan struct{})} }

func (w *watched) Deliver(ctx context.Context, from string, msgs []Message) (uint64, error) {
	through, err := w.Inbox.Deliver(ctx, from, msgs)
	if err == nil {
		w.mu.Lock()
		if through > w.through {
			w.through = through
			close(w.changed)
			w.changed = make(chan struct{})
		}
		w.mu.Unlock()
	}
	return through, err
}

// wait returns once the inbox applied through seq.
func (w *watched) wait(seq uint64) {
	for {
		w.mu.Lock()
		if w.through >= seq {
			w.mu.Unlock()
			return
		}
		c := w.changed
		w.mu.Unlock()
		<-c
	}
}

func benchDrafts(n int) []Message {
	body := make([]byte, 128)
	out := make([]Message, n)
	for i := range out {
		out[i] = Message{Kind: "handoff", ID: fmt.Sprintf("h-%d", i+1), Body: body}
	}
	return out
}

// benchThroughput sends b.N messages of 128 bytes from a full outbox over
// tr, built around the receiving inbox, and reports messages per second.
func benchThroughput(b *testing.B, tr func(in Inbox) Transport) {
	out := NewMemory()
	if _, err := out.Append("mars", benchDrafts(b.N)...); err != nil {
		b.Fatal(err)
	}
	in := watch(NewMemory())
	l, err := New(Config{From: "earth", To: "mars", Outbox: out.Outbox("mars"), Transport: tr(in)})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	l.Start()
	in.wait(uint64(b.N))
	elapsed := time.Since(start)
	b.StopTimer()
	l.Stop()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

// BenchmarkThroughputLocal: messages per second over the in-process
// transport, 256 messages a batch.
func BenchmarkThroughputLocal(b *testing.B) {
	benchThroughput(b, func(in Inbox) Transport {
		l := NewLocal()
		l.Add("mars", in)
		return l
	})
}

// BenchmarkThroughputHTTP: messages per second over HTTP on loopback, in
// both encodings.
func BenchmarkThroughputHTTP(b *testing.B) {
	for _, enc := range []string{"msgpack", "json"} {
		b.Run(enc, func(b *testing.B) {
			benchThroughput(b, func(in Inbox) Transport {
				h := NewHandler()
				h.Add("mars", in)
				addr := loopback(b)
				serve(b, addr, h)
				return httpTransport(b, HTTPConfig{Addresses: map[string]string{"mars": "http://" + addr}, JSON: enc == "json"})
			})
		})
	}
}

// ackWatch is an outbox that tells when an ack covers a seq.
type ackWatch struct {
	Outbox
	acked chan uint64
}

func (a ackWatch) Acked(through uint64) {
	if ak, ok := a.Outbox.(Acker); ok {
		ak.Acked(through)
	}
	a.acked <- through
}

// BenchmarkLatency2s: one message at a time over a link with a 2 s one-way
// latency on each leg and the default timeouts. It reports the median time
// from Notify to the receiver's apply (p50-applied-ms) and to the sender's
// ack (p50-acked-ms). Run it with -benchtime=Nx; each op takes over 4 s.
func BenchmarkLatency2s(b *testing.B) {
	out := NewMemory()
	in := watch(NewMemory())
	local := NewLocal()
	local.Add("mars", in)
	f := faulty(b, local, FaultConfig{})
	f.SetLatency(2 * time.Second)
	acks := ackWatch{Outbox: out.Outbox("mars"), acked: make(chan uint64, 16)}
	l, err := New(Config{From: "earth", To: "mars", Outbox: acks, Transport: f})
	if err != nil {
		b.Fatal(err)
	}
	l.Start()
	defer l.Stop()
	// The link's first probe, so that each op finds it idle and knowing the
	// receiver's through.
	for l.Status().State == StateConnecting {
		time.Sleep(10 * time.Millisecond)
	}
	var applied, acked []time.Duration
	b.ResetTimer()
	for i := range b.N {
		seq := uint64(i + 1)
		if _, err := out.Append("mars", benchDrafts(1)...); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		l.Notify()
		in.wait(seq)
		applied = append(applied, time.Since(start))
		for a := range acks.acked {
			if a >= seq {
				break
			}
		}
		acked = append(acked, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(p50(applied).Seconds()*1000, "p50-applied-ms")
	b.ReportMetric(p50(acked).Seconds()*1000, "p50-acked-ms")
}

func p50(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
