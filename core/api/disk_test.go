package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/eventlog"
	"github.com/planetary/planetary/core/server"
)

// GET /v1/health says "disk full", naming the event log, while the event
// log's writes fail with ENOSPC, and "ok" again once space is back and the
// writer caught up without a restart; /v1/events serves every event
// meanwhile, including those not on disk yet, and a blocking read wakes
// for a job submitted while the disk is full.
func TestHealthEventLogDiskFull(t *testing.T) {
	disk := &eventlog.FullDisk{}
	a := newAgentWith(t, func(c *server.Config) { c.WrapEventFile = disk.Wrap }, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := a.mgmt.RegisterShard(ctx, api.Shard{Name: "earth"}); err != nil {
		t.Fatalf("RegisterShard: %v", err)
	}
	if h, err := a.anon.Health(ctx); err != nil || h.Status != "ok" {
		t.Fatalf("health before the disk filled: %+v %v", h, err)
	}
	before, err := a.mgmt.Events(ctx, 0, 0, "", 0)
	if err != nil {
		t.Fatalf("events: %v", err)
	}

	disk.Fill()
	waited := make(chan error, 1)
	go func() {
		evs, err := a.mgmt.Events(ctx, before.Head, 30*time.Second, "job.submitted", 0)
		if err == nil && (len(evs.Events) == 0 || evs.Events[0].Job != "while-full") {
			err = fmt.Errorf("blocking read returned %+v", evs.Events)
		}
		waited <- err
	}()
	if _, err := a.mgmt.SubmitJobs(ctx, []api.JobSubmit{{ID: "while-full", Shard: "earth"}}); err != nil {
		t.Fatalf("SubmitJobs with the event log's writes failing: %v", err)
	}
	var h api.Health
	eventually(t, 30*time.Second, "health to say disk full", func() bool {
		h, err = a.anon.Health(ctx)
		return err == nil && h.Status == "disk full"
	})
	if !strings.Contains(h.Message, "event log write failed") || !strings.Contains(h.Message, "no space left on device") {
		t.Fatalf("health message %q does not name the event log's ENOSPC", h.Message)
	}
	if err := <-waited; err != nil {
		t.Fatalf("blocking read of events on a full disk: %v", err)
	}
	all, err := a.mgmt.Events(ctx, 0, 0, "", 0)
	if err != nil || all.Head <= before.Head || len(all.Events) != int(all.Head) {
		t.Fatalf("events on a full disk: %d of head %d, %v", len(all.Events), all.Head, err)
	}

	disk.Free()
	eventually(t, 30*time.Second, "health to say ok once space is back", func() bool {
		h, err = a.anon.Health(ctx)
		return err == nil && h.Status == "ok"
	})
	if err := a.srv.Events().Sync(all.Head); err != nil {
		t.Fatalf("events not durable after recovery: %v", err)
	}
}
