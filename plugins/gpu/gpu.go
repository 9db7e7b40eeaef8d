// Package gpu is the built-in GPU agent. It fingerprints NVIDIA GPUs with
// nvidia-smi, publishes a per-GPU-second price schedule, and runs commands
// with CUDA_VISIBLE_DEVICES set to the devices it allots to each task.
// Allotments are disjoint between concurrent tasks and released when a task
// finishes.
package gpu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/planetary/planetary/sdk"
)

// Version is the agent's version.
const Version = "0.1.0"

var (
	// ErrConfig means a config value is missing or of the wrong type.
	ErrConfig = errors.New("gpu: invalid config")
	// ErrPayload means a task payload is not valid JSON for Payload.
	ErrPayload = errors.New("gpu: invalid payload")
	// ErrNoSMI means nvidia-smi could not be found or run.
	ErrNoSMI = errors.New("gpu: nvidia-smi unavailable")
)

// Device is one GPU reported by nvidia-smi.
type Device struct {
	Index    int
	Name     string
	MemoryMB int64
}

// Config is the agent's parsed configuration.
type Config struct {
	// NvidiaSMI is the nvidia-smi binary; a bare name is looked up on PATH.
	NvidiaSMI string
	// PriceBaseMu and PricePerGPUSecondMu are in micro-credits (the config
	// takes decimal credits: price_base, price_per_gpu_second).
	PriceBaseMu         int64
	PricePerGPUSecondMu int64
	// Capabilities are added to "gpu" and "gpu:<name>".
	Capabilities []string
	// OutputLimit bounds captured stdout+stderr in bytes.
	OutputLimit int
	// StopGrace is how long a cancelled command gets between SIGTERM and SIGKILL.
	StopGrace time.Duration
	// FingerprintInterval is how often the fingerprint stream re-probes.
	FingerprintInterval time.Duration
}

// DefaultConfig returns the defaults used for unset values.
func DefaultConfig() Config {
	return Config{
		NvidiaSMI:           "nvidia-smi",
		OutputLimit:         64 << 10,
		StopGrace:           5 * time.Second,
		FingerprintInterval: 30 * time.Second,
	}
}

// Payload is the JSON task payload of the gpu agent.
type Payload struct {
	// Command is the program to run (looked up on PATH).
	Command string `json:"command"`
	// Args are its arguments.
	Args []string `json:"args,omitempty"`
	// Env adds to the agent's environment.
	Env map[string]string `json:"env,omitempty"`
	// GPUs is how many devices to allot (0 runs with CUDA_VISIBLE_DEVICES="").
	GPUs int `json:"gpus"`
	// TimeoutMS bounds the run; 0 means no limit beyond cancellation.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// Agent is the gpu agent. The zero value is not usable; call New.
type Agent struct {
	mu      sync.Mutex
	cfg     Config
	devices []Device
	probed  bool
	probeOK string // message from the last probe
	inUse   map[int]string
}

// New returns an unconfigured gpu agent.
func New() sdk.Agent { return newAgent() }

func newAgent() *Agent {
	return &Agent{cfg: DefaultConfig(), inUse: map[int]string{}}
}

// Info implements sdk.Agent.
func (a *Agent) Info(ctx context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:        "gpu",
		Version:     Version,
		Description: "runs commands on allotted NVIDIA GPUs (CUDA_VISIBLE_DEVICES)",
		APIVersions: []string{sdk.APIVersion1},
	}, nil
}

// Schema implements sdk.Agent.
func (a *Agent) Schema(ctx context.Context) (sdk.Schema, error) {
	d := DefaultConfig()
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "nvidia_smi", Type: sdk.TypeString, Default: d.NvidiaSMI, Description: "nvidia-smi binary (path or name on PATH)"},
		{Name: "price_base", Type: sdk.TypeNumber, Default: 0.0, Description: "base price per job in credits"},
		{Name: "price_per_gpu_second", Type: sdk.TypeNumber, Default: 0.0, Description: "price per GPU-second in credits"},
		{Name: "capabilities", Type: sdk.TypeStringList, Description: "extra capabilities to advertise"},
		{Name: "output_limit", Type: sdk.TypeNumber, Default: float64(d.OutputLimit), Description: "bytes of output kept per task"},
		{Name: "stop_grace", Type: sdk.TypeString, Default: d.StopGrace.String(), Description: "SIGTERM to SIGKILL grace on cancel"},
		{Name: "fingerprint_interval", Type: sdk.TypeString, Default: d.FingerprintInterval.String(), Description: "how often to re-probe GPUs"},
	}}, nil
}

// Configure implements sdk.Agent.
func (a *Agent) Configure(ctx context.Context, c sdk.Config) error {
	cfg, err := parseConfig(c.Values)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.cfg = cfg
	a.probed = false
	a.mu.Unlock()
	return nil
}

