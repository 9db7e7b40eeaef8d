// Package sim is the simulated agent: it executes nothing, waits the
// requested time and succeeds or fails by a deterministic draw, so missions
// can be rehearsed at scale. Its failures derive from hash(seed, job id,
// attempt): replaying a mission reproduces them exactly.
package sim

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/planetary/planetary/sdk"
)

// Version of the sim agent.
const Version = "0.1.0"

// ErrBadPayload is a payload that is not the sim's JSON.
var ErrBadPayload = errors.New("sim: bad payload")

// ErrBadExecLog is an exec_log that cannot be opened in the node's data dir.
var ErrBadExecLog = errors.New("sim: bad exec_log")

// ErrBadRate is a rates entry that is not "unit=credits".
var ErrBadRate = errors.New("sim: rate must be unit=credits")

// Payload is the JSON a sim task carries; unset fields take the agent's
// configured defaults.
type Payload struct {
	DurationMS *float64 `json:"duration_ms,omitempty"`
	FailRate   *float64 `json:"fail_rate,omitempty"`
	// Usage is reported as the task's usage, units per dimension, beside
	// the simulated "second"s (which it may override). A task that
	// simulates no time and names no usage reports none.
	Usage map[string]float64 `json:"usage,omitempty"`
	// OutputBytes makes a successful task's output that many bytes (at
	// most MaxOutputBytes) instead of "simulated": a drill of results too
	// large for the plugin transport, which fail that task alone.
	OutputBytes int64 `json:"output_bytes,omitempty"`
}

// MaxOutputBytes bounds a payload's output_bytes: four times the plugin
// transport's message limit, enough to rehearse an oversized result.
const MaxOutputBytes = 4 * sdk.MaxMessageBytes

// Agent is the simulated agent.
type Agent struct {
	mu   sync.RWMutex
	node sdk.NodeInfo
	cfg  settings
	// execLog, when configured, gets one "<job> <attempt>" line per
	// execution, written with O_APPEND in a single write.
	execLog *os.File
}

type settings struct {
	failRate     float64
	duration     time.Duration
	baseMu       int64
	rates        []sdk.PriceRate
	capabilities []string
	cpuCores     float64
	memoryGB     float64
	attest       sdk.Attestations
	execLog      string
}

// New returns an unconfigured sim agent.
func New() sdk.Agent { return &Agent{cfg: defaults()} }

func defaults() settings {
	return settings{capabilities: []string{"sim"}, cpuCores: 4, memoryGB: 8}
}

// Info implements sdk.Agent.
func (a *Agent) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:        "sim",
		Version:     Version,
		Description: "simulated execution: waits duration_ms and fails deterministically at fail_rate",
		APIVersions: []string{sdk.APIVersion1},
	}, nil
}

// Schema implements sdk.Agent.
func (a *Agent) Schema(context.Context) (sdk.Schema, error) {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "fail_rate", Type: sdk.TypeNumber, Default: 0.0, Description: "default probability in [0,1] that a task fails"},
		{Name: "duration_ms", Type: sdk.TypeNumber, Default: 0.0, Description: "default simulated run time in milliseconds"},
		{Name: "price", Type: sdk.TypeNumber, Default: 0.0, Description: "base price per job in credits"},
		{Name: "rates", Type: sdk.TypeStringList, Description: `per-unit rates in credits, "unit=credits", e.g. "second=0.01"`},
		{Name: "capabilities", Type: sdk.TypeStringList, Default: []string{"sim"}, Description: "capabilities the node advertises"},
		{Name: "cpu_cores", Type: sdk.TypeNumber, Default: 4.0},
		{Name: "memory_gb", Type: sdk.TypeNumber, Default: 8.0},
		{Name: "jurisdiction", Type: sdk.TypeString, Description: "attested jurisdiction, e.g. EU"},
		{Name: "certifications", Type: sdk.TypeStringList},
		{Name: "data_residency", Type: sdk.TypeStringList},
		{Name: "tags", Type: sdk.TypeStringList},
		{Name: "exec_log", Type: sdk.TypeString, Description: `file in the node's data dir that gets "<job> <attempt>" per execution (off when empty)`},
	}}, nil
}

// Configure implements sdk.Agent.
func (a *Agent) Configure(_ context.Context, cfg sdk.Config) error {
	s := defaults()
	v := cfg.Values
	if f, ok := v["fail_rate"].(float64); ok {
		if f < 0 || f > 1 {
			return fmt.Errorf("sim: fail_rate %v is outside [0,1]", f)
		}
		s.failRate = f
	}
	if f, ok := v["duration_ms"].(float64); ok {
		if f < 0 {
			return fmt.Errorf("sim: duration_ms %v is negative", f)
		}
		s.duration = time.Duration(f * float64(time.Millisecond))
	}
	if f, ok := v["price"].(float64); ok {
		s.baseMu = credits(f)
	}
	if l, ok := v["rates"].([]string); ok {
		for _, e := range l {
			unit, amount, found := strings.Cut(e, "=")
			f, err := strconv.ParseFloat(strings.TrimSpace(amount), 64)
			if !found || strings.TrimSpace(unit) == "" || err != nil || f < 0 {
				return fmt.Errorf("%w: %q", ErrBadRate, e)
			}
			s.rates = append(s.rates, sdk.PriceRate{Unit: strings.TrimSpace(unit), PerUnitMu: credits(f)})
		}
	}
	if l, ok := v["capabilities"].([]string); ok {
		s.capabilities = l
	}
	if f, ok := v["cpu_cores"].(float64); ok {
		s.cpuCores = f
	}
	if f, ok := v["memory_gb"].(float64); ok {
		s.memoryGB = f
	}
	s.attest.Jurisdiction, _ = v["jurisdiction"].(string)
	s.attest.Certifications, _ = v["certifications"].([]string)
	s.attest.DataResidency, _ = v["data_residency"].([]string)
	s.attest.Tags, _ = v["tags"].([]string)
	s.execLog, _ = v["exec_log"].(string)
	var logFile *os.File
	if s.execLog != "" {
		if filepath.Base(s.execLog) != s.execLog || cfg.Node.DataDir == "" {
			return fmt.Errorf("%w: %q must be a file name and the node needs a data dir", ErrBadExecLog, s.execLog)
		}
		f, err := os.OpenFile(filepath.Join(cfg.Node.DataDir, s.execLog), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadExecLog, err)
		}
		logFile = f
	}
	a.mu.Lock()
	old := a.execLog
	a.node, a.cfg, a.execLog = cfg.Node, s, logFile
	a.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return nil
}

