package link

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// faultRun sends total messages from region a to region b over a Local
// transport under seeded drops and duplicates, appending them in chunks
// while the link runs, and returns what b's inbox applied and what the
// faults did.
func faultRun(t *testing.T, seed uint64, total int, dedupe func(uint64, []Message) []Message) ([]Message, FaultStats) {
	t.Helper()
	sa, _ := tempStore(t, "a")
	sb, _ := tempStore(t, "b")
	if dedupe != nil {
		sb.dedupe = dedupe
	}
	local := NewLocal()
	local.Add("b", sb)
	f := faulty(t, local, FaultConfig{Seed: seed, DropRate: 0.3, DupRate: 0.3})
	l := startLink(t, fast("a", "b", sa.Outbox("b"), f))
	for first := 1; first <= total; first += 10 {
		appendTo(t, sa, "b", first, min(10, total-first+1))
		l.Notify()
	}
	waitFor(t, "b to apply every message", func() bool { return through(t, sb, "a") >= uint64(total) })
	waitFor(t, "the link to hear the last ack", func() bool { return l.Status().LastAcked >= uint64(total) })
	l.Stop()
	return received(t, sb, "a"), f.Stats()
}

// TestExactlyOnceUnderFaults is the link's property: for every seed of the
// fault RNG, with a third of the requests and of the answers dropped and a
// third of the requests delivered again (some after newer ones), the
// receiver applies every message once, in order.
func TestExactlyOnceUnderFaults(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 8
	}
	var sum FaultStats
	for seed := range uint64(seeds) {
		got, st := faultRun(t, seed+1, 60, nil)
		if err := exactlyOnce(got, 60); err != nil {
			t.Fatalf("seed %d: %v (faults %+v)", seed+1, err, st)
		}
		sum.DroppedRequests += st.DroppedRequests
		sum.DroppedAnswers += st.DroppedAnswers
		sum.Duplicates += st.Duplicates
	}
	// The property is only shown if the faults it is about happened.
	if sum.DroppedRequests == 0 || sum.DroppedAnswers == 0 || sum.Duplicates == 0 {
		t.Fatalf("the runs injected too few faults to show anything: %+v", sum)
	}
}

// TestDedupeRemovedBreaksExactlyOnce runs the property with the inbox's
// dedupe taken out (every message handed to Deliver is applied): the check of
// TestExactlyOnceUnderFaults must then fail, which shows that it is the
// inbox's dedupe, and not the absence of faults or the sender's care, that
// keeps retransmitted and duplicated messages from being applied twice.
func TestDedupeRemovedBreaksExactlyOnce(t *testing.T) {
	applyAll := func(_ uint64, msgs []Message) []Message { return msgs }
	got, st := faultRun(t, 1, 60, applyAll)
	err := exactlyOnce(got, 60)
	if err == nil {
		t.Fatalf("without dedupe the inbox still applied each message once (faults %+v); the property test cannot fail", st)
	}
	if !strings.Contains(err.Error(), "duplicate") && !strings.Contains(err.Error(), "applied") {
		t.Fatalf("unexpected failure: %v", err)
	}
	if st.DroppedAnswers == 0 && st.Duplicates == 0 {
		t.Fatalf("no fault that causes a redelivery happened: %+v", st)
	}
}

