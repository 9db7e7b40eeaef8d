package e2e

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/planetary/planetary/core/console/browsertest"
)

// TestHealthAgrees runs a mission against a dev agent twice, once with work
// that parks and once without, and checks that the one health model says
// the same thing everywhere: `planetary run`'s exit code (2 with parked
// work, 0 clean), its Health line, GET /v1/shards, the live console and the
// bundle's offline dashboard (both read in chromium).
func TestHealthAgrees(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	src, err := os.ReadFile("testdata/health.hcl")
	if err != nil {
		t.Fatal(err)
	}
	clean := regexp.MustCompile(`(?s)workload "earth-quantum" \{.*?\n\}\n`).ReplaceAllString(string(src), "")
	if clean == string(src) {
		t.Fatal("could not drop the quantum workload")
	}
	cases := []struct {
		name     string
		mission  string
		exit     int
		health   string
		inReason string
	}{
		{"parked work", string(src), 2, "alert", "3 jobs parked"},
		{"clean run", clean, 0, "ok", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			plan := filepath.Join(dir, "health.hcl")
			if err := os.WriteFile(plan, []byte(tc.mission), 0o644); err != nil {
				t.Fatal(err)
			}
			p := startAgent(t, filepath.Join(dir, "data"), freePort(t), freePort(t), "-dev", "-config", plan)
			out, code := runCLIIn(t, dir, "run", "-address", p.addr, "-token", p.token, "-plan", plan)
			if code != tc.exit {
				t.Fatalf("run exited %d, want %d:\n%s", code, tc.exit, out)
			}
			if !regexp.MustCompile(`(?m)^Health\s+= ` + tc.health + `\b.*` + regexp.QuoteMeta(tc.inReason)).MatchString(out) {
				t.Errorf("run's Health line does not say %s (%q):\n%s", tc.health, tc.inReason, out)
			}

			// The API.
			sh, err := p.client().Shard(ctxT(t), "earth")
			if err != nil {
				t.Fatal(err)
			}
			if sh.Health != tc.health {
				t.Fatalf("GET /v1/shard/earth health %q (%+v), want %q", sh.Health, sh.HealthReasons, tc.health)
			}
			var texts []string
			for _, r := range sh.HealthReasons {
				texts = append(texts, r.Text)
			}
			if !strings.Contains(strings.Join(texts, "; "), tc.inReason) {
				t.Errorf("API reasons %q lack %q", texts, tc.inReason)
			}

			// The live console and the offline dashboard, in chromium.
			m := regexp.MustCompile(`(?m)^Dashboard\s+=\s+(\S+)$`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no dashboard in the output:\n%s", out)
			}
			u, err := url.Parse(p.addr)
			if err != nil {
				t.Fatal(err)
			}
			b := browsertest.New(t, browsertest.Config{AllowedHosts: []string{u.Host}, Timeout: 60 * time.Second})
			sel := `#shards tr[data-shard=earth][data-health="` + tc.health + `"]`
			b.Do(
				chromedp.Navigate(p.addr+"/ui/"),
				chromedp.WaitReady(chromedp.CSS(sel)),
			)
			console := browsertest.Eval[string](b, `document.querySelector('#shards tr[data-shard=earth] td.health').textContent`)
			b.Screenshot("console-" + tc.health)
			b.Do(
				chromedp.Navigate("file://"+m[1]),
				chromedp.WaitVisible(chromedp.CSS(`body[data-rendered=true]`)),
				chromedp.WaitReady(chromedp.CSS(sel)),
			)
			dash := browsertest.Eval[string](b, `document.querySelector('#shards tr[data-shard=earth] td.health').textContent`)
			b.Screenshot("dashboard-" + tc.health)
			b.RequireNoBlocked()
			for what, text := range map[string]string{"console": console, "dashboard": dash} {
				if !strings.HasPrefix(text, tc.health) || !strings.Contains(text, tc.inReason) {
					t.Errorf("%s shows %q, want %s with %q", what, text, tc.health, tc.inReason)
				}
			}
		})
	}
}
