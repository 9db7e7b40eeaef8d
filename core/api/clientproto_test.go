package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/planetary/planetary/core/api"
)

// TestClientProtocolEncodings runs the client protocol against a real agent
// in both encodings: the JSON stream a human reads with curl and the
// msgpack one client.Client negotiates carry the same assignments, and results
// sent in msgpack complete the jobs.
func TestClientProtocolEncodings(t *testing.T) {
	a := newAgent(t, nil)
	applyMission(t, a, testMission)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg, err := a.mgmt.ClientRegister(ctx, api.ClientRegister{Client: "c1", Kinds: []string{"sim"}})
	if err != nil || len(reg.Claimed) == 0 {
		t.Fatalf("register: %+v %v", reg, err)
	}
	var beats []api.NodeBeat
	for _, id := range reg.Claimed {
		beats = append(beats, api.NodeBeat{ID: id, Healthy: true})
	}
	if err := a.mgmt.ClientHeartbeat(ctx, api.ClientHeartbeat{Client: "c1", Nodes: beats}); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	var jobs []api.JobSubmit
	for i := range 3 {
		jobs = append(jobs, api.JobSubmit{ID: fmt.Sprintf("w-%d", i), Shard: "earth", Value: 1, Kind: "sim",
			Payload: []byte(`{"duration_ms":0}`)})
	}
	if _, err := a.mgmt.SubmitJobs(ctx, jobs); err != nil {
		t.Fatalf("submit: %v", err)
	}

	streams := []struct {
		name string
		read func(ctx context.Context, n int) ([]api.Assignment, error)
	}{
		{"json", func(ctx context.Context, n int) ([]api.Assignment, error) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.http.URL+"/v1/client/assignments?client=c1", nil)
			req.Header.Set(api.TokenHeader, a.token.SecretID)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return nil, err
			}
			defer resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
				return nil, fmt.Errorf("content type %q", ct)
			}
			var out []api.Assignment
			sc := bufio.NewScanner(resp.Body)
			for len(out) < n && sc.Scan() {
				if len(sc.Bytes()) == 0 {
					continue
				}
				var x api.Assignment
				if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
					return nil, err
				}
				out = append(out, x)
			}
			return out, sc.Err()
		}},
		{"msgpack", func(ctx context.Context, n int) ([]api.Assignment, error) {
			ctx, stop := context.WithCancel(ctx)
			defer stop()
			var out []api.Assignment
			err := a.mgmt.ClientAssignments(ctx, "c1", func(x api.Assignment) error {
				out = append(out, x)
				if len(out) == n {
					stop()
				}
				return nil
			})
			if len(out) == n {
				err = nil
			}
			return out, err
		}},
	}
	got := map[string][]api.Assignment{}
	for _, s := range streams {
		as, err := s.read(ctx, len(jobs))
		if err != nil {
			t.Fatalf("%s stream: %v", s.name, err)
		}
		sort.Slice(as, func(i, j int) bool { return as[i].JobID < as[j].JobID })
		got[s.name] = as
	}
	if len(got["json"]) != len(jobs) || !reflect.DeepEqual(got["json"], got["msgpack"]) {
		t.Fatalf("streams differ:\n json    %+v\n msgpack %+v", got["json"], got["msgpack"])
	}

	// The msgpack stream switched the client to msgpack results.
	res := api.ClientResults{Client: "c1"}
	for _, x := range got["msgpack"] {
		res.Started = append(res.Started, api.JobAttempt{JobID: x.JobID, Attempt: x.Attempt})
		res.Results = append(res.Results, api.Result{JobID: x.JobID, Attempt: x.Attempt, OK: true, Output: "done"})
	}
	if _, err := a.mgmt.ClientResults(ctx, res); err != nil {
		t.Fatalf("results: %v", err)
	}
	for _, j := range jobs {
		eventually(t, 10*time.Second, j.ID+" completed", func() bool {
			v, err := a.mgmt.Job(ctx, j.ID)
			return err == nil && v.State == "completed"
		})
	}
}
