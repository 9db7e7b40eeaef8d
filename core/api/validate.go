package api

import (
	"fmt"

	"github.com/planetary/planetary/core/limits"
)

// Request checks against the limits (docs/limits.md). Each returns a 400
// naming the field (with the prefix given, e.g. "nodes[2].") and the limit.

func checkAll(checks ...error) error {
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

// limitCheck is limitError: a limits refusal of field as a 400.
func limitCheck(field string, err error) error { return limitError(field, err) }

func checkCount(field string, n int64) error { return limitCheck(field, limits.Count(field, n)) }

func checkDuration(field string, ms int64) error {
	return limitCheck(field, limits.DurationMs(field, ms))
}

func checkCredits(field string, c float64) error {
	_, err := limits.Credits(field, c)
	return limitCheck(field, err)
}

// checkMoney checks an amount given in credits, micro-credits or both
// (then they must agree); field names the credits field, field+"_micro" the
// other.
func checkMoney(field string, credits float64, micro int64) (int64, error) {
	mu, err := limits.Credits(field, credits)
	if err != nil {
		return 0, limitCheck(field, err)
	}
	if micro == 0 {
		return mu, nil
	}
	if err := limits.Micro(field+"_micro", micro); err != nil {
		return 0, limitCheck(field+"_micro", err)
	}
	if credits != 0 && mu != micro {
		return 0, badRequest(field+"_micro", "%s_micro: %d micro-credits disagrees with %s %v credits; give one of them",
			field, micro, field, credits)
	}
	return micro, nil
}

func checkPrice(prefix string, p Price) error {
	if _, err := checkMoney(prefix+"base", p.Base, p.BaseMicro); err != nil {
		return err
	}
	if len(p.Rates) > limits.MaxCapabilities {
		f := prefix + "rates"
		return badRequest(f, "%s: %d rates, at most %d allowed", f, len(p.Rates), limits.MaxCapabilities)
	}
	for i, r := range p.Rates {
		if _, err := checkMoney(fmt.Sprintf("%srates[%d].per_unit", prefix, i), r.PerUnit, r.PerUnitMicro); err != nil {
			return err
		}
	}
	return nil
}

func checkAttestations(prefix string, a Attestations) error {
	return checkAll(
		limitCheck(prefix+"certifications", limits.Labels(prefix+"certifications", a.Certifications)),
		limitCheck(prefix+"data_residency", limits.Labels(prefix+"data_residency", a.DataResidency)),
		limitCheck(prefix+"tags", limits.Labels(prefix+"tags", a.Tags)),
	)
}

func checkCapabilities(field string, caps []string) error {
	return limitCheck(field, limits.Capabilities(field, caps))
}

// checkShardLimits bounds a shard's fields.
func checkShardLimits(s Shard) error {
	if err := checkAll(
		limitCheck("name", limits.Name("name", s.Name)),
		checkDuration("latency_budget_ms", s.LatencyBudgetMs),
		checkDuration("spill_grace_ms", s.SpillGraceMs),
		checkCount("max_queue", s.MaxQueue),
		checkCount("queue_alert_threshold", s.QueueAlertThreshold),
	); err != nil {
		return err
	}
	if len(s.SpilloverTargets) > limits.MaxCapabilities {
		return badRequest("spillover_targets", "spillover_targets: %d targets, at most %d allowed", len(s.SpilloverTargets), limits.MaxCapabilities)
	}
	if len(s.Policies) > limits.MaxCapabilities {
		return badRequest("policies", "policies: %d policies, at most %d allowed", len(s.Policies), limits.MaxCapabilities)
	}
	for i, p := range s.Policies {
		f := func(n string) string { return fmt.Sprintf("policies[%d].%s", i, n) }
		if err := checkAll(
			checkCount(f("threshold"), p.Threshold),
			checkCount(f("max_drain"), p.MaxDrain),
			checkCount(f("weight"), p.Weight),
			checkCapabilities(f("required_capabilities"), p.RequiredCapabilities),
		); err != nil {
			return err
		}
	}
	return nil
}

// checkNodeLimits bounds a node's fields; prefix names its position.
func checkNodeLimits(n Node, prefix string) error {
	f := func(name string) string { return prefix + name }
	return checkAll(
		limitCheck(f("id"), limits.Name(f("id"), n.ID)),
		limitCheck(f("shard"), limits.Name(f("shard"), n.Shard)),
		checkCount(f("capacity"), n.Capacity),
		checkCount(f("max_concurrency"), n.MaxConcurrency),
		checkCount(f("quota"), n.Quota),
		checkDuration(f("latency_ms"), n.LatencyMs),
		checkCount(f("heartbeat_sec"), n.HeartbeatSec),
		checkCount(f("deployment.resources.gpus"), n.Deployment.Resources.GPUs),
		checkCapabilities(f("capabilities"), n.Capabilities),
		limitCheck(f("labels"), limits.Labels(f("labels"), n.Labels)),
		limitCheck(f("deployment.zones"), limits.Labels(f("deployment.zones"), n.Deployment.Zones)),
		checkPrice(f("price."), n.Price),
		checkAttestations(f("attestations."), n.Attestations),
	)
}
