package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/console/browsertest"
)

// TestConsoleJobsAndNodes drives the console's jobs, job and nodes views
// at /ui/ of a real dev agent in headless chromium: the jobs list, a filter
// by state, a text search, paging, one completed job's timeline, attempts
// and settlement, a parked job's reason, and the nodes view with a plugin
// up and a plugin refused for a sha256 mismatch (both hashes shown). A job
// submitted and a job cancelled through the API while a view is open reach
// it through the blocking queries, without a reload, and so do a killed
// plugin's crash and restart; /v1/metrics shows the same plugin states;
// paging goes forward and back; every read after a view's first passes
// ?index=.
func TestConsoleJobsAndNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	cfg, err := filepath.Abs("testdata/console.hcl")
	if err != nil {
		t.Fatal(err)
	}
	p := startAgent(t, t.TempDir(), freePort(t), freePort(t), "-dev", "-config", cfg)
	c := p.client()
	u, err := url.Parse(p.addr)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []api.JobSubmit
	for i := range 6 {
		shard := []string{"earth", "mars"}[i%2]
		jobs = append(jobs, api.JobSubmit{ID: fmt.Sprintf("render-%d", i), Shard: shard, Capabilities: []string{"sim"}, Kind: "sim", Value: 2})
	}
	jobs = append(jobs,
		api.JobSubmit{ID: "quantum-0", Shard: "earth", Capabilities: []string{"quantum"}, Value: 1},
		api.JobSubmit{ID: "quantum-1", Shard: "mars", Capabilities: []string{"quantum"}, Value: 1})
	submit(t, c, jobs...)
	waitFor(t, 60*time.Second, "6 jobs completed and 2 parked", func() bool {
		done, _ := c.Jobs(ctxT(t), api.JobQuery{State: "completed"})
		parked, _ := c.Jobs(ctxT(t), api.JobQuery{State: "parked"})
		return len(done.Jobs) == 6 && len(parked.Jobs) == 2
	})
	waitFor(t, 60*time.Second, "the pinned plugin refused", func() bool {
		n, err := c.Node(ctxT(t), "earth.pinned")
		return err == nil && n.PluginState == "refused"
	})
	done, err := c.Job(ctxT(t), "render-1")
	if err != nil {
		t.Fatal(err)
	}

	b := browsertest.New(t, browsertest.Config{AllowedHosts: []string{u.Host}, Timeout: 120 * time.Second})
	count := func(sel string) int {
		return int(browsertest.Eval[float64](b, `document.querySelectorAll('`+sel+`').length`))
	}

	// The jobs list: every job, linked to its page.
	b.Do(
		chromedp.Navigate(p.addr+"/ui/#/jobs"),
		chromedp.WaitReady(chromedp.CSS(`#jobs-table tr[data-job="quantum-1"][data-state=parked]`)),
	)
	if n := count(`#jobs-table tbody tr`); n != 8 {
		t.Fatalf("jobs list shows %d rows, want 8", n)
	}
	b.Screenshot("jobs")

	// Filter by state in the form: only the parked jobs, with their reason.
	b.Do(
		chromedp.SetValue(chromedp.CSS(`#jobs-filter-state`), "parked"),
		chromedp.Click(chromedp.CSS(`#jobs-apply`)),
		chromedp.WaitReady(chromedp.CSS(`#jobs-page[data-count="2"]`)),
	)
	if n := count(`#jobs-table tbody tr[data-state=parked]`); n != 2 || count(`#jobs-table tbody tr`) != 2 {
		t.Fatalf("state filter shows %d parked of %d rows", n, count(`#jobs-table tbody tr`))
	}
	if reason := browsertest.Eval[string](b, `document.querySelector('#jobs-table tr[data-job="quantum-0"] td.reason').textContent`); !strings.Contains(reason, "quantum") {
		t.Errorf("parked row's reason %q does not name the capability", reason)
	}
	b.Screenshot("jobs-parked")

	// Filter by shard and search the id, from the address; then pages of
	// the console's size hold everything.
	b.Do(
		chromedp.Navigate(p.addr+"/ui/#/jobs?state=completed&shard=mars&q=render"),
		chromedp.WaitReady(chromedp.CSS(`#jobs-page[data-count="3"]`)),
	)
	for _, id := range []string{"render-1", "render-3", "render-5"} {
		if count(`#jobs-table tr[data-job="`+id+`"][data-shard=mars]`) != 1 {
			t.Errorf("shard+search filter lacks %s", id)
		}
	}

	// A job submitted through the API appears in the open list.
	b.Do(
		chromedp.Navigate(p.addr+"/ui/#/jobs?q=late"),
		chromedp.WaitReady(chromedp.CSS(`#jobs-page[data-count="0"]`)),
	)
	submit(t, c, api.JobSubmit{ID: "late-0", Shard: "earth", Capabilities: []string{"quantum"}, Value: 1})
	b.Do(chromedp.WaitReady(chromedp.CSS(`#jobs-table tr[data-job="late-0"]`)))

	// Paging, three jobs a page: next, next (the last page), previous.
	ids := func() string {
		return browsertest.Eval[string](b, `Array.prototype.map.call(document.querySelectorAll('#jobs-table tbody tr'), function(r){return r.getAttribute('data-job')}).join(",")`)
	}
	b.Do(
		chromedp.Navigate(p.addr+"/ui/#/jobs?limit=3"),
		chromedp.WaitReady(chromedp.CSS(`#jobs-page[data-page="1"][data-more=true]`)),
	)
	pages := []string{ids()}
	b.Do(
		chromedp.Click(chromedp.CSS(`#jobs-next`)),
		chromedp.WaitReady(chromedp.CSS(`#jobs-page[data-page="2"][data-more=true]`)),
	)
	pages = append(pages, ids())
	b.Do(
		chromedp.Click(chromedp.CSS(`#jobs-next`)),
		chromedp.WaitReady(chromedp.CSS(`#jobs-page[data-page="3"][data-more=false]`)),
	)
	pages = append(pages, ids())
	if disabled := browsertest.Eval[bool](b, `document.getElementById('jobs-next').disabled`); !disabled {
		t.Error("next page enabled on the last page")
	}
	b.Do(
		chromedp.Click(chromedp.CSS(`#jobs-prev`)),
		chromedp.WaitReady(chromedp.CSS(`#jobs-page[data-page="2"]`)),
	)
	pages = append(pages, ids())
	if want := []string{"render-0,render-1,render-2", "render-3,render-4,render-5", "quantum-0,quantum-1,late-0",
		"render-3,render-4,render-5"}; strings.Join(pages, " ") != strings.Join(want, " ") {
		t.Errorf("pages %v, want %v", pages, want)
	}

	// One completed job: its timeline, its attempt with the node and the
	// quote, and its settlement.
	b.Do(
		chromedp.Navigate(p.addr+"/ui/#/jobs?q=render-1"),
		chromedp.WaitReady(chromedp.CSS(`#jobs-table a[data-job-link="render-1"]`)),
		chromedp.Click(chromedp.CSS(`#jobs-table a[data-job-link="render-1"]`)),
		chromedp.WaitReady(chromedp.CSS(`#job-state[data-state=completed]`)),
		chromedp.WaitReady(chromedp.CSS(`#job-timeline li[data-type="job.completed"]`)),
		chromedp.WaitReady(chromedp.CSS(`#job-settlement[data-settled=true]`)),
	)
	var types []string
	for _, s := range browsertest.Eval[[]string](b, `Array.prototype.map.call(document.querySelectorAll('#job-timeline li'), function(l){return l.getAttribute('data-type')})`) {
		types = append(types, s)
	}
	if strings.Join(types, ",") != "job.submitted,job.assigned,job.started,job.completed" {
		t.Errorf("timeline %v", types)
	}
	attempt := browsertest.Eval[string](b, `document.querySelector('#job-attempts tr[data-attempt="1"][data-outcome=completed]').textContent`)
	quote := fmt.Sprint(done.Quote)
	if !strings.Contains(attempt, done.Node) || !strings.Contains(attempt, quote) {
		t.Errorf("attempt row %q lacks node %s and quote %s", attempt, done.Node, quote)
	}
	if s := browsertest.Eval[string](b, `document.getElementById('job-settlement').textContent`); !strings.Contains(s, "paid "+quote) {
		t.Errorf("settlement %q lacks the payment %s", s, quote)
	}
	b.Screenshot("job-completed")

	// A parked job's page names its reason; cancelling it through the API
	// reaches the open page.
	b.Do(
		chromedp.Navigate(p.addr+"/ui/#/job/quantum-0"),
		chromedp.WaitReady(chromedp.CSS(`#job-parked:not([hidden])`)),
		chromedp.WaitReady(chromedp.CSS(`#job-timeline li[data-type="job.parked"]`)),
	)
	if r := browsertest.Eval[string](b, `document.getElementById('job-parked').textContent`); !strings.Contains(r, "quantum") {
		t.Errorf("parked reason %q", r)
	}
	b.Screenshot("job-parked")
	if _, err := c.CancelJob(ctxT(t), "quantum-0", "console test"); err != nil {
		t.Fatal(err)
	}
	b.Do(
		chromedp.WaitReady(chromedp.CSS(`#job-state[data-state=cancelled]`)),
		chromedp.WaitReady(chromedp.CSS(`#job-timeline li[data-type="job.cancelled"]`)),
	)

	// The nodes view: sim plugins up, the pinned plugin refused with the
	// plugin block and both hashes.
	bin, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	b.Do(
		chromedp.Navigate(p.addr+"/ui/#/nodes"),
		chromedp.WaitReady(chromedp.CSS(`#node-list tr[data-node="earth.a"][data-plugin-state=up]`)),
		chromedp.WaitReady(chromedp.CSS(`#node-list tr[data-node="mars.b"][data-plugin-state=up]`)),
		chromedp.WaitReady(chromedp.CSS(`#node-list tr[data-node="earth.pinned"][data-plugin-state=refused]`)),
	)
	pinned := browsertest.Eval[string](b, `document.querySelector('#node-list tr[data-node="earth.pinned"] code[data-hash=pinned]').textContent`)
	actual := browsertest.Eval[string](b, `document.querySelector('#node-list tr[data-node="earth.pinned"] code[data-hash=actual]').textContent`)
	if pinned != strings.Repeat("ab", 32) || actual != hex.EncodeToString(sum[:]) {
		t.Errorf("hashes shown: pinned %q actual %q", pinned, actual)
	}
	if r := browsertest.Eval[string](b, `document.querySelector('#node-list tr[data-node="earth.pinned"] .plugin-reason').textContent`); !strings.Contains(r, `plugin "pinned-tool"`) {
		t.Errorf("refusal reason %q does not name the plugin block", r)
	}
	b.Screenshot("nodes")

	// The sim plugin of earth.a killed: the open view shows its crash
	// count, and the plugin up again once its client restarted it.
	n, err := c.Node(ctxT(t), "earth.a")
	if err != nil || n.PluginPid == 0 {
		t.Fatalf("earth.a: pid %d, %v", n.PluginPid, err)
	}
	if err := syscall.Kill(n.PluginPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b.Do(chromedp.WaitReady(chromedp.CSS(`#node-list tr[data-node="earth.a"][data-plugin-crashes="1"]`)))
	b.Do(chromedp.WaitReady(chromedp.CSS(`#node-list tr[data-node="earth.a"][data-plugin-crashes="1"][data-plugin-state=up][data-status=up]`)))
	b.Screenshot("nodes-after-crash")

	// /v1/metrics carries the same plugin states, in Prometheus text.
	text, err := c.Metrics(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	gauge := func(family string, labels map[string]string) (float64, bool) {
		for _, m := range fams[family].GetMetric() {
			match := true
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == k && lp.GetValue() == v)
				}
				match = match && found
			}
			if match {
				return m.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	for _, tc := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"planetary_plugin_state", map[string]string{"node": "earth.pinned", "plugin": "pinned-tool", "state": "refused"}, 1},
		{"planetary_plugin_state", map[string]string{"node": "earth.pinned", "state": "up"}, 0},
		{"planetary_plugin_state", map[string]string{"node": "earth.a", "plugin": "sim", "state": "up"}, 1},
		{"planetary_plugin_state", map[string]string{"node": "earth.a", "state": "crashed"}, 0},
		{"planetary_plugin_crashes", map[string]string{"node": "earth.a"}, 1},
		{"planetary_plugin_crashes", map[string]string{"node": "mars.b"}, 0},
		{"planetary_queue_depth", map[string]string{"shard": "earth"}, 0},
	} {
		if got, ok := gauge(tc.family, tc.labels); !ok || got != tc.want {
			t.Errorf("%s%v = %v (present %v), want %v", tc.family, tc.labels, got, ok, tc.want)
		}
	}

	// Live means blocking queries: a view reads its route once without
	// an index when it opens, and every read after that, within the same
	// visit, passes the index it last saw. The views that changed while
	// open got their change from such a read.
	prev := ""
	withIndex := map[string]int{}
	for _, r := range b.Requests() {
		ru, err := url.Parse(r)
		if err != nil {
			continue
		}
		route := ru.Path
		if route != "/v1/jobs" && route != "/v1/nodes" && !strings.HasPrefix(route, "/v1/job/") {
			continue
		}
		q := ru.Query()
		key := route + "?" + strings.Join([]string{q.Get("state"), q.Get("shard"), q.Get("q"), q.Get("after"), q.Get("limit")}, "|")
		if q.Get("index") != "" {
			withIndex[key]++
		} else if key == prev {
			t.Errorf("a repeated read without ?index=: %s", r)
		}
		prev = key
	}
	for _, key := range []string{"/v1/jobs?||late||50", "/v1/job/quantum-0?||||", "/v1/nodes?||||"} {
		if withIndex[key] == 0 {
			t.Errorf("%s changed while open but was never read with ?index= (reads with an index: %v)", key, withIndex)
		}
	}
	b.RequireNoBlocked()
	if errs := consoleErrors(b.Console()); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
