package container

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/sdktest"
)

// TestConformance drives the container agent over real gRPC through sdk/host.
func TestConformance(t *testing.T) {
	needPodman(t)
	raw := func(p Payload) []byte { b, _ := json.Marshal(p); return b }
	sdktest.Run(t, New, sdktest.Options{
		Config: baseValues(),
		Node:   sdk.NodeInfo{ID: "conformance-node"},
		Tasks: []sdktest.Case{
			{Name: "echo", Task: sdk.Task{JobID: "c-echo", Payload: raw(Payload{Image: testImage, Command: []string{"echo", "hi"}})}, Expect: sdktest.OK},
			{Name: "exit 3", Task: sdk.Task{JobID: "c-exit", Payload: raw(Payload{Image: testImage, Command: []string{"sh", "-c", "exit 3"}})}, Expect: sdktest.Failed},
			{Name: "absent image", Task: sdk.Task{JobID: "c-absent", Payload: raw(Payload{Image: "localhost/absent:1"})}, Expect: sdktest.Failed},
		},
		Cancel:  &sdk.Task{JobID: "c-cancel", Payload: raw(Payload{Image: testImage, Command: []string{"sleep", "30"}})},
		Timeout: 30 * time.Second,
	})
	for _, job := range []string{"c-echo", "c-exit", "c-cancel"} {
		if left := leftovers(t, job); len(left) != 0 {
			t.Errorf("%s left containers %v", job, left)
		}
	}
}
