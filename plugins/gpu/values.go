package gpu

import (
	"fmt"
	"time"

	"github.com/planetary/planetary/sdk"
)

// Config values are read with sdk.Values; a bad one is reported as ErrConfig.

func valString(v map[string]any, key, def string) (string, error) {
	return cfgErr(sdk.Values(v).String(key, def))
}

func valFloat(v map[string]any, key string, def float64) (float64, error) {
	return cfgErr(sdk.Values(v).Float(key, def))
}

func valStrings(v map[string]any, key string) ([]string, error) {
	return cfgErr(sdk.Values(v).Strings(key))
}

func valDuration(v map[string]any, key string, def time.Duration) (time.Duration, error) {
	return cfgErr(sdk.Values(v).Duration(key, def))
}

func cfgErr[T any](x T, err error) (T, error) {
	if err != nil {
		return x, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return x, nil
}

func credits(c float64) int64 { return sdk.Credits(c) }