// credits converts decimal credits to micro-credits, rounding half away
// from zero.
func credits(f float64) int64 { return int64(math.Round(f * 1_000_000)) }

func (a *Agent) settings() (sdk.NodeInfo, settings) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.node, a.cfg
}

// logExecution appends "<job> <attempt>\n" to the exec log, if any.
func (a *Agent) logExecution(task sdk.Task) error {
	a.mu.RLock()
	f := a.execLog
	a.mu.RUnlock()
	if f == nil {
		return nil
	}
	_, err := f.WriteString(task.JobID + " " + strconv.FormatUint(uint64(task.Attempt), 10) + "\n")
	return err
}

// Fingerprint implements sdk.Fingerprinter: one fingerprint, then quiet
// until ctx ends.
func (a *Agent) Fingerprint(ctx context.Context) (<-chan sdk.Fingerprint, error) {
	_, s := a.settings()
	ch := make(chan sdk.Fingerprint, 1)
	ch <- sdk.Fingerprint{
		Capabilities: s.capabilities,
		Resources:    sdk.Resources{CPUCores: s.cpuCores, MemoryGB: s.memoryGB},
		Runtime:      "sim " + Version,
		Healthy:      true,
	}
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch, nil
}

// PriceSchedule implements sdk.PriceScheduler.
func (a *Agent) PriceSchedule(context.Context) (sdk.PriceSchedule, error) {
	_, s := a.settings()
	return sdk.PriceSchedule{Currency: "credit", BaseMu: s.baseMu, Rates: s.rates}, nil
}

// Attest implements sdk.Attester with the configured envelope.
func (a *Agent) Attest(context.Context) (sdk.Attestations, error) {
	_, s := a.settings()
	return s.attest, nil
}

// Execute implements sdk.Executor.
func (a *Agent) Execute(ctx context.Context, task sdk.Task) (sdk.Result, error) {
	node, s := a.settings()
	if err := a.logExecution(task); err != nil {
		return sdk.Result{}, fmt.Errorf("sim: exec log: %w", err)
	}
	failRate, duration := s.failRate, s.duration
	var reported map[string]float64
	output := "simulated"
	if len(task.Payload) > 0 {
		var p Payload
		if err := json.Unmarshal(task.Payload, &p); err != nil {
			return sdk.Result{OK: false, Error: fmt.Sprintf("%v: %v", ErrBadPayload, err)}, nil
		}
		reported = p.Usage
		if p.FailRate != nil {
			failRate = *p.FailRate
		}
		if p.DurationMS != nil {
			duration = time.Duration(*p.DurationMS * float64(time.Millisecond))
		}
		if p.OutputBytes < 0 || p.OutputBytes > MaxOutputBytes {
			return sdk.Result{OK: false, Error: fmt.Sprintf("%v: output_bytes %d outside [0, %d]", ErrBadPayload, p.OutputBytes, MaxOutputBytes)}, nil
		}
		if p.OutputBytes > 0 {
			output = strings.Repeat("s", int(p.OutputBytes))
		}
	}
	if duration > 0 {
		timer := time.NewTimer(duration)
		select {
		case <-ctx.Done():
			timer.Stop()
			return sdk.Result{}, ctx.Err()
		case <-timer.C:
		}
	}
	seed := task.Seed
	if seed == 0 {
		seed = node.Seed
	}
	var usage map[string]float64
	if duration > 0 {
		usage = map[string]float64{"second": duration.Seconds()}
	}
	for k, v := range reported {
		if usage == nil {
			usage = make(map[string]float64, len(reported))
		}
		usage[k] = v
	}
	if Draw(seed, task.JobID, task.Attempt) < failRate {
		return sdk.Result{OK: false, Retryable: true, ExitCode: 1, Error: "simulated failure", Usage: usage}, nil
	}
	return sdk.Result{OK: true, Output: output, Usage: usage}, nil
}

// Draw is the deterministic uniform draw in [0,1) for one attempt of a job.
func Draw(seed uint64, jobID string, attempt uint32) float64 {
	h := fnv.New64a()
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], seed)
	binary.BigEndian.PutUint32(b[8:], attempt)
	_, _ = h.Write(b[:8])
	_, _ = h.Write([]byte(jobID))
	_, _ = h.Write(b[8:])
	// Mix, then keep 53 bits for an exact float in [0,1).
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return float64(x>>11) / (1 << 53)
}

var (
	_ sdk.Agent          = (*Agent)(nil)
	_ sdk.Fingerprinter  = (*Agent)(nil)
	_ sdk.PriceScheduler = (*Agent)(nil)
	_ sdk.Attester       = (*Agent)(nil)
	_ sdk.Executor       = (*Agent)(nil)
)
