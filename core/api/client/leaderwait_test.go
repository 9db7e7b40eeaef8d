package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A write answered 503 "no leader" (refused before anything was proposed)
// is sent again, body and all, until a leader answers; any other refusal,
// and "no leader" with the wait turned off, is returned at once.
func TestCallRetriesWhileNoLeader(t *testing.T) {
	var calls atomic.Int32
	var refuseFirst int32 = 3
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		n := calls.Add(1)
		switch {
		case r.URL.Path == "/v1/conflict":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error":"exists"}`))
		case n <= refuseFirst:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"no leader"}`))
		case string(b) != `{"name":"earth"}`:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"body lost on retry: ` + string(b) + `"}`))
		default:
			_, _ = w.Write([]byte(`{"index":7}`))
		}
	}))
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c, err := NewClient(ClientConfig{Address: hs.URL, LeaderWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.post(ctx, "/v1/shards", map[string]string{"name": "earth"})
	if err != nil || res.Index != 7 || calls.Load() != refuseFirst+1 {
		t.Fatalf("after %d calls: %+v %v", calls.Load(), res, err)
	}

	calls.Store(0)
	_, err = c.post(ctx, "/v1/conflict", nil)
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict || calls.Load() != 1 {
		t.Fatalf("a conflict after %d calls: %v", calls.Load(), err)
	}

	calls.Store(0)
	none, _ := NewClient(ClientConfig{Address: hs.URL, LeaderWait: -1})
	if _, err := none.post(ctx, "/v1/shards", nil); !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || calls.Load() != 1 {
		t.Fatalf("without a leader wait, after %d calls: %v", calls.Load(), err)
	}
}
