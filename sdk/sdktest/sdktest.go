// Package sdktest is the conformance kit for planetary agents. An author runs
// it from an ordinary go test:
//
//	func TestConformance(t *testing.T) {
//		sdktest.Run(t, func() sdk.Agent { return &myAgent{} }, sdktest.Options{
//			Config: map[string]any{"greeting": "hi"},
//			Tasks:  []sdktest.Case{{Name: "ok", Task: sdk.Task{JobID: "j1", Attempt: 1}}},
//		})
//	}
//
// Run serves the agent over real gRPC inside the test process and drives it
// through the host half that planetary itself uses; RunBinary does the same
// against a built plugin binary in its own process. Each check is a subtest
// named below; Check runs the same checks on any testing.TB, without
// subtests, naming the check in each failure.
//
// What each check proves:
//
//   - info: Info answers with a Name and a Version, and the host and the
//     agent share an API version.
//   - schema: the schema's attribute names are set and unique, every
//     default fits its attribute's type, and Options.Config fits the schema.
//   - configure: Configure accepts Options.Config for a node.
//   - health: a configured agent answers Health within a second.
//   - optional interfaces: every capability the agent does not list in
//     Info.Implements fails with host.ErrNotImplemented, without a call.
//   - fingerprint (agents with sdk.CapFingerprint): a first fingerprint
//     arrives, an unhealthy one says why, and the stream ends with its ctx.
//   - price schedule (sdk.CapPriceSchedule): the base price and every rate
//     are non-negative and every rate names its unit.
//   - attest (sdk.CapAttest): Attest answers.
//   - execute (sdk.CapExecute): every Options.Tasks case, sent concurrently
//     on one execute stream, gets exactly one result that meets its Expect
//     or WantErr, and the stream drains after a half-close, within Timeout.
//   - cancel (sdk.CapExecute with Options.Cancel): Options.Cancel, cancelled
//     as soon as it is sent, makes Execute return within CancelWithin and is
//     reported as host.ErrTaskCancelled; an Execute that ignores its ctx
//     fails this check when the deadline passes.
//   - shutdown: once serving ends (Run) or the process is killed
//     (RunBinary), the plugin no longer answers.
package sdktest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/host"
)

// Case is one task and what its result must satisfy.
type Case struct {
	Name string
	Task sdk.Task
	// Expect checks the result; nil accepts any result.
	Expect func(sdk.Result) error
	// WantErr, when set, means the task must produce no result and fail
	// with this host error (for example host.ErrTaskFailed).
	WantErr error
}

// Options drive the suite.
type Options struct {
	// Config is the agent-config block, checked against the agent's schema.
	Config map[string]any
	// Node is passed to Configure; DataDir defaults to a test temp dir.
	Node sdk.NodeInfo
	// Tasks run concurrently over one execute stream.
	Tasks []Case
	// Cancel, when set, is a task that runs until it is cancelled; the
	// cancel check sends it, cancels it at once and expects its Execute to
	// return within CancelWithin, reported as host.ErrTaskCancelled.
	Cancel *sdk.Task
	// Timeout bounds each step (default 10s).
	Timeout time.Duration
	// CancelWithin bounds how long a cancelled task's Execute may take to
	// return (default: Timeout).
	CancelWithin time.Duration
	// Args and SHA256 are used by RunBinary only.
	Args   []string
	SHA256 string
}

// OK is an Expect that requires Result.OK.
func OK(r sdk.Result) error {
	if !r.OK {
		return fmt.Errorf("result not OK: %s", r.Error)
	}
	return nil
}

// Failed is an Expect that requires a result that ran and failed.
func Failed(r sdk.Result) error {
	if r.OK {
		return errors.New("result OK, want a failure")
	}
	if r.Error == "" {
		return errors.New("failed result carries no error message")
	}
	return nil
}

