package client

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/sdk"
)

// StateSource is what the client reads a node's published state from.
// *host.Plugin satisfies it; an Executor that does not is never asked.
type StateSource interface {
	Has(capability string) bool
	PriceSchedule(ctx context.Context) (sdk.PriceSchedule, error)
	Attest(ctx context.Context) (sdk.Attestations, error)
	Fingerprint(ctx context.Context) (<-chan sdk.Fingerprint, error)
}

// publishLoop publishes the node's state whenever its plugin starts (or is
// replaced) and whenever the plugin's fingerprint changes. The scheduler
// prices and filters from the replicated result, never by calling plugins.
func (nr *nodeRunner) publishLoop(ctx context.Context) {
	var last *api.NodeState
	for ctx.Err() == nil {
		e, err := nr.executor(ctx)
		if err != nil {
			if !sleep(ctx, nr.c.cfg.RetryInterval) {
				return
			}
			continue
		}
		src, ok := e.(StateSource)
		if !ok {
			return
		}
		last = nr.publishFrom(ctx, src, last)
		// Wait for the next plugin (publishFrom returns when the
		// fingerprint stream ends, or at once without one).
		select {
		case <-ctx.Done():
			return
		case <-nr.changed:
		}
	}
}

// publishFrom reads price and attestations once, then publishes on every
// fingerprint until the stream ends or a new plugin serves the node. It
// returns the last state published.
func (nr *nodeRunner) publishFrom(ctx context.Context, src StateSource, last *api.NodeState) *api.NodeState {
	base := api.NodeState{ID: nr.node.ID}
	if src.Has(sdk.CapPriceSchedule) {
		ps, err := src.PriceSchedule(ctx)
		if err != nil {
			nr.log.Warn("price schedule not read; the mission's price stays", "error", err)
		} else if ps.BaseMu != 0 || len(ps.Rates) > 0 || ps.Expr != "" {
			// An empty schedule is no schedule: the mission's price stays.
			p := priceOf(ps)
			base.Price = &p
		}
	}
	if src.Has(sdk.CapAttest) {
		at, err := src.Attest(ctx)
		if err != nil {
			nr.log.Warn("attestations not read", "error", err)
		} else if at.Jurisdiction != "" || len(at.Certifications)+len(at.DataResidency)+len(at.Tags) > 0 {
			// Empty attestations leave the mission's in place.
			a := api.Attestations{Certifications: at.Certifications, Jurisdiction: at.Jurisdiction,
				DataResidency: at.DataResidency, Tags: at.Tags}
			base.Attestations = &a
		}
	}
	publish := func(st api.NodeState) {
		if last != nil && reflect.DeepEqual(*last, st) {
			return
		}
		if err := nr.c.publish(ctx, st); err != nil {
			if ctx.Err() == nil {
				nr.log.Warn("node state not published", "error", err)
			}
			return
		}
		last = &st
	}
	if !src.Has(sdk.CapFingerprint) {
		if base.Price != nil || base.Attestations != nil {
			publish(base)
		}
		return last
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fps, err := src.Fingerprint(fctx)
	if err != nil {
		nr.log.Warn("fingerprint stream not opened", "error", err)
		publish(base)
		return last
	}
	for {
		select {
		case <-ctx.Done():
			return last
		case <-nr.changed:
			// A new plugin: let the loop start over with it.
			select {
			case nr.changed <- struct{}{}:
			default:
			}
			return last
		case fp, ok := <-fps:
			if !ok {
				return last
			}
			publish(nr.withFingerprint(base, fp))
		}
	}
}

// withFingerprint merges a fingerprint into st: capabilities are the
// node's declared ones united with the fingerprint's; resources and runtime
// are the fingerprint's when it reports them.
func (nr *nodeRunner) withFingerprint(st api.NodeState, fp sdk.Fingerprint) api.NodeState {
	caps := append(slices.Clone(nr.node.Capabilities), fp.Capabilities...)
	slices.Sort(caps)
	caps = slices.Compact(caps)
	st.Capabilities = &caps
	r := fp.Resources
	if r != (sdk.Resources{}) {
		st.Resources = &api.Resources{CPUCores: r.CPUCores, MemoryGB: r.MemoryGB, GPUClass: r.GPUClass, GPUs: r.GPUs,
			StorageGB: r.StorageGB}
	}
	if fp.Runtime != "" {
		rt := fp.Runtime
		st.Runtime = &rt
	}
	return st
}

func priceOf(ps sdk.PriceSchedule) api.Price {
	p := api.Price{Currency: ps.Currency, BaseMicro: ps.BaseMu, Expr: ps.Expr}
	for _, r := range ps.Rates {
		p.Rates = append(p.Rates, api.PriceRate{Unit: r.Unit, PerUnitMicro: r.PerUnitMu})
	}
	return p
}

// publish sends one node's state, failing over between servers.
func (c *Client) publish(ctx context.Context, st api.NodeState) error {
	return c.retry(ctx, "publish node state", func(s *api.Client) error {
		res, err := s.ClientNodeState(ctx, api.ClientNodeState{Client: c.cfg.Name, Nodes: []api.NodeState{st}})
		if err == nil && len(res.Skipped) > 0 {
			return fmt.Errorf("%w: %s", ErrNotHosted, st.ID)
		}
		return err
	})
}
