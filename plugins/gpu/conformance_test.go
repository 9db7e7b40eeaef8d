package gpu

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/sdktest"
)

// TestConformance drives the gpu agent over real gRPC through sdk/host.
func TestConformance(t *testing.T) {
	withFakeSMI(t)
	raw := func(p Payload) []byte { b, _ := json.Marshal(p); return b }
	outputIs := func(want string) func(sdk.Result) error {
		return func(r sdk.Result) error {
			if !r.OK || strings.TrimSpace(r.Output) != want {
				return fmt.Errorf("want OK with output %q", want)
			}
			return nil
		}
	}
	sdktest.Run(t, New, sdktest.Options{
		Config: map[string]any{"price_per_gpu_second": 0.001, "capabilities": []string{"cuda12"}, "stop_grace": "100ms"},
		Tasks: []sdktest.Case{
			{Name: "4 gpus", Task: sdk.Task{JobID: "all", Payload: raw(Payload{Command: "sh", Args: []string{"-c", "echo $CUDA_VISIBLE_DEVICES"}, GPUs: 4})}, Expect: outputIs("0,1,2,3")},
			{Name: "exit 3", Task: sdk.Task{JobID: "exit", Payload: raw(Payload{Command: "sh", Args: []string{"-c", "exit 3"}})}, Expect: sdktest.Failed},
			{Name: "bad payload", Task: sdk.Task{JobID: "bad", Payload: []byte("{")}, Expect: sdktest.Failed},
		},
		Cancel: &sdk.Task{JobID: "long", Payload: raw(Payload{Command: "sleep", Args: []string{"30"}})},
	})
}
