// Package sdk is the public API for planetary agent plugins. It is the only
// planetary package a plugin author imports.
//
// An agent implements Agent (three methods) and any of the optional
// interfaces: Fingerprinter, PriceScheduler, Attester, Executor. The host
// discovers them by type assertion; an agent never writes stubs for what it
// does not support. A plugin's main is one call:
//
//	func main() { sdk.Serve(func() sdk.Agent { return &myAgent{} }) }
package sdk

import "context"

// Agent is the required part of every plugin.
//
// Lifecycle: the host starts the plugin, calls Info, checks the API version,
// calls Schema, validates the agent-config block against it, then Configure
// with constant values. Optional interfaces are then used as long as the
// plugin lives.
type Agent interface {
	Info(ctx context.Context) (Info, error)
	Schema(ctx context.Context) (Schema, error)
	Configure(ctx context.Context, cfg Config) error
}

// Fingerprinter reports what the node offers. The stream sends a new
// Fingerprint whenever it changes and ends when ctx is done.
type Fingerprinter interface {
	Fingerprint(ctx context.Context) (<-chan Fingerprint, error)
}

// PriceScheduler publishes the node's price schedule. The scheduler prices
// jobs from it without calling the plugin.
type PriceScheduler interface {
	PriceSchedule(ctx context.Context) (PriceSchedule, error)
}

// Attester publishes the node's compliance envelope.
type Attester interface {
	Attest(ctx context.Context) (Attestations, error)
}

// Executor runs tasks. Execute is called concurrently, once per task, and
// must return when ctx is cancelled (the job was cancelled or its node lost).
// A returned error is an infrastructure failure and is retried; a task that
// ran and failed returns Result{OK: false}.
type Executor interface {
	Execute(ctx context.Context, task Task) (Result, error)
}

// HealthChecker reports whether the agent can take work. Health is called
// often (it is the host's heartbeat probe) with a short deadline; it must be
// cheap. Agents without it are healthy while their process serves.
type HealthChecker interface {
	Health(ctx context.Context) error
}

// Names of the optional interfaces, as listed in Info.Implements and asked
// about by the host.
const (
	CapFingerprint   = "fingerprint"
	CapPriceSchedule = "price_schedule"
	CapAttest        = "attest"
	CapExecute       = "execute"
	CapHealth        = "health"
)

// Implements lists the optional interfaces a implements, in a fixed order.
func Implements(a Agent) []string {
	var out []string
	if _, ok := a.(Fingerprinter); ok {
		out = append(out, CapFingerprint)
	}
	if _, ok := a.(PriceScheduler); ok {
		out = append(out, CapPriceSchedule)
	}
	if _, ok := a.(Attester); ok {
		out = append(out, CapAttest)
	}
	if _, ok := a.(Executor); ok {
		out = append(out, CapExecute)
	}
	if _, ok := a.(HealthChecker); ok {
		out = append(out, CapHealth)
	}
	return out
}
