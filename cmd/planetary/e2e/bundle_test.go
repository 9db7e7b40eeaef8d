package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// bundleFiles are the files every report bundle holds, besides one
// <shard>-telemetry.json per shard.
var bundleFiles = []string{"summary.json", "ledger.json", "events.ndjson", "checkpoint.json",
	"owner-commands-executed.json", "owner-script.json", "mission-topology.mmd", "mission-topology.html",
	"mission-chronicle.md", "dashboard.html"}

type countValue struct {
	Jobs    int64 `json:"jobs"`
	ValueMu int64 `json:"value_mu"`
}

type flowDoc struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Jobs    int64  `json:"jobs"`
	ValueMu int64  `json:"value_mu"`
}

// ledgerDoc is the part of ledger.json the test compares.
type ledgerDoc struct {
	Totals struct {
		Submitted int64 `json:"submitted"`
		Completed int64 `json:"completed"`
		Failed    int64 `json:"failed"`
		Cancelled int64 `json:"cancelled"`
		Parked    int64 `json:"parked"`
	} `json:"totals"`
	Global     map[string]countValue            `json:"global"`
	Shards     map[string]map[string]countValue `json:"shards"`
	Flows      []flowDoc                        `json:"flows"`
	PaymentsMu map[string]int64                 `json:"payments_mu"`
	Chain      struct {
		Seq  uint64 `json:"seq"`
		Hash string `json:"hash"`
	} `json:"chain"`
	Events int `json:"events"`
}

// summaryDoc is the part of summary.json the test compares.
type summaryDoc struct {
	Metrics struct {
		Submitted  int64 `json:"submitted"`
		Completed  int64 `json:"completed"`
		Failed     int64 `json:"failed"`
		Cancelled  int64 `json:"cancelled"`
		Parked     int64 `json:"parked"`
		Spillovers int64 `json:"spillovers"`
	} `json:"metrics"`
	Shards []struct {
		Name string `json:"name"`
	} `json:"shards"`
	Events int `json:"events"`
}

// jobStates replays job events into each job's final state, the way
// `ledger verify` rebuilds the ledger, and counts hops between shards.
func jobStates(evs []state.Event) (map[string]string, map[[2]string]int64) {
	st := map[string]string{}
	shard := map[string]string{}
	flows := map[[2]string]int64{}
	for _, e := range evs {
		switch e.Type {
		case state.EvJobSubmitted:
			st[e.Job], shard[e.Job] = state.JobQueued.String(), e.Shard
		case state.EvJobAssigned:
			st[e.Job] = state.JobAssigned.String()
		case state.EvJobStarted:
			st[e.Job] = state.JobRunning.String()
		case state.EvJobCompleted:
			st[e.Job] = state.JobCompleted.String()
		case state.EvJobFailed:
			st[e.Job] = state.JobFailed.String()
		case state.EvJobCancelled:
			st[e.Job] = state.JobCancelled.String()
		case state.EvJobRequeued, state.EvJobUnparked:
			st[e.Job] = state.JobQueued.String()
		case state.EvJobParked:
			st[e.Job] = state.JobParked.String()
		case state.EvJobsUnparked:
			for id := range st {
				if st[id] == state.JobParked.String() && shard[id] == e.Shard {
					st[id] = state.JobQueued.String()
				}
			}
		case state.EvJobSpilled, state.EvJobRerouted:
			from := e.From
			if from == "" {
				from = shard[e.Job]
			}
			flows[[2]string{from, e.To}]++
			st[e.Job], shard[e.Job] = state.JobQueued.String(), e.To
		}
	}
	return st, flows
}

var (
	routerLine = regexp.MustCompile(`(\S+)\{\{"router (\S+) ·`)
	flowLine   = regexp.MustCompile(`(\S+) -\.->\|"(\d+) jobs(?:: [^"]*)?"\| (\S+)`)
)

// topologyFlows reads the spillover edges of mission-topology.mmd as
// from -> to -> jobs.
func topologyFlows(t *testing.T, mmd string) map[[2]string]int64 {
	t.Helper()
	names := map[string]string{}
	for _, m := range routerLine.FindAllStringSubmatch(mmd, -1) {
		names[m[1]] = m[2]
	}
	out := map[[2]string]int64{}
	for _, m := range flowLine.FindAllStringSubmatch(mmd, -1) {
		from, to := names[m[1]], names[m[3]]
		if from == "" || to == "" {
			t.Fatalf("topology edge %q joins unknown routers", m[0])
		}
		n, _ := strconv.ParseInt(m[2], 10, 64)
		out[[2]string{from, to}] = n
	}
	return out
}

