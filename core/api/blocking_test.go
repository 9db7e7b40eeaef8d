package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/planetary/planetary/core/api"
)

func TestBlockingQueryJobs(t *testing.T) {
	a := newAgent(t, nil)
	applyMission(t, a, testMission)
	ctx := context.Background()
	var before api.JobList
	idx, err := a.mgmt.Query(ctx, "/v1/jobs", nil, 0, 0, &before)
	if err != nil || idx == 0 {
		t.Fatalf("first query: index %d, %v", idx, err)
	}

	// Nothing changes: the query waits out its wait and answers the same
	// index. (A context deadline never fires early, so the lower bound
	// holds on any machine.)
	const idle = 300 * time.Millisecond
	began := time.Now()
	var same api.JobList
	again, err := a.mgmt.Query(ctx, "/v1/jobs", nil, idx, idle, &same)
	if err != nil || again != idx || len(same.Jobs) != len(before.Jobs) {
		t.Fatalf("idle query: index %d (was %d), %d jobs, %v", again, idx, len(same.Jobs), err)
	}
	if waited := time.Since(began); waited < idle {
		t.Fatalf("idle query answered after %v, before its wait of %v", waited, idle)
	}

	// A change wakes a query that would otherwise wait a minute.
	type answer struct {
		idx  uint64
		list api.JobList
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		var l api.JobList
		i, err := a.mgmt.Query(ctx, "/v1/jobs", nil, idx, time.Minute, &l)
		got <- answer{i, l, err}
	}()
	if _, err := a.mgmt.SubmitJobs(ctx, []api.JobSubmit{{ID: "j1", Shard: "earth", Capabilities: []string{"sim"}}}); err != nil {
		t.Fatalf("SubmitJobs: %v", err)
	}
	ans := <-got
	if ans.err != nil || ans.idx <= idx {
		t.Fatalf("woken query: index %d (was %d), %v", ans.idx, idx, ans.err)
	}
	found := false
	for _, j := range ans.list.Jobs {
		found = found || j.ID == "j1"
	}
	if !found {
		t.Fatalf("woken query lacks the submitted job: %+v", ans.list.Jobs)
	}
}

// Every list and get route answers with the index header and honours
// ?index=.
func TestBlockingRoutesIndex(t *testing.T) {
	a := newAgent(t, nil)
	applyMission(t, a, testMission)
	ctx := context.Background()
	if _, err := a.mgmt.SubmitJobs(ctx, []api.JobSubmit{{ID: "j1", Shard: "earth", Capabilities: []string{"sim"}}}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/jobs", "/v1/job/j1", "/v1/shards", "/v1/shard/earth", "/v1/nodes",
		"/v1/node/earth.n1", "/v1/mission", "/v1/ledger", "/v1/acl/tokens", "/v1/status/digest"} {
		t.Run(path, func(t *testing.T) {
			idx, err := a.mgmt.Query(ctx, path, nil, 0, 0, nil)
			if err != nil || idx == 0 {
				t.Fatalf("index %d, %v", idx, err)
			}
			// An index already passed answers at once with the current one.
			next, err := a.mgmt.Query(ctx, path, nil, idx-1, time.Minute, nil)
			if err != nil || next < idx {
				t.Fatalf("past index: %d, %v", next, err)
			}
		})
	}
	_, err := a.mgmt.Query(ctx, "/v1/jobs", url.Values{"wait": {"soon"}}, 1, 0, nil)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Field != "wait" {
		t.Fatalf("bad wait: %v", err)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	a := newAgent(t, nil)
	cases := []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodDelete, "/v1/jobs", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{http.MethodPost, "/v1/job/x", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodGet, "/v1/job/x/cancel", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPost, "/v1/mission", http.StatusMethodNotAllowed, "GET, HEAD, PUT"},
		{http.MethodPut, "/v1/metrics", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodGet, "/v1/no/such/route", http.StatusNotFound, ""},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, a.http.URL+tc.path, nil)
			req.Header.Set(api.TokenHeader, a.token.SecretID)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow {
				t.Fatalf("status %d Allow %q, want %d %q", resp.StatusCode, resp.Header.Get("Allow"), tc.status, tc.allow)
			}
		})
	}
}

// /v1/metrics is valid Prometheus text format and holds the Go runtime,
// process, raft, placement, queue and plugin families.
func TestMetricsFamilies(t *testing.T) {
	a := newAgent(t, nil)
	applyMission(t, a, testMission)
	ctx := context.Background()
	if _, err := a.mgmt.SubmitJobs(ctx, []api.JobSubmit{{ID: "j1", Shard: "earth", Capabilities: []string{"sim"}}}); err != nil {
		t.Fatal(err)
	}
	text, err := a.mgmt.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("metrics are not Prometheus text format: %v", err)
	}
	for _, want := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total",
		"process_resident_memory_bytes", "raft_apply", "raft_commitTime", "raft_fsm_applyBatch", "raft_state_leader",
		"planetary_queue_depth", "planetary_placement_plan_seconds", "planetary_placement_commit_seconds",
		"planetary_placement_wait_seconds", "planetary_plugin_nodes", "planetary_jobs"} {
		if fams[want] == nil {
			t.Errorf("metrics lack the %s family", want)
		}
	}
	if t.Failed() {
		var names []string
		for n := range fams {
			names = append(names, n)
		}
		t.Logf("families: %v", names)
	}
}

// BenchmarkBlockingQueryWake measures how long a blocking query on
// /v1/jobs takes to answer a change: from sending a submission (the
// change: its raft commit) to the waiting query's answer holding the job,
// one per op, so it is an upper bound of commit-to-answer. A wake by
// another entry (the scheduler parking the job) only re-arms the query.
func BenchmarkBlockingQueryWake(b *testing.B) {
	a := newAgent(b, nil)
	applyMission(b, a, testMission)
	ctx := context.Background()
	var wake time.Duration
	var seq uint64
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("b%d", i)
		q := url.Values{"shard": {"mars"}, "after": {strconv.FormatUint(seq, 10)}}
		idx, err := a.mgmt.Query(ctx, "/v1/jobs", q, 0, 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		got := make(chan time.Time, 1)
		ready := make(chan struct{})
		go func() {
			close(ready)
			for idx := idx; ; {
				var l api.JobList
				next, err := a.mgmt.Query(ctx, "/v1/jobs", q, idx, time.Minute, &l)
				if err != nil {
					got <- time.Time{}
					return
				}
				for _, j := range l.Jobs {
					if j.ID == id {
						seq = j.Seq
						got <- time.Now()
						return
					}
				}
				idx = next
			}
		}()
		<-ready
		time.Sleep(time.Millisecond) // let the query reach its wait
		sent := time.Now()
		if _, err := a.mgmt.SubmitJobs(ctx, []api.JobSubmit{{ID: id, Shard: "mars"}}); err != nil {
			b.Fatal(err)
		}
		at := <-got
		if at.IsZero() {
			b.Fatal("query failed")
		}
		wake += at.Sub(sent)
	}
	b.ReportMetric(float64(wake.Microseconds())/float64(b.N)/1000, "ms-submit-to-answer/op")
}
