package region

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/planetary/planetary/raftfsm/state"
)

// The host's link faults: cutting mars→earth through the front's operator
// route stops mars's checkpoints reaching earth (for every kind of
// traffic on that pair) while mars keeps completing its jobs, and healing
// it lets earth catch up; the route needs management, names a bad
// region's field, and lists every pair's state.
func TestLinkFaultsThroughTheFront(t *testing.T) {
	m := example(t)
	h := startHost(t, hostConfig(t, t.TempDir(), m))
	ts := frontServer(t, h)
	for _, name := range h.Regions() {
		worker(t, h, name)
	}
	submit(t, h.Region("mars"), "mars", "a", 5)
	waitFor(t, "earth to hold mars's checkpoint of 5 completed jobs", func() bool {
		cp, ok := stored(h, "earth", "mars")
		return ok && cp.Totals.Counts.N[state.JobCompleted] >= 5
	})

	a := call(t, ts, "POST", "/v1/operator/links", `{"from":"mars","to":"earth","latency":"50ms","partitioned":true}`)
	if a.status != http.StatusOK {
		t.Fatalf("cut mars->earth: %d %s", a.status, a.body)
	}
	var got []LinkFault
	if err := json.Unmarshal(a.body, &got); err != nil || len(got) != 12 {
		t.Fatalf("links answer %s (%v)", a.body, err)
	}
	for _, lf := range got {
		cut := lf.From == "mars" && lf.To == "earth"
		if lf.Partitioned != cut || (cut && lf.Latency != 50*time.Millisecond) {
			t.Errorf("pair %s->%s: %+v", lf.From, lf.To, lf)
		}
	}
	// A checkpoint sent before the cut may still land (one is in flight
	// per link): what earth holds counts once the link has seen the cut
	// refuse a send, which ends the one in flight.
	submit(t, h.Region("mars"), "mars", "b", 5)
	waitFor(t, "GET /v1/regions to show mars->earth cut and its checkpoints held back", func() bool {
		a := call(t, ts, "GET", "/v1/regions", "")
		var ov Overview
		if a.status != http.StatusOK || json.Unmarshal(a.body, &ov) != nil || len(ov.Regions) != 4 || !ov.Regions[0].ACL {
			return false
		}
		for _, l := range ov.Links {
			if l.From == "mars" && l.To == "earth" {
				return l.Partitioned && l.LatencyNs == int64(50*time.Millisecond) && l.Checkpoints != "up" && l.Checkpoints != ""
			}
		}
		return false
	})
	before, _ := stored(h, "earth", "mars")
	submit(t, h.Region("mars"), "mars", "c", 5)
	waitFor(t, "mars to complete its 15 jobs", func() bool { return completed(h.Region("mars")) >= 15 })
	waitFor(t, "luna to hold mars's checkpoint of 15 completed jobs", func() bool {
		cp, ok := stored(h, "luna", "mars")
		return ok && cp.Totals.Counts.N[state.JobCompleted] >= 15
	})
	if cp, _ := stored(h, "earth", "mars"); cp.RaftIndex != before.RaftIndex {
		t.Fatalf("earth stored mars's checkpoint at %d during the cut (before: %d)", cp.RaftIndex, before.RaftIndex)
	}

	if a := call(t, ts, "POST", "/v1/operator/links", `{"from":"mars","to":"earth"}`); a.status != http.StatusOK {
		t.Fatalf("heal: %d %s", a.status, a.body)
	}
	waitFor(t, "earth to catch up with mars", func() bool {
		cp, ok := stored(h, "earth", "mars")
		return ok && cp.Totals.Counts.N[state.JobCompleted] >= 15
	})

	for _, tc := range []struct {
		body, field string
		status      int
	}{
		{`{"from":"venus","to":"earth"}`, "from", 400},
		{`{"from":"mars","to":"mars"}`, "to", 400},
		{`{"from":"mars","to":"earth","latency":"soon"}`, "latency", 400},
	} {
		a := call(t, ts, "POST", "/v1/operator/links", tc.body)
		if a.status != tc.status || a.errorBody(t).Field != tc.field {
			t.Errorf("%s: %d %s, want %d naming %s", tc.body, a.status, a.body, tc.status, tc.field)
		}
	}
	if a := call(t, ts, "POST", "/v1/operator/links", `{"from":"mars","to":"earth"}`, "X-Planetary-Token", ""); a.status != http.StatusUnauthorized {
		t.Errorf("without a token: %d %s", a.status, a.body)
	}
}