func parseConfig(v map[string]any) (Config, error) {
	cfg := DefaultConfig()
	var err error
	if cfg.NvidiaSMI, err = valString(v, "nvidia_smi", cfg.NvidiaSMI); err != nil {
		return cfg, err
	}
	base, err := valFloat(v, "price_base", 0)
	if err != nil {
		return cfg, err
	}
	per, err := valFloat(v, "price_per_gpu_second", 0)
	if err != nil {
		return cfg, err
	}
	if base < 0 || per < 0 {
		return cfg, fmt.Errorf("%w: prices must not be negative", ErrConfig)
	}
	cfg.PriceBaseMu, cfg.PricePerGPUSecondMu = credits(base), credits(per)
	if cfg.Capabilities, err = valStrings(v, "capabilities"); err != nil {
		return cfg, err
	}
	lim, err := valFloat(v, "output_limit", float64(cfg.OutputLimit))
	if err != nil {
		return cfg, err
	}
	if lim < 0 {
		return cfg, fmt.Errorf("%w: output_limit must not be negative", ErrConfig)
	}
	cfg.OutputLimit = int(lim)
	if cfg.StopGrace, err = valDuration(v, "stop_grace", cfg.StopGrace); err != nil {
		return cfg, err
	}
	if cfg.FingerprintInterval, err = valDuration(v, "fingerprint_interval", cfg.FingerprintInterval); err != nil {
		return cfg, err
	}
	if cfg.FingerprintInterval <= 0 {
		return cfg, fmt.Errorf("%w: fingerprint_interval must be positive", ErrConfig)
	}
	return cfg, nil
}

// Probe runs nvidia-smi and returns the devices it reports. A missing
// nvidia-smi returns ErrNoSMI.
func Probe(ctx context.Context, smi string) ([]Device, error) {
	path, err := exec.LookPath(smi)
	if err != nil {
		return nil, fmt.Errorf("%w: %s not on PATH", ErrNoSMI, smi)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w: %s", ErrNoSMI, path, err, strings.TrimSpace(stderr.String()))
	}
	return parseSMI(out)
}

func parseSMI(out []byte) ([]Device, error) {
	var devs []Device
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 3 {
			return nil, fmt.Errorf("%w: unexpected nvidia-smi line %q", ErrNoSMI, line)
		}
		idx, err := strconv.Atoi(strings.TrimSpace(f[0]))
		if err != nil {
			return nil, fmt.Errorf("%w: bad index in %q: %w", ErrNoSMI, line, err)
		}
		mem, _ := strconv.ParseInt(strings.TrimSpace(f[len(f)-1]), 10, 64)
		name := strings.TrimSpace(strings.Join(f[1:len(f)-1], ","))
		devs = append(devs, Device{Index: idx, Name: name, MemoryMB: mem})
	}
	slices.SortFunc(devs, func(a, b Device) int { return a.Index - b.Index })
	return devs, nil
}

// refresh probes the devices and records them for allocation.
func (a *Agent) refresh(ctx context.Context) sdk.Fingerprint {
	a.mu.Lock()
	cfg := a.cfg
	a.mu.Unlock()
	devs, err := Probe(ctx, cfg.NvidiaSMI)
	msg := ""
	switch {
	case errors.Is(err, ErrNoSMI) && strings.Contains(err.Error(), "not on PATH"):
		msg = fmt.Sprintf("no GPUs found: %s not on PATH", cfg.NvidiaSMI)
	case err != nil:
		msg = fmt.Sprintf("no GPUs found: %v", err)
	case len(devs) == 0:
		msg = "no GPUs found: nvidia-smi reported none"
	default:
		msg = fmt.Sprintf("%d GPU(s): %s", len(devs), devs[0].Name)
	}
	a.mu.Lock()
	a.devices, a.probed, a.probeOK = devs, true, msg
	a.mu.Unlock()
	return fingerprintOf(cfg, devs, msg)
}

func fingerprintOf(cfg Config, devs []Device, msg string) sdk.Fingerprint {
	fp := sdk.Fingerprint{Healthy: true, Message: msg}
	caps := []string{}
	if len(devs) > 0 {
		caps = append(caps, "gpu")
		fp.Resources.GPUs = int64(len(devs))
		fp.Resources.GPUClass = devs[0].Name
		seen := map[string]bool{}
		for _, d := range devs {
			c := "gpu:" + d.Name
			if !seen[c] {
				seen[c] = true
				caps = append(caps, c)
			}
		}
	}
	caps = append(caps, cfg.Capabilities...)
	fp.Capabilities = caps
	return fp
}

