package main

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/planetary/planetary/sdk"
)

// reverser is a third-party agent: each task's payload is text, and the
// result is that text reversed (and upper-cased if configured).
type reverser struct {
	mu    sync.RWMutex
	upper bool
	price int64
}

func (r *reverser) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:        "echo-reverse",
		Version:     "1.0.0",
		Description: "reverses the text of each task",
		APIVersions: []string{sdk.APIVersion1},
	}, nil
}

func (r *reverser) Schema(context.Context) (sdk.Schema, error) {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "uppercase", Type: sdk.TypeBool, Default: false, Description: "upper-case the output"},
		{Name: "price_mu", Type: sdk.TypeNumber, Default: 1000.0, Description: "price per job in micro-credits"},
	}}, nil
}

func (r *reverser) Configure(_ context.Context, cfg sdk.Config) error {
	upper, _ := cfg.Values["uppercase"].(bool)
	price, _ := cfg.Values["price_mu"].(float64)
	if price < 0 {
		return errors.New("price_mu must not be negative")
	}
	r.mu.Lock()
	r.upper, r.price = upper, int64(price)
	r.mu.Unlock()
	return nil
}

// PriceSchedule makes the agent biddable by the scheduler.
func (r *reverser) PriceSchedule(context.Context) (sdk.PriceSchedule, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return sdk.PriceSchedule{Currency: "credit", BaseMu: r.price}, nil
}

// Execute reverses the payload.
func (r *reverser) Execute(ctx context.Context, t sdk.Task) (sdk.Result, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Result{}, err
	}
	if len(t.Payload) == 0 {
		return sdk.Result{OK: false, Error: "empty payload: nothing to reverse"}, nil
	}
	runes := []rune(string(t.Payload))
	for i, j := 0, len(runes)-1; i < j; i, j = i+1, j-1 {
		runes[i], runes[j] = runes[j], runes[i]
	}
	out := string(runes)
	r.mu.RLock()
	if r.upper {
		out = strings.ToUpper(out)
	}
	r.mu.RUnlock()
	return sdk.Result{OK: true, Output: out, Usage: map[string]float64{"char": float64(len(runes))}}, nil
}

var (
	_ sdk.Agent          = (*reverser)(nil)
	_ sdk.PriceScheduler = (*reverser)(nil)
	_ sdk.Executor       = (*reverser)(nil)
)