// checkBundle asserts that every file of the bundle in dir exists and
// parses, and that its totals agree across summary.json, ledger.json, a
// recount of events.ndjson, the live ledger led and the topology's
// spillover edges. It returns the events.
func checkBundle(t *testing.T, dir string, led api.Ledger) []state.Event {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("bundle file: %v", err)
		}
		if len(b) == 0 {
			t.Fatalf("bundle file %s is empty", name)
		}
		return b
	}
	for _, name := range bundleFiles {
		b := read(name)
		switch {
		case strings.HasSuffix(name, ".json"):
			var v map[string]any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case strings.HasSuffix(name, ".html"):
			s := strings.ToLower(string(b))
			if !strings.Contains(s, "<html") || !strings.Contains(s, "</html>") {
				t.Errorf("%s is not an HTML document", name)
			}
		case strings.HasSuffix(name, ".mmd"):
			if !strings.Contains(string(b), "flowchart LR") {
				t.Errorf("%s is not a mermaid flowchart", name)
			}
		case strings.HasSuffix(name, ".md"):
			if !strings.HasPrefix(string(b), "#") {
				t.Errorf("%s does not start with a heading", name)
			}
		}
	}
	var sum summaryDoc
	var ld ledgerDoc
	if err := json.Unmarshal(read("summary.json"), &sum); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(read("ledger.json"), &ld); err != nil {
		t.Fatal(err)
	}
	for _, s := range sum.Shards {
		var tel map[string]any
		if err := json.Unmarshal(read(s.Name+"-telemetry.json"), &tel); err != nil {
			t.Errorf("%s-telemetry.json: %v", s.Name, err)
		}
	}
	evs := readEventsFile(t, filepath.Join(dir, "events.ndjson"))
	if len(evs) != ld.Events || uint64(len(evs)) != ld.Chain.Seq || sum.Events != ld.Events {
		t.Errorf("events: %d lines, ledger.json records %d up to seq %d, summary.json %d", len(evs), ld.Events, ld.Chain.Seq, sum.Events)
	}

	// Totals: summary.json, ledger.json, the events, the API.
	final, evFlows := jobStates(evs)
	recount := map[string]int64{}
	for _, s := range final {
		recount[s]++
	}
	m := sum.Metrics
	for _, c := range []struct {
		what                        string
		summary, ledger, events, ap int64
	}{
		{"submitted", m.Submitted, ld.Totals.Submitted, int64(len(final)), sumJobs(led.Global)},
		{"completed", m.Completed, ld.Totals.Completed, recount["completed"], led.Global["completed"].Jobs},
		{"failed", m.Failed, ld.Totals.Failed, recount["failed"], led.Global["failed"].Jobs},
		{"cancelled", m.Cancelled, ld.Totals.Cancelled, recount["cancelled"], led.Global["cancelled"].Jobs},
		{"parked", m.Parked, ld.Totals.Parked, recount["parked"], led.Global["parked"].Jobs},
	} {
		if c.summary != c.ledger || c.ledger != c.events || c.events != c.ap {
			t.Errorf("%s: summary.json %d, ledger.json %d, events %d, API %d", c.what, c.summary, c.ledger, c.events, c.ap)
		}
	}
	for st, cv := range ld.Global {
		if recount[st] != cv.Jobs || led.Global[st].Jobs != cv.Jobs || led.Global[st].Value != api.Credits(cv.ValueMu) {
			t.Errorf("global %s: ledger.json %d jobs / %d mu, events %d, API %d / %v", st, cv.Jobs, cv.ValueMu, recount[st], led.Global[st].Jobs, led.Global[st].Value)
		}
	}
	for name, counts := range ld.Shards {
		for st, cv := range counts {
			if got := led.Shards[name][st].Jobs; got != cv.Jobs {
				t.Errorf("shard %s %s: ledger.json %d, API %d", name, st, cv.Jobs, got)
			}
		}
	}
	for node, mu := range ld.PaymentsMu {
		if api.Micro(led.Payments[node]) != mu {
			t.Errorf("payment to %s: ledger.json %d mu, API %v", node, mu, led.Payments[node])
		}
	}

	// Flows: ledger.json, the events' hops, the API and the topology edges.
	ldFlows, apiFlows := map[[2]string]int64{}, map[[2]string]int64{}
	var spilled int64
	for _, f := range ld.Flows {
		ldFlows[[2]string{f.From, f.To}] = f.Jobs
		spilled += f.Jobs
	}
	for _, f := range led.Flows {
		apiFlows[[2]string{f.From, f.To}] = f.Jobs
	}
	topo := topologyFlows(t, string(read("mission-topology.mmd")))
	if len(topo) == 0 {
		t.Error("mission-topology.mmd has no spillover edges")
	}
	for k, n := range topo {
		if ldFlows[k] != n {
			t.Errorf("topology edge %s -> %s: %d jobs, ledger.json flow %d", k[0], k[1], n, ldFlows[k])
		}
	}
	for k, n := range ldFlows {
		if topo[k] != n || evFlows[k] != n || apiFlows[k] != n {
			t.Errorf("flow %s -> %s: ledger.json %d, topology %d, events %d, API %d", k[0], k[1], n, topo[k], evFlows[k], apiFlows[k])
		}
	}
	for k, n := range evFlows {
		if ldFlows[k] != n {
			t.Errorf("events hop %s -> %s %d times, ledger.json flow %d", k[0], k[1], n, ldFlows[k])
		}
	}
	if m.Spillovers != spilled {
		t.Errorf("summary.json spillovers %d, ledger.json flows sum to %d", m.Spillovers, spilled)
	}
	return evs
}

