package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/planetary/planetary/core/api"
)

func gcMission(t *testing.T, a *agent, retention string) {
	t.Helper()
	src := fmt.Sprintf("mission \"gc\" {}\nshard \"earth\" {}\ncheckpoint {\n  path = %q\n}\nreporting {\n  directory = %q\n}\nretention {\n%s\n}\n",
		a.root+"/fabric.snap", a.root+"/reports", retention)
	if _, err := a.mgmt.ApplyMission(context.Background(), "gc.hcl", []byte(src), ""); err != nil {
		t.Fatalf("apply mission: %v", err)
	}
}

// finished submits jobs with keys and cancels them, so they are terminal.
func finished(t *testing.T, a *agent, ids ...string) {
	t.Helper()
	ctx := context.Background()
	var js []api.JobSubmit
	for _, id := range ids {
		js = append(js, api.JobSubmit{ID: id, Key: "key-" + id, Shard: "earth"})
	}
	if _, err := a.mgmt.SubmitJobs(ctx, js); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := a.mgmt.CancelJob(ctx, id, "done"); err != nil {
			t.Fatal(err)
		}
	}
}

func collectedError(t *testing.T, a *agent, id string) string {
	t.Helper()
	_, err := a.mgmt.Job(context.Background(), id)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("job %s: %v, want a 404", id, err)
	}
	return ae.Message
}

// TestOperatorGC: operator gc collects finished jobs in batches of the
// mission's job_gc_batch, a collected job answers 404 saying when it was
// collected, a resubmit of its key inside the idempotency window is a
// duplicate of it, and once the window (here "0s") ends the key is a new job.
func TestOperatorGC(t *testing.T) {
	a := newAgent(t, nil)
	ctx := context.Background()
	gcMission(t, a, `job_gc_threshold = "1h"
job_gc_interval = "0s"
job_gc_batch = 2
idempotency_window = "1h"`)
	finished(t, a, "j1", "j2", "j3")

	res, err := a.mgmt.GC(ctx, api.GCRequest{})
	if err != nil || res.Batches != 0 || res.Collected != 0 || res.LiveJobs != 3 {
		t.Fatalf("inside the threshold: %+v %v", res, err)
	}
	if _, err := a.mgmt.GC(ctx, api.GCRequest{Threshold: "soon"}); err == nil || !strings.Contains(err.Error(), "threshold") {
		t.Fatalf("bad threshold: %v", err)
	}
	res, err = a.mgmt.GC(ctx, api.GCRequest{Threshold: "0s"})
	if err != nil || res.Collected != 3 || res.Batches != 2 || res.LiveJobs != 0 || res.Tombs != 3 || res.First != "j1" || res.Last != "j3" {
		t.Fatalf("collect all: %+v %v", res, err)
	}
	msg := collectedError(t, a, "j2")
	if !strings.Contains(msg, `job "j2" collected at`) || !strings.Contains(msg, "raft index") || !strings.Contains(msg, "cancelled") {
		t.Fatalf("404 of a collected job: %q", msg)
	}
	if _, err := a.mgmt.Job(ctx, "nope"); err == nil || strings.Contains(err.Error(), "collected") {
		t.Fatalf("unknown job: %v", err)
	}
	out, err := a.mgmt.SubmitJobs(ctx, []api.JobSubmit{{ID: "again", Key: "key-j1", Shard: "earth"}})
	if err != nil || out[0].Status != api.StatusDuplicate || out[0].ID != "j1" || !strings.Contains(out[0].Reason, "collected at") {
		t.Fatalf("resubmit inside the window: %+v %v", out, err)
	}

	// The window ends: the next pass forgets the tombs and the key is free.
	gcMission(t, a, `job_gc_threshold = "1h"
job_gc_interval = "0s"
idempotency_window = "0s"`)
	res, err = a.mgmt.GC(ctx, api.GCRequest{})
	if err != nil || res.Forgotten != 3 || res.Tombs != 0 {
		t.Fatalf("forget: %+v %v", res, err)
	}
	if msg := collectedError(t, a, "j2"); strings.Contains(msg, "collected") {
		t.Fatalf("tomb kept after the window: %q", msg)
	}
	out, err = a.mgmt.SubmitJobs(ctx, []api.JobSubmit{{ID: "again", Key: "key-j1", Shard: "earth"}})
	if err != nil || out[0].Status != api.StatusAccepted || out[0].ID != "again" {
		t.Fatalf("resubmit outside the window: %+v %v", out, err)
	}
}

// TestGCLoop: the leader collects on its own every job_gc_interval.
func TestGCLoop(t *testing.T) {
	a := newAgent(t, nil)
	gcMission(t, a, `job_gc_threshold = "1ms"
job_gc_interval = "50ms"`)
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = fmt.Sprintf("loop-%02d", i)
	}
	finished(t, a, ids...)
	eventually(t, 30*time.Second, "the leader's pass", func() bool {
		_, err := a.mgmt.Job(context.Background(), ids[len(ids)-1])
		var ae *api.Error
		return errors.As(err, &ae) && strings.Contains(ae.Message, "collected at")
	})
	for _, id := range ids {
		collectedError(t, a, id)
	}
}
