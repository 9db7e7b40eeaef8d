package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// TestVerifyAnchored checks a bundle whose log starts after genesis: the
// chain is verified from the anchor and the ledger is not rebuilt.
func TestVerifyAnchored(t *testing.T) {
	in := fixture()
	cut := 20
	last := in.Events[cut-1]
	in.Anchor = Anchor{Seq: last.Seq, Hash: last.Hash}
	in.Events = in.Events[cut:]
	dir := t.TempDir()
	if _, err := Write(dir, in); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(dir)
	if err != nil || !res.ChainOK || res.LedgerChecked || res.Events != len(in.Events) {
		t.Fatalf("err %v res %+v", err, res)
	}
	// A wrong anchor breaks the first event's prev link.
	in.Anchor.Hash = strings.Repeat("ab", 32)
	if _, err := Write(dir, in); err != nil {
		t.Fatal(err)
	}
	res, err = Verify(dir)
	if err == nil || res.BadSeq != uint64(cut+1) || !strings.Contains(res.Reason, "prev") {
		t.Fatalf("err %v res %+v", err, res)
	}
}

func TestWriteDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	fa, err := Write(a, fixture())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(b, fixture()); err != nil {
		t.Fatal(err)
	}
	for _, p := range fa {
		x, _ := os.ReadFile(p)
		y, _ := os.ReadFile(filepath.Join(b, filepath.Base(p)))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two writes", filepath.Base(p))
		}
	}
}

func TestDashboardEscapes(t *testing.T) {
	in := fixture()
	in.Mission.Name = `</script><script>alert(1)</script>`
	in.Shards[0].DisplayName = `<img src=x onerror=alert(2)>`
	dir := t.TempDir()
	if _, err := Write(dir, in); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{FileDashboard, FileTopologyHTML} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		s := string(b)
		if strings.Contains(s, "alert(1)</script>") || strings.Contains(s, "<img src=x") {
			t.Errorf("%s lets markup through", f)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, FileDashboard))
	if n := strings.Count(string(b), "<script"); n != 3 {
		t.Errorf("dashboard has %d script elements, want 3", n)
	}
}

// synthetic builds a consistent Input of jobs jobs, each submitted,
// assigned, started and completed (four events a job).
func synthetic(jobs int) Input {
	var evs []state.Event
	var head state.ChainHead
	add := func(e state.Event) {
		e.Index = uint64(len(evs) + 1)
		e.Time = int64(len(evs)) * 1000
		head = e.Seal(head)
		evs = append(evs, e)
	}
	evs = make([]state.Event, 0, 4*jobs+8)
	shards := []string{"earth", "luna", "mars", "helios"}
	for i := 0; i < jobs; i++ {
		id := fmt.Sprintf("job-%08d", i)
		sh := shards[i%4]
		node := sh + ".n" + fmt.Sprint(i%3)
		add(state.Event{Type: state.EvJobSubmitted, Job: id, Shard: sh, ValueMu: 4_000_000})
		add(state.Event{Type: state.EvJobAssigned, Job: id, Shard: sh, Node: node, Attempt: 1, AmountMu: 720})
		add(state.Event{Type: state.EvJobStarted, Job: id, Shard: sh, Node: node, Attempt: 1})
		add(state.Event{Type: state.EvJobCompleted, Job: id, Shard: sh, Node: node, Attempt: 1, AmountMu: 720})
	}
	rp := newReplay()
	for i := range evs {
		if err := rp.apply(&evs[i]); err != nil {
			panic(err)
		}
	}
	d := rp.doc()
	in := Input{Mission: Mission{Name: "synthetic"}, Events: evs}
	in.Ledger = Ledger{Global: Counts{Jobs: map[string]int64{}, ValueMu: map[string]int64{}}, Payments: d.PaymentsMu,
		Head: Anchor{Seq: head.Seq, Hash: fmt.Sprintf("%x", head.Hash)}}
	for st, cv := range d.Global {
		in.Ledger.Global.Jobs[st], in.Ledger.Global.ValueMu[st] = cv.Jobs, cv.ValueMu
	}
	for _, sh := range shards {
		v := ShardView{Name: sh, Health: HealthOK, LatencyBudgetMs: 120, Counts: map[string]int64{}, ValueMu: map[string]int64{}}
		for st, cv := range d.Shards[sh] {
			v.Counts[st], v.ValueMu[st] = cv.Jobs, cv.ValueMu
		}
		in.Shards = append(in.Shards, v)
	}
	for id, nl := range d.Nodes {
		in.Nodes = append(in.Nodes, NodeView{Node: client.Node{ID: id, Shard: strings.Split(id, ".")[0], Status: "up", Capacity: 8,
			Active: nl.Active, Completed: nl.Completed}, EarnedMu: nl.EarnedMu})
	}
	return in
}

