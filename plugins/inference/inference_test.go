package inference

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/planetary/planetary/sdk"
)

// fakeEndpoint speaks the chat-completions and models shapes. A prompt of
// "status:NNN" makes it answer with that status; "hang" blocks until the
// request is cancelled.
type fakeEndpoint struct {
	wantKey string
	calls   atomic.Int64
	last    atomic.Pointer[chatRequest]
}

func (f *fakeEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.wantKey != "" && r.Header.Get("Authorization") != "Bearer "+f.wantKey {
		http.Error(w, `{"error":{"message":"bad key"}}`, http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
		_, _ = w.Write([]byte(`{"object":"list","data":[{"id":"tiny","object":"model"}]}`))
	case r.Method == http.MethodPost && r.URL.Path == "/v1/chat/completions":
		f.calls.Add(1)
		var req chatRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.last.Store(&req)
		prompt := req.Messages[len(req.Messages)-1].Content
		if code, ok := strings.CutPrefix(prompt, "status:"); ok {
			n, _ := strconv.Atoi(code)
			http.Error(w, `{"error":{"message":"`+strings.Repeat("x", 600)+`"}}`, n)
			return
		}
		if prompt == "hang" {
			<-r.Context().Done()
			return
		}
		resp := map[string]any{
			"id":      "c1",
			"object":  "chat.completion",
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": "echo: " + prompt}, "finish_reason": "stop"}},
			"usage":   map[string]any{"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12},
		}
		_ = json.NewEncoder(w).Encode(resp)
	default:
		http.NotFound(w, r)
	}
}

func setup(t *testing.T, extra map[string]any) (*Agent, *fakeEndpoint, *httptest.Server) {
	t.Helper()
	f := &fakeEndpoint{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	vals := map[string]any{"endpoint": srv.URL + "/", "model": "tiny", "price_per_token": 0.00002}
	for k, v := range extra {
		vals[k] = v
	}
	a := newAgent()
	if err := a.Configure(context.Background(), sdk.Config{Values: vals}); err != nil {
		t.Fatal(err)
	}
	return a, f, srv
}

func TestConfigure(t *testing.T) {
	cases := []struct {
		name   string
		values map[string]any
		ok     bool
	}{
		{"minimal", map[string]any{"endpoint": "http://x", "model": "m"}, true},
		{"no endpoint", map[string]any{"model": "m"}, false},
		{"bad scheme", map[string]any{"endpoint": "x:1", "model": "m"}, false},
		{"no model", map[string]any{"endpoint": "http://x"}, false},
		{"bad timeout", map[string]any{"endpoint": "http://x", "model": "m", "timeout": "fast"}, false},
		{"zero timeout", map[string]any{"endpoint": "http://x", "model": "m", "timeout": 0.0}, false},
		{"negative price", map[string]any{"endpoint": "http://x", "model": "m", "price_per_token": -1.0}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := newAgent().Configure(context.Background(), sdk.Config{Values: tc.values})
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestExecute(t *testing.T) {
	temp := 0.2
	cases := []struct {
		name      string
		payload   any
		wantOK    bool
		wantOut   string
		wantErr   string
		wantExit  int64
		retryable bool
	}{
		{"answer", Payload{Prompt: "hello", System: "be brief", MaxTokens: 16, Temperature: &temp}, true, "echo: hello", "", 0, false},
		{"server error", Payload{Prompt: "status:503"}, false, "", "503 Service Unavailable", 503, true},
		{"rate limited", Payload{Prompt: "status:429"}, false, "", "429 Too Many Requests", 429, true},
		{"bad request", Payload{Prompt: "status:400"}, false, "", "400 Bad Request: {\"error\"", 400, false},
		{"no prompt", Payload{}, false, "", "prompt is required", -1, false},
		{"not json", "{", false, "", "invalid payload", -1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, f, _ := setup(t, nil)
			var raw []byte
			if s, ok := tc.payload.(string); ok {
				raw = []byte(s)
			} else {
				raw, _ = json.Marshal(tc.payload)
			}
			r, err := a.Execute(context.Background(), sdk.Task{JobID: "j", Attempt: 1, Payload: raw})
			if err != nil {
				t.Fatal(err)
			}
			if r.OK != tc.wantOK || r.Output != tc.wantOut || r.ExitCode != tc.wantExit ||
				r.Retryable != tc.retryable || !strings.Contains(r.Error, tc.wantErr) {
				t.Fatalf("result = %+v", r)
			}
			if len(r.Error) > excerptLimit+200 {
				t.Fatalf("error not bounded: %d bytes", len(r.Error))
			}
			if tc.name == "answer" {
				want := map[string]float64{"token": 12, "prompt_tokens": 7, "completion_tokens": 5}
				for k, v := range want {
					if r.Usage[k] != v {
						t.Fatalf("usage = %v, want %v", r.Usage, want)
					}
				}
				req := f.last.Load()
				if req.Model != "tiny" || len(req.Messages) != 2 || req.Messages[0].Role != "system" ||
					req.MaxTokens != 16 || req.Temperature == nil || *req.Temperature != 0.2 {
					t.Fatalf("request = %+v", req)
				}
			}
		})
	}
}

func TestExecuteAPIKey(t *testing.T) {
	t.Setenv("PLANETARY_TEST_KEY", "s3cret")
	a, f, _ := setup(t, map[string]any{"api_key_env": "PLANETARY_TEST_KEY"})
	f.wantKey = "s3cret"
	r, _ := a.Execute(context.Background(), sdk.Task{Payload: []byte(`{"prompt":"hi"}`)})
	if !r.OK {
		t.Fatalf("with key: %+v", r)
	}
	f.wantKey = "other"
	r, _ = a.Execute(context.Background(), sdk.Task{Payload: []byte(`{"prompt":"hi"}`)})
	if r.OK || r.ExitCode != 401 || r.Retryable {
		t.Fatalf("wrong key: %+v", r)
	}
}

func TestExecuteCancelAndTimeout(t *testing.T) {
	cases := []struct {
		name    string
		cancel  bool
		wantErr string
	}{
		{"cancel", true, "cancelled"},
		{"timeout", false, "timed out after 100ms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, f, _ := setup(t, map[string]any{"timeout": "100ms"})
			if tc.cancel {
				a.cfg.Timeout = time.Minute
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan sdk.Result, 1)
			go func() {
				r, _ := a.Execute(ctx, sdk.Task{Payload: []byte(`{"prompt":"hang"}`)})
				done <- r
			}()
			if tc.cancel {
				deadline := time.Now().Add(5 * time.Second)
				for f.calls.Load() == 0 && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				cancel()
			}
			select {
			case r := <-done:
				if r.OK || !strings.Contains(r.Error, tc.wantErr) {
					t.Fatalf("result = %+v", r)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Execute did not return")
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	a, _, srv := setup(t, map[string]any{"capabilities": []string{"fast"}, "health_timeout": "200ms"})
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := a.Fingerprint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fp := <-ch
	if !fp.Healthy || !slices.Equal(fp.Capabilities, []string{"inference", "model:tiny", "fast"}) {
		t.Fatalf("fingerprint = %+v", fp)
	}
	cancel()
	for range ch {
	}

	srv.Close()
	start := time.Now()
	fp = a.fingerprint(context.Background())
	if fp.Healthy || !strings.Contains(fp.Message, "endpoint unhealthy") {
		t.Fatalf("after close: %+v", fp)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("health probe took %s", time.Since(start))
	}
}

func TestFingerprintHangingEndpoint(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	a := newAgent()
	if err := a.Configure(context.Background(), sdk.Config{Values: map[string]any{
		"endpoint": srv.URL, "model": "m", "health_timeout": "100ms"}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	fp := a.fingerprint(context.Background())
	if fp.Healthy || time.Since(start) > 2*time.Second {
		t.Fatalf("fingerprint = %+v after %s", fp, time.Since(start))
	}
}

func TestPriceSchedule(t *testing.T) {
	a, _, _ := setup(t, map[string]any{"price_base": 0.01})
	ps, _ := a.PriceSchedule(context.Background())
	if ps.BaseMu != 10000 || ps.Rates[0] != (sdk.PriceRate{Unit: "token", PerUnitMu: 20}) {
		t.Fatalf("schedule = %+v", ps)
	}
}
