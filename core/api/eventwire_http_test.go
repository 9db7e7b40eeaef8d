package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// getEvents sends GET /v1/events with accept (none when empty) and returns
// the answer's content type and body decoded as JSON when it is JSON.
func getEvents(t *testing.T, a *agent, query, accept string) (string, api.Events) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.http.URL+"/v1/events?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(api.TokenHeader, a.token.SecretID)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/events?%s: %s", query, resp.Status)
	}
	ct := resp.Header.Get("Content-Type")
	var out api.Events
	if ct == "application/json" {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
	}
	return ct, out
}

// TestEventsNegotiation checks that client.Client reads the same pages in
// msgpack as a JSON caller gets, and that callers that do not ask for
// msgpack keep JSON.
func TestEventsNegotiation(t *testing.T) {
	a := newAgent(t, nil)
	applyMission(t, a, testMission)
	ctx := context.Background()
	jobs := make([]api.JobSubmit, 40)
	for i := range jobs {
		jobs[i] = api.JobSubmit{ID: fmt.Sprintf("neg-%02d", i), Shard: "earth"}
	}
	if _, err := a.mgmt.SubmitJobs(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	// The mission has no up node, so the scheduler parks every job once;
	// until it has, the log grows between the two reads of a case.
	eventually(t, 30*time.Second, "every job parked", func() bool {
		evs, err := a.mgmt.Events(ctx, 0, 0, state.EvJobParked, 0)
		return err == nil && len(evs.Events) == len(jobs)
	})
	cases := []struct {
		name  string
		index uint64
		typ   string
		limit int
	}{
		{"all", 0, "", 0},
		{"paged", 3, "", 7},
		{"filtered", 0, state.EvJobSubmitted, 0},
		{"past head", 1 << 40, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.mgmt.Events(ctx, tc.index, 0, tc.typ, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			q := fmt.Sprintf("index=%d&type=%s", tc.index, tc.typ)
			if tc.limit > 0 {
				q += fmt.Sprintf("&limit=%d", tc.limit)
			}
			ct, want := getEvents(t, a, q, "")
			if ct != "application/json" {
				t.Fatalf("plain GET answered %q", ct)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("msgpack page differs from JSON:\n got %+v\nwant %+v", got, want)
			}
			if ct, _ := getEvents(t, a, q, api.MsgpackType+", application/json"); ct != api.MsgpackType {
				t.Fatalf("GET accepting msgpack answered %q", ct)
			}
		})
	}
	for _, accept := range []string{"application/json", "*/*", "text/html, application/xhtml+xml"} {
		if ct, _ := getEvents(t, a, "index=0", accept); ct != "application/json" {
			t.Fatalf("Accept %q answered %q", accept, ct)
		}
	}
}

// TestEventsJSONFallback checks that client.Client reads a JSON answer from a
// server that does not speak msgpack.
func TestEventsJSONFallback(t *testing.T) {
	want := api.Events{Events: []api.Event{{Seq: 1, Type: "mission.applied", Prev: "00", Hash: "ab"}}, Index: 1, Head: 4}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(want)
	}))
	t.Cleanup(hs.Close)
	c, err := client.NewClient(client.ClientConfig{Address: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Events(context.Background(), 0, 0, "", 0)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Events = %+v, %v; want %+v", got, err, want)
	}
}
