package inference

import (
	"net/http/httptest"
	"testing"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/sdktest"
)

// TestConformance drives the inference agent over real gRPC through sdk/host.
func TestConformance(t *testing.T) {
	srv := httptest.NewServer(&fakeEndpoint{})
	defer srv.Close()
	sdktest.Run(t, New, sdktest.Options{
		Config: map[string]any{"endpoint": srv.URL, "model": "tiny", "price_per_token": 0.00001},
		Tasks: []sdktest.Case{
			{Name: "answer", Task: sdk.Task{JobID: "a", Payload: []byte(`{"prompt":"hi"}`)}, Expect: sdktest.OK},
			{Name: "server error", Task: sdk.Task{JobID: "e", Payload: []byte(`{"prompt":"status:500"}`)}, Expect: sdktest.Failed},
		},
		Cancel: &sdk.Task{JobID: "hang", Payload: []byte(`{"prompt":"hang"}`)},
	})
}
