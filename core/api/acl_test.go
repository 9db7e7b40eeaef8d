package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/planetary/planetary/core/api"
)

// mutatingRoutes lists every route that proposes to raft, with a body that
// would be valid, and whether a submit token is enough.
var mutatingRoutes = []struct {
	method, path, body string
	submit             bool
}{
	{"POST", "/v1/acl/tokens", `{"name":"x","type":"read"}`, false},
	{"PUT", "/v1/mission", `{"filename":"m.hcl","hcl":"mission \"m\" { seed = 1 }"}`, false},
	{"POST", "/v1/jobs", `[{"shard":"earth"}]`, true},
	{"POST", "/v1/job/j1/cancel", `{}`, false},
	{"POST", "/v1/job/j1/reroute", `{"shard":"mars"}`, false},
	{"POST", "/v1/jobs/cancel", `{"shard":"earth","tail":1}`, false},
	{"POST", "/v1/jobs/reroute", `{"shard":"earth","tail":1,"target":"mars"}`, false},
	{"POST", "/v1/shards", `{"name":"venus"}`, false},
	{"POST", "/v1/shard/earth/update", `{"max_queue":5}`, false},
	{"POST", "/v1/shard/earth/deregister", `{"spill_to":"mars"}`, false},
	{"POST", "/v1/nodes", `{"id":"n9","shard":"earth","capacity":1}`, false},
	{"POST", "/v1/node/n1/update", `{"capacity":2}`, false},
	{"POST", "/v1/node/n1/retire", `{}`, false},
	{"POST", "/v1/operator/pause", `{}`, false},
	{"POST", "/v1/operator/resume", `{}`, false},
	{"POST", "/v1/operator/checkpoint", `{"interval_ms":1000}`, false},
	{"POST", "/v1/operator/checkpoint/save", `{}`, false},
	{"POST", "/v1/operator/reporting", `{"label":"x"}`, false},
	{"PUT", "/v1/operator/snapshot", `garbage`, false},
	{"POST", "/v1/client/register", `{"client":"c1","nodes":[],"kinds":["sim"]}`, false},
	{"POST", "/v1/client/heartbeat", `{"client":"c1","nodes":[{"id":"n1","healthy":true}]}`, false},
	{"POST", "/v1/client/results", `{"client":"c1","results":[{"job":"j1","attempt":1,"ok":true}]}`, false},
	{"GET", "/v1/client/assignments?client=c1", ``, false},
}

func rawCall(t *testing.T, base, method, path, token, body string) (int, api.ErrorBody) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var eb api.ErrorBody
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &eb)
	return resp.StatusCode, eb
}

// TestRefusedCallsProposeNothing checks every mutating route with no
// token, an unknown token, a read token and (for owner routes) a submit
// token: each is refused with 401/403 and the raft index does not move.
func TestRefusedCallsProposeNothing(t *testing.T) {
	a := newAgent(t, nil)
	ctx := context.Background()
	readTok, err := a.mgmt.CreateToken(ctx, "reader", api.TokenTypeRead)
	if err != nil {
		t.Fatal(err)
	}
	submitTok, err := a.mgmt.CreateToken(ctx, "submitter", api.TokenTypeSubmit)
	if err != nil {
		t.Fatal(err)
	}
	callers := []struct {
		name   string
		token  string
		status int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"unknown token", "00000000-0000-0000-0000-000000000000", http.StatusUnauthorized},
		{"read token", readTok.SecretID, http.StatusForbidden},
		{"submit token", submitTok.SecretID, http.StatusForbidden},
	}
	for _, rt := range mutatingRoutes {
		for _, c := range callers {
			if c.name == "submit token" && rt.submit {
				continue
			}
			t.Run(rt.method+" "+rt.path+"/"+c.name, func(t *testing.T) {
				before, last := a.srv.AppliedIndex(), a.srv.LastIndex()
				status, eb := rawCall(t, a.http.URL, rt.method, rt.path, c.token, rt.body)
				if status != c.status {
					t.Fatalf("status %d (%s), want %d", status, eb.Error, c.status)
				}
				if eb.Error == "" {
					t.Fatalf("no JSON error body")
				}
				if got, gotLast := a.srv.AppliedIndex(), a.srv.LastIndex(); got != before || gotLast != last {
					t.Fatalf("raft index moved: applied %d -> %d, last %d -> %d", before, got, last, gotLast)
				}
			})
		}
	}
}

func TestBootstrapOnce(t *testing.T) {
	a := newAgent(t, nil)
	last := a.srv.LastIndex()
	_, err := a.anon.ACLBootstrap(context.Background())
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Fatalf("second bootstrap: %v, want 409", err)
	}
	if a.srv.LastIndex() != last {
		t.Fatalf("second bootstrap proposed")
	}
}

func TestReadAccess(t *testing.T) {
	tests := []struct {
		name      string
		anonymous bool
		token     string // "", "read", "submit"
		want      int
	}{
		{"anonymous refused", false, "", http.StatusUnauthorized},
		{"anonymous allowed", true, "", http.StatusOK},
		{"read token", false, "read", http.StatusOK},
		{"submit token reads", false, "submit", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgent(t, func(c *api.Config) { c.AllowAnonymousRead = tc.anonymous })
			c := a.anon
			if tc.token != "" {
				c = a.tokenClient(t, tc.token)
			}
			_, err := c.Shards(context.Background())
			status := http.StatusOK
			var ae *api.Error
			if errors.As(err, &ae) {
				status = ae.Status
			} else if err != nil {
				t.Fatal(err)
			}
			if status != tc.want {
				t.Fatalf("status %d, want %d (%v)", status, tc.want, err)
			}
			// Health needs no token at all.
			if _, err := a.anon.Health(context.Background()); err != nil {
				t.Fatalf("health: %v", err)
			}
			// Token listing is management only.
			if _, err := c.Tokens(context.Background()); err == nil {
				t.Fatalf("token list allowed for %s", tc.name)
			}
		})
	}
}