// Run serves the agent made by factory in-process over real gRPC and runs
// the conformance suite against it.
func Run(t *testing.T, factory func() sdk.Agent, opts Options) {
	t.Helper()
	p, stop := serve(t, factory)
	suite(t, p, opts)
	t.Run("shutdown", func(t *testing.T) {
		if err := stop(opts.timeout()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := p.Health(ctx); err == nil {
			t.Fatal("plugin still answers after shutdown")
		}
	})
}

// Serve starts the agent in-process over real gRPC and returns the host's
// handle to it; the plugin stops when the test ends.
func Serve(t testing.TB, factory func() sdk.Agent) *host.Plugin {
	t.Helper()
	p, _ := serve(t, factory)
	return p
}

// serve returns the plugin and a stop function that ends serving and waits
// up to the given time for the server to be gone.
func serve(t testing.TB, factory func() sdk.Agent) (*host.Plugin, func(time.Duration) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	go sdk.Serve(factory, sdk.WithDebug(ctx, reattach, closed), sdk.WithLogger(NewLogger(t).Named("plugin")))
	stop := func(d time.Duration) error {
		cancel()
		select {
		case <-closed:
			return nil
		case <-time.After(d):
			return fmt.Errorf("plugin server did not stop within %s", d)
		}
	}
	var rc *plugin.ReattachConfig
	select {
	case rc = <-reattach:
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("agent did not start serving within 10s")
	}
	lctx, lcancel := context.WithTimeout(ctx, 10*time.Second)
	defer lcancel()
	p, err := host.Reattach(lctx, host.Config{Name: "under-test", Logger: NewLogger(t)}, rc)
	if err != nil {
		cancel()
		t.Fatalf("reattach: %v", err)
	}
	t.Cleanup(func() {
		p.Kill()
		if err := stop(10 * time.Second); err != nil {
			t.Error(err)
		}
	})
	return p, stop
}

// RunBinary launches a built plugin binary through sdk/host, as planetary
// does, and runs the conformance suite against it.
func RunBinary(t *testing.T, path string, opts Options) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout())
	defer cancel()
	p, err := host.Launch(ctx, host.Config{Name: "under-test", Path: path, Args: opts.Args,
		SHA256: opts.SHA256, Logger: NewLogger(t)})
	if err != nil {
		t.Fatalf("launch %s: %v", path, err)
	}
	t.Cleanup(p.Kill)
	suite(t, p, opts)
	t.Run("shutdown", func(t *testing.T) {
		p.Kill()
		waitFor(t, opts.timeout(), "plugin process to exit", p.Exited)
	})
}

func (o Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return 10 * time.Second
}

func (o Options) cancelWithin() time.Duration {
	if o.CancelWithin > 0 {
		return o.CancelWithin
	}
	return o.timeout()
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// check is one conformance check: what it proves, and the code that proves
// it. A check fails through tb (Errorf/Fatalf); Fatalf ends only that check.
type check struct {
	name string
	// when reports whether the check applies to this plugin (nil: always).
	when func(p *host.Plugin, opts Options) bool
	run  func(tb testing.TB, p *host.Plugin, opts Options, values map[string]any)
}

// checks are the conformance checks in the order they run; the package
// documentation lists what each one proves.
var checks = []check{
	{name: "info", run: checkInfo},
	{name: "schema", run: checkSchema},
	{name: "configure", run: checkConfigure},
	{name: "health", run: checkHealth},
	{name: "optional interfaces", run: checkOptional},
	{name: "fingerprint", when: has(sdk.CapFingerprint), run: checkFingerprint},
	{name: "price schedule", when: has(sdk.CapPriceSchedule), run: checkPriceSchedule},
	{name: "attest", when: has(sdk.CapAttest), run: checkAttest},
	{name: "execute", when: has(sdk.CapExecute), run: execute},
	{name: "cancel", when: func(p *host.Plugin, o Options) bool { return p.Has(sdk.CapExecute) && o.Cancel != nil },
		run: checkCancel},
}

func has(c string) func(*host.Plugin, Options) bool {
	return func(p *host.Plugin, _ Options) bool { return p.Has(c) }
}

func configValues(opts Options) map[string]any {
	values := maps.Clone(opts.Config)
	if values == nil {
		values = map[string]any{}
	}
	return values
}

// suite runs every check as a subtest of t.
func suite(t *testing.T, p *host.Plugin, opts Options) {
	t.Helper()
	values := configValues(opts)
	for _, c := range checks {
		if c.when != nil && !c.when(p, opts) {
			continue
		}
		t.Run(c.name, func(t *testing.T) { c.run(t, p, opts, values) })
	}
}

// Check serves the agent made by factory in-process, as Run does, and runs
// every check in turn on tb without subtests: each failure is reported with
// tb.Errorf, prefixed with the name of the check that failed, and a check
// that cannot go on ends only itself. It suits a harness that has no
// subtests, such as a test of an agent that is meant to fail a check.
func Check(tb testing.TB, factory func() sdk.Agent, opts Options) {
	tb.Helper()
	var p *host.Plugin
	var stop func(time.Duration) error
	if !runCheck(tb, "serve", func(tb testing.TB) { p, stop = serve(tb, factory) }) {
		return
	}
	values := configValues(opts)
	for _, c := range checks {
		if c.when != nil && !c.when(p, opts) {
			continue
		}
		runCheck(tb, c.name, func(tb testing.TB) { c.run(tb, p, opts, values) })
	}
	runCheck(tb, "shutdown", func(tb testing.TB) {
		if err := stop(opts.timeout()); err != nil {
			tb.Fatal(err)
		}
	})
}

// runCheck runs fn on its own goroutine with a tb that names the check in
// every failure; FailNow ends that goroutine, as it ends a subtest. It
// reports whether the check passed.
func runCheck(tb testing.TB, name string, fn func(tb testing.TB)) bool {
	ctb := &checkTB{TB: tb, name: name}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctb)
	}()
	<-done
	return !ctb.Failed()
}

