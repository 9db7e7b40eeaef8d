package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/host"
	"github.com/planetary/planetary/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	sdktest.Run(t, New, sdktest.Options{
		Config: map[string]any{"price": 0.5, "rates": []string{"second=0.01"}, "capabilities": []string{"sim", "cpu"}},
		Node:   sdk.NodeInfo{Seed: 7},
		Tasks: []sdktest.Case{
			{Name: "instant success", Task: sdk.Task{JobID: "ok-1"}, Expect: sdktest.OK},
			{Name: "timed success", Task: sdk.Task{JobID: "ok-2", Payload: []byte(`{"duration_ms": 20}`)}, Expect: sdktest.OK},
			{Name: "certain failure", Task: sdk.Task{JobID: "fail-1", Payload: []byte(`{"fail_rate": 1}`)}, Expect: sdktest.Failed},
			{Name: "bad payload", Task: sdk.Task{JobID: "bad-1", Payload: []byte(`{`)}, Expect: sdktest.Failed},
			{Name: "sized output", Task: sdk.Task{JobID: "out-1", Payload: []byte(`{"output_bytes": 1024}`)}, Expect: outputLen(1024)},
			// A result over the transport's limit fails that task alone
			// (retryably, no result) and the stream carries the next cases.
			{Name: "output over the transport limit", Task: sdk.Task{JobID: "out-2", Payload: []byte(fmt.Sprintf(`{"output_bytes": %d}`, sdk.MaxMessageBytes+1))}, WantErr: host.ErrTaskFailed},
			{Name: "output_bytes at the maximum", Task: sdk.Task{JobID: "out-3", Payload: []byte(fmt.Sprintf(`{"output_bytes": %d}`, MaxOutputBytes))}, WantErr: host.ErrTaskFailed},
			{Name: "output_bytes above the maximum", Task: sdk.Task{JobID: "out-4", Payload: []byte(fmt.Sprintf(`{"output_bytes": %d}`, MaxOutputBytes+1))}, Expect: sdktest.Failed},
			{Name: "output_bytes negative", Task: sdk.Task{JobID: "out-5", Payload: []byte(`{"output_bytes": -1}`)}, Expect: sdktest.Failed},
		},
		Cancel: &sdk.Task{JobID: "long", Payload: []byte(`{"duration_ms": 60000}`)},
	})
}

// outputLen expects a successful result of n bytes of output.
func outputLen(n int) func(sdk.Result) error {
	return func(r sdk.Result) error {
		if !r.OK || len(r.Output) != n {
			return fmt.Errorf("got OK=%v with %d bytes of output, want %d", r.OK, len(r.Output), n)
		}
		return nil
	}
}

func TestDrawDeterministicAndUniform(t *testing.T) {
	if Draw(1, "j", 1) != Draw(1, "j", 1) {
		t.Fatal("draw is not deterministic")
	}
	tests := []struct {
		name string
		a, b float64
	}{
		{"seed", Draw(1, "j", 1), Draw(2, "j", 1)},
		{"job", Draw(1, "j", 1), Draw(1, "k", 1)},
		{"attempt", Draw(1, "j", 1), Draw(1, "j", 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.a == tt.b {
				t.Fatalf("draw ignores the %s", tt.name)
			}
		})
	}
	const n = 20000
	fails := 0
	for i := range n {
		if Draw(42, "job-"+string(rune('a'+i%26))+string(rune(i)), uint32(i%3)) < 0.3 {
			fails++
		}
	}
	if rate := float64(fails) / n; math.Abs(rate-0.3) > 0.02 {
		t.Fatalf("fail rate %.3f, want about 0.3", rate)
	}
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		name    string
		values  map[string]any
		wantErr bool
		want    sdk.PriceSchedule
	}{
		{"prices", map[string]any{"price": 1.25, "rates": []string{"gpu_second=0.002"}}, false,
			sdk.PriceSchedule{Currency: "credit", BaseMu: 1_250_000, Rates: []sdk.PriceRate{{Unit: "gpu_second", PerUnitMu: 2000}}}},
		{"bad rate", map[string]any{"rates": []string{"gpu_second"}}, true, sdk.PriceSchedule{}},
		{"bad fail rate", map[string]any{"fail_rate": 2.0}, true, sdk.PriceSchedule{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New().(*Agent)
			err := a.Configure(context.Background(), sdk.Config{Values: tt.values})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			ps, _ := a.PriceSchedule(context.Background())
			if ps.BaseMu != tt.want.BaseMu || len(ps.Rates) != len(tt.want.Rates) || (len(ps.Rates) > 0 && ps.Rates[0] != tt.want.Rates[0]) {
				t.Fatalf("schedule = %+v, want %+v", ps, tt.want)
			}
		})
	}
}

func TestConfigureRejectedOverGRPC(t *testing.T) {
	p := sdktest.Serve(t, New)
	err := p.Configure(context.Background(), sdk.Config{Values: map[string]any{"fail_rate": 5.0}})
	if !errors.Is(err, host.ErrConfigRejected) {
		t.Fatalf("err = %v, want ErrConfigRejected", err)
	}
}

func TestExecLog(t *testing.T) {
	tests := []struct {
		name    string
		execLog string
		dataDir bool
		tasks   []sdk.Task
		want    string
		wantErr bool
	}{
		{"off", "", true, []sdk.Task{{JobID: "a", Attempt: 1}}, "", false},
		{"one line per execution", "exec.log", true,
			[]sdk.Task{{JobID: "a", Attempt: 1}, {JobID: "b", Attempt: 1}, {JobID: "a", Attempt: 2}}, "a 1\nb 1\na 2\n", false},
		{"path outside the data dir", "../exec.log", true, nil, "", true},
		{"no data dir", "exec.log", false, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			node := sdk.NodeInfo{ID: "n1"}
			if tt.dataDir {
				node.DataDir = dir
			}
			a := New().(*Agent)
			err := a.Configure(context.Background(), sdk.Config{Node: node, Values: map[string]any{"exec_log": tt.execLog}})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Configure err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrBadExecLog) {
					t.Fatalf("err = %v, want ErrBadExecLog", err)
				}
				return
			}
			for _, task := range tt.tasks {
				if _, err := a.Execute(context.Background(), task); err != nil {
					t.Fatal(err)
				}
			}
			if tt.execLog == "" {
				return
			}
			b, err := os.ReadFile(filepath.Join(dir, tt.execLog))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("exec log = %q, want %q", b, tt.want)
			}
		})
	}
}
