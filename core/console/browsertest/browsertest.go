// Package browsertest drives a headless Debian chromium through chromedp for
// browser tests of the console and the report dashboard. Every request that
// is not file://, data:, blob: or to an allowed host is refused and
// recorded, so a test can assert that a page made no outside request.
package browsertest

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// DefaultChrome is where Debian's chromium package installs the browser.
const DefaultChrome = "/usr/bin/chromium"

// ErrNoChrome is returned by New when the browser binary is missing.
var ErrNoChrome = errors.New("browsertest: chromium not found")

// Config configures a Browser.
type Config struct {
	// ChromePath is the browser binary; DefaultChrome when empty.
	ChromePath string
	// AllowedHosts are host[:port] values requests may reach (for example
	// an httptest server); everything else but file/data/blob is blocked.
	AllowedHosts []string
	// ArtifactsDir receives screenshots; when empty
	// $PLANETARY_TEST_ARTIFACTS, else .tmp/artifacts at the module root
	// (git-ignored), else a test temp dir.
	ArtifactsDir string
	// Timeout bounds the whole browser session; 60s when zero.
	Timeout time.Duration
}

// Browser is one headless chromium with a fresh profile.
type Browser struct {
	t       testing.TB
	cfg     Config
	ctx     context.Context
	cancel  func()
	mu      sync.Mutex
	blocked []string
	seen    []string
	console []string
}

// New starts chromium for t, or skips t when chromium is not installed. The
// browser stops when the test ends.
func New(t testing.TB, cfg Config) *Browser {
	t.Helper()
	if cfg.ChromePath == "" {
		cfg.ChromePath = DefaultChrome
	}
	if _, err := os.Stat(cfg.ChromePath); err != nil {
		t.Skipf("%v: %s (apt-get install -y chromium)", ErrNoChrome, cfg.ChromePath)
	}
	if cfg.ArtifactsDir == "" {
		cfg.ArtifactsDir = DefaultArtifactsDir()
	}
	if cfg.ArtifactsDir == "" {
		cfg.ArtifactsDir = t.TempDir()
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(cfg.ChromePath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("allow-file-access-from-files", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	root, stopRoot := context.WithTimeout(context.Background(), cfg.Timeout)
	actx, stopAlloc := chromedp.NewExecAllocator(root, opts...)
	b := &Browser{t: t, cfg: cfg}
	ctx, stopCtx := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	b.ctx = ctx
	b.cancel = func() { stopCtx(); stopAlloc(); stopRoot() }
	t.Cleanup(b.cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("browsertest: network.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}}); err != nil {
		t.Fatalf("browsertest: fetch.enable: %v", err)
	}
	return b
}

// ArtifactsEnv names the directory that receives screenshots.
const ArtifactsEnv = "PLANETARY_TEST_ARTIFACTS"

// DefaultArtifactsDir is $PLANETARY_TEST_ARTIFACTS, else .tmp/artifacts
// under the module root found above the working directory (git-ignored),
// else "" when there is none.
func DefaultArtifactsDir() string {
	if d := os.Getenv(ArtifactsEnv); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".tmp", "artifacts")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// listen runs on the tab's reader goroutine: it records requests and
// answers paused ones from another goroutine (it must not block).
func (b *Browser) listen(ev any) {
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.mu.Lock()
		b.seen = append(b.seen, e.Request.URL)
		b.mu.Unlock()
	case *cdpruntime.EventExceptionThrown:
		msg := e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil && e.ExceptionDetails.Exception.Description != "" {
			msg += ": " + e.ExceptionDetails.Exception.Description
		}
		b.mu.Lock()
		b.console = append(b.console, "exception: "+msg)
		b.mu.Unlock()
	case *cdpruntime.EventConsoleAPICalled:
		var parts []string
		for _, a := range e.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		b.mu.Lock()
		b.console = append(b.console, string(e.Type)+": "+strings.Join(parts, " "))
		b.mu.Unlock()
	case *fetch.EventRequestPaused:
		id, u := e.RequestID, e.Request.URL
		go func() {
			if b.allowed(u) {
				_, _ = chromedp.Call(b.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id})
				return
			}
			b.mu.Lock()
			b.blocked = append(b.blocked, u)
			b.mu.Unlock()
			_, _ = chromedp.Call(b.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: id, ErrorReason: network.ErrorReasonBlockedByClient})
		}()
	}
}

func (b *Browser) allowed(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "file", "data", "blob", "about", "chrome-error", "devtools":
		return true
	case "http", "https", "ws", "wss":
		for _, h := range b.cfg.AllowedHosts {
			if strings.EqualFold(u.Host, h) {
				return true
			}
		}
	}
	return false
}

// Context is the browser tab's context, for chromedp.Run.
func (b *Browser) Context() context.Context { return b.ctx }

// Do runs steps in the tab and fails the test on error, after taking a
// screenshot named "failure".
func (b *Browser) Do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.Screenshot("failure")
		b.t.Fatalf("browsertest: %v (requests: %v; console: %v)", err, b.Requests(), b.Console())
	}
}

// Screenshot saves a full-page PNG into the artifacts dir and returns its path.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("browsertest: screenshot %s: %v", name, err)
		return ""
	}
	safe := strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name() + "-" + name)
	p := filepath.Join(b.cfg.ArtifactsDir, safe+".png")
	if err := os.MkdirAll(b.cfg.ArtifactsDir, 0o755); err != nil {
		b.t.Logf("browsertest: %v", err)
		return ""
	}
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Logf("browsertest: %v", err)
		return ""
	}
	b.t.Logf("screenshot: %s", p)
	return p
}

// Eval evaluates a JavaScript expression in the tab and fails the test on
// error.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.Screenshot("failure")
		b.t.Fatalf("browsertest: eval %q: %v", expr, err)
	}
	return v
}

// WaitTrue polls a JavaScript expression in the page until it is truthy,
// failing the test after timeout.
func (b *Browser) WaitTrue(expr string, timeout time.Duration) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingTimeout(timeout))); err != nil {
		b.Screenshot("failure")
		b.t.Fatalf("browsertest: waiting for %s: %v (console: %v)", expr, err, b.Console())
	}
}

// Requests returns every request URL the page issued.
func (b *Browser) Requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.seen...)
}

// Console returns console messages and uncaught exceptions of the page.
func (b *Browser) Console() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// Blocked returns the requests that were refused.
func (b *Browser) Blocked() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.blocked...)
}

// RequireNoBlocked fails the test if any request was refused.
func (b *Browser) RequireNoBlocked() {
	b.t.Helper()
	if bl := b.Blocked(); len(bl) > 0 {
		b.t.Fatalf("browsertest: page made %d outside request(s): %v", len(bl), bl)
	}
}
