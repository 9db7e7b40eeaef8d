package api

import (
	"errors"
	"fmt"

	"github.com/planetary/planetary/core/limits"
	"github.com/planetary/planetary/core/validate"
)

// Checks of what only the wire form of a request shows: money given in
// credits, micro-credits or both. Each returns a 400 naming the field (with
// the prefix given, e.g. "nodes[2].") and the limit. Every other rule is the
// endpoint's (core/server/endpoints*.go, core/validate).

// fieldError is a rule's refusal (*validate.Error) as a 400.
func fieldError(err error) error {
	var ve *validate.Error
	if errors.As(err, &ve) {
		return badRequest(ve.Field, "%s", ve.Msg)
	}
	return err
}

// limitCheck is limitError: a limits refusal of field as a 400.
func limitCheck(field string, err error) error { return limitError(field, err) }

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