// TestPartitionThenHeal cuts a link over real HTTP: while it is cut, the
// messages the sender tries are dropped (counted by the wrapper) and the
// receiver applies nothing new; once healed, every message arrives once, in
// order.
func TestPartitionThenHeal(t *testing.T) {
	sa, _ := tempStore(t, "earth")
	sb, _ := tempStore(t, "mars")
	h := NewHandler()
	h.Add("mars", sb)
	addr := loopback(t)
	serve(t, addr, h)
	tr := httpTransport(t, HTTPConfig{Addresses: map[string]string{"mars": "http://" + addr}})
	f := faulty(t, tr, FaultConfig{})
	cfg := fast("earth", "mars", sa.Outbox("mars"), f)
	cfg.MaxBatch = 64
	l := startLink(t, cfg)

	appendTo(t, sa, "mars", 1, 50)
	l.Notify()
	waitFor(t, "the first 50 acknowledged", func() bool { return l.Status().LastAcked == 50 })

	f.Partition()
	appendTo(t, sa, "mars", 51, 30)
	l.Notify()
	// Three tries of the 30 new messages, each dropped by the partition.
	waitFor(t, "three dropped tries", func() bool { return f.Stats().DroppedMessages >= 90 })
	waitFor(t, "the link to say unreachable", func() bool { return l.Status().State == StateUnreachable })
	if n := through(t, sb, "earth"); n != 50 {
		t.Fatalf("mars applied through %d while partitioned, want 50", n)
	}
	if got := received(t, sb, "earth"); len(got) != 50 {
		t.Fatalf("mars applied %d messages while partitioned, want 50", len(got))
	}
	st := l.Status()
	if st.LastAcked != 50 || st.Backlog != 30 {
		t.Fatalf("partitioned status %+v, want last acked 50, backlog 30", st)
	}

	f.Heal()
	waitFor(t, "all 80 acknowledged", func() bool { return l.Status().LastAcked == 80 })
	if err := exactlyOnce(received(t, sb, "earth"), 80); err != nil {
		t.Fatal(err)
	}
	if st := l.Status(); st.State != StateUp || st.Backlog != 0 || st.LastContact.IsZero() || st.RTT <= 0 {
		t.Fatalf("healed status %+v, want up with no backlog, a contact and an RTT", st)
	}
}

// TestReceiverRestart stops the receiving host (its HTTP server, then its
// store) in the middle of a stream, lets the sender fail against it, and
// starts it again on the same file: the receiver's answer after the restart
// is the through it had on disk, and nothing is lost or applied twice.
func TestReceiverRestart(t *testing.T) {
	sa, _ := tempStore(t, "earth")
	sb, pathB := tempStore(t, "luna")
	addr := loopback(t)
	h := NewHandler()
	h.Add("luna", sb)
	srv := serve(t, addr, h)
	tr := httpTransport(t, HTTPConfig{Addresses: map[string]string{"luna": "http://" + addr}})
	cfg := fast("earth", "luna", sa.Outbox("luna"), tr)
	cfg.MaxBatch = 5
	l := startLink(t, cfg)

	appendTo(t, sa, "luna", 1, 100)
	l.Notify()
	waitFor(t, "luna to apply 20", func() bool { return through(t, sb, "earth") >= 20 })
	srv.stop()
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	appendTo(t, sa, "luna", 101, 50)
	l.Notify()
	errs := l.Status().Errors
	waitFor(t, "the sender to fail against the stopped receiver", func() bool { return l.Status().Errors >= errs+3 })

	sb = openStore(t, pathB)
	t.Cleanup(func() { sb.Close() })
	before := through(t, sb, "earth")
	h2 := NewHandler()
	h2.Add("luna", sb)
	serve(t, addr, h2)
	waitFor(t, "all 150 acknowledged", func() bool { return l.Status().LastAcked == 150 })
	if before < 20 || before >= 150 {
		t.Fatalf("luna reopened through %d, want what it applied before the stop (20 or more)", before)
	}
	if err := exactlyOnce(received(t, sb, "earth"), 150); err != nil {
		t.Fatal(err)
	}
}

// TestSenderRestart stops the sending link and its store in the middle of a
// stream and starts a new link on the reopened store: the new link holds no
// cursor, learns the receiver's through from its first answer, and sends
// only what follows it; the outbox dropped what was acknowledged.
func TestSenderRestart(t *testing.T) {
	sa, pathA := tempStore(t, "earth")
	sb, _ := tempStore(t, "helios")
	local := NewLocal()
	local.Add("helios", sb)
	cfg := fast("earth", "helios", sa.Outbox("helios"), local)
	cfg.MaxBatch = 3
	l := startLink(t, cfg)
	appendTo(t, sa, "helios", 1, 60)
	l.Notify()
	waitFor(t, "helios to apply 15", func() bool { return through(t, sb, "earth") >= 15 })
	l.Stop()
	if err := sa.Close(); err != nil {
		t.Fatal(err)
	}
	applied := through(t, sb, "earth")

	sa = openStore(t, pathA)
	t.Cleanup(func() { sa.Close() })
	appendTo(t, sa, "helios", 61, 20)
	cfg.Outbox = sa.Outbox("helios")
	l2 := startLink(t, cfg)
	waitFor(t, "all 80 acknowledged", func() bool { return l2.Status().LastAcked == 80 })
	if err := exactlyOnce(received(t, sb, "earth"), 80); err != nil {
		t.Fatal(err)
	}
	st := l2.Status()
	if st.Sent != 80-applied || st.Retransmits != 0 {
		t.Fatalf("the restarted link sent %d messages (%d again), want the %d after helios's through %d",
			st.Sent, st.Retransmits, 80-applied, applied)
	}
	// The outbox keeps nothing the receiver acknowledged.
	waitFor(t, "the outbox to drop what was acknowledged", func() bool {
		return len(sa.Outbox("helios").Pending(0, 100)) == 0
	})
}

