package browsertest_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/planetary/planetary/core/console/browsertest"
	"github.com/planetary/planetary/core/report"
)

func TestDashboardOffline(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := report.Write(dir, report.Example()); err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, browsertest.Config{})
	b.Do(
		chromedp.Navigate("file://"+filepath.Join(dir, report.FileDashboard)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-rendered=true]`)),
		chromedp.WaitVisible(chromedp.CSS(`#topology-view svg#topology`)),
		chromedp.WaitReady(chromedp.CSS(`#shards tr[data-shard=earth][data-paused=true]`)),
		chromedp.WaitReady(chromedp.CSS(`#nodes tr[data-node="earth.edge"][data-status=down]`)),
		chromedp.WaitReady(chromedp.CSS(`#chart-flows rect[data-from=earth]`)),
	)
	svgNodes := browsertest.Eval[float64](b, `document.querySelectorAll('#topology-view g.node').length`)
	completed := browsertest.Eval[string](b, `document.querySelector('#ledger tr[data-state=completed] td:nth-child(2)').textContent`)
	invariants := browsertest.Eval[float64](b, `document.querySelectorAll('#invariants li[data-ok=true]').length`)
	title := browsertest.Eval[string](b, `document.getElementById('mission-name').textContent`)
	// Every chart has both axes labelled; the summary figures open the page.
	unlabelled := browsertest.Eval[string](b, `Array.prototype.filter.call(document.querySelectorAll('svg.chart'), function (c) {
		var x = c.querySelector('text.axis-label.x'), y = c.querySelector('text.axis-label.y');
		return !x || !y || !x.textContent || !y.textContent;
	}).map(function (c) { return c.getAttribute('data-chart'); }).join(',')`)
	charts := browsertest.Eval[float64](b, `document.querySelectorAll('svg.chart').length`)
	firstPanel := browsertest.Eval[string](b, `document.querySelector('main section').id`)
	figures := browsertest.Eval[string](b, `Array.prototype.map.call(document.querySelectorAll('#summary-figures [data-figure]'), function (f) { return f.getAttribute('data-figure') + '=' + f.querySelector('.value').textContent; }).join(' ')`)
	if charts != 3 || unlabelled != "" || firstPanel != "summary-panel" || !strings.Contains(figures, "jobs=12") || !strings.Contains(figures, "cost=") {
		t.Errorf("charts %v, without axis labels %q, first panel %q, figures %q", charts, unlabelled, firstPanel, figures)
	}
	b.Screenshot("dashboard")
	if svgNodes != 3 || strings.TrimSpace(completed) != "8" || invariants != 3 || title != "fixture-mission" {
		t.Fatalf("svg nodes %v, completed %q, invariants %v, title %q", svgNodes, completed, invariants, title)
	}
	b.RequireNoBlocked()
	for _, u := range b.Requests() {
		if !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") {
			t.Errorf("unexpected request %s", u)
		}
	}
}

func TestBlocksOutsideRequests(t *testing.T) {
	page := filepath.Join(t.TempDir(), "leaky.html")
	if err := os.WriteFile(page, []byte(`<!DOCTYPE html><html><body><img src="http://203.0.113.9/pixel.png"><p id="done">x</p></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, browsertest.Config{})
	b.Do(chromedp.Navigate("file://"+page), chromedp.WaitReady(chromedp.CSS(`#done`)))
	deadline := time.Now().Add(10 * time.Second)
	for len(b.Blocked()) == 0 && time.Now().Before(deadline) {
		runtime.Gosched()
		_ = browsertest.Eval[bool](b, `true`)
	}
	if bl := b.Blocked(); len(bl) != 1 || !strings.Contains(bl[0], "203.0.113.9") {
		t.Fatalf("blocked = %v", bl)
	}
}

// TestDashboardLoadsDroppedBundle loads another bundle's files through the
// page's file input (the File API path a dropped folder takes).
func TestDashboardLoadsDroppedBundle(t *testing.T) {
	root := t.TempDir()
	first, second := filepath.Join(root, "first"), filepath.Join(root, "second")
	if _, err := report.Write(first, report.Example()); err != nil {
		t.Fatal(err)
	}
	other := report.Example()
	other.Mission.Name = "second-mission"
	other.Shards = append(other.Shards, report.ShardView{Name: "venus", Health: report.HealthAlert})
	files, err := report.Write(second, other)
	if err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, browsertest.Config{})
	b.Do(
		chromedp.Navigate("file://"+filepath.Join(first, report.FileDashboard)),
		chromedp.WaitReady(chromedp.CSS(`body[data-rendered=true]`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#bundle-files`), files),
		chromedp.WaitReady(chromedp.CSS(`#bundle-status[data-loaded=true]`)),
		chromedp.WaitReady(chromedp.CSS(`#shards tr[data-shard=venus][data-health=alert]`)),
		chromedp.WaitReady(chromedp.CSS(`#topology-view svg#topology g[data-shard=venus]`)),
		chromedp.WaitReady(chromedp.CSS(`#chart-queue polyline[data-shard=earth]`)),
	)
	if title := browsertest.Eval[string](b, `document.getElementById('mission-name').textContent`); title != "second-mission" {
		t.Fatalf("title %q", title)
	}
	if n := browsertest.Eval[float64](b, `document.querySelectorAll('#events li').length`); n != float64(len(other.Events)) {
		t.Fatalf("%v events shown, want %d", n, len(other.Events))
	}
	b.Screenshot("dropped")
	b.RequireNoBlocked()
}

// TestDashboardRegions: the offline dashboard of a four-region bundle shows
// the Regions panel from ledger.json, its global line, and the atlas's
// region frames.
func TestDashboardRegions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := report.Write(dir, report.ExampleRegions()); err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, browsertest.Config{})
	b.Do(
		chromedp.Navigate("file://"+filepath.Join(dir, report.FileDashboard)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-rendered=true]`)),
		chromedp.WaitVisible(chromedp.CSS(`#regions tr[data-region=luna][data-freshness=unknown]`)),
		chromedp.WaitReady(chromedp.CSS(`#topology-view svg#topology g.region[data-region=earth][data-local=true]`)),
		chromedp.WaitReady(chromedp.CSS(`#topology-view svg#topology g.remote[data-region=mars]`)),
	)
	global := browsertest.Eval[string](b, `Array.prototype.map.call(document.querySelector('#regions tr[data-global=true]').cells, function (c) { return c.textContent; }).join('|')`)
	mars := browsertest.Eval[string](b, `document.querySelector('#regions tr[data-region=mars]').getAttribute('data-freshness')`)
	if global != "global|||||25|151|23.6" || mars != "42s old" {
		t.Fatalf("global line %q, mars %q", global, mars)
	}
	b.Screenshot("regions")
	b.RequireNoBlocked()
}
