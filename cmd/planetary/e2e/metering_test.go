package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// TestMeteredSettlement runs sim jobs that declare 1000 tokens on a node
// whose sim plugin (a real plugin process under a real dev agent) publishes
// base 0.1 and 0.001 a token, over the mission's base 0.02: every quote is
// 0.1 + 1000 * 0.001 = 1.1. Each job's payload names the usage the plugin
// reports, so its settlement is set up, not timed: below the quote it pays
// its usage, above it the quote, over its max price the max price, and with
// no usage reported the quote. The job views, the job.completed events, the
// ledger's payments and its invariants agree, and job status shows it; node
// status shows the plugin's schedule overriding the mission's price.
func TestMeteredSettlement(t *testing.T) {
	cfg, err := filepath.Abs("testdata/metering.hcl")
	if err != nil {
		t.Fatal(err)
	}
	p := startAgent(t, t.TempDir(), freePort(t), freePort(t), "-dev", "-config", cfg)
	c := p.client()
	// The plugin's schedule must be the node's price before anything is
	// quoted from it.
	waitFor(t, 30*time.Second, "the plugin's price schedule on earth.meter", func() bool {
		n, err := c.Node(ctxT(t), "earth.meter")
		if err != nil {
			t.Fatal(err)
		}
		return n.Price.Base == 0.1 && len(n.Price.Rates) == 1
	})

	type tc struct {
		id       string
		maxPrice float64
		payload  string
		settled  float64
		basis    string
		usage    map[string]float64
	}
	cases := []tc{
		{"under-quote", 0, `{"usage": {"token": 400}}`, 0.5, state.SettledUsage, map[string]float64{"token": 400}},
		{"over-quote", 0, `{"usage": {"token": 5000}}`, 1.1, state.SettledQuoteCap, map[string]float64{"token": 5000}},
		{"over-max-price", 0.3, `{"usage": {"token": 400}}`, 0.3, state.SettledMaxPriceCap, map[string]float64{"token": 400}},
		{"no-usage", 0, `{}`, 1.1, state.SettledNoUsage, nil},
	}
	var jobs []api.JobSubmit
	for _, x := range cases {
		jobs = append(jobs, api.JobSubmit{ID: x.id, Shard: "earth", Capabilities: []string{"llm"}, Kind: "sim", Value: 2,
			MaxPrice: x.maxPrice, Units: map[string]float64{"token": 1000}, Payload: json.RawMessage(x.payload)})
	}
	ids := submit(t, c, jobs...)
	waitState(t, c, 60*time.Second, "completed", ids...)

	var paid float64
	for _, x := range cases {
		j := job(t, c, x.id)
		if j.Quote != 1.1 || j.Meters["token"] != 0.001 || j.Units["token"] != 1000 {
			t.Errorf("%s: quote %v, meters %v, units %v; want 1.1 with token at 0.001 for 1000", x.id, j.Quote, j.Meters, j.Units)
		}
		if j.Settled == nil || *j.Settled != x.settled || j.Settlement != x.basis {
			t.Errorf("%s: settled %v (%s), want %v (%s)", x.id, j.Settled, j.Settlement, x.settled, x.basis)
		}
		if len(j.Usage) != len(x.usage) || j.Usage["token"] != x.usage["token"] {
			t.Errorf("%s: usage %v, want %v", x.id, j.Usage, x.usage)
		}
		paid += x.settled
	}

	// The events carry the settled amount and say how it was arrived at.
	evs, err := c.Events(ctxT(t), 0, 0, state.EvJobCompleted, 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, e := range evs.Events {
		for _, x := range cases {
			if e.Job != x.id {
				continue
			}
			seen++
			q, _, s, basis, ok := state.ParseSettleDetail(e.Detail)
			if !ok || q != 1_100_000 || s != e.AmountMu || basis != x.basis || e.AmountMu != int64(x.settled*state.Micro+0.5) {
				t.Errorf("%s: job.completed amount %d, detail %q", x.id, e.AmountMu, e.Detail)
			}
		}
	}
	if seen != len(cases) {
		t.Fatalf("%d job.completed events for %d jobs", seen, len(cases))
	}

	l := ledger(t, c)
	checkInvariants(t, l)
	var total float64
	for _, v := range l.Payments {
		total += v
	}
	if d := total - paid; d > 1e-9 || d < -1e-9 {
		t.Errorf("payments total %v, settled amounts sum to %v", total, paid)
	}

	out, err := exec.Command(planetaryBin(t), "job", "status", "-address", p.addr, "-token", p.token, "under-quote").CombinedOutput()
	if err != nil {
		t.Fatalf("job status: %v\n%s", err, out)
	}
	// The plugin's schedule overrides the mission's price block, and node
	// status says so.
	n, err := c.Node(ctxT(t), "earth.meter")
	if err != nil {
		t.Fatal(err)
	}
	if n.PriceSource != "plugin" || n.DeclaredPrice == nil || n.DeclaredPrice.Base != 0.02 {
		t.Errorf("node price source %q, declared %+v; want plugin over the mission's 0.02", n.PriceSource, n.DeclaredPrice)
	}
	ns, err := exec.Command(planetaryBin(t), "node", "status", "-address", p.addr, "-token", p.token, "earth.meter").CombinedOutput()
	if err != nil {
		t.Fatalf("node status: %v\n%s", err, ns)
	}
	if !strings.Contains(string(ns), "Price    = plugin schedule (overrides mission price 0.02)") {
		t.Errorf("node status does not show the override:\n%s", ns)
	}

	t.Logf("job status under-quote:\n%s", out)
	for _, want := range []string{"Quote        = 1.1", "Units        = token=1000", "Rates        = token=0.001",
		"Usage        = token=400", "Settled      = 0.5 (usage)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("job status lacks %q:\n%s", want, out)
		}
	}
}