// TestTwoSecondLatency runs a link with the default timeouts over a 2 s
// one-way latency on each leg: no request fails, and every message arrives
// once.
func TestTwoSecondLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out several 4 s round trips")
	}
	sa, _ := tempStore(t, "earth")
	sb, _ := tempStore(t, "mars")
	local := NewLocal()
	local.Add("mars", sb)
	f := faulty(t, local, FaultConfig{})
	f.SetLatency(2 * time.Second)
	l := startLink(t, Config{From: "earth", To: "mars", Outbox: sa.Outbox("mars"), Transport: f})
	appendTo(t, sa, "mars", 1, 3)
	l.Notify()
	waitFor(t, "the 3 acknowledged", func() bool { return l.Status().LastAcked == 3 })
	if err := exactlyOnce(received(t, sb, "earth"), 3); err != nil {
		t.Fatal(err)
	}
	st := l.Status()
	if st.Errors != 0 {
		t.Fatalf("%d requests failed over a 2 s latency: %s", st.Errors, st.LastError)
	}
	// The injected latency is a floor of the measured round trip.
	if st.RTT < 4*time.Second {
		t.Fatalf("RTT %s, below the 4 s the latency injects", st.RTT)
	}
}

// TestLostPacketTimesOut holds dropped requests until the sender's request
// timeout, as a lost packet does: the link counts the timeouts, says
// unreachable, and delivers once the link heals.
func TestLostPacketTimesOut(t *testing.T) {
	sa, _ := tempStore(t, "earth")
	sb, _ := tempStore(t, "luna")
	local := NewLocal()
	local.Add("luna", sb)
	f := faulty(t, local, FaultConfig{HoldDropped: true})
	f.Partition()
	cfg := fast("earth", "luna", sa.Outbox("luna"), f)
	cfg.RequestTimeout = 500 * time.Millisecond
	l := startLink(t, cfg)
	appendTo(t, sa, "luna", 1, 5)
	waitFor(t, "three timed-out probes", func() bool { return l.Status().State == StateUnreachable })
	if st := l.Status(); !strings.Contains(st.LastError, "deadline exceeded") {
		t.Fatalf("last error %q, want the request timeout", st.LastError)
	}
	f.Heal()
	waitFor(t, "the 5 acknowledged", func() bool { return l.Status().LastAcked == 5 })
	if err := exactlyOnce(received(t, sb, "earth"), 5); err != nil {
		t.Fatal(err)
	}
}

// TestOutboxBehindReceiver: an outbox that no longer holds the seq after the
// receiver's through (the receiver lost state the outbox had dropped) is
// reported, not papered over by sending past a gap.
func TestOutboxBehindReceiver(t *testing.T) {
	sb, _ := tempStore(t, "mars")
	local := NewLocal()
	local.Add("mars", sb)
	out := gappy{first: 5}
	l := startLink(t, fast("earth", "mars", out, local))
	waitFor(t, "the gap to be reported", func() bool {
		return strings.Contains(l.Status().LastError, "holds no seq 1")
	})
	if n := through(t, sb, "earth"); n != 0 {
		t.Fatalf("mars applied through %d past the gap", n)
	}
}

// gappy is an outbox whose first message is not seq 1.
type gappy struct{ first uint64 }

func (g gappy) Pending(after uint64, max int) []Message {
	var out []Message
	for s := max64(after+1, g.first); s < g.first+3 && len(out) < max; s++ {
		out = append(out, Message{Seq: s, Kind: "k"})
	}
	return out
}

