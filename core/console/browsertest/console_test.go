package browsertest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/planetary/planetary/core/console"
	"github.com/planetary/planetary/core/console/browsertest"
	"github.com/planetary/planetary/core/report"
)

// fixtureAPI is a small real in-memory implementation of the console's
// routes: read views from report.Example() (or the nodes set by a test),
// a pause flag per shard, and blocking queries: every answer carries
// X-Planetary-Index, and a read given ?index= at the current index waits
// for the next change (or the caller leaving).
type fixtureAPI struct {
	mu      sync.Mutex
	token   string
	in      report.Input
	nodes   any              // served by GET /v1/nodes when set
	jobs    []map[string]any // served by GET /v1/jobs and /v1/job/{id}
	jobEvs  []map[string]any // served by GET /v1/events?job=
	paused  map[string]bool
	index   uint64 // changes so far; the index served is one more (a raft index is never 0)
	changed chan struct{}
	reads   []string // request URIs of the blocking routes, in order
}

// change records a state change: the index moves on and waiting reads wake.
func (f *fixtureAPI) change(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
	f.index++
	if f.changed != nil {
		close(f.changed)
	}
	f.changed = make(chan struct{})
}

// block waits as a blocking query does, then writes the index header and
// returns with f.mu held.
func (f *fixtureAPI) block(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reads = append(f.reads, r.URL.RequestURI())
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	if idx, err := strconv.ParseUint(r.URL.Query().Get("index"), 10, 64); err == nil && idx >= f.index+1 {
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-r.Context().Done():
		}
		f.mu.Lock()
	}
	w.Header().Set("X-Planetary-Index", strconv.FormatUint(f.index+1, 10))
}

func (f *fixtureAPI) routes(mux *http.ServeMux) {
	js := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /v1/shards", func(w http.ResponseWriter, r *http.Request) {
		f.block(w, r)
		defer f.mu.Unlock()
		out := append([]report.ShardView(nil), f.in.Shards...)
		for i := range out {
			out[i].Paused = f.paused[out[i].Name]
			if !out[i].Paused {
				out[i].Health = report.HealthOK
			}
		}
		js(w, out)
	})
	mux.HandleFunc("GET /v1/mission", func(w http.ResponseWriter, r *http.Request) { js(w, map[string]any{"name": f.in.Mission.Name}) })
	mux.HandleFunc("GET /v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		f.block(w, r)
		defer f.mu.Unlock()
		if f.nodes != nil {
			js(w, f.nodes)
			return
		}
		js(w, f.in.Nodes)
	})
	mux.HandleFunc("GET /v1/ledger", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		js(w, report.BuildLedger(f.in))
	})
	mux.HandleFunc("GET /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		f.block(w, r)
		defer f.mu.Unlock()
		out := []map[string]any{}
		for _, j := range f.jobs {
			if st := r.URL.Query().Get("state"); st == "" || j["state"] == st {
				out = append(out, j)
			}
		}
		js(w, map[string]any{"jobs": out})
	})
	mux.HandleFunc("GET /v1/job/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.block(w, r)
		defer f.mu.Unlock()
		for _, j := range f.jobs {
			if j["id"] == r.PathValue("id") {
				js(w, j)
				return
			}
		}
		http.Error(w, `{"error":"job not found"}`, http.StatusNotFound)
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		if job := r.URL.Query().Get("job"); job != "" {
			if r.URL.Query().Get("index") != "0" {
				<-r.Context().Done() // long poll: nothing new
				return
			}
			out := []map[string]any{}
			for _, e := range f.jobEvs {
				if e["job"] == job {
					out = append(out, e)
				}
			}
			js(w, map[string]any{"events": out, "index": len(f.jobEvs), "head": len(f.jobEvs)})
			return
		}
		if r.URL.Query().Get("index") != "0" {
			<-r.Context().Done() // long poll: nothing new
			return
		}
		js(w, map[string]any{"events": f.in.Events, "index": len(f.in.Events)})
	})
	mux.HandleFunc("GET /v1/topology.svg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		_, _ = w.Write([]byte(report.SVG(f.in)))
	})
	pause := func(v bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Planetary-Token") != f.token {
				http.Error(w, `{"error":"permission denied"}`, http.StatusForbidden)
				return
			}
			var body struct{ Shard string }
			_ = json.NewDecoder(r.Body).Decode(&body)
			f.change(func() { f.paused[body.Shard] = v })
			js(w, map[string]uint64{"index": 1})
		}
	}
	mux.HandleFunc("POST /v1/operator/pause", pause(true))
	mux.HandleFunc("POST /v1/operator/resume", pause(false))
}

