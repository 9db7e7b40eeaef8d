// Package inference is the built-in inference agent. It sends each task's
// prompt to an OpenAI-compatible chat-completions endpoint and reports the
// answer and token usage. Its price schedule is per token.
package inference

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/planetary/planetary/sdk"
)

// Version is the agent's version.
const Version = "0.1.0"

var (
	// ErrConfig means a config value is missing or of the wrong type.
	ErrConfig = errors.New("inference: invalid config")
	// ErrPayload means a task payload is not valid JSON for Payload.
	ErrPayload = errors.New("inference: invalid payload")
	// ErrEndpoint means the endpoint answered with an error or not at all.
	ErrEndpoint = errors.New("inference: endpoint error")
)

// Config is the agent's parsed configuration.
type Config struct {
	// Endpoint is the OpenAI-compatible base URL, e.g. http://127.0.0.1:8000.
	Endpoint string
	// Model is sent in each request and advertised as "model:<name>".
	Model string
	// APIKeyEnv names the environment variable holding the bearer token (optional).
	APIKeyEnv string
	// Timeout bounds each completion request.
	Timeout time.Duration
	// HealthTimeout bounds the GET /v1/models health probe.
	HealthTimeout time.Duration
	// PriceBaseMu and PricePerTokenMu are micro-credits (config takes credits).
	PriceBaseMu     int64
	PricePerTokenMu int64
	// Capabilities are added to "inference" and "model:<name>".
	Capabilities []string
	// FingerprintInterval is how often the health probe repeats.
	FingerprintInterval time.Duration
}

// DefaultConfig returns the defaults used for unset values.
func DefaultConfig() Config {
	return Config{
		Timeout:             60 * time.Second,
		HealthTimeout:       2 * time.Second,
		FingerprintInterval: 30 * time.Second,
	}
}

// Payload is the JSON task payload of the inference agent.
type Payload struct {
	// Prompt is the user message (required).
	Prompt string `json:"prompt"`
	// System is an optional system message.
	System string `json:"system,omitempty"`
	// MaxTokens limits the completion (0: endpoint default).
	MaxTokens int `json:"max_tokens,omitempty"`
	// Temperature is passed through when set.
	Temperature *float64 `json:"temperature,omitempty"`
}

// Agent is the inference agent.
type Agent struct {
	mu     sync.Mutex
	cfg    Config
	client *http.Client
}

// New returns an unconfigured inference agent.
func New() sdk.Agent { return newAgent() }

func newAgent() *Agent { return &Agent{cfg: DefaultConfig(), client: &http.Client{}} }

// Info implements sdk.Agent.
func (a *Agent) Info(ctx context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:        "inference",
		Version:     Version,
		Description: "answers prompts through an OpenAI-compatible chat-completions endpoint",
		APIVersions: []string{sdk.APIVersion1},
	}, nil
}

// Schema implements sdk.Agent.
func (a *Agent) Schema(ctx context.Context) (sdk.Schema, error) {
	d := DefaultConfig()
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "endpoint", Type: sdk.TypeString, Required: true, Description: "OpenAI-compatible base URL"},
		{Name: "model", Type: sdk.TypeString, Required: true, Description: "model name"},
		{Name: "api_key_env", Type: sdk.TypeString, Description: "environment variable holding the API key"},
		{Name: "timeout", Type: sdk.TypeString, Default: d.Timeout.String(), Description: "per-request timeout"},
		{Name: "health_timeout", Type: sdk.TypeString, Default: d.HealthTimeout.String(), Description: "GET /v1/models timeout"},
		{Name: "price_base", Type: sdk.TypeNumber, Default: 0.0, Description: "base price per job in credits"},
		{Name: "price_per_token", Type: sdk.TypeNumber, Default: 0.0, Description: "price per token in credits"},
		{Name: "capabilities", Type: sdk.TypeStringList, Description: "extra capabilities to advertise"},
		{Name: "fingerprint_interval", Type: sdk.TypeString, Default: d.FingerprintInterval.String(), Description: "health probe interval"},
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
	a.mu.Unlock()
	return nil
}

