package gpu

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/planetary/planetary/sdk"
)

const fakeSMI = `#!/bin/sh
cat <<'OUT'
0, NVIDIA A100-SXM4-40GB, 40960
1, NVIDIA A100-SXM4-40GB, 40960
2, NVIDIA A100-SXM4-40GB, 40960
3, NVIDIA A100-SXM4-40GB, 40960
OUT
`

// withFakeSMI puts a fake nvidia-smi reporting 4 GPUs first on PATH.
func withFakeSMI(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nvidia-smi"), []byte(fakeSMI), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func configured(t *testing.T, values map[string]any) *Agent {
	t.Helper()
	a := newAgent()
	if err := a.Configure(context.Background(), sdk.Config{Values: values}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return a
}

func payload(t *testing.T, p Payload) []byte {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestParseSMI(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    []Device
		wantErr bool
	}{
		{"empty", "", nil, false},
		{"two sorted", "1, Tesla T4, 15360\n0, Tesla T4, 15360\n", []Device{{0, "Tesla T4", 15360}, {1, "Tesla T4", 15360}}, false},
		{"comma in name", "0, Odd, Name, 100\n", []Device{{0, "Odd, Name", 100}}, false},
		{"bad index", "x, T4, 1\n", nil, true},
		{"short line", "0, T4\n", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSMI([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConfigure(t *testing.T) {
	cases := []struct {
		name    string
		values  map[string]any
		wantErr bool
	}{
		{"defaults", nil, false},
		{"prices", map[string]any{"price_base": 0.5, "price_per_gpu_second": 0.001}, false},
		{"negative price", map[string]any{"price_base": -1.0}, true},
		{"bad type", map[string]any{"nvidia_smi": 3.0}, true},
		{"bad duration", map[string]any{"stop_grace": "soon"}, true},
		{"bad caps", map[string]any{"capabilities": "x"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := newAgent().Configure(context.Background(), sdk.Config{Values: tc.values})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Fatalf("err %v is not ErrConfig", err)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	cases := []struct {
		name     string
		fake     bool
		smi      string
		wantGPUs int64
		wantCaps []string
		wantMsg  string
	}{
		{"four gpus", true, "", 4, []string{"gpu", "gpu:NVIDIA A100-SXM4-40GB", "cuda12"}, "4 GPU(s)"},
		{"missing", false, "nvidia-smi-absent", 0, []string{"cuda12"}, "no GPUs found: nvidia-smi-absent not on PATH"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fake {
				withFakeSMI(t)
			}
			vals := map[string]any{"capabilities": []string{"cuda12"}}
			if tc.smi != "" {
				vals["nvidia_smi"] = tc.smi
			}
			a := configured(t, vals)
			ctx, cancel := context.WithCancel(context.Background())
			ch, err := a.Fingerprint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			fp := <-ch
			if fp.Resources.GPUs != tc.wantGPUs || !slices.Equal(fp.Capabilities, tc.wantCaps) {
				t.Fatalf("fingerprint = %+v", fp)
			}
			if !strings.HasPrefix(fp.Message, tc.wantMsg) {
				t.Fatalf("message = %q, want prefix %q", fp.Message, tc.wantMsg)
			}
			cancel()
			for range ch { // the stream closes when ctx is done
			}
		})
	}
}

func TestPriceSchedule(t *testing.T) {
	a := configured(t, map[string]any{"price_base": 0.25, "price_per_gpu_second": 0.0015})
	ps, err := a.PriceSchedule(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ps.BaseMu != 250000 || len(ps.Rates) != 1 || ps.Rates[0] != (sdk.PriceRate{Unit: "gpu_second", PerUnitMu: 1500}) {
		t.Fatalf("schedule = %+v", ps)
	}
}

// Two concurrent 2-GPU jobs on a 4-GPU node hold disjoint devices; a third
// job finds none free and gets a retryable failure.
func TestConcurrentAllocationDisjoint(t *testing.T) {
	withFakeSMI(t)
	a := configured(t, nil)
	dir := t.TempDir()
	script := `echo $CUDA_VISIBLE_DEVICES > "$D/$J"; while [ ! -f "$D/go" ]; do sleep 0.01; done; echo $CUDA_VISIBLE_DEVICES`
	var wg sync.WaitGroup
	results := make([]sdk.Result, 2)
	for i, job := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := payload(t, Payload{Command: "sh", Args: []string{"-c", script}, GPUs: 2,
				Env: map[string]string{"D": dir, "J": job}, TimeoutMS: 20000})
			r, err := a.Execute(context.Background(), sdk.Task{JobID: job, Attempt: 1, Payload: p})
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		}()
	}
	read := func(job string) string {
		b, _ := os.ReadFile(filepath.Join(dir, job))
		return strings.TrimSpace(string(b))
	}
	waitFor(t, "both jobs running", func() bool { return read("a") != "" && read("b") != "" })

	third, err := a.Execute(context.Background(), sdk.Task{JobID: "c", Attempt: 1,
		Payload: payload(t, Payload{Command: "true", GPUs: 1})})
	if err != nil {
		t.Fatal(err)
	}
	if third.OK || !third.Retryable || !strings.Contains(third.Error, "0 of 4 free") {
		t.Fatalf("third job = %+v, want retryable failure", third)
	}

	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, r := range results {
		if !r.OK {
			t.Fatalf("job %d failed: %+v", i, r)
		}
		devs := strings.Split(strings.TrimSpace(r.Output), ",")
		if len(devs) != 2 {
			t.Fatalf("job %d got devices %q", i, r.Output)
		}
		for _, d := range devs {
			if seen[d] {
				t.Fatalf("device %s allotted twice: %+v", d, results)
			}
			seen[d] = true
		}
		if r.Usage["gpu_second"] <= 0 {
			t.Fatalf("usage = %v", r.Usage)
		}
	}
	// Released: all four are free again.
	r, _ := a.Execute(context.Background(), sdk.Task{JobID: "d", Attempt: 1,
		Payload: payload(t, Payload{Command: "sh", Args: []string{"-c", "echo $CUDA_VISIBLE_DEVICES"}, GPUs: 4})})
	if !r.OK || strings.TrimSpace(r.Output) != "0,1,2,3" {
		t.Fatalf("after release = %+v", r)
	}
}

func TestExecuteOutcomes(t *testing.T) {
	withFakeSMI(t)
	cases := []struct {
		name      string
		payload   string
		values    map[string]any
		wantOK    bool
		wantExit  int64
		wantErr   string
		wantOut   string
		retryable bool
	}{
		{"echo", `{"command":"sh","args":["-c","echo hi $X"],"env":{"X":"there"},"gpus":1}`, nil, true, 0, "", "hi there", false},
		{"exit 3", `{"command":"sh","args":["-c","exit 3"]}`, nil, false, 3, "exit status 3", "", false},
		{"timeout", `{"command":"sh","args":["-c","sleep 5"],"timeout_ms":100}`, map[string]any{"stop_grace": "100ms"}, false, -1, "timed out after 100ms", "", false},
		{"too many gpus", `{"command":"true","gpus":5}`, nil, false, -1, "need 5 GPU(s), 4 of 4 free", "", true},
		{"bad json", `{`, nil, false, -1, "invalid payload", "", false},
		{"no command", `{}`, nil, false, -1, "command is required", "", false},
		{"truncated", `{"command":"sh","args":["-c","echo 0123456789"]}`, map[string]any{"output_limit": 4.0}, true, 0, "", "0123\n[output truncated", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := configured(t, tc.values)
			start := time.Now()
			r, err := a.Execute(context.Background(), sdk.Task{JobID: tc.name, Attempt: 1, Payload: []byte(tc.payload)})
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("took %s", time.Since(start))
			}
			if r.OK != tc.wantOK || r.ExitCode != tc.wantExit || r.Retryable != tc.retryable ||
				!strings.Contains(r.Error, tc.wantErr) || !strings.Contains(r.Output, tc.wantOut) {
				t.Fatalf("result = %+v", r)
			}
		})
	}
}

func TestExecuteCancel(t *testing.T) {
	withFakeSMI(t)
	a := configured(t, map[string]any{"stop_grace": "200ms"})
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	done := make(chan sdk.Result, 1)
	go func() {
		p := payload(t, Payload{Command: "sh", Args: []string{"-c", `touch "$D/started"; sleep 30`},
			Env: map[string]string{"D": dir}, GPUs: 2})
		r, _ := a.Execute(ctx, sdk.Task{JobID: "x", Attempt: 1, Payload: p})
		done <- r
	}()
	waitFor(t, "job start", func() bool { _, err := os.Stat(filepath.Join(dir, "started")); return err == nil })
	cancel()
	select {
	case r := <-done:
		if r.OK || !strings.Contains(r.Error, "cancelled") {
			t.Fatalf("result = %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Execute did not return after cancel")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.inUse) != 0 {
		t.Fatalf("GPUs still in use: %v", a.inUse)
	}
}