func TestConsoleLive(t *testing.T) {
	api := &fixtureAPI{token: "s3cret", in: report.Example(), paused: map[string]bool{}}
	mux := http.NewServeMux()
	mux.Handle("/ui/", http.StripPrefix("/ui", console.Handler()))
	api.routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)

	b := browsertest.New(t, browsertest.Config{AllowedHosts: []string{u.Host}})
	b.Do(
		chromedp.Navigate(srv.URL+"/ui/"),
		chromedp.WaitReady(chromedp.CSS(`#shards tr[data-shard=earth][data-paused=false]`)),
		chromedp.WaitReady(chromedp.CSS(`#topology-view svg#topology`)),
		chromedp.WaitReady(chromedp.CSS(`#events li[data-seq="1"]`)),
		chromedp.WaitReady(chromedp.CSS(`#invariants li[data-ok=true]`)),
	)
	_ = browsertest.Eval[bool](b, `sessionStorage.setItem("planetary-token", "s3cret"), true`)
	b.Do(
		chromedp.SetValue(chromedp.CSS(`#form-shard input[name=shard]`), "earth"),
		chromedp.Click(chromedp.CSS(`#form-shard button[data-action=shard-pause]`)),
		chromedp.WaitReady(chromedp.CSS(`#owner-status[data-state=ok]`)),
		chromedp.WaitReady(chromedp.CSS(`#shards tr[data-shard=earth][data-paused=true]`)),
	)
	b.WaitTrue(`document.getElementById("mission-name").textContent === "fixture-mission"`, 10*time.Second)
	if !browsertest.Eval[bool](b, `document.getElementById("regions-panel").hidden`) {
		t.Fatal("the Regions panel shows for a ledger without regions")
	}
	b.Screenshot("paused")
	b.RequireNoBlocked()
	// The pause reached the page through a blocking query: after the first
	// read of /v1/shards, every read passes the index it last saw.
	api.mu.Lock()
	defer api.mu.Unlock()
	var shardReads []string
	for _, u := range api.reads {
		if strings.HasPrefix(u, "/v1/shards") {
			shardReads = append(shardReads, u)
		}
	}
	if len(shardReads) < 2 || strings.Contains(shardReads[0], "index=") {
		t.Fatalf("shard reads %v", shardReads)
	}
	for _, u := range shardReads[1:] {
		if !strings.Contains(u, "index=") {
			t.Fatalf("a later read without ?index=: %s (all: %v)", u, shardReads)
		}
	}
}

