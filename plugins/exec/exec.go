// Package exec is the command agent: it runs an allowlisted command per task
// in a working directory under the node's data dir. It is off unless the
// agent config sets enabled = true, and it runs only commands named in
// allow: a submit token must never mean arbitrary code on every host. Shells
// and interpreters are refused in allow unless allow_interpreters is set, a
// command sees only the HostEnv variables of the agent's environment plus
// the job's env that passes the filter, and no task runs longer than
// max_timeout_ms.
package exec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/planetary/planetary/sdk"
)

// Version of the exec agent.
const Version = "0.1.0"

// MaxOutput bounds the combined stdout and stderr kept per task.
const MaxOutput = 64 << 10

// DefaultTimeout is a task's timeout when neither the job nor the agent
// config sets one; DefaultMaxTimeout caps a job's timeout_ms unless the
// agent config sets max_timeout_ms, which may not exceed MaxTimeoutLimit.
const (
	DefaultTimeout    = time.Minute
	DefaultMaxTimeout = time.Hour
	MaxTimeoutLimit   = 7 * 24 * time.Hour
)

var (
	// ErrDisabled is reported for every task while enabled is not true.
	ErrDisabled = errors.New("exec agent is disabled (set enabled = true and an allow list in the agent config)")
	// ErrNotAllowed is reported for a command outside the allow list.
	ErrNotAllowed = errors.New("command is not in the exec agent's allow list")
	// ErrBadPayload is a payload that is not the exec agent's JSON.
	ErrBadPayload = errors.New("exec: bad payload")
	// ErrBadDir is a dir that leaves the task's working area.
	ErrBadDir = errors.New("exec: dir must be a relative path inside the working directory")
	// ErrWaitDelay is a command that exited while something it started
	// kept its output open for longer than two seconds.
	ErrWaitDelay = errors.New("exec: output still open 2s after the command exited")
	// ErrNoDataDir is a configuration without a node data dir.
	ErrNoDataDir = errors.New("exec: node data dir is not set")
	// ErrTimeout is a timeout_ms that is negative or above the cap.
	ErrTimeout = errors.New("exec: timeout_ms out of range")
)

