package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/console/browsertest"
)

// TestConsoleRegionsLive opens the console of `agent -dev -regions` in
// chromium: the Regions panel lists the four regions and the global line,
// and its Links table shows the mars->earth link cut through
// /v1/operator/links, with each region's open hand-offs.
func TestConsoleRegionsLive(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	p := startAgent(t, t.TempDir(), freePort(t), freePort(t), "-dev", "-regions")
	c := p.client()
	u, err := url.Parse(p.addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetLinkFault(ctxT(t), api.LinkFaultRequest{From: "mars", To: "earth", Latency: "2s", Partitioned: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "every region's ledger to list four regions", func() bool {
		l, err := c.Ledger(ctxT(t))
		return err == nil && len(l.Regions) == 4
	})
	b := browsertest.New(t, browsertest.Config{AllowedHosts: []string{u.Host}, Timeout: 120 * time.Second})
	b.Do(
		chromedp.Navigate(p.addr+"/ui/"),
		chromedp.WaitReady(chromedp.CSS(`#regions tr[data-global=true]`)),
		chromedp.WaitReady(chromedp.CSS(`#region-links tr[data-link="mars->earth"][data-partitioned=true]`)),
	)
	regions := browsertest.Eval[string](b, `Array.prototype.map.call(document.querySelectorAll('#regions tbody tr'), function (r) { return r.getAttribute('data-region'); }).join(',')`)
	if regions != "earth,helios,luna,mars,global" && regions != "earth,luna,mars,helios,global" {
		t.Errorf("Regions panel rows %q", regions)
	}
	if n := int(browsertest.Eval[float64](b, `document.querySelectorAll('#region-links tbody tr').length`)); n != 12 {
		t.Errorf("Links table has %d rows, want 12", n)
	}
	if cut := browsertest.Eval[string](b, `document.querySelector('#region-links tr[data-link="mars->earth"]').textContent`); !strings.Contains(cut, "2000 ms") || !strings.Contains(cut, "cut") {
		t.Errorf("mars->earth row %q", cut)
	}
	if ho := browsertest.Eval[string](b, `document.getElementById('region-handoffs').textContent`); !strings.Contains(ho, "mars 0") {
		t.Errorf("open hand-offs line %q", ho)
	}
	b.Screenshot("regions-live")
	b.RequireNoBlocked()
}
