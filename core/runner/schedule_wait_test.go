package runner

import (
	"context"
	"testing"
	"time"
)

// TestWaitScheduleWaitsForTimedEntries: a run whose jobs are done waits for
// the owner schedule's timed entries, not for entries that wait on a number
// of completed jobs, and returns at once when nothing is pending.
func TestWaitScheduleWaitsForTimedEntries(t *testing.T) {
	src := collectMission + `
schedule "late-pause" {
  at     = "700ms"
  action = "system.pause"
}

schedule "never" {
  after_completed = 1000000
  action          = "system.resume"
}
`
	c := liveFabricWith(t, src, 0)
	ctx := context.Background()
	start := time.Now()
	if !WaitSchedule(ctx, c, start, time.Minute) {
		t.Fatal("WaitSchedule did not wait for a pending timed entry")
	}
	m, err := c.Mission(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Schedule {
		if e.ID == "late-pause" && !e.Fired {
			t.Fatal("WaitSchedule returned before the timed entry fired")
		}
	}
	if WaitSchedule(ctx, c, start, time.Minute) {
		t.Fatal("WaitSchedule waited with no timed entry pending")
	}
}