func max64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func TestConfigValidate(t *testing.T) {
	out := NewMemory().Outbox("b")
	tr := NewLocal()
	ok := Config{From: "a", To: "b", Outbox: out, Transport: tr}
	cases := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"ok", func(c *Config) {}, ""},
		{"no from", func(c *Config) { c.From = "" }, "From: empty region name"},
		{"bad to", func(c *Config) { c.To = "Mars" }, `To: region name "Mars"`},
		{"self", func(c *Config) { c.To = "a" }, "To: \"a\" is the sending region"},
		{"no outbox", func(c *Config) { c.Outbox = nil }, "Outbox: nil"},
		{"no transport", func(c *Config) { c.Transport = nil }, "Transport: nil"},
		{"batch", func(c *Config) { c.MaxBatch = MaxBatchMessages + 1 }, "MaxBatch: 4097"},
		{"bytes", func(c *Config) { c.MaxBatchBytes = -1 }, "MaxBatchBytes: -1"},
		{"negative", func(c *Config) { c.RequestTimeout = -time.Second }, "may not be negative"},
		{"backoff", func(c *Config) { c.BackoffMin, c.BackoffMax = time.Minute, time.Second }, "BackoffMin: 1m0s is above BackoffMax 1s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			_, err := New(c)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCheckBatch(t *testing.T) {
	m := func(seq uint64) Message { return Message{Seq: seq, Kind: "k"} }
	cases := []struct {
		name string
		b    Batch
		want string
	}{
		{"ok", Batch{From: "a", To: "b", Msgs: []Message{m(3), m(4)}}, ""},
		{"probe", Batch{From: "a", To: "b"}, ""},
		{"self", Batch{From: "a", To: "a"}, "to: region \"a\" links to itself"},
		{"from", Batch{From: "a b", To: "b"}, "from: region name \"a b\" holds ' '"},
		{"long", Batch{From: strings.Repeat("x", 65), To: "b"}, "from: region name of 65 bytes"},
		{"gap", Batch{From: "a", To: "b", Msgs: []Message{m(3), m(5)}}, "msgs[1].seq: 5 does not follow 3"},
		{"zero", Batch{From: "a", To: "b", Msgs: []Message{m(0)}}, "msgs[0].seq: 0"},
		{"kind", Batch{From: "a", To: "b", Msgs: []Message{{Seq: 1}}}, "msgs[0].kind: empty"},
		{"id", Batch{From: "a", To: "b", Msgs: []Message{{Seq: 1, Kind: "k", ID: strings.Repeat("i", 257)}}}, "msgs[0].id: 257 bytes"},
		{"utf8", Batch{From: "a", To: "b", Msgs: []Message{{Seq: 1, Kind: "\xff"}}}, "msgs[0].kind: not UTF-8"},
		{"many", Batch{From: "a", To: "b", Msgs: make([]Message, MaxBatchMessages+1)}, "msgs: 4097 messages"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckBatch(tc.b)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrBadBatch)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestFresh(t *testing.T) {
	seqs := func(ms []Message) string {
		var b strings.Builder
		for _, m := range ms {
			fmt.Fprintf(&b, "%d ", m.Seq)
		}
		return strings.TrimSpace(b.String())
	}
	batch := func(s ...uint64) []Message {
		out := make([]Message, len(s))
		for i, n := range s {
			out[i] = Message{Seq: n}
		}
		return out
	}
	cases := []struct {
		through uint64
		in      []Message
		want    string
	}{
		{0, batch(1, 2, 3), "1 2 3"},
		{2, batch(1, 2, 3, 4), "3 4"},
		{4, batch(1, 2, 3, 4), ""},
		{0, batch(2, 3), ""},     // a gap: nothing after it
		{2, batch(3, 5, 6), "3"}, // applied up to the gap
		{5, nil, ""},             // a probe
		{1, batch(1, 1, 2), "2"}, // a duplicate inside a batch
	}
	for _, tc := range cases {
		if got := seqs(Fresh(tc.through, tc.in)); got != tc.want {
			t.Errorf("Fresh(%d, %s) = %q, want %q", tc.through, seqs(tc.in), got, tc.want)
		}
	}
}

func TestStopEndsRequestInFlight(t *testing.T) {
	sb, _ := tempStore(t, "mars")
	local := NewLocal()
	local.Add("mars", sb)
	f := faulty(t, local, FaultConfig{})
	f.SetLatency(time.Hour)
	sa, _ := tempStore(t, "earth")
	l, err := New(Config{From: "earth", To: "mars", Outbox: sa.Outbox("mars"), Transport: f})
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	waitFor(t, "the probe to be under way", func() bool { return f.Stats().Requests == 1 })
	l.Stop() // returns only once the request in flight ended
	if st := l.Status(); st.State != StateStopped || st.Errors != 1 {
		t.Fatalf("status after stop %+v, want stopped with the cancelled request counted", st)
	}
}