// checkTB reports a check's failures on the outer tb, prefixed with the
// check's name.
type checkTB struct {
	testing.TB
	name string

	mu     sync.Mutex
	failed bool
}

func (c *checkTB) fail(msg string) {
	c.mu.Lock()
	c.failed = true
	c.mu.Unlock()
	c.TB.Helper()
	c.TB.Errorf("sdktest check %q: %s", c.name, msg)
}

func (c *checkTB) Error(args ...any) { c.TB.Helper(); c.fail(fmt.Sprint(args...)) }
func (c *checkTB) Errorf(format string, args ...any) {
	c.TB.Helper()
	c.fail(fmt.Sprintf(format, args...))
}
func (c *checkTB) Fatal(args ...any) { c.TB.Helper(); c.fail(fmt.Sprint(args...)); c.FailNow() }
func (c *checkTB) Fatalf(format string, args ...any) {
	c.TB.Helper()
	c.fail(fmt.Sprintf(format, args...))
	c.FailNow()
}
func (c *checkTB) Fail() { c.fail("failed") }

// FailNow marks the check failed and ends its goroutine.
func (c *checkTB) FailNow() {
	c.mu.Lock()
	c.failed = true
	c.mu.Unlock()
	runtime.Goexit()
}

// Failed reports whether this check failed.
func (c *checkTB) Failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

func (o Options) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), o.timeout())
}

func checkInfo(t testing.TB, p *host.Plugin, opts Options, _ map[string]any) {
	ctx, cancel := opts.step()
	defer cancel()
	info, err := p.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name == "" || info.Version == "" {
		t.Errorf("Info must set Name and Version, got %+v", info)
	}
	if p.APIVersion() == "" {
		t.Errorf("no API version negotiated")
	}
}

func checkSchema(t testing.TB, p *host.Plugin, opts Options, values map[string]any) {
	ctx, cancel := opts.step()
	defer cancel()
	schema, err := p.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range schema.Attributes {
		if a.Name == "" || seen[a.Name] {
			t.Errorf("attribute name %q is empty or repeated", a.Name)
		}
		seen[a.Name] = true
		if a.Default != nil {
			if errs := host.ValidateConfig(sdk.Schema{Attributes: []sdk.Attribute{a}}, map[string]any{a.Name: a.Default}); len(errs) > 0 {
				t.Errorf("attribute %q: default does not match its type: %v", a.Name, errs)
			}
		}
	}
	for _, err := range host.ValidateConfig(schema, values) {
		t.Errorf("Options.Config does not fit the schema: %v", err)
	}
}

func checkConfigure(t testing.TB, p *host.Plugin, opts Options, values map[string]any) {
	ctx, cancel := opts.step()
	defer cancel()
	node := opts.Node
	if node.DataDir == "" {
		node.DataDir = t.TempDir()
	}
	if node.ID == "" {
		node.ID = "node-test"
	}
	if err := p.Configure(ctx, sdk.Config{Node: node, Values: values}); err != nil {
		t.Fatal(err)
	}
}

func checkHealth(t testing.TB, p *host.Plugin, _ Options, _ map[string]any) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.Health(ctx); err != nil {
		t.Fatal(err)
	}
}

func checkOptional(t testing.TB, p *host.Plugin, opts Options, _ map[string]any) {
	for _, c := range []string{sdk.CapFingerprint, sdk.CapPriceSchedule, sdk.CapAttest, sdk.CapExecute} {
		if p.Has(c) {
			continue
		}
		ctx, cancel := opts.step()
		var err error
		switch c {
		case sdk.CapFingerprint:
			_, err = p.Fingerprint(ctx)
		case sdk.CapPriceSchedule:
			_, err = p.PriceSchedule(ctx)
		case sdk.CapAttest:
			_, err = p.Attest(ctx)
		case sdk.CapExecute:
			_, err = p.Exec(ctx)
		}
		cancel()
		if !errors.Is(err, host.ErrNotImplemented) || !strings.Contains(err.Error(), "does not implement") {
			t.Errorf("%s: want a not-implemented error, got %v", c, err)
		}
	}
}