// TestConsoleNodesPluginStates renders the nodes view for a node in each
// plugin state, and a plugin refused for a sha256 mismatch with both
// hashes; a state change published later reaches the open page.
func TestConsoleNodesPluginStates(t *testing.T) {
	pinned, actual := strings.Repeat("ab", 32), strings.Repeat("0f", 32)
	node := func(id, state string, crashes int64, reason string) map[string]any {
		return map[string]any{"id": id, "shard": "earth", "plugin": "sim", "status": "down", "capacity": 2,
			"heartbeat_age_ms": -1, "plugin_state": state, "plugin_crashes": crashes, "plugin_reason": reason}
	}
	nodes := []map[string]any{
		node("n-starting", "starting", 0, "launching"),
		node("n-up", "up", 0, ""),
		node("n-refused", "refused", 0, `plugin "x" in agent.hcl (node n-refused): /opt/x does not match its sha256 pin: pinned `+pinned+`, actual `+actual),
		node("n-crashed", "crashed", 3, "exit status 2"),
		node("n-backoff", "backing_off", 1, "handshake: timeout"),
		node("n-silent", "", 0, ""),
		node("n-restarted", "up", 2, ""),
	}
	nodes[1]["status"], nodes[1]["schedulable"] = "up", true
	nodes[6]["status"] = "up"
	nodes[6]["conditions"] = []map[string]any{{"type": "ready", "status": "true"},
		{"type": "draining", "status": "true", "reason": "swap the rack", "since": 1, "until": 2}}
	api := &fixtureAPI{token: "s3cret", in: report.Example(), paused: map[string]bool{}, nodes: nodes}
	mux := http.NewServeMux()
	mux.Handle("/ui/", http.StripPrefix("/ui", console.Handler()))
	api.routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)

	b := browsertest.New(t, browsertest.Config{AllowedHosts: []string{u.Host}})
	b.Do(
		chromedp.Navigate(srv.URL+"/ui/#/nodes"),
		chromedp.WaitReady(chromedp.CSS(`#node-list tr[data-node=n-up][data-plugin-state=up]`)),
	)
	cases := []struct{ node, state, text string }{
		{"n-starting", "starting", "starting"},
		{"n-up", "up", "up"},
		{"n-restarted", "up", "up (crashed 2)"},
		{"n-refused", "refused", "refused"},
		{"n-crashed", "crashed", "crashed 3"},
		{"n-backoff", "backing_off", "backing off (crashed 1)"},
		{"n-silent", "none", "—"},
	}
	for _, tc := range cases {
		t.Run(tc.node, func(t *testing.T) {
			got := browsertest.Eval[string](b, `(function(){var r=document.querySelector('#node-list tr[data-node="`+tc.node+
				`"]');return r?r.getAttribute("data-plugin-state")+"|"+r.querySelector("td.plugin-state").textContent:""})()`)
			if got != tc.state+"|"+tc.text {
				t.Fatalf("row shows %q, want %q", got, tc.state+"|"+tc.text)
			}
		})
	}
	// Placement: a schedulable node, a draining one with its reason, a
	// down one.
	for node, want := range map[string]string{"n-up": "schedulable|schedulable|", "n-restarted": "held|draining (swap the rack)|draining",
		"n-starting": "held|not schedulable|"} {
		got := browsertest.Eval[string](b, `(function(){var r=document.querySelector('#node-list tr[data-node="`+node+
			`"]');return r.getAttribute("data-placement")+"|"+r.querySelector("td.placement").textContent+"|"+r.getAttribute("data-conditions")})()`)
		if got != want {
			t.Errorf("%s placement %q, want %q", node, got, want)
		}
	}
	hashes := browsertest.Eval[string](b, `(function(){var r=document.querySelector('#node-list tr[data-node=n-refused]');`+
		`return r.querySelector('code[data-hash=pinned]').textContent+" "+r.querySelector('code[data-hash=actual]').textContent})()`)
	if hashes != pinned+" "+actual {
		t.Fatalf("refused row hashes %q", hashes)
	}
	// The overview's node table carries the plugin state too.
	b.Screenshot("nodes")
	api.change(func() { nodes[3]["plugin_state"], nodes[3]["plugin_crashes"] = "up", int64(3) })
	b.Do(chromedp.WaitReady(chromedp.CSS(`#node-list tr[data-node=n-crashed][data-plugin-state=up]`)))
	b.Do(
		chromedp.Navigate(srv.URL+"/ui/#/"),
		chromedp.WaitReady(chromedp.CSS(`#nodes tr[data-node=n-refused][data-plugin-state=refused]`)),
	)
	if txt := browsertest.Eval[string](b, `document.querySelector('#nodes tr[data-node=n-crashed][data-plugin-state=up]').textContent`); !strings.Contains(txt, "sim up") {
		t.Fatalf("overview row %q", txt)
	}
	b.RequireNoBlocked()
}