// Payload is the JSON an exec task carries.
type Payload struct {
	Command   string            `json:"command"`
	Args      []string          `json:"args,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	TimeoutMS int64             `json:"timeout_ms,omitempty"`
	// Dir is relative to the task's working directory.
	Dir string `json:"dir,omitempty"`
}

// Agent is the exec agent.
type Agent struct {
	mu      sync.RWMutex
	enabled bool
	allow   []string
	// interpreters is allow_interpreters: shells and interpreters may be
	// listed in allow.
	interpreters bool
	timeout      time.Duration
	maxTimeout   time.Duration
	dirs         *workDirs
	gate         *startGate
	// env is the HostEnv part of the plugin's environment, read once at
	// Configure; every task starts from it.
	env []string
	// devNull is every command's stdin, opened once.
	devNull *os.File
}

// New returns an unconfigured (disabled) exec agent.
func New() sdk.Agent {
	return &Agent{timeout: DefaultTimeout, maxTimeout: DefaultMaxTimeout, gate: newStartGate(defaultMaxStarting())}
}

// defaultMaxStarting is 16 commands starting per CPU the process may use.
// Short commands spend most of their life in exec and exit, so the CPUs
// stay busy while others are being reaped, and a node keeps its share of
// a host shared with other work; far from the thousands of forks at once
// that thrash. (On 2 CPUs, P3 ran at the same CPU per job with 4 and 16
// per CPU and slightly faster with 16; BenchmarkExecuteTrue puts 16 at
// about 10% more agent CPU per task than 4.)
func defaultMaxStarting() int { return 16 * runtime.GOMAXPROCS(0) }

// Info implements sdk.Agent.
func (a *Agent) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "exec", Version: Version,
		Description: "runs allowlisted commands; off unless enabled",
		APIVersions: []string{sdk.APIVersion1}}, nil
}

// Schema implements sdk.Agent.
func (a *Agent) Schema(context.Context) (sdk.Schema, error) {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "enabled", Type: sdk.TypeBool, Default: false, Description: "run commands at all"},
		{Name: "allow", Type: sdk.TypeStringList, Description: "command base names (found on PATH) or absolute paths that may run; no shells or interpreters unless allow_interpreters"},
		{Name: "allow_interpreters", Type: sdk.TypeBool, Default: false,
			Description: "UNSAFE: let allow list shells and interpreters (sh, bash, python, perl, env ...), so any job may run any code"},
		{Name: "timeout_ms", Type: sdk.TypeNumber, Default: 60000.0, Description: "default per-task timeout"},
		{Name: "max_timeout_ms", Type: sdk.TypeNumber, Default: 3600000.0,
			Description: "the largest timeout_ms a job may ask for (at most 7 days)"},
		{Name: "max_starting", Type: sdk.TypeNumber, Default: 0.0,
			Description: "commands being started at once; more tasks queue in the agent (0: 16 per CPU)"},
	}}, nil
}

// Configure implements sdk.Agent.
func (a *Agent) Configure(_ context.Context, cfg sdk.Config) error {
	enabled, _ := cfg.Values["enabled"].(bool)
	allow, _ := cfg.Values["allow"].([]string)
	interpreters, _ := cfg.Values["allow_interpreters"].(bool)
	if err := checkAllow(allow, interpreters); err != nil {
		return err
	}
	maxTimeout := DefaultMaxTimeout
	if f, ok := cfg.Values["max_timeout_ms"].(float64); ok && f > 0 {
		maxTimeout = time.Duration(f) * time.Millisecond
		if maxTimeout > MaxTimeoutLimit {
			return fmt.Errorf("%w: max_timeout_ms %.0f exceeds the limit of %d (7 days)", ErrTimeout, f, MaxTimeoutLimit.Milliseconds())
		}
	}
	timeout := DefaultTimeout
	if f, ok := cfg.Values["timeout_ms"].(float64); ok && f > 0 {
		timeout = time.Duration(f) * time.Millisecond
	}
	if timeout > maxTimeout {
		return fmt.Errorf("%w: timeout_ms %d exceeds max_timeout_ms %d", ErrTimeout, timeout.Milliseconds(), maxTimeout.Milliseconds())
	}
	maxStarting := defaultMaxStarting()
	if f, ok := cfg.Values["max_starting"].(float64); ok && f >= 1 {
		maxStarting = int(f)
	}
	var dirs *workDirs
	if enabled {
		if cfg.Node.DataDir == "" {
			return ErrNoDataDir
		}
		var err error
		if dirs, err = newWorkDirs(filepath.Join(cfg.Node.DataDir, "exec")); err != nil {
			return err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if enabled && a.devNull == nil {
		// Opened once and kept: running tasks use its descriptor.
		f, err := os.Open(os.DevNull)
		if err != nil {
			return fmt.Errorf("exec: open %s: %w", os.DevNull, err)
		}
		a.devNull = f
	}
	a.enabled, a.allow, a.interpreters, a.dirs, a.env = enabled, slices.Clone(allow), interpreters, dirs, hostEnv(os.Environ())
	a.timeout, a.maxTimeout = timeout, maxTimeout
	a.gate = newStartGate(maxStarting)
	return nil
}

// Fingerprint implements sdk.Fingerprinter.
func (a *Agent) Fingerprint(ctx context.Context) (<-chan sdk.Fingerprint, error) {
	a.mu.RLock()
	fp := sdk.Fingerprint{Healthy: true, Runtime: "exec " + Version}
	if a.enabled {
		fp.Capabilities = []string{"exec"}
	} else {
		fp.Message = "exec agent is disabled"
	}
	a.mu.RUnlock()
	ch := make(chan sdk.Fingerprint, 1)
	ch <- fp
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch, nil
}

// resolve checks cmd against the allow list and returns what to run. A bare
// name must be listed by name and is looked up on PATH; a path must be
// listed exactly. Unless interpreters is set, the file it resolves to must
// not be a shell or interpreter either (an allowed name may be a link to
// one).
func resolve(allow []string, cmd string, interpreters bool) (string, error) {
	path, err := resolveAllowed(allow, cmd)
	if err != nil || interpreters {
		return path, err
	}
	if err := checkInterpreter(path); err != nil {
		return "", fmt.Errorf("%q: %w: %w", cmd, ErrNotAllowed, err)
	}
	return path, nil
}

func resolveAllowed(allow []string, cmd string) (string, error) {
	if cmd == "" {
		return "", fmt.Errorf("%w: command is empty", ErrBadPayload)
	}
	if strings.ContainsRune(cmd, filepath.Separator) {
		clean := filepath.Clean(cmd)
		if !filepath.IsAbs(clean) || !slices.Contains(allow, clean) {
			return "", fmt.Errorf("%q: %w", cmd, ErrNotAllowed)
		}
		return clean, nil
	}
	if !slices.Contains(allow, cmd) {
		return "", fmt.Errorf("%q: %w", cmd, ErrNotAllowed)
	}
	path, err := osexec.LookPath(cmd)
	if err != nil {
		return "", fmt.Errorf("exec: %q: %w", cmd, err)
	}
	return path, nil
}

func refuse(err error) sdk.Result {
	return sdk.Result{OK: false, Retryable: false, ExitCode: -1, Error: err.Error()}
}

// Execute implements sdk.Executor.
func (a *Agent) Execute(ctx context.Context, task sdk.Task) (sdk.Result, error) {
	a.mu.RLock()
	enabled, allow, interpreters, dirs, env, gate, devNull := a.enabled, a.allow, a.interpreters, a.dirs, a.env, a.gate, a.devNull
	timeout, maxTimeout := a.timeout, a.maxTimeout
	a.mu.RUnlock()
	if !enabled {
		return refuse(ErrDisabled), nil
	}
	var p Payload
	if err := json.Unmarshal(task.Payload, &p); err != nil {
		return refuse(fmt.Errorf("%w: %w", ErrBadPayload, err)), nil
	}
	path, err := resolve(allow, p.Command, interpreters)
	if err != nil {
		return refuse(err), nil
	}
	switch {
	case p.TimeoutMS < 0:
		return refuse(fmt.Errorf("%w: timeout_ms %d is negative", ErrTimeout, p.TimeoutMS)), nil
	case p.TimeoutMS > maxTimeout.Milliseconds():
		return refuse(fmt.Errorf("%w: timeout_ms %d exceeds the agent's max_timeout_ms %d", ErrTimeout, p.TimeoutMS, maxTimeout.Milliseconds())), nil
	case p.TimeoutMS > 0:
		timeout = time.Duration(p.TimeoutMS) * time.Millisecond
	}
	if p.Dir != "" && (filepath.IsAbs(p.Dir) || !filepath.IsLocal(p.Dir)) {
		return refuse(fmt.Errorf("%w: %q", ErrBadDir, p.Dir)), nil
	}
	// Wait for a start slot before touching the file system, so a burst
	// of tasks queues here rather than in the kernel.
	slot, err := gate.enter(ctx)
	if err != nil {
		return sdk.Result{}, err
	}
	defer slot.release()
	work, err := dirs.acquire(safeName(task.JobID) + "-" + strconv.FormatUint(uint64(task.Attempt), 10))
	if err != nil {
		return sdk.Result{}, err
	}
	dir := work
	if p.Dir != "" {
		dir = filepath.Join(work, p.Dir)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			dirs.release(work)
			return sdk.Result{}, fmt.Errorf("exec: working dir: %w", err)
		}
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	s := spec{path: path, argv: append([]string{path}, p.Args...), dir: dir, env: env, stdin: devNull.Fd()}
	if len(p.Env) > 0 {
		s.env, _ = childEnv(env, p.Env)
	}
	out := &boundedBuffer{max: MaxOutput}
	var grace *time.Timer
	start := time.Now()
	err = run(runCtx, s, out, func() { grace = time.AfterFunc(startGrace, slot.release) })
	if grace != nil {
		grace.Stop()
	}
	elapsed := time.Since(start)
	// Give the directory back before the slot, so the task the slot goes
	// to can reuse it rather than create one.
	dirs.release(work)
	slot.release()
	res := sdk.Result{Output: out.String(), Usage: map[string]float64{"second": elapsed.Seconds()}}
	switch {
	case ctx.Err() != nil:
		// The job was cancelled or its stream ended.
		return sdk.Result{}, ctx.Err()
	case runCtx.Err() != nil:
		res.ExitCode = -1
		res.Error = fmt.Sprintf("timed out after %s", timeout)
		return res, nil
	case err == nil:
		res.OK = true
		return res, nil
	}
	var exitErr *exitError
	if errors.As(err, &exitErr) {
		res.ExitCode = int64(exitErr.ExitCode())
		res.Error = fmt.Sprintf("exit status %d", exitErr.ExitCode())
		return res, nil
	}
	res.ExitCode = -1
	res.Error = err.Error()
	return res, nil
}

// spec is one command to run.
type spec struct {
	path string
	argv []string // argv[0] is path
	dir  string
	env  []string
	// stdin is a descriptor the command reads as its stdin (Linux; the
	// os/exec fallback uses /dev/null itself).
	stdin uintptr
}

// waitDelay is how long output may stay open after the command exits
// (held by something it left running) before the agent stops reading.
const waitDelay = 2 * time.Second

// mergeEnv is base with add's variables set: a name in both keeps add's
// value, and add's names follow base's in sorted order.
func mergeEnv(base []string, add map[string]string) []string {
	out := make([]string, 0, len(base)+len(add))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if _, set := add[name]; !set {
			out = append(out, kv)
		}
	}
	keys := make([]string, 0, len(add))
	for k := range add {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+add[k])
	}
	return out
}

// safeName keeps a job id usable as one path element.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 || string(b) == "." || string(b) == ".." {
		return "job"
	}
	return string(b)
}

// boundedBuffer keeps the first max bytes written and counts the rest.
type boundedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	max     int
	dropped int64
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) <= room {
			b.buf.Write(p)
		} else {
			b.buf.Write(p[:room])
			b.dropped += int64(len(p) - room)
		}
	} else {
		b.dropped += int64(len(p))
	}
	return len(p), nil
}

// ReadFrom copies r to the buffer with a small read buffer, grown only for
// large outputs (io.Copy would allocate 32 KiB per task).
func (b *boundedBuffer) ReadFrom(r io.Reader) (int64, error) {
	chunk := make([]byte, 512)
	var n int64
	for {
		m, err := r.Read(chunk)
		if m > 0 {
			_, _ = b.Write(chunk[:m])
			n += int64(m)
		}
		switch {
		case errors.Is(err, io.EOF):
			return n, nil
		case err != nil:
			return n, err
		case m == len(chunk) && len(chunk) < 32<<10:
			chunk = make([]byte, 2*len(chunk))
		}
	}
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped > 0 {
		return b.buf.String() + fmt.Sprintf("\n[output truncated: %d more bytes]", b.dropped)
	}
	return b.buf.String()
}

var (
	_ sdk.Agent         = (*Agent)(nil)
	_ sdk.Fingerprinter = (*Agent)(nil)
	_ sdk.Executor      = (*Agent)(nil)
)
