// Package validate holds the rules an owner command's arguments obey,
// whoever states them: core/server's endpoints (HTTP calls, scheduled
// entries) and core/mission's parser call the same function per rule, so
// a rule is written once. A rule reads no state; each returns nil or an
// *Error naming the request field it refuses.
package validate

import (
	"fmt"

	"github.com/planetary/planetary/core/limits"
	"github.com/planetary/planetary/raftfsm/command"
)

// Error is a refused value: the field it concerns (as the HTTP API names
// it, e.g. "spill_to" or "policies[2].target") and why.
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string { return e.Msg }

func refuse(field, format string, args ...any) *Error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// First returns the first non-nil error of errs.
func First(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Limit turns a limits refusal of field into an *Error naming it.
func Limit(field string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Field: field, Msg: err.Error()}
}

// Required refuses an empty value; what names it in the message.
func Required(field, value, what string) error {
	if value == "" {
		return refuse(field, "%s is required", what)
	}
	return nil
}

// NonNegative refuses a negative count or duration.
func NonNegative(field string, v int64) error {
	if v < 0 {
		return refuse(field, "%s must not be negative", field)
	}
	return nil
}

// Count bounds a non-negative count (docs/limits.md).
func Count(field string, v int64) error {
	return First(NonNegative(field, v), Limit(field, limits.Count(field, v)))
}

// Duration bounds a non-negative duration in milliseconds.
func Duration(field string, ms int64) error {
	return First(NonNegative(field, ms), Limit(field, limits.DurationMs(field, ms)))
}

// SpillTarget refuses a spillover target that is the shard itself.
func SpillTarget(field, shard, target string) error {
	if target == shard {
		return refuse(field, "shard %q cannot spill to itself", shard)
	}
	return nil
}

// Deregister checks what a shard deregistration does with the shard's
// jobs: spill them to another shard (spillTo) or cancel them, one of the
// two.
func Deregister(shard, spillTo string, cancel bool) error {
	switch {
	case spillTo == "" && !cancel:
		return refuse("spill_to", "name spill_to or set cancel")
	case spillTo != "" && cancel:
		return refuse("cancel", "spill_to and cancel exclude each other")
	}
	if spillTo != "" {
		return SpillTarget("spill_to", shard, spillTo)
	}
	return nil
}

// RerouteTarget refuses rerouting a shard's jobs to the shard they are in.
func RerouteTarget(shard, target string) error {
	if target == shard {
		return refuse("target", "jobs of shard %q cannot be rerouted to the shard they are in", shard)
	}
	return nil
}

// ReportingLabel refuses a report label that is not one path component.
func ReportingLabel(label string) error {
	return Limit("label", limits.PathComponent("label", label))
}

// CheckpointInterval bounds a checkpoint interval; 0 leaves it unchanged.
func CheckpointInterval(ms int64) error {
	return Duration("interval_ms", ms)
}

// Job checks the values of a submitted job, jobs[i] of its batch, against
// the limits (docs/limits.md).
func Job(i int, j command.JobSubmit) error {
	f := func(name string) string { return fmt.Sprintf("jobs[%d].%s", i, name) }
	return First(
		optional(f("id"), j.ID, limits.JobID),
		Required(f("shard"), j.Shard, fmt.Sprintf("jobs[%d]: shard", i)),
		Limit(f("shard"), limits.Name(f("shard"), j.Shard)),
		optional(f("kind"), j.Kind, limits.Name),
		Limit(f("key"), limits.Key(f("key"), j.Key)),
		Limit(f("capabilities"), limits.Capabilities(f("capabilities"), j.Capabilities)),
		Limit(f("priority"), limits.Priority(f("priority"), j.Priority)),
		Limit(f("payload"), limits.Payload(f("payload"), len(j.Payload))),
		Limit(f("max_attempts"), limits.Attempts(f("max_attempts"), int64(j.MaxAttempts))),
		Limit(f("value"), limits.Micro(f("value"), j.ValueMu)),
		Limit(f("max_price"), limits.Micro(f("max_price"), j.MaxPriceMu)),
	)
}

// optional applies rule to a value that may be empty.
func optional(field, v string, rule func(field, v string) error) error {
	if v == "" {
		return nil
	}
	return Limit(field, rule(field, v))
}

// AtMost bounds the length of a list.
func AtMost(field string, n, max int) error {
	if n > max {
		return refuse(field, "%s: %d given, at most %d allowed", field, n, max)
	}
	return nil
}
