package compliance

import (
	"errors"
	"testing"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/sdktest"
)

// TestConformance drives the compliance agent over real gRPC through sdk/host.
func TestConformance(t *testing.T) {
	exit := func(code int64) func(sdk.Result) error {
		return func(r sdk.Result) error {
			if !r.OK || r.ExitCode != code {
				return errors.New("unexpected decision")
			}
			return nil
		}
	}
	sdktest.Run(t, New, sdktest.Options{
		Config: baseConfig(),
		Tasks: []sdktest.Case{
			{Name: "allow", Task: sdk.Task{JobID: "a", Payload: []byte(`{"text":"fine","residency":"eu-west"}`)}, Expect: exit(0)},
			{Name: "deny", Task: sdk.Task{JobID: "d", Payload: []byte(`{"text":"bob@example.com"}`)}, Expect: exit(1)},
			{Name: "bad payload", Task: sdk.Task{JobID: "b", Payload: []byte(`[`)}, Expect: sdktest.Failed},
		},
	})
}
