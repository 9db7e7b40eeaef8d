package region

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/planetary/planetary/raftfsm/state"
)

// A system-wide owner write through the front reaches every region: a pause
// with no shard pauses every region's system, a reporting retarget reaches
// every region's policy, and the answer carries each region's index; a
// shard's pause stays its region's.
func TestFrontSystemWritesReachEveryRegion(t *testing.T) {
	m := example(t)
	h := startHost(t, hostConfig(t, t.TempDir(), m))
	ts := frontServer(t, h)
	policy := func(name string) (p state.Policy) {
		h.Region(name).Read(func(st *state.Store) { p = st.Policy() })
		return p
	}

	a := call(t, ts, "POST", "/v1/operator/pause", `{"reason":"maintenance window"}`)
	var ans struct {
		Index   uint64            `json:"index"`
		Regions map[string]uint64 `json:"regions"`
	}
	if a.status != http.StatusOK || json.Unmarshal(a.body, &ans) != nil || len(ans.Regions) != 4 || ans.Index == 0 {
		t.Fatalf("system pause: %d %s", a.status, a.body)
	}
	for _, name := range h.Regions() {
		if !policy(name).SystemPaused {
			t.Errorf("region %s is not paused", name)
		}
	}
	if a := call(t, ts, "POST", "/v1/operator/resume", `{}`); a.status != http.StatusOK {
		t.Fatalf("system resume: %d %s", a.status, a.body)
	}
	if a := call(t, ts, "POST", "/v1/operator/reporting", `{"label":"federated"}`); a.status != http.StatusOK {
		t.Fatalf("reporting retarget: %d %s", a.status, a.body)
	}
	for _, name := range h.Regions() {
		if p := policy(name); p.SystemPaused || p.ReportingLabel != "federated" {
			t.Errorf("region %s: paused %v, reporting label %q", name, p.SystemPaused, p.ReportingLabel)
		}
	}

	a = call(t, ts, "POST", "/v1/operator/gc", `{"reason":"tidy"}`)
	var gc struct {
		Regions map[string]json.RawMessage `json:"regions"`
	}
	if a.status != http.StatusOK || json.Unmarshal(a.body, &gc) != nil || len(gc.Regions) != 4 {
		t.Fatalf("gc: %d %s", a.status, a.body)
	}

	if a := call(t, ts, "POST", "/v1/operator/pause", `{"shard":"mars"}`); a.status != http.StatusOK || a.region() != "mars" {
		t.Fatalf("mars's pause: %d %s (region %q)", a.status, a.body, a.region())
	}
	h.Region("earth").Read(func(st *state.Store) {
		if st.Shard("earth").Paused {
			t.Error("earth paused by mars's pause")
		}
	})
}
