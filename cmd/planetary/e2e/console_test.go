package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/planetary/planetary/core/console/browsertest"
)

// TestConsoleAgainstAgent drives the console at /ui/ of a real dev agent in
// headless chromium: it shows the live shards and nodes and the topology
// SVG, picks up a pause made through the API without a reload, and a pause
// made in the page (with the token typed into its prompt) changes the
// API's state. No request leaves the agent's 127.0.0.1 address.
func TestConsoleAgainstAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	p := startRouting(t)
	c := p.client()
	u, err := url.Parse(p.addr)
	if err != nil {
		t.Fatal(err)
	}

	// GET /v1/topology.svg: read access, an SVG of the live fabric.
	for _, tc := range []struct {
		name, token string
		status      int
	}{
		{"management token", p.token, http.StatusOK},
		{"anonymous read (dev)", "", http.StatusOK},
		{"unknown token", "00000000-0000-0000-0000-000000000000", http.StatusUnauthorized},
	} {
		t.Run("topology.svg/"+tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctxT(t), http.MethodGet, p.addr+"/v1/topology.svg", nil)
			if tc.token != "" {
				req.Header.Set("X-Planetary-Token", tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status != http.StatusOK {
				return
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "image/svg+xml") {
				t.Errorf("content type %q", ct)
			}
			for _, want := range []string{"<svg", "mars.gpu-helion", "helios.solaris-array", "earth"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("SVG lacks %q", want)
				}
			}
		})
	}

	b := browsertest.New(t, browsertest.Config{AllowedHosts: []string{u.Host}, Timeout: 60 * time.Second})
	// Answer the page's token prompt with the management token.
	prompts := make(chan string, 4)
	err = chromedp.Listen(b.Context(), func(ev any) {
		if e, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			prompts <- e.Message
			go func() {
				_, _ = chromedp.Call(b.Context(), page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{
					Accept: true, PromptText: p.token})
			}()
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	b.Do(
		chromedp.Navigate(p.addr+"/ui/"),
		chromedp.WaitReady(chromedp.CSS(`#shards tr[data-shard=mars][data-paused=false]`)),
		chromedp.WaitReady(chromedp.CSS(`#nodes tr[data-node="mars.gpu-helion"][data-status=up]`)),
		chromedp.WaitReady(chromedp.CSS(`#nodes tr[data-node="helios.solaris-array"][data-status=up]`)),
		chromedp.WaitReady(chromedp.CSS(`#topology-view svg`)),
		chromedp.WaitReady(chromedp.CSS(`#invariants li[data-ok=true]`)),
	)
	b.WaitTrue(`document.getElementById("mission-name").textContent === "routing"`, 10*time.Second)
	for _, sh := range []string{"earth", "mars", "helios"} {
		b.WaitTrue(`document.querySelector('#shards tr[data-shard="`+sh+`"]') !== null`, 5*time.Second)
	}
	b.Screenshot("live")

	// A pause made through the API shows up without a reload.
	if _, err := c.Pause(ctxT(t), "earth", "api pause"); err != nil {
		t.Fatal(err)
	}
	b.WaitTrue(`document.querySelector('#shards tr[data-shard=earth][data-paused=true]') !== null`, 10*time.Second)
	b.Screenshot("api-paused")

	// A pause made in the page: no token yet, so the page prompts for it.
	if tok := browsertest.Eval[string](b, `sessionStorage.getItem("planetary-token") || ""`); tok != "" {
		t.Fatalf("the page holds a token before the prompt: %q", tok)
	}
	b.Do(
		chromedp.SetValue(chromedp.CSS(`#form-shard input[name=shard]`), "mars"),
		chromedp.Click(chromedp.CSS(`#form-shard button[data-action=shard-pause]`)),
		chromedp.WaitReady(chromedp.CSS(`#owner-status[data-state=ok]`)),
		chromedp.WaitReady(chromedp.CSS(`#shards tr[data-shard=mars][data-paused=true]`)),
	)
	select {
	case msg := <-prompts:
		if !strings.Contains(msg, "token") {
			t.Errorf("prompt %q does not ask for the token", msg)
		}
	default:
		t.Error("the page paused mars without prompting for a token")
	}
	waitFor(t, 10*time.Second, "mars paused in the API", func() bool {
		s, err := c.Shard(ctxT(t), "mars")
		return err == nil && s.Paused
	})
	b.Screenshot("ui-paused")

	b.RequireNoBlocked()
	for _, r := range b.Requests() {
		ru, err := url.Parse(r)
		if err != nil {
			t.Errorf("request %q: %v", r, err)
			continue
		}
		if (ru.Scheme == "http" || ru.Scheme == "https") && ru.Hostname() != "127.0.0.1" {
			t.Errorf("request left 127.0.0.1: %s", r)
		}
	}
	if errs := consoleErrors(b.Console()); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

func consoleErrors(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "exception:") || strings.HasPrefix(l, "error:") {
			out = append(out, l)
		}
	}
	return out
}
