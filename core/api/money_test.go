package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/api/client"
)

// TestMoneyExact checks that money is integer micro-credits end to end: an
// amount the Go client submits reaches the job's status exactly, in the
// request and answer bodies as integers, and a node's price the same way.
func TestMoneyExact(t *testing.T) {
	a := newAgent(t, nil)
	applyMission(t, a, testMission)
	ctx := context.Background()

	// The Go client talks through a proxy that keeps the submit bodies.
	var mu sync.Mutex
	var bodies []string
	target, _ := url.Parse(a.http.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/jobs" {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(ps.Close)
	c, err := client.NewClient(client.ClientConfig{Address: ps.URL, Token: a.token.SecretID})
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name            string
		value, maxPrice int64 // micro-credits
	}{
		{"one micro-credit", 1, 1},
		{"123456789.123456 credits", 123_456_789_123_456, 123_456_789_123_457},
		{"the money limit", 1_000_000_000_000_000, 999_999_999_999_999},
		{"whole credits", 2_000_000, 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("money-%d", i)
			res, err := c.SubmitJobs(ctx, []api.JobSubmit{{ID: id, Shard: "mars", Kind: "sim",
				ValueMicro: tc.value, MaxPriceMicro: tc.maxPrice}})
			if err != nil || res[0].Status != api.StatusAccepted {
				t.Fatalf("submit: %+v %v", res, err)
			}
			mu.Lock()
			sent := bodies[len(bodies)-1]
			mu.Unlock()
			if want := fmt.Sprintf(`"value_micro":%d`, tc.value); !strings.Contains(sent, want) ||
				strings.Contains(sent, `"value":`) || strings.Contains(sent, `"max_price":`) {
				t.Fatalf("the client sent %s; want %s and no decimal amounts", sent, want)
			}
			j, err := c.Job(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if j.ValueMicro != tc.value || j.MaxPriceMicro != tc.maxPrice {
				t.Fatalf("status: value_micro %d max_price_micro %d; submitted %d, %d",
					j.ValueMicro, j.MaxPriceMicro, tc.value, tc.maxPrice)
			}
			raw := rawGet(t, a, "/v1/job/"+id)
			if want := fmt.Sprintf(`"value_micro":%d`, tc.value); !strings.Contains(raw, want) {
				t.Fatalf("GET /v1/job/%s = %s; want %s", id, raw, want)
			}
		})
	}

	// A JSON caller may give decimal credits, or both forms when they agree;
	// disagreeing forms are refused naming the field.
	for _, tc := range []struct {
		name, body string
		status     int
		want       int64
		field      string
	}{
		{"credits", `[{"id":"dec-1","shard":"mars","value":0.000001}]`, 200, 1, ""},
		{"both agree", `[{"id":"dec-2","shard":"mars","value":123456789.123456,"value_micro":123456789123456}]`, 200, 123_456_789_123_456, ""},
		{"both disagree", `[{"id":"dec-3","shard":"mars","value":1.5,"value_micro":1500001}]`, 400, 0, "jobs[0].value_micro"},
		{"negative micro", `[{"id":"dec-4","shard":"mars","max_price_micro":-1}]`, 400, 0, "jobs[0].max_price_micro"},
		{"above the limit", `[{"id":"dec-5","shard":"mars","value_micro":1000000000000001}]`, 400, 0, "jobs[0].value_micro"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := rawPost(t, a, "/v1/jobs", tc.body)
			if status != tc.status {
				t.Fatalf("status %d %s; want %d", status, body, tc.status)
			}
			if tc.status != 200 {
				var eb api.ErrorBody
				if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Field != tc.field {
					t.Fatalf("error body %s; want field %s", body, tc.field)
				}
				return
			}
			var sub []map[string]any
			_ = json.Unmarshal([]byte(tc.body), &sub)
			j, err := a.mgmt.Job(ctx, sub[0]["id"].(string))
			if err != nil || j.ValueMicro != tc.want {
				t.Fatalf("job: value_micro %d %v; want %d", j.ValueMicro, err, tc.want)
			}
		})
	}

	// A node's price keeps its micro-credits too.
	price := api.Price{Unit: "job", BaseMicro: 123_456_789_123_456, Rates: []api.PriceRate{{Unit: "token", PerUnitMicro: 1}}}
	if _, err := a.mgmt.RegisterNode(ctx, api.Node{ID: "mars.px", Shard: "mars", Plugin: "sim", Capacity: 1, Price: price}); err != nil {
		t.Fatalf("RegisterNode: %v", err)
	}
	n, err := a.mgmt.Node(ctx, "mars.px")
	if err != nil {
		t.Fatal(err)
	}
	if n.Price.BaseMicro != price.BaseMicro || len(n.Price.Rates) != 1 || n.Price.Rates[0].PerUnitMicro != 1 {
		t.Fatalf("node price %+v; registered %+v", n.Price, price)
	}
}

func rawGet(t *testing.T, a *agent, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.http.URL+path, nil)
	req.Header.Set(api.TokenHeader, a.token.SecretID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func rawPost(t *testing.T, a *agent, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.http.URL+path, strings.NewReader(body))
	req.Header.Set(api.TokenHeader, a.token.SecretID)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