// Fingerprint implements sdk.Fingerprinter. It sends the current devices
// and again whenever a re-probe finds a change; it closes when ctx is done.
func (a *Agent) Fingerprint(ctx context.Context) (<-chan sdk.Fingerprint, error) {
	ch := make(chan sdk.Fingerprint, 1)
	first := a.refresh(ctx)
	ch <- first
	a.mu.Lock()
	every := a.cfg.FingerprintInterval
	a.mu.Unlock()
	go func() {
		defer close(ch)
		last := first
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			fp := a.refresh(ctx)
			if sameFingerprint(fp, last) {
				continue
			}
			last = fp
			select {
			case ch <- fp:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

func sameFingerprint(a, b sdk.Fingerprint) bool {
	return a.Message == b.Message && a.Healthy == b.Healthy && a.Resources == b.Resources &&
		slices.Equal(a.Capabilities, b.Capabilities)
}

// PriceSchedule implements sdk.PriceScheduler: base + gpu_second rate.
func (a *Agent) PriceSchedule(ctx context.Context) (sdk.PriceSchedule, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return sdk.PriceSchedule{
		Currency: "credit",
		BaseMu:   a.cfg.PriceBaseMu,
		Rates:    []sdk.PriceRate{{Unit: "gpu_second", PerUnitMu: a.cfg.PricePerGPUSecondMu}},
	}, nil
}

// allot reserves n free devices for owner, lowest indexes first.
func (a *Agent) allot(ctx context.Context, owner string, n int) ([]int, error) {
	a.mu.Lock()
	probed := a.probed
	a.mu.Unlock()
	if !probed {
		a.refresh(ctx)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var free []int
	for _, d := range a.devices {
		if _, busy := a.inUse[d.Index]; !busy {
			free = append(free, d.Index)
		}
	}
	if len(free) < n {
		return nil, fmt.Errorf("need %d GPU(s), %d of %d free", n, len(free), len(a.devices))
	}
	got := free[:n]
	for _, i := range got {
		a.inUse[i] = owner
	}
	return got, nil
}

func (a *Agent) release(idx []int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, i := range idx {
		delete(a.inUse, i)
	}
}

// Execute implements sdk.Executor.
func (a *Agent) Execute(ctx context.Context, task sdk.Task) (sdk.Result, error) {
	var p Payload
	if err := json.Unmarshal(task.Payload, &p); err != nil {
		return sdk.Result{Error: fmt.Errorf("%w: %w", ErrPayload, err).Error(), ExitCode: -1}, nil
	}
	if p.Command == "" {
		return sdk.Result{Error: fmt.Sprintf("%v: command is required", ErrPayload), ExitCode: -1}, nil
	}
	if p.GPUs < 0 {
		return sdk.Result{Error: fmt.Sprintf("%v: gpus must not be negative", ErrPayload), ExitCode: -1}, nil
	}
	owner := fmt.Sprintf("%s/%d", task.JobID, task.Attempt)
	idx, err := a.allot(ctx, owner, p.GPUs)
	if err != nil {
		return sdk.Result{Retryable: true, ExitCode: -1, Error: err.Error()}, nil
	}
	defer a.release(idx)

	a.mu.Lock()
	cfg := a.cfg
	a.mu.Unlock()

	runCtx := ctx
	var timeout time.Duration
	if p.TimeoutMS > 0 {
		timeout = time.Duration(p.TimeoutMS) * time.Millisecond
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}

	ids := make([]string, len(idx))
	for i, d := range idx {
		ids[i] = strconv.Itoa(d)
	}
	cmd := exec.CommandContext(runCtx, p.Command, p.Args...)
	env := os.Environ()
	for _, k := range sortedKeys(p.Env) {
		env = append(env, k+"="+p.Env[k])
	}
	cmd.Env = append(env, "CUDA_VISIBLE_DEVICES="+strings.Join(ids, ","))
	out := &limitBuffer{limit: cfg.OutputLimit}
	cmd.Stdout, cmd.Stderr = out, out
	// Own process group, so cancellation reaches children of a shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = cfg.StopGrace

	start := time.Now()
	runErr := cmd.Run()
	elapsed := time.Since(start)
	if cmd.Process != nil {
		// Reap anything the command left behind in its group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	res := sdk.Result{
		Output: out.String(),
		Usage:  map[string]float64{"gpu_second": float64(len(idx)) * elapsed.Seconds(), "second": elapsed.Seconds()},
	}
	var exitErr *exec.ExitError
	switch {
	case runErr == nil:
		res.OK = true
	case ctx.Err() != nil:
		res.ExitCode = -1
		res.Error = fmt.Sprintf("cancelled: %v", context.Cause(ctx))
	case timeout > 0 && runCtx.Err() != nil:
		res.ExitCode = -1
		res.Error = fmt.Sprintf("timed out after %s", timeout)
	case errors.As(runErr, &exitErr):
		res.ExitCode = int64(exitErr.ExitCode())
		res.Error = fmt.Sprintf("exit status %d", exitErr.ExitCode())
	default:
		res.ExitCode = -1
		res.Error = runErr.Error()
	}
	return res, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// limitBuffer keeps the first limit bytes written and counts the rest.
type limitBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	limit   int
	dropped int
}

func (b *limitBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.limit - b.buf.Len()
	if room < 0 {
		room = 0
	}
	if len(p) > room {
		b.buf.Write(p[:room])
		b.dropped += len(p) - room
	} else {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *limitBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped > 0 {
		return fmt.Sprintf("%s\n[output truncated: %d bytes dropped]", b.buf.String(), b.dropped)
	}
	return b.buf.String()
}

var (
	_ sdk.Agent          = (*Agent)(nil)
	_ sdk.Fingerprinter  = (*Agent)(nil)
	_ sdk.PriceScheduler = (*Agent)(nil)
	_ sdk.Executor       = (*Agent)(nil)
)
