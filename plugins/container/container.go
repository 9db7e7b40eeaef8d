// Package container is the built-in container agent. It runs each task's OCI
// image with podman or docker, either through the runtime's CLI or through
// the Engine API on a unix socket (served by dockerd and by
// `podman system service`). Output is captured with a size bound, the exit
// code decides success, and the container is removed afterwards. A cancelled
// or timed-out task is stopped (SIGTERM, grace, SIGKILL) and removed.
//
// Containers are named planetary-<job>-<attempt> and labelled
// planetary.job=<job id>, planetary.attempt=<n> and planetary.node=<node id>,
// so leftovers can be found; Configure removes this node's leftovers.
package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/planetary/planetary/sdk"
)

// Version is the agent's version.
const Version = "0.1.0"

// Labels put on every container the agent starts.
const (
	LabelJob     = "planetary.job"
	LabelAttempt = "planetary.attempt"
	LabelNode    = "planetary.node"
)

var (
	// ErrConfig means a config value is missing, of the wrong type or out of range.
	ErrConfig = errors.New("container: invalid config")
	// ErrPayload means a task payload is not valid JSON for Payload.
	ErrPayload = errors.New("container: invalid payload")
	// ErrRuntimeMissing means the runtime binary is not installed.
	ErrRuntimeMissing = errors.New("container: runtime missing")
	// ErrSocket means the Engine API socket could not be reached.
	ErrSocket = errors.New("container: engine socket unreachable")
	// ErrImageAbsent means the image is not present locally (and not pulled).
	ErrImageAbsent = errors.New("container: image not present")
	// ErrPermission means the runtime refused for lack of permission.
	ErrPermission = errors.New("container: permission denied")
	// ErrRuntime is any other runtime failure before the task's process ran.
	ErrRuntime = errors.New("container: runtime error")
)

// Config is the agent's parsed configuration.
type Config struct {
	// Runtime is "podman" or "docker".
	Runtime string
	// Mode is "cli" (run the runtime binary) or "api" (Engine API over Socket).
	Mode string
	// Binary is the runtime CLI (cli mode and fingerprint); default Runtime, looked up on PATH.
	Binary string
	// Socket is the Engine API unix socket (api mode).
	Socket string
	// RuntimePath is the OCI runtime, e.g. /usr/sbin/runc (podman --runtime;
	// docker run --runtime takes a registered runtime name). CLI mode only:
	// in api mode the service is started with it.
	RuntimePath string
	// CgroupManager is podman's --cgroup-manager ("cgroupfs" or "systemd"); CLI mode only.
	CgroupManager string
	// Ulimits are "name=soft:hard" entries, e.g. "nofile=1024:1024".
	Ulimits []string
	// ExtraArgs are added to `run` before the image (CLI mode).
	ExtraArgs []string
	// Registry, when set, prefixes image references that name no registry,
	// and lets the runtime pull missing images; unset, images must be local.
	Registry string
	// OutputLimit bounds captured stdout+stderr in bytes.
	OutputLimit int
	// StopGrace is the time between SIGTERM and SIGKILL when stopping.
	StopGrace time.Duration
	// DefaultNetwork is used when the payload names none.
	DefaultNetwork string
	// Capabilities are advertised besides "container", "runtime:<name>" and "image:<ref>".
	Capabilities []string
	// PriceBaseMu and PricePerSecondMu are micro-credits (config takes credits).
	PriceBaseMu      int64
	PricePerSecondMu int64
	// FingerprintInterval is how often images and the runtime are re-probed.
	FingerprintInterval time.Duration
	// OpTimeout bounds each auxiliary runtime call (version, images, stop, rm).
	OpTimeout time.Duration
}

// DefaultConfig returns the defaults used for unset values.
func DefaultConfig() Config {
	return Config{
		Runtime:             "podman",
		Mode:                "cli",
		OutputLimit:         256 << 10,
		StopGrace:           10 * time.Second,
		DefaultNetwork:      "none",
		FingerprintInterval: 30 * time.Second,
		OpTimeout:           30 * time.Second,
	}
}

// DefaultSocket returns the usual Engine API socket of a rootful runtime.
func DefaultSocket(runtime string) string {
	if runtime == "docker" {
		return "/var/run/docker.sock"
	}
	return "/run/podman/podman.sock"
}

