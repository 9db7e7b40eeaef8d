package api

import (
	"bytes"
	"errors"
	"testing"

	"github.com/planetary/planetary/core/limits"
)

// FuzzDecodeSubmit checks that no body makes the submit decoder or its
// validation panic, that every refusal is a 4xx naming a field or the body,
// and that every accepted job is within the limits.
func FuzzDecodeSubmit(f *testing.F) {
	for _, s := range []string{
		`[{"shard":"earth","id":"a","priority":3,"value":1.5,"payload":{"x":1}}]`,
		`[{"shard":"earth"}][{"shard":"earth"}]`,
		`[{"shard":"earth","value":9.3e12}]`,
		`[{"shard":"earth","id":"../x"}]`,
		`[]`, `null`, `{}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeSubmit(bytes.NewReader(body))
		if err == nil {
			_, err = validateSubmit(req)
			if err == nil {
				for i, j := range req {
					if len(j.ID) > limits.MaxJobIDLen || len(j.Payload) > limits.MaxPayloadBytes ||
						len(j.Capabilities) > limits.MaxCapabilities || j.Value > limits.MaxCredits ||
						j.MaxPrice > limits.MaxCredits || j.Value < 0 || j.MaxPrice < 0 {
						t.Fatalf("jobs[%d] accepted outside the limits: %+v", i, j)
					}
				}
				return
			}
		}
		var ae *apiError
		if !errors.As(err, &ae) || ae.status < 400 || ae.status >= 500 {
			t.Fatalf("refusal %v is not a 4xx apiError", err)
		}
	})
}
