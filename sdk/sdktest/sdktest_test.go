package sdktest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/sdktest"
)

// sleeper runs each task until its ctx ends, or, when it ignores ctx, until
// release is closed (the test closes it once the suite has judged it).
type sleeper struct {
	ignoreCtx bool
	release   chan struct{}
}

func (a *sleeper) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "sleeper", Version: "1.0.0", APIVersions: []string{sdk.APIVersion1}}, nil
}
func (a *sleeper) Schema(context.Context) (sdk.Schema, error)  { return sdk.Schema{}, nil }
func (a *sleeper) Configure(context.Context, sdk.Config) error { return nil }
func (a *sleeper) Execute(ctx context.Context, t sdk.Task) (sdk.Result, error) {
	if t.JobID != "long" {
		return sdk.Result{OK: true}, nil
	}
	if a.ignoreCtx {
		<-a.release
		return sdk.Result{OK: true, Output: "finished regardless"}, nil
	}
	<-ctx.Done()
	return sdk.Result{}, ctx.Err()
}

var _ sdk.Executor = (*sleeper)(nil)

// recorder is a testing.TB that keeps failures instead of failing the test,
// so a test can assert what the suite reported.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	failures []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) Error(args ...any)                 { r.Errorf("%s", fmt.Sprint(args...)) }
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }
func (r *recorder) Fatal(args ...any)                 { r.Error(args...) }
func (r *recorder) Fail()                             { r.Errorf("failed") }
func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.failures) > 0
}

func TestCancelCheck(t *testing.T) {
	cases := []struct {
		name      string
		ignoreCtx bool
		// want is a substring of the one failure expected ("" for none).
		want string
	}{
		{name: "honours ctx"},
		{name: "ignores ctx", ignoreCtx: true, want: `sdktest check "cancel": task long was cancelled but Execute did not return within 500ms`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := &sleeper{ignoreCtx: c.ignoreCtx, release: make(chan struct{})}
			rec := &recorder{TB: t}
			sdktest.Check(rec, func() sdk.Agent { return a }, sdktest.Options{
				Tasks:        []sdktest.Case{{Name: "ok", Task: sdk.Task{JobID: "ok"}, Expect: sdktest.OK}},
				Cancel:       &sdk.Task{JobID: "long"},
				Timeout:      10 * time.Second,
				CancelWithin: 500 * time.Millisecond,
			})
			close(a.release)
			got := strings.Join(rec.failures, "\n")
			switch {
			case c.want == "" && len(rec.failures) > 0:
				t.Fatalf("a conforming agent failed the suite:\n%s", got)
			case c.want != "" && len(rec.failures) != 1:
				t.Fatalf("want exactly one failure (%q), got %d:\n%s", c.want, len(rec.failures), got)
			case c.want != "" && !strings.Contains(got, c.want):
				t.Fatalf("failure %q does not contain %q", got, c.want)
			}
		})
	}
}

// TestRunSubtests runs the suite as its subtests on a conforming agent.
func TestRunSubtests(t *testing.T) {
	sdktest.Run(t, func() sdk.Agent { return &sleeper{release: make(chan struct{})} }, sdktest.Options{
		Tasks:  []sdktest.Case{{Name: "ok", Task: sdk.Task{JobID: "ok"}, Expect: sdktest.OK}},
		Cancel: &sdk.Task{JobID: "long"},
	})
}