func sumJobs(c api.Counts) int64 {
	var n int64
	for _, v := range c {
		n += v.Jobs
	}
	return n
}

// copyBundle copies the bundle in src to a fresh directory.
func copyBundle(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// eventLines splits events.ndjson into its lines (each without "\n").
func eventLines(t *testing.T, dir string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "events.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
}

func writeEventLines(t *testing.T, dir string, lines [][]byte) {
	t.Helper()
	b := append(bytes.Join(lines, []byte("\n")), '\n')
	if err := os.WriteFile(filepath.Join(dir, "events.ndjson"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	namedEvent  = regexp.MustCompile(`event (\d+)\b`)
	namedWindow = regexp.MustCompile(`seq (\d+)\.\.(\d+)`)
)

// namesEvent reports whether a verify message names seq: as "event N", or
// as a window "seq a..b" that holds it.
func namesEvent(msg string, seq uint64) bool {
	for _, m := range namedWindow.FindAllStringSubmatch(msg, -1) {
		a, _ := strconv.ParseUint(m[1], 10, 64)
		b, _ := strconv.ParseUint(m[2], 10, 64)
		if a <= seq && seq <= b {
			return true
		}
	}
	for _, m := range namedEvent.FindAllStringSubmatch(msg, -1) {
		if n, _ := strconv.ParseUint(m[1], 10, 64); n == seq {
			return true
		}
	}
	return false
}

// tamperCases alters copies of a verified bundle; `ledger verify` must
// reject each (exit 1) naming the event.
func tamperCases(t *testing.T, bundle string, evs []state.Event) {
	t.Helper()
	mid := len(evs) / 2
	// A paid completion for the forgery, past the middle of the log.
	forge := -1
	for i := mid; i < len(evs); i++ {
		if evs[i].Type == state.EvJobCompleted && evs[i].AmountMu > 0 {
			forge = i
			break
		}
	}
	if forge < 0 {
		t.Fatal("no paid job.completed event in the second half of the log")
	}
	cases := []struct {
		name  string
		seq   uint64
		alter func(lines [][]byte) [][]byte
	}{
		{"flipped byte", evs[mid].Seq, func(lines [][]byte) [][]byte {
			l := lines[mid]
			i := bytes.Index(l, []byte(`"type":"`)) + len(`"type":"`)
			l[i] ^= 0x01
			return lines
		}},
		{"deleted event", evs[mid].Seq, func(lines [][]byte) [][]byte {
			return append(lines[:mid:mid], lines[mid+1:]...)
		}},
		{"truncated log", evs[mid].Seq, func(lines [][]byte) [][]byte {
			// The log ends in the middle of event mid: a torn last line.
			l := lines[mid]
			return append(lines[:mid:mid], l[:len(l)/2])
		}},
		{"forged event re-hashed", evs[forge].Seq, func(lines [][]byte) [][]byte {
			// Pay the node more, then re-hash this event and every one
			// after it so the chain is internally consistent.
			chain := append([]state.Event(nil), evs...)
			chain[forge].AmountMu += 1_000_000
			prev, _ := hex.DecodeString(chain[forge].Prev)
			var ph [32]byte
			copy(ph[:], prev)
			for i := forge; i < len(chain); i++ {
				chain[i].Prev = hex.EncodeToString(ph[:])
				ph = chain[i].ComputeHash(ph)
				chain[i].Hash = hex.EncodeToString(ph[:])
				b, err := json.Marshal(&chain[i])
				if err != nil {
					t.Fatal(err)
				}
				lines[i] = b
			}
			return lines
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyBundle(t, bundle)
			lines := tc.alter(eventLines(t, dir))
			if tc.name == "truncated log" {
				// No trailing newline after the torn line.
				b := bytes.Join(lines, []byte("\n"))
				if err := os.WriteFile(filepath.Join(dir, "events.ndjson"), b, 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				writeEventLines(t, dir, lines)
			}
			out, code := runCLI(t, "ledger", "verify", dir)
			if code != 1 {
				t.Fatalf("ledger verify exited %d, want 1:\n%s", code, out)
			}
			if !namesEvent(out, tc.seq) {
				t.Errorf("ledger verify does not name event %d:\n%s", tc.seq, out)
			}
		})
	}
}

// TestBundleFromLiveRunWithOutage runs the example mission with its owner
// schedule and an outage against a live dev agent (`planetary run
// -address`), then checks the bundle: every file exists and parses, the
// totals agree across summary.json, ledger.json, events.ndjson, the API and
// the topology, `ledger verify` passes, and altered copies are rejected
// naming the event. A second bundle, written by `planetary report` after
// owner reroutes, checks non-zero spillover flows the same way.
func TestBundleFromLiveRunWithOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	httpAddr, bind := freePort(t), freePort(t)
	p := startAgent(t, filepath.Join(dir, "agent"), httpAddr, bind, "-dev")
	c := p.client()
	ctx := context.Background()
	plan, err := filepath.Abs("../../../examples/mission.hcl")
	if err != nil {
		t.Fatal(err)
	}

	// The bundle is compared with the API after the run, so every node
	// must be up before it starts: a node that comes up only after the run
	// settled would unpark work the bundle counts as parked. The container
	// node comes up only where podman is installed.
	_, podmanErr := exec.LookPath("podman")
	waitFor(t, 60*time.Second, "the mission's nodes up", func() bool {
		nodes, err := c.Nodes(ctx)
		if err != nil || len(nodes) == 0 {
			return false
		}
		for _, n := range nodes {
			if n.Status != state.NodeUp.String() && (n.ID != "earth.container-1" || podmanErr == nil) {
				return false
			}
		}
		return true
	})

	runDir := filepath.Join(dir, "run")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	before, err := c.Node(ctx, "mars.gpu-helion")
	if err != nil {
		t.Fatal(err)
	}
	out, code := runCLIIn(t, runDir, "run", "-address", p.addr, "-token", p.token, "-plan", plan,
		"-jobs", "2000", "-outage-node", "mars.gpu-helion", "-allow-outage")
	if want := runExitWant(out); code != want {
		t.Fatalf("planetary run exited %d, want %d:\n%s", code, want, out)
	}
	m := regexp.MustCompile(`(?m)^Bundle\s+=\s+(\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no bundle path in the output:\n%s", out)
	}
	bundle := m[1]
	if o, code := runCLI(t, "ledger", "verify", bundle); code != 0 {
		t.Fatalf("ledger verify exited %d:\n%s", code, o)
	}
	led, err := c.Ledger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	evs := checkBundle(t, bundle, led)
	// The planned outage drained the node and the run restored it.
	n, err := c.Node(ctx, "mars.gpu-helion")
	if err != nil {
		t.Fatal(err)
	}
	if n.Status != state.NodeUp.String() || n.Capacity != before.Capacity {
		t.Errorf("outage node mars.gpu-helion is %s with capacity %d after the run, want up with %d", n.Status, n.Capacity, before.Capacity)
	}
	if !strings.Contains(out, "(restored at the end)") {
		t.Errorf("the summary does not say the outage was restored:\n%s", out)
	}
	if t.Failed() {
		return
	}
	tamperCases(t, bundle, evs)
	if _, err := c.RetireNode(ctx, "mars.gpu-helion", api.NodeRetire{Requeue: true, Reason: "bundle test"}); err != nil {
		t.Fatal(err)
	}

	// Owner reroutes of parked Mars jobs to Helios make a flow; a bundle
	// written now by `planetary report` carries it everywhere. With the only
	// Mars GPU node retired, new Mars GPU work parks.
	var gpuWork []api.JobSubmit
	for i := 0; i < 3; i++ {
		gpuWork = append(gpuWork, api.JobSubmit{Key: fmt.Sprintf("bundle/after/%d", i), Shard: "mars",
			Capabilities: []string{"gpu", "vision", "simulation"}, Kind: "sim", Value: 1})
	}
	if _, err := c.SubmitJobs(ctx, gpuWork); err != nil {
		t.Fatal(err)
	}
	var parked api.JobList
	waitFor(t, 10*time.Second, "Mars GPU work to park", func() bool {
		var err error
		parked, err = c.Jobs(ctx, api.JobQuery{State: state.JobParked.String(), Shard: "mars", Limit: 3})
		return err == nil && len(parked.Jobs) >= 3
	})
	var moved []string
	for _, j := range parked.Jobs {
		if j.Shard != "mars" {
			continue
		}
		if _, err := c.RerouteJob(ctx, j.ID, "helios", "bundle test"); err != nil {
			t.Fatalf("reroute %s: %v", j.ID, err)
		}
		moved = append(moved, j.ID)
	}
	if len(moved) == 0 {
		t.Fatalf("no parked Mars job to reroute (ledger %+v)", led.Global)
	}
	waitFor(t, 10*time.Second, "the reroutes in the ledger", func() bool {
		l, err := c.Ledger(ctx)
		if err != nil {
			return false
		}
		for _, f := range l.Flows {
			if f.From == "mars" && f.To == "helios" && f.Jobs >= int64(len(moved)) {
				return true
			}
		}
		return false
	})
	// The rerouted jobs park again in Helios (no node there has vision);
	// wait for the fabric to be idle so the API and the bundle agree.
	var idle api.Ledger
	waitFor(t, 10*time.Second, "an idle fabric", func() bool {
		l, err := c.Ledger(ctx)
		if err != nil {
			return false
		}
		idle = l
		return l.Global["queued"].Jobs+l.Global["assigned"].Jobs+l.Global["running"].Jobs == 0
	})
	out2 := filepath.Join(dir, "report")
	if o, code := runCLI(t, "report", "-out", out2, "-plan", plan, "-address", p.addr, "-token", p.token); code != 0 {
		t.Fatalf("planetary report exited %d:\n%s", code, o)
	}
	if o, code := runCLI(t, "ledger", "verify", out2); code != 0 {
		t.Fatalf("ledger verify of the report exited %d:\n%s", code, o)
	}
	evs2 := checkBundle(t, out2, idle)
	_, flows := jobStates(evs2)
	if flows[[2]string{"mars", "helios"}] < int64(len(moved)) {
		t.Errorf("mars -> helios flow %d after %d reroutes", flows[[2]string{"mars", "helios"}], len(moved))
	}
	keys := make([]string, 0, len(flows))
	for k, v := range flows {
		keys = append(keys, fmt.Sprintf("%s->%s=%d", k[0], k[1], v))
	}
	sort.Strings(keys)
	t.Logf("run bundle: %d events, %d completed, %d parked; report bundle: %d events, flows %v",
		len(evs), led.Global["completed"].Jobs, led.Global["parked"].Jobs, len(evs2), keys)
}

// runExitWant is the exit code `planetary run` owes for its output: 2 when
// its summary counts parked or failed jobs (the container jobs park on a
// host without podman), 0 otherwise.
func runExitWant(out string) int {
	for _, k := range []string{"Parked", "Failed"} {
		m := regexp.MustCompile(`(?m)^` + k + `\s+= (\d+)$`).FindStringSubmatch(out)
		if m != nil && m[1] != "0" {
			return 2
		}
	}
	return 0
}

// TestRunExternalOutageNeedsFlag: against an external agent (run -address) a
// planned outage is skipped without -allow-outage, and the summary and the
// bundle say so; with it the node is drained and restored as it was (up,
// same capacity) at the end of the run.
func TestRunExternalOutageNeedsFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	p := startAgent(t, filepath.Join(dir, "agent"), freePort(t), freePort(t), "-dev")
	c := p.client()
	ctx := context.Background()
	plan, err := filepath.Abs("../../../examples/mission.hcl")
	if err != nil {
		t.Fatal(err)
	}
	const node = "luna.nav-station"
	before, err := c.Node(ctx, node)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, label string
		args        []string
		summary     string // in the Outage at line
		note        string // in summary.json run.outage
	}{
		{"without -allow-outage", "no-flag", nil, "skipped (planned outage of " + node + " skipped: against an external agent (-address) it needs -allow-outage)", "needs -allow-outage"},
		{"with -allow-outage", "flag", []string{"-allow-outage"}, "(restored at the end)", "restored at the end of the run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runDir := filepath.Join(dir, tc.label)
			if err := os.MkdirAll(runDir, 0o755); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"run", "-address", p.addr, "-token", p.token, "-plan", plan, "-jobs", "300",
				"-outage-node", node, "-outage-at", "0s", "-label", tc.label}, tc.args...)
			out, code := runCLIIn(t, runDir, args...)
			if want := runExitWant(out); code != want {
				t.Fatalf("planetary run exited %d, want %d:\n%s", code, want, out)
			}
			line := regexp.MustCompile(`(?m)^Outage at\s+= (.*)$`).FindStringSubmatch(out)
			if line == nil || !strings.Contains(line[1], tc.summary) {
				t.Errorf("Outage at line %q, want it to hold %q:\n%s", line, tc.summary, out)
			}
			m := regexp.MustCompile(`(?m)^Bundle\s+=\s+(\S+)$`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no bundle path in the output:\n%s", out)
			}
			var sum struct {
				Run struct {
					Outage string `json:"outage"`
				} `json:"run"`
			}
			b, err := os.ReadFile(filepath.Join(m[1], "summary.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &sum); err != nil || !strings.Contains(sum.Run.Outage, tc.note) {
				t.Errorf("summary.json run.outage %q (%v), want it to hold %q", sum.Run.Outage, err, tc.note)
			}
			chron, err := os.ReadFile(filepath.Join(m[1], "mission-chronicle.md"))
			if err != nil || !strings.Contains(string(chron), "Planned outage: ") {
				t.Errorf("the chronicle does not narrate the planned outage (%v)", err)
			}
			n, err := c.Node(ctx, node)
			if err != nil {
				t.Fatal(err)
			}
			if n.Status != before.Status || n.Capacity != before.Capacity {
				t.Errorf("%s is %s with capacity %d after the run, want %s with %d", node, n.Status, n.Capacity, before.Status, before.Capacity)
			}
		})
	}
	// The drain and the restore are both in the event log, as owner updates
	// of the node's capacity; nothing retired it.
	var all []api.Event
	for idx := uint64(0); ; {
		page, err := c.Events(ctx, idx, 0, state.EvNodeUpdated+","+state.EvNodeRetired, 1000)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Events...)
		if len(page.Events) == 0 || page.Index <= idx || page.Index >= page.Head {
			break
		}
		idx = page.Index
	}
	var drained, restored, retired int
	for _, e := range all {
		if e.Node != node {
			continue
		}
		switch {
		case e.Type == state.EvNodeRetired:
			retired++
		case e.Reason == "planned outage":
			drained++
		case strings.HasPrefix(e.Reason, "planned outage over"):
			restored++
		}
	}
	if drained != 1 || restored != 1 || retired != 0 {
		t.Errorf("node events: %d drains, %d restores, %d retirements; want 1, 1, 0", drained, restored, retired)
	}
}