// TestConsoleJobExtraFields renders a job with metered settlement: its
// settled amount and how it was arrived at beside its attempts and the
// payment from the events, and the fields the page has no place for
// (usage, meters) under "More", field by field.
func TestConsoleJobExtraFields(t *testing.T) {
	const ns = int64(1_796_000_000_000_000_000)
	job := map[string]any{"seq": 1, "id": "j-usage", "home": "earth", "shard": "earth", "state": "completed",
		"node": "earth.a", "attempt": 2, "hops": 0, "value": 3, "quote": 0.4, "submitted_at": ns,
		"usage":   map[string]any{"cpu_seconds": 1.5, "gpu_seconds": 0.25},
		"meters":  map[string]any{"cpu_seconds": 0.1, "gpu_seconds": 0.2},
		"settled": 0.4, "settlement": "base 0.2 + metered 0.2"}
	ev := func(seq int, typ string, attempt int, node string, amount int64, reason string) map[string]any {
		return map[string]any{"seq": seq, "time": ns + int64(seq)*1e6, "type": typ, "job": "j-usage", "attempt": attempt,
			"shard": "earth", "node": node, "amount_mu": amount, "reason": reason}
	}
	api := &fixtureAPI{token: "s3cret", in: report.Example(), paused: map[string]bool{},
		jobs: []map[string]any{job},
		jobEvs: []map[string]any{
			ev(1, "job.submitted", 0, "", 0, ""),
			ev(2, "job.assigned", 1, "earth.b", 300000, ""),
			ev(3, "job.requeued", 1, "earth.b", 0, "node down"),
			ev(4, "job.assigned", 2, "earth.a", 400000, ""),
			ev(5, "job.started", 2, "earth.a", 0, ""),
			ev(6, "job.completed", 2, "earth.a", 400000, ""),
		}}
	mux := http.NewServeMux()
	mux.Handle("/ui/", http.StripPrefix("/ui", console.Handler()))
	api.routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)

	b := browsertest.New(t, browsertest.Config{AllowedHosts: []string{u.Host}})
	b.Do(
		chromedp.Navigate(srv.URL+"/ui/#/job/j-usage"),
		chromedp.WaitReady(chromedp.CSS(`#job-more tr[data-field=usage] tr[data-field=cpu_seconds]`)),
		chromedp.WaitReady(chromedp.CSS(`#job-timeline li[data-type="job.completed"]`)),
	)
	text := func(sel string) string {
		return browsertest.Eval[string](b, `document.querySelector('`+sel+`').textContent`)
	}
	cases := []struct{ sel, want string }{
		{`#job-more tr[data-field=usage] tr[data-field=cpu_seconds] td`, "1.5"},
		{`#job-more tr[data-field=usage] tr[data-field=gpu_seconds] td`, "0.25"},
		{`#job-more tr[data-field=meters] tr[data-field=gpu_seconds] td`, "0.2"},
		{`#job-settled[data-settled="0.4"]`, "settled 0.4 credits: base 0.2 + metered 0.2"},
		{`#job-attempts tr[data-attempt="1"][data-outcome=requeued]`, "1earth.bearth0.3requeuednode down"},
		{`#job-settlement[data-settled=true]`, "settled: paid 0.4 credits to earth.a"},
	}
	for _, tc := range cases {
		t.Run(tc.sel, func(t *testing.T) {
			if got := text(tc.sel); got != tc.want {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
	if hidden := browsertest.Eval[bool](b, `document.getElementById('job-more-panel').hidden`); hidden {
		t.Fatal("the More panel is hidden")
	}
	b.Screenshot("job")
	// An unknown job says so.
	b.Do(
		chromedp.Navigate(srv.URL+"/ui/#/job/nope"),
		chromedp.WaitReady(chromedp.CSS(`#job-missing:not([hidden])`)),
	)
	if msg := text(`#job-missing`); !strings.HasPrefix(msg, "no job nope") {
		t.Fatalf("missing job: %q", msg)
	}
	b.RequireNoBlocked()
}

// TestConsoleRegions renders the overview of a four-region ledger: the
// Regions panel lists each region's shards, leader, checkpoint index,
// freshness, completed jobs, value and paid, then the global line; a
// checkpoint stored later reaches the open page through the blocking
// query, and the global line follows it.
func TestConsoleRegions(t *testing.T) {
	api := &fixtureAPI{token: "s3cret", in: report.ExampleRegions(), paused: map[string]bool{}}
	mux := http.NewServeMux()
	mux.Handle("/ui/", http.StripPrefix("/ui", console.Handler()))
	api.routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)

	b := browsertest.New(t, browsertest.Config{AllowedHosts: []string{u.Host}})
	b.Do(
		chromedp.Navigate(srv.URL+"/ui/"),
		chromedp.WaitReady(chromedp.CSS(`#regions tr[data-region=mars][data-index="31"]`)),
	)
	rows := func() string {
		return browsertest.Eval[string](b, `Array.prototype.map.call(document.querySelectorAll('#regions tbody tr'), function (r) {
			return r.getAttribute('data-region') + ':' + Array.prototype.map.call(r.cells, function (c) { return c.textContent; }).join('|');
		}).join('\n')`)
	}
	want := strings.Join([]string{
		"earth:earth (local)|earth, mars.north-1|planetary-1.earth|40|local|8|117|6.6",
		"helios:helios|helios|—|77|1.5s old|9|18|9",
		"luna:luna|luna, luna.far-side|—|12|unknown|3|6|3",
		"mars:mars|mars.south-2|—|31|42s old|5|10|5",
		"global:global|||||25|151|23.6",
	}, "\n")
	if got := rows(); got != want {
		t.Fatalf("Regions panel:\n%s\nwant:\n%s", got, want)
	}
	head := browsertest.Eval[string](b, `Array.prototype.map.call(document.querySelectorAll('#regions thead th'), function (h) { return h.textContent; }).join('|')`)
	if head != "Region|Shards|Leader|Index|Freshness|Completed|Value (credits)|Paid (credits)" {
		t.Fatalf("header %q", head)
	}
	if browsertest.Eval[bool](b, `document.getElementById("regions-panel").hidden`) ||
		!browsertest.Eval[bool](b, `document.querySelector('#regions tr[data-global=true]') !== null`) {
		t.Fatal("the Regions panel or its global line is hidden")
	}
	b.Screenshot("regions")

	// Mars publishes again: one more job completed, stored just now.
	api.change(func() {
		l := &api.in.Ledger
		mars := &l.Regions[3]
		age := int64(250 * time.Millisecond)
		c := mars.Totals.Counts["completed"]
		c.Jobs, c.ValueMicro, c.Value = c.Jobs+1, c.ValueMicro+2_000_000, c.Value+2
		mars.Totals.Counts["completed"] = c
		mars.Index, mars.AgeNs = 35, &age
		mars.Totals.Value, mars.Totals.Paid = mars.Totals.Value+2, mars.Totals.Paid+1
		g := l.GlobalTotals
		gc := g.Counts["completed"]
		gc.Jobs++
		g.Counts["completed"] = gc
		g.Value, g.Paid = g.Value+2, g.Paid+1
	})
	b.Do(chromedp.WaitReady(chromedp.CSS(`#regions tr[data-region=mars][data-index="35"][data-freshness="250ms old"]`)))
	got := rows()
	for _, w := range []string{"mars:mars|mars.south-2|—|35|250ms old|6|12|6", "global:global|||||26|153|24.6"} {
		if !strings.Contains(got, w) {
			t.Errorf("after mars's new checkpoint the panel lacks %q:\n%s", w, got)
		}
	}
	b.Screenshot("regions-updated")
	b.RequireNoBlocked()
}
