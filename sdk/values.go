package sdk

import (
	"fmt"
	"math"
	"time"
)

// Values reads typed values out of Config.Values. The host has already
// checked them against the agent's Schema, so the types are string, float64,
// bool or []string; a missing or nil value yields the default. Errors wrap
// ErrBadValue and name the key.
type Values map[string]any

// String returns the string at key, or def.
func (v Values) String(key, def string) (string, error) {
	x, ok := v[key]
	if !ok || x == nil {
		return def, nil
	}
	s, ok := x.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s must be a string, got %T", ErrBadValue, key, x)
	}
	return s, nil
}

// Float returns the number at key, or def.
func (v Values) Float(key string, def float64) (float64, error) {
	x, ok := v[key]
	if !ok || x == nil {
		return def, nil
	}
	switch n := x.(type) {
	case float64:
		return n, nil
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	}
	return 0, fmt.Errorf("%w: %s must be a number, got %T", ErrBadValue, key, x)
}

// Bool returns the bool at key, or def.
func (v Values) Bool(key string, def bool) (bool, error) {
	x, ok := v[key]
	if !ok || x == nil {
		return def, nil
	}
	b, ok := x.(bool)
	if !ok {
		return false, fmt.Errorf("%w: %s must be a bool, got %T", ErrBadValue, key, x)
	}
	return b, nil
}

// Strings returns a copy of the list of strings at key (nil when absent).
func (v Values) Strings(key string) ([]string, error) {
	x, ok := v[key]
	if !ok || x == nil {
		return nil, nil
	}
	switch l := x.(type) {
	case []string:
		return append([]string(nil), l...), nil
	case []any:
		out := make([]string, 0, len(l))
		for _, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%w: %s must be a list of strings, got element %T", ErrBadValue, key, e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %s must be a list of strings, got %T", ErrBadValue, key, x)
}

// Duration accepts a Go duration string ("30s") or a number of seconds.
func (v Values) Duration(key string, def time.Duration) (time.Duration, error) {
	x, ok := v[key]
	if !ok || x == nil {
		return def, nil
	}
	switch d := x.(type) {
	case string:
		p, err := time.ParseDuration(d)
		if err != nil {
			return 0, fmt.Errorf("%w: %s: %w", ErrBadValue, key, err)
		}
		return p, nil
	case float64:
		return time.Duration(d * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("%w: %s must be a duration string or seconds, got %T", ErrBadValue, key, x)
}

// Credits converts decimal credits to micro-credits (1 credit = 1,000,000),
// rounding half away from zero.
func Credits(c float64) int64 {
	return int64(math.Round(c * 1e6))
}