func parseConfig(v map[string]any) (Config, error) {
	cfg := DefaultConfig()
	var err error
	if cfg.Endpoint, err = valString(v, "endpoint", ""); err != nil {
		return cfg, err
	}
	cfg.Endpoint = strings.TrimRight(cfg.Endpoint, "/")
	if !strings.HasPrefix(cfg.Endpoint, "http://") && !strings.HasPrefix(cfg.Endpoint, "https://") {
		return cfg, fmt.Errorf("%w: endpoint must be an http(s) URL, got %q", ErrConfig, cfg.Endpoint)
	}
	if cfg.Model, err = valString(v, "model", ""); err != nil {
		return cfg, err
	}
	if cfg.Model == "" {
		return cfg, fmt.Errorf("%w: model is required", ErrConfig)
	}
	if cfg.APIKeyEnv, err = valString(v, "api_key_env", ""); err != nil {
		return cfg, err
	}
	if cfg.Timeout, err = valDuration(v, "timeout", cfg.Timeout); err != nil {
		return cfg, err
	}
	if cfg.HealthTimeout, err = valDuration(v, "health_timeout", cfg.HealthTimeout); err != nil {
		return cfg, err
	}
	if cfg.FingerprintInterval, err = valDuration(v, "fingerprint_interval", cfg.FingerprintInterval); err != nil {
		return cfg, err
	}
	if cfg.Timeout <= 0 || cfg.HealthTimeout <= 0 || cfg.FingerprintInterval <= 0 {
		return cfg, fmt.Errorf("%w: timeouts and intervals must be positive", ErrConfig)
	}
	base, err := valFloat(v, "price_base", 0)
	if err != nil {
		return cfg, err
	}
	per, err := valFloat(v, "price_per_token", 0)
	if err != nil {
		return cfg, err
	}
	if base < 0 || per < 0 {
		return cfg, fmt.Errorf("%w: prices must not be negative", ErrConfig)
	}
	cfg.PriceBaseMu, cfg.PricePerTokenMu = credits(base), credits(per)
	if cfg.Capabilities, err = valStrings(v, "capabilities"); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func (a *Agent) config() Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg
}

func (a *Agent) authorize(cfg Config, req *http.Request) {
	if cfg.APIKeyEnv == "" {
		return
	}
	if key := os.Getenv(cfg.APIKeyEnv); key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
}

// Health probes GET {endpoint}/v1/models within the health timeout.
func (a *Agent) Health(ctx context.Context) error {
	cfg := a.config()
	ctx, cancel := context.WithTimeout(ctx, cfg.HealthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Endpoint+"/v1/models", nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrEndpoint, err)
	}
	a.authorize(cfg, req)
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrEndpoint, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: GET /v1/models: %s", ErrEndpoint, resp.Status)
	}
	return nil
}

func (a *Agent) fingerprint(ctx context.Context) sdk.Fingerprint {
	cfg := a.config()
	fp := sdk.Fingerprint{
		Capabilities: append([]string{"inference", "model:" + cfg.Model}, cfg.Capabilities...),
		Runtime:      cfg.Endpoint,
		Healthy:      true,
		Message:      fmt.Sprintf("model %s at %s", cfg.Model, cfg.Endpoint),
	}
	if err := a.Health(ctx); err != nil {
		fp.Healthy = false
		fp.Message = fmt.Sprintf("endpoint unhealthy: %v", err)
	}
	return fp
}