// Payload is the JSON task payload of the container agent.
type Payload struct {
	// Image is a tag ("localhost/bb:1") or digest ("repo@sha256:...").
	Image string `json:"image"`
	// Command replaces the image's command; Args are appended to it.
	Command []string `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
	// Env sets environment variables in the container.
	Env map[string]string `json:"env,omitempty"`
	// Workdir is the working directory inside the container.
	Workdir string `json:"workdir,omitempty"`
	// CPUs, MemoryMB and Pids are limits; 0 means none.
	CPUs     float64 `json:"cpus,omitempty"`
	MemoryMB int64   `json:"memory_mb,omitempty"`
	Pids     int64   `json:"pids,omitempty"`
	// TimeoutMS bounds the run; 0 means no limit beyond cancellation.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
	// Network is the network mode; default config network (default "none").
	Network string `json:"network,omitempty"`
}

// ulimit is one parsed "name=soft:hard" entry.
type ulimit struct {
	Name       string
	Soft, Hard int64
}

func parseUlimit(s string) (ulimit, error) {
	name, vals, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return ulimit{}, fmt.Errorf("%w: ulimit %q: want name=soft[:hard]", ErrConfig, s)
	}
	softS, hardS, hasHard := strings.Cut(vals, ":")
	soft, err := strconv.ParseInt(softS, 10, 64)
	if err != nil {
		return ulimit{}, fmt.Errorf("%w: ulimit %q: %w", ErrConfig, s, err)
	}
	hard := soft
	if hasHard {
		if hard, err = strconv.ParseInt(hardS, 10, 64); err != nil {
			return ulimit{}, fmt.Errorf("%w: ulimit %q: %w", ErrConfig, s, err)
		}
	}
	return ulimit{Name: name, Soft: soft, Hard: hard}, nil
}

// Agent is the container agent.
type Agent struct {
	mu   sync.Mutex
	cfg  Config
	node sdk.NodeInfo
}

// New returns an unconfigured container agent.
func New() sdk.Agent { return newAgent() }

func newAgent() *Agent { return &Agent{cfg: DefaultConfig()} }

// Info implements sdk.Agent.
func (a *Agent) Info(ctx context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:        "container",
		Version:     Version,
		Description: "runs OCI images with podman or docker (CLI or Engine API)",
		APIVersions: []string{sdk.APIVersion1},
	}, nil
}

// Schema implements sdk.Agent.
func (a *Agent) Schema(ctx context.Context) (sdk.Schema, error) {
	d := DefaultConfig()
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "runtime", Type: sdk.TypeString, Default: d.Runtime, Description: `"podman" or "docker"`},
		{Name: "mode", Type: sdk.TypeString, Default: d.Mode, Description: `"cli" or "api" (Engine API over socket)`},
		{Name: "binary", Type: sdk.TypeString, Description: "runtime CLI binary (default: runtime name on PATH)"},
		{Name: "socket", Type: sdk.TypeString, Description: "Engine API unix socket (api mode)"},
		{Name: "runtime_path", Type: sdk.TypeString, Description: "OCI runtime, e.g. /usr/sbin/runc (podman --runtime)"},
		{Name: "cgroup_manager", Type: sdk.TypeString, Description: `podman --cgroup-manager, e.g. "cgroupfs"`},
		{Name: "ulimits", Type: sdk.TypeStringList, Description: `ulimits as "name=soft:hard"`},
		{Name: "extra_args", Type: sdk.TypeStringList, Description: "extra arguments to `run` (cli mode)"},
		{Name: "registry", Type: sdk.TypeString, Description: "registry for unqualified images; enables pulling"},
		{Name: "output_limit", Type: sdk.TypeNumber, Default: float64(d.OutputLimit), Description: "bytes of output kept per task"},
		{Name: "stop_grace", Type: sdk.TypeString, Default: d.StopGrace.String(), Description: "SIGTERM to SIGKILL grace"},
		{Name: "network", Type: sdk.TypeString, Default: d.DefaultNetwork, Description: "default network mode"},
		{Name: "capabilities", Type: sdk.TypeStringList, Description: "extra capabilities to advertise"},
		{Name: "price_base", Type: sdk.TypeNumber, Default: 0.0, Description: "base price per job in credits"},
		{Name: "price_per_second", Type: sdk.TypeNumber, Default: 0.0, Description: "price per container-second in credits"},
		{Name: "fingerprint_interval", Type: sdk.TypeString, Default: d.FingerprintInterval.String(), Description: "re-probe interval"},
		{Name: "op_timeout", Type: sdk.TypeString, Default: d.OpTimeout.String(), Description: "bound on each auxiliary runtime call"},
	}}, nil
}

// Configure implements sdk.Agent. It also removes containers that a previous
// run of this node's agent left behind (label planetary.node=<node id>).
func (a *Agent) Configure(ctx context.Context, c sdk.Config) error {
	cfg, err := parseConfig(c.Values)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.cfg, a.node = cfg, c.Node
	a.mu.Unlock()
	if c.Node.ID != "" {
		// Best effort: a missing runtime shows in the fingerprint instead.
		_, _ = a.RemoveLeftovers(ctx, LabelNode+"="+c.Node.ID)
	}
	return nil
}

func parseConfig(v map[string]any) (Config, error) {
	cfg := DefaultConfig()
	var err error
	strs := []struct {
		key string
		dst *string
	}{
		{"runtime", &cfg.Runtime}, {"mode", &cfg.Mode}, {"binary", &cfg.Binary}, {"socket", &cfg.Socket},
		{"runtime_path", &cfg.RuntimePath}, {"cgroup_manager", &cfg.CgroupManager},
		{"registry", &cfg.Registry}, {"network", &cfg.DefaultNetwork},
	}
	for _, s := range strs {
		if *s.dst, err = valString(v, s.key, *s.dst); err != nil {
			return cfg, err
		}
	}
	if cfg.Runtime != "podman" && cfg.Runtime != "docker" {
		return cfg, fmt.Errorf("%w: runtime must be \"podman\" or \"docker\", got %q", ErrConfig, cfg.Runtime)
	}
	if cfg.Mode != "cli" && cfg.Mode != "api" {
		return cfg, fmt.Errorf("%w: mode must be \"cli\" or \"api\", got %q", ErrConfig, cfg.Mode)
	}
	if cfg.Binary == "" {
		cfg.Binary = cfg.Runtime
	}
	if cfg.Socket == "" {
		cfg.Socket = DefaultSocket(cfg.Runtime)
	}
	cfg.Socket = strings.TrimPrefix(cfg.Socket, "unix://")
	cfg.Registry = strings.TrimRight(cfg.Registry, "/")
	if cfg.Ulimits, err = valStrings(v, "ulimits"); err != nil {
		return cfg, err
	}
	for _, u := range cfg.Ulimits {
		if _, err := parseUlimit(u); err != nil {
			return cfg, err
		}
	}
	if cfg.ExtraArgs, err = valStrings(v, "extra_args"); err != nil {
		return cfg, err
	}
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
	if cfg.OpTimeout, err = valDuration(v, "op_timeout", cfg.OpTimeout); err != nil {
		return cfg, err
	}
	if cfg.StopGrace < 0 || cfg.FingerprintInterval <= 0 || cfg.OpTimeout <= 0 {
		return cfg, fmt.Errorf("%w: stop_grace must not be negative; fingerprint_interval and op_timeout must be positive", ErrConfig)
	}
	base, err := valFloat(v, "price_base", 0)
	if err != nil {
		return cfg, err
	}
	per, err := valFloat(v, "price_per_second", 0)
	if err != nil {
		return cfg, err
	}
	if base < 0 || per < 0 {
		return cfg, fmt.Errorf("%w: prices must not be negative", ErrConfig)
	}
	cfg.PriceBaseMu, cfg.PricePerSecondMu = credits(base), credits(per)
	return cfg, nil
}

func (a *Agent) state() (Config, sdk.NodeInfo) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg, a.node
}

// engine is what the two modes implement.
type engine interface {
	// version returns the runtime's version string.
	version(ctx context.Context) (string, error)
	// images lists local image references (name:tag).
	images(ctx context.Context) ([]string, error)
	// run runs spec to completion, honouring ctx (cancel or deadline) by
	// stopping and removing the container.
	run(ctx context.Context, spec runSpec) (runOutcome, error)
	// removeByLabel force-removes containers carrying label (k=v).
	removeByLabel(ctx context.Context, label string) (int, error)
}

// runSpec is one container to run.
type runSpec struct {
	Name    string
	Labels  map[string]string
	Image   string
	Argv    []string
	Env     map[string]string
	Workdir string
	CPUs    float64
	Memory  int64
	Pids    int64
	Network string
}

// runOutcome is what a finished (or stopped) container produced.
type runOutcome struct {
	ExitCode int64
	Output   string
	Stopped  bool // stopped because ctx ended
}

func (a *Agent) engine() engine {
	cfg, _ := a.state()
	if cfg.Mode == "api" {
		return newAPIEngine(cfg)
	}
	return &cliEngine{cfg: cfg}
}

// ContainerName returns planetary-<job>-<attempt>, with characters a runtime
// does not accept in names replaced by '_'.
func ContainerName(jobID string, attempt uint32) string {
	var b strings.Builder
	for _, r := range jobID {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	return fmt.Sprintf("planetary-%s-%d", b.String(), attempt)
}

// qualify prefixes an unqualified image with the configured registry.
func qualify(registry, image string) string {
	if registry == "" {
		return image
	}
	first, _, found := strings.Cut(image, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return image
	}
	return registry + "/" + image
}

// Execute implements sdk.Executor.
func (a *Agent) Execute(ctx context.Context, task sdk.Task) (sdk.Result, error) {
	var p Payload
	if err := json.Unmarshal(task.Payload, &p); err != nil {
		return sdk.Result{ExitCode: -1, Error: fmt.Errorf("%w: %w", ErrPayload, err).Error()}, nil
	}
	if p.Image == "" {
		return sdk.Result{ExitCode: -1, Error: fmt.Sprintf("%v: image is required", ErrPayload)}, nil
	}
	if p.CPUs < 0 || p.MemoryMB < 0 || p.Pids < 0 || p.TimeoutMS < 0 {
		return sdk.Result{ExitCode: -1, Error: fmt.Sprintf("%v: limits must not be negative", ErrPayload)}, nil
	}
	cfg, node := a.state()
	spec := runSpec{
		Name:    ContainerName(task.JobID, task.Attempt),
		Labels:  map[string]string{LabelJob: task.JobID, LabelAttempt: strconv.FormatUint(uint64(task.Attempt), 10)},
		Image:   qualify(cfg.Registry, p.Image),
		Argv:    append(slices.Clone(p.Command), p.Args...),
		Env:     p.Env,
		Workdir: p.Workdir,
		CPUs:    p.CPUs,
		Memory:  p.MemoryMB << 20,
		Pids:    p.Pids,
		Network: p.Network,
	}
	if node.ID != "" {
		spec.Labels[LabelNode] = node.ID
	}
	if spec.Network == "" {
		spec.Network = cfg.DefaultNetwork
	}
	runCtx := ctx
	var timeout time.Duration
	if p.TimeoutMS > 0 {
		timeout = time.Duration(p.TimeoutMS) * time.Millisecond
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	out, err := a.engine().run(runCtx, spec)
	elapsed := time.Since(start)
	res := sdk.Result{
		ExitCode: out.ExitCode,
		Output:   out.Output,
		Usage:    map[string]float64{"second": elapsed.Seconds()},
	}
	switch {
	case err != nil:
		res.ExitCode = -1
		res.Error = err.Error()
		// A node without the runtime or socket may be fine elsewhere.
		res.Retryable = errors.Is(err, ErrRuntimeMissing) || errors.Is(err, ErrSocket)
		if ctx.Err() != nil {
			res.Error = fmt.Sprintf("cancelled: %v (%v)", context.Cause(ctx), err)
		}
	case ctx.Err() != nil:
		res.ExitCode = -1
		res.Error = fmt.Sprintf("cancelled: %v", context.Cause(ctx))
	case out.Stopped || (timeout > 0 && runCtx.Err() != nil):
		res.ExitCode = -1
		res.Error = fmt.Sprintf("timed out after %s", timeout)
	case out.ExitCode != 0:
		res.Error = fmt.Sprintf("exit status %d", out.ExitCode)
	default:
		res.OK = true
	}
	return res, nil
}

// RemoveLeftovers force-removes containers labelled with label ("k=v", e.g.
// "planetary.job=j1" or "planetary.node=n1") and returns how many it removed.
func (a *Agent) RemoveLeftovers(ctx context.Context, label string) (int, error) {
	cfg, _ := a.state()
	ctx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
	defer cancel()
	return a.engine().removeByLabel(ctx, label)
}

func (a *Agent) fingerprint(ctx context.Context) sdk.Fingerprint {
	cfg, _ := a.state()
	ctx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
	defer cancel()
	e := a.engine()
	fp := sdk.Fingerprint{Resources: hostResources()}
	ver, err := e.version(ctx)
	if err != nil {
		fp.Message = fmt.Sprintf("%s unavailable: %v", cfg.Runtime, err)
		fp.Capabilities = slices.Clone(cfg.Capabilities)
		return fp
	}
	imgs, err := e.images(ctx)
	if err != nil {
		fp.Message = fmt.Sprintf("%s %s: listing images: %v", cfg.Runtime, ver, err)
		fp.Capabilities = slices.Clone(cfg.Capabilities)
		return fp
	}
	slices.Sort(imgs)
	imgs = slices.Compact(imgs)
	fp.Healthy = true
	fp.Runtime = cfg.Runtime + " " + ver
	fp.Images = imgs
	fp.Message = fmt.Sprintf("%s %s (%s mode), %d image(s)", cfg.Runtime, ver, cfg.Mode, len(imgs))
	caps := []string{"container", "runtime:" + cfg.Runtime}
	for _, im := range imgs {
		for _, ref := range ImageRefs(im) {
			caps = append(caps, "image:"+ref)
		}
	}
	fp.Capabilities = append(caps, cfg.Capabilities...)
	return fp
}

// ImageRefs returns the references a job may use for the local image ref
// (as the runtime lists it, name:tag): ref itself, and the short name the
// runtime also resolves when ref is in podman's "localhost/" namespace or
// is a "docker.io/library/" image. `podman import x.tar bb:1` lists the
// image as localhost/bb:1; a job naming image "bb:1" runs it too, so both
// capabilities are advertised.
func ImageRefs(ref string) []string {
	for _, prefix := range []string{"localhost/", "docker.io/library/"} {
		if short, ok := strings.CutPrefix(ref, prefix); ok && short != "" {
			return []string{ref, short}
		}
	}
	return []string{ref}
}

// Fingerprint implements sdk.Fingerprinter: runtime name and version, local
// images, re-probed every fingerprint_interval; changes are sent.
func (a *Agent) Fingerprint(ctx context.Context) (<-chan sdk.Fingerprint, error) {
	ch := make(chan sdk.Fingerprint, 1)
	last := a.fingerprint(ctx)
	ch <- last
	cfg, _ := a.state()
	go func() {
		defer close(ch)
		t := time.NewTicker(cfg.FingerprintInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			fp := a.fingerprint(ctx)
			if fp.Message == last.Message && fp.Healthy == last.Healthy && slices.Equal(fp.Capabilities, last.Capabilities) {
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

// PriceSchedule implements sdk.PriceScheduler: base + per-second rate. With
// neither price configured the schedule is empty, which leaves the price the
// mission gives the node in place.
func (a *Agent) PriceSchedule(ctx context.Context) (sdk.PriceSchedule, error) {
	cfg, _ := a.state()
	if cfg.PriceBaseMu == 0 && cfg.PricePerSecondMu == 0 {
		return sdk.PriceSchedule{}, nil
	}
	return sdk.PriceSchedule{
		Currency: "credit",
		BaseMu:   cfg.PriceBaseMu,
		Rates:    []sdk.PriceRate{{Unit: "second", PerUnitMu: cfg.PricePerSecondMu}},
	}, nil
}

// hostResources reports CPU cores and memory of the host.
func hostResources() sdk.Resources {
	r := sdk.Resources{CPUCores: float64(runtime.NumCPU())}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(rest)
				if len(f) > 0 {
					if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
						r.MemoryGB = kb / (1 << 20)
					}
				}
			}
		}
	}
	return r
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
	room := max(b.limit-b.buf.Len(), 0)
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
