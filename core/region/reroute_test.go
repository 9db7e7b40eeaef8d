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
