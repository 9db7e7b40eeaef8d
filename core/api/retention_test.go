package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/eventlog"
	"github.com/planetary/planetary/core/server"
)

// TestEventsBeforeRetainedWindow: once a raft snapshot lets event retention
// prune segments, /v1/events with an index before the retained window is
// refused with 410 naming the first retained seq, and the window reads from
// its anchor on.
func TestEventsBeforeRetainedWindow(t *testing.T) {
	var archive string
	a := newAgentWith(t, func(c *server.Config) {
		archive = filepath.Join(c.AllowedRoots[0], "events-archive")
		c.EventSegmentBytes = 2 << 10
		c.EventRetention = eventlog.Retention{MaxBytes: 4 << 10, ArchiveDir: archive}
	}, nil)
	applyMission(t, a, testMission)
	ctx := context.Background()
	c := a.mgmt
	for b := range 6 {
		jobs := make([]api.JobSubmit, 50)
		for i := range jobs {
			jobs[i] = api.JobSubmit{ID: fmt.Sprintf("r%d-%d", b, i), Shard: "earth"}
		}
		if _, err := c.SubmitJobs(ctx, jobs); err != nil {
			t.Fatal(err)
		}
	}
	ret, err := c.EventRetention(ctx)
	if err != nil || ret.Pruned || ret.MaxBytes != 4<<10 || ret.ArchiveDir != archive {
		t.Fatalf("before any snapshot: %+v %v", ret, err)
	}
	if _, err := c.Events(ctx, 0, 0, "", 10); err != nil {
		t.Fatalf("events before any prune: %v", err)
	}
	if _, err := a.srv.SnapshotSave(ctx, io.Discard); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a prune behind the snapshot", func() bool {
		ret, err = c.EventRetention(ctx)
		return err == nil && ret.Pruned
	})
	if ret.Anchor.Seq == 0 || ret.FirstSeq != ret.Anchor.Seq+1 || ret.PrunedEvents != ret.Anchor.Seq ||
		ret.ArchivedSegments != ret.PrunedSegments || ret.Covered.Seq < ret.Anchor.Seq {
		t.Fatalf("retention: %+v", ret)
	}
	_, err = c.Events(ctx, 0, 0, "", 10)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusGone || ae.Field != "index" ||
		!strings.Contains(ae.Message, fmt.Sprintf("first retained event is seq %d", ret.FirstSeq)) {
		t.Fatalf("events before the window: %v", err)
	}
	page, err := c.Events(ctx, ret.Anchor.Seq, 0, "", 10)
	if err != nil || len(page.Events) == 0 || page.Events[0].Seq != ret.FirstSeq || page.Events[0].Prev != ret.Anchor.Hash {
		t.Fatalf("events from the anchor: %+v %v", page, err)
	}
	// A job's timeline from index 0 is not refused: it starts at the job's
	// submission when that is retained, else at the anchor.
	if _, err := c.SubmitJobs(ctx, []api.JobSubmit{{ID: "after", Shard: "earth"}}); err != nil {
		t.Fatal(err)
	}
	late, err := c.JobEvents(ctx, "after", 0, 0)
	if err != nil || len(late.Events) == 0 || late.Events[0].Type != "job.submitted" || late.Events[0].Seq <= ret.Anchor.Seq {
		t.Fatalf("timeline of a retained job: %+v %v", late.Events, err)
	}
	early, err := c.JobEvents(ctx, "r0-0", 0, 0)
	if err != nil {
		t.Fatalf("timeline of a job submitted before the window: %v", err)
	}
	for _, e := range early.Events {
		if e.Seq <= ret.Anchor.Seq || e.Type == "job.submitted" {
			t.Fatalf("timeline of a pruned job's submission holds %+v (anchor %d)", e, ret.Anchor.Seq)
		}
	}
}
