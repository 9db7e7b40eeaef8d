package region

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// A reroute through the front to a shard of another region is a hand-off:
// the answer names it, the job leaves mars and completes in earth exactly
// once. A reroute within the job's region stays a reroute.
func TestFrontRerouteAcrossRegionsHandsOff(t *testing.T) {
	m := example(t)
	h := startHost(t, hostConfig(t, t.TempDir(), m))
	ts := frontServer(t, h)
	mars, earth := h.Region("mars"), h.Region("earth")
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if _, err := mars.Pause(ctx, server.Actor{Name: "test", Caps: server.CapAll}, command.Pause{Shard: "mars", Paused: true}); err != nil {
		t.Fatal(err)
	}
	submit(t, mars, "mars", "r", 1)
	id := "mars-r-000"
	worker(t, h, "earth")

	a := call(t, ts, "POST", "/v1/job/"+id+"/reroute", `{"shard":"earth","reason":"closer to the data"}`)
	if a.status != http.StatusOK || a.region() != "mars" {
		t.Fatalf("cross-region reroute: %d %s (region %q)", a.status, a.body, a.region())
	}
	var ans struct {
		HandOff string `json:"handoff"`
		From    string `json:"from_region"`
		To      string `json:"to_region"`
	}
	if err := json.Unmarshal(a.body, &ans); err != nil || ans.HandOff == "" || ans.From != "mars" || ans.To != "earth" {
		t.Fatalf("answer %s (%v)", a.body, err)
	}
	waitFor(t, "the job to complete in earth", func() bool {
		var done bool
		earth.Read(func(st *state.Store) { j := st.Job(id); done = j != nil && j.State == state.JobCompleted })
		return done
	})
	mars.Read(func(st *state.Store) {
		if j := st.Job(id); j != nil && j.State == state.JobCompleted {
			t.Errorf("the job also completed in mars")
		}
	})

	// Within its region a reroute is the region's own (a 404 for a shard
	// no region holds, as before).
	if a := call(t, ts, "POST", "/v1/job/"+id+"/reroute", `{"shard":"pluto"}`); a.status == http.StatusOK {
		t.Fatalf("reroute to a shard no region holds: %d %s", a.status, a.body)
	}
}

// A reroute by locator through the front to another region's shard hands
// the located queued jobs off: the tail after the offset, newest first; a
// locator asking for in-flight jobs is refused naming in_flight.
func TestFrontLocatorRerouteAcrossRegions(t *testing.T) {
	m := example(t)
	h := startHost(t, hostConfig(t, t.TempDir(), m))
	ts := frontServer(t, h)
	mars, earth := h.Region("mars"), h.Region("earth")
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if _, err := mars.Pause(ctx, server.Actor{Name: "test", Caps: server.CapAll}, command.Pause{Shard: "mars", Paused: true}); err != nil {
		t.Fatal(err)
	}
	submit(t, mars, "mars", "l", 6)
	worker(t, h, "earth")

	if a := call(t, ts, "POST", "/v1/jobs/reroute", `{"shard":"mars","tail":2,"in_flight":true,"target":"earth"}`); a.status != http.StatusBadRequest || a.errorBody(t).Field != "in_flight" {
		t.Fatalf("in-flight locator across regions: %d %s", a.status, a.body)
	}
	a := call(t, ts, "POST", "/v1/jobs/reroute", `{"shard":"mars","tail":3,"offset":1,"target":"earth","reason":"drain mars"}`)
	if a.status != http.StatusOK {
		t.Fatalf("locator reroute across regions: %d %s", a.status, a.body)
	}
	var ans struct {
		HandOffs []struct {
			Job     string `json:"job"`
			HandOff string `json:"handoff"`
		} `json:"handoffs"`
	}
	if err := json.Unmarshal(a.body, &ans); err != nil || len(ans.HandOffs) != 3 {
		t.Fatalf("answer %s (%v)", a.body, err)
	}
	for i, want := range []string{"mars-l-004", "mars-l-003", "mars-l-002"} {
		if ans.HandOffs[i].Job != want || ans.HandOffs[i].HandOff == "" {
			t.Fatalf("hand-off %d: %+v, want %s", i, ans.HandOffs[i], want)
		}
	}
	waitFor(t, "earth to complete the 3 jobs", func() bool { return completed(earth) >= 3 })
	mars.Read(func(st *state.Store) {
		if n := st.QueueLen("mars"); n != 3 {
			t.Errorf("mars holds %d queued jobs, want the 3 not located", n)
		}
	})
}