// Fingerprint implements sdk.Fingerprinter: the capabilities, and health
// re-probed every fingerprint_interval; a change is sent on the stream.
func (a *Agent) Fingerprint(ctx context.Context) (<-chan sdk.Fingerprint, error) {
	ch := make(chan sdk.Fingerprint, 1)
	last := a.fingerprint(ctx)
	ch <- last
	every := a.config().FingerprintInterval
	go func() {
		defer close(ch)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			fp := a.fingerprint(ctx)
			if fp.Healthy == last.Healthy && fp.Message == last.Message {
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

// PriceSchedule implements sdk.PriceScheduler: base + per-token rate.
func (a *Agent) PriceSchedule(ctx context.Context) (sdk.PriceSchedule, error) {
	cfg := a.config()
	return sdk.PriceSchedule{
		Currency: "credit",
		BaseMu:   cfg.PriceBaseMu,
		Rates:    []sdk.PriceRate{{Unit: "token", PerUnitMu: cfg.PricePerTokenMu}},
	}, nil
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model       string        `json:"model"`
	Messages    []chatMessage `json:"messages"`
	MaxTokens   int           `json:"max_tokens,omitempty"`
	Temperature *float64      `json:"temperature,omitempty"`
}

type chatResponse struct {
	Choices []struct {
		Message      chatMessage `json:"message"`
		FinishReason string      `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     float64 `json:"prompt_tokens"`
		CompletionTokens float64 `json:"completion_tokens"`
		TotalTokens      float64 `json:"total_tokens"`
	} `json:"usage"`
}

// excerptLimit bounds how much of an error body goes into Result.Error.
const excerptLimit = 512

// Execute implements sdk.Executor.
func (a *Agent) Execute(ctx context.Context, task sdk.Task) (sdk.Result, error) {
	var p Payload
	if err := json.Unmarshal(task.Payload, &p); err != nil {
		return sdk.Result{ExitCode: -1, Error: fmt.Errorf("%w: %w", ErrPayload, err).Error()}, nil
	}
	if p.Prompt == "" {
		return sdk.Result{ExitCode: -1, Error: fmt.Sprintf("%v: prompt is required", ErrPayload)}, nil
	}
	cfg := a.config()
	body := chatRequest{Model: cfg.Model, MaxTokens: p.MaxTokens, Temperature: p.Temperature}
	if p.System != "" {
		body.Messages = append(body.Messages, chatMessage{Role: "system", Content: p.System})
	}
	body.Messages = append(body.Messages, chatMessage{Role: "user", Content: p.Prompt})
	buf, err := json.Marshal(body)
	if err != nil {
		return sdk.Result{}, fmt.Errorf("inference: encode request: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, cfg.Endpoint+"/v1/chat/completions", bytes.NewReader(buf))
	if err != nil {
		return sdk.Result{ExitCode: -1, Error: fmt.Errorf("%w: %w", ErrEndpoint, err).Error()}, nil
	}
	req.Header.Set("Content-Type", "application/json")
	a.authorize(cfg, req)
	resp, err := a.client.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return sdk.Result{ExitCode: -1, Error: fmt.Sprintf("cancelled: %v", context.Cause(ctx))}, nil
		case rctx.Err() != nil:
			return sdk.Result{ExitCode: -1, Retryable: true, Error: fmt.Sprintf("timed out after %s", cfg.Timeout)}, nil
		}
		return sdk.Result{ExitCode: -1, Retryable: true, Error: fmt.Errorf("%w: %w", ErrEndpoint, err).Error()}, nil
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return sdk.Result{ExitCode: -1, Retryable: true, Error: fmt.Errorf("%w: read response: %w", ErrEndpoint, err).Error()}, nil
	}
	if resp.StatusCode/100 != 2 {
		excerpt := strings.TrimSpace(string(raw))
		if len(excerpt) > excerptLimit {
			excerpt = excerpt[:excerptLimit] + "..."
		}
		return sdk.Result{
			ExitCode:  int64(resp.StatusCode),
			Retryable: resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests,
			Error:     fmt.Sprintf("%v: %s: %s", ErrEndpoint, resp.Status, excerpt),
		}, nil
	}
	var cr chatResponse
	if err := json.Unmarshal(raw, &cr); err != nil {
		return sdk.Result{ExitCode: -1, Retryable: true, Error: fmt.Errorf("%w: decode response: %w", ErrEndpoint, err).Error()}, nil
	}
	if len(cr.Choices) == 0 {
		return sdk.Result{ExitCode: -1, Retryable: true, Error: fmt.Sprintf("%v: response has no choices", ErrEndpoint)}, nil
	}
	total := cr.Usage.TotalTokens
	if total == 0 {
		total = cr.Usage.PromptTokens + cr.Usage.CompletionTokens
	}
	return sdk.Result{
		OK:     true,
		Output: cr.Choices[0].Message.Content,
		Usage: map[string]float64{
			"token":             total,
			"prompt_tokens":     cr.Usage.PromptTokens,
			"completion_tokens": cr.Usage.CompletionTokens,
		},
	}, nil
}

var (
	_ sdk.Agent          = (*Agent)(nil)
	_ sdk.Fingerprinter  = (*Agent)(nil)
	_ sdk.PriceScheduler = (*Agent)(nil)
	_ sdk.Executor       = (*Agent)(nil)
)
