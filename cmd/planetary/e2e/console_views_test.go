package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/console/browsertest"
)

// TestConsoleJobsAndNodes drives the console's jobs, job and nodes views
// at /ui/ of a real dev agent in headless chromium: the jobs list, a filter
// by state, a text search, paging, one completed job's timeline, attempts
// and settlement, a parked job's reason, and the nodes view with a plugin
// up and a plugin refused for a sha256 mismatch (both hashes shown). A job
// submitted and a job cancelled through the API while a view is open reach
// it through the blocking queries, without a reload; every read after a
// view's first passes ?index=.
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

	// Live means blocking queries: after the first read of a view's route,
	// each read passes the index it last saw.
	first := map[string]bool{}
	for _, r := range b.Requests() {
		ru, err := url.Parse(r)
		if err != nil || !strings.HasPrefix(ru.Path, "/v1/") {
			continue
		}
		route := ru.Path
		if route != "/v1/jobs" && route != "/v1/nodes" && !strings.HasPrefix(route, "/v1/job/") {
			continue
		}
		key := route + "?" + strings.Join([]string{ru.Query().Get("state"), ru.Query().Get("shard"), ru.Query().Get("q"), ru.Query().Get("after")}, "|")
		if !first[key] {
			first[key] = true
			continue
		}
		if ru.Query().Get("index") == "" {
			t.Errorf("a repeated read without ?index=: %s", r)
		}
	}
	b.RequireNoBlocked()
	if errs := consoleErrors(b.Console()); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