func BenchmarkWriteVerify(b *testing.B) {
	for _, jobs := range []int{10_000, 25_000, 250_000} {
		in := synthetic(jobs)
		b.Run(fmt.Sprintf("events=%d", len(in.Events)), func(b *testing.B) {
			b.ReportAllocs()
			dir := b.TempDir()
			for i := 0; i < b.N; i++ {
				if _, err := Write(dir, in); err != nil {
					b.Fatal(err)
				}
				if res, err := Verify(dir); err != nil || !res.LedgerOK {
					b.Fatalf("%v %+v", err, res)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	in := synthetic(25_000)
	dir := b.TempDir()
	if _, err := Write(dir, in); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res, err := Verify(dir); err != nil || !res.LedgerOK {
			b.Fatalf("%v %+v", err, res)
		}
	}
}

// BenchmarkBundle40k writes and verifies the bundle of a 10,000-job trial
// (40,000 events), the report phase of drill acceptance, in its two parts.
func BenchmarkBundle40k(b *testing.B) {
	in := synthetic(10_000)
	dir := b.TempDir()
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Write(dir, in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if res, err := Verify(dir); err != nil || !res.LedgerOK {
				b.Fatalf("%v %+v", err, res)
			}
		}
	})
}

// TestFlowRules: ledger.json and the topology name the rule behind every
// move of a flow, the most used first.
func TestFlowRules(t *testing.T) {
	evs := []state.Event{
		{Type: state.EvJobSpilled, Job: "a", From: "earth", To: "mars", Reason: "latency budget"},
		{Type: state.EvJobSpilled, Job: "b", From: "earth", To: "mars", Reason: "no fit"},
		{Type: state.EvJobSpilled, Job: "c", From: "earth", To: "mars", Reason: "latency budget"},
		{Type: state.EvJobRerouted, Job: "d", From: "earth", To: "mars", Reason: "maintenance window"},
		{Type: state.EvJobCompleted, Job: "a"},
	}
	got := flowRules(evs)[[2]string{"earth", "mars"}]
	want := map[string]int64{"latency budget": 2, "no fit": 1, RuleOwnerReroute: 1}
	if len(got) != len(want) {
		t.Fatalf("rules = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("rules[%q] = %d, want %d", k, got[k], v)
		}
	}
	if l := flowLabel(4, got); l != "4 jobs: latency budget 2, no fit 1, owner reroute 1" {
		t.Errorf("label = %q", l)
	}
	if l := flowLabel(0, nil); l != "0 jobs" {
		t.Errorf("label without rules = %q", l)
	}
	in := Input{Shards: []ShardView{{Name: "earth"}, {Name: "mars"}},
		Ledger: Ledger{Flows: []Flow{{From: "earth", To: "mars", Jobs: 4}}}, Events: evs}
	if led := BuildLedger(in); len(led.Flows) != 1 || led.Flows[0].Rules["latency budget"] != 2 {
		t.Errorf("ledger.json flows = %+v, want the rules counted", led.Flows)
	}
	if m := Mermaid(in); !strings.Contains(m, "4 jobs: latency budget 2, no fit 1, owner reroute 1") {
		t.Errorf("topology lacks the flow's rules:\n%s", m)
	}
}
