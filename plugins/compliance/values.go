package compliance

import (
	"fmt"
	"math"
	"time"
)

// Helpers that read typed values out of sdk.Config.Values (string, float64,
// bool or []string after the host checked them against Schema).

func valString(v map[string]any, key string, def string) (string, error) {
	x, ok := v[key]
	if !ok || x == nil {
		return def, nil
	}
	s, ok := x.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s must be a string, got %T", ErrConfig, key, x)
	}
	return s, nil
}

func valFloat(v map[string]any, key string, def float64) (float64, error) {
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
	return 0, fmt.Errorf("%w: %s must be a number, got %T", ErrConfig, key, x)
}

func valStrings(v map[string]any, key string) ([]string, error) {
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
				return nil, fmt.Errorf("%w: %s must be a list of strings, got element %T", ErrConfig, key, e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %s must be a list of strings, got %T", ErrConfig, key, x)
}

// valDuration accepts a Go duration string ("30s") or a number of seconds.
func valDuration(v map[string]any, key string, def time.Duration) (time.Duration, error) {
	x, ok := v[key]
	if !ok || x == nil {
		return def, nil
	}
	switch d := x.(type) {
	case string:
		p, err := time.ParseDuration(d)
		if err != nil {
			return 0, fmt.Errorf("%w: %s: %w", ErrConfig, key, err)
		}
		return p, nil
	case float64:
		return time.Duration(d * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("%w: %s must be a duration string or seconds, got %T", ErrConfig, key, x)
}

// credits converts decimal credits to micro-credits, rounding half away from zero.
func credits(c float64) int64 {
	return int64(math.Round(c * 1e6))
}

func valBool(v map[string]any, key string, def bool) (bool, error) {
	x, ok := v[key]
	if !ok || x == nil {
		return def, nil
	}
	b, ok := x.(bool)
	if !ok {
		return false, fmt.Errorf("%w: %s must be a bool, got %T", ErrConfig, key, x)
	}
	return b, nil
}