func checkFingerprint(t testing.TB, p *host.Plugin, opts Options, _ map[string]any) {
	ctx, cancel := opts.step()
	ch, err := p.Fingerprint(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	select {
	case fp, ok := <-ch:
		if !ok {
			cancel()
			t.Fatal("fingerprint stream ended before the first fingerprint")
		}
		if !fp.Healthy && fp.Message == "" {
			t.Errorf("an unhealthy fingerprint must say why in Message")
		}
	case <-ctx.Done():
		cancel()
		t.Fatal("no fingerprint before the deadline")
	}
	cancel()
	// The stream must end with its context.
	deadline := time.After(opts.timeout())
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("fingerprint stream did not end with its context")
		}
	}
}

func checkPriceSchedule(t testing.TB, p *host.Plugin, opts Options, _ map[string]any) {
	ctx, cancel := opts.step()
	defer cancel()
	ps, err := p.PriceSchedule(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps.BaseMu < 0 {
		t.Errorf("negative base price %d", ps.BaseMu)
	}
	for _, r := range ps.Rates {
		if r.Unit == "" || r.PerUnitMu < 0 {
			t.Errorf("bad rate %+v", r)
		}
	}
}

func checkAttest(t testing.TB, p *host.Plugin, opts Options, _ map[string]any) {
	ctx, cancel := opts.step()
	defer cancel()
	if _, err := p.Attest(ctx); err != nil {
		t.Fatal(err)
	}
}

func execute(t testing.TB, p *host.Plugin, opts Options, _ map[string]any) {
	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout())
	defer cancel()
	s, err := p.Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]Case{}
	for i, c := range opts.Tasks {
		if c.Task.JobID == "" {
			c.Task.JobID = fmt.Sprintf("sdktest-%d", i)
		}
		if c.Task.Attempt == 0 {
			c.Task.Attempt = 1
		}
		cases[fmt.Sprintf("%s/%d", c.Task.JobID, c.Task.Attempt)] = c
		if err := s.Send(c.Task); err != nil {
			t.Fatalf("send %s: %v", c.Task.JobID, err)
		}
	}
	if err := s.CloseSend(); err != nil {
		t.Fatalf("close send: %v", err)
	}
	for r := range s.Results() {
		key := fmt.Sprintf("%s/%d", r.JobID, r.Attempt)
		c, ok := cases[key]
		if !ok {
			t.Errorf("result for a task never sent: %s", key)
			continue
		}
		delete(cases, key)
		name := c.Name
		if name == "" {
			name = key
		}
		switch {
		case c.WantErr != nil:
			if !errors.Is(r.Err, c.WantErr) {
				t.Errorf("%s: err = %v, want %v", name, r.Err, c.WantErr)
			}
		case r.Err != nil:
			t.Errorf("%s: %v", name, r.Err)
		case c.Expect != nil:
			if err := c.Expect(r.Result); err != nil {
				t.Errorf("%s: %v (result %+v)", name, err, r.Result)
			}
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("execute did not finish before the deadline: %d results missing", len(cases))
	}
	for key := range cases {
		t.Errorf("no result for %s", key)
	}
}

// checkCancel sends Options.Cancel on an execute stream of its own,
// cancels it at once and requires its Execute to return, reported as
// cancelled, within CancelWithin. An agent whose Execute ignores its ctx
// never returns and fails here, instead of hanging the suite.
func checkCancel(t testing.TB, p *host.Plugin, opts Options, _ map[string]any) {
	within := opts.cancelWithin()
	ctx, cancel := context.WithCancel(context.Background())
	// Ending the stream's ctx on the way out cancels whatever the agent
	// still runs (an agent that ignores that too is past helping).
	defer cancel()
	s, err := p.Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	task := *opts.Cancel
	if task.Attempt == 0 {
		task.Attempt = 1
	}
	if err := s.Send(task); err != nil {
		t.Fatalf("send %s: %v", task.JobID, err)
	}
	if err := s.Cancel(task.JobID, task.Attempt); err != nil {
		t.Fatalf("cancel %s: %v", task.JobID, err)
	}
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		select {
		case r, ok := <-s.Results():
			if !ok {
				t.Fatalf("the execute stream ended without a result for the cancelled task %s", task.JobID)
			}
			if r.JobID != task.JobID || r.Attempt != task.Attempt {
				t.Errorf("result for a task never sent: %s/%d", r.JobID, r.Attempt)
				continue
			}
			if !errors.Is(r.Err, host.ErrTaskCancelled) {
				t.Fatalf("cancelled task %s: err = %v, want %v", task.JobID, r.Err, host.ErrTaskCancelled)
			}
			return
		case <-deadline.C:
			t.Fatalf("task %s was cancelled but Execute did not return within %s: Execute must return "+
				"once its ctx is done (does it ignore ctx?)", task.JobID, within)
		}
	}
}

// NewLogger returns an hclog logger that writes to t and goes quiet once
// the test has finished.
func NewLogger(t testing.TB) hclog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug, Output: w})
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}
