package limits

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// TestBounds checks every bound of the table below, at and above it.
func TestBounds(t *testing.T) {
	caps := func(n, l int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strings.Repeat("c", l)
		}
		return out
	}
	tests := []struct {
		name string
		err  error
		ok   bool
	}{
		{"job id empty", JobID("id", ""), false},
		{"job id at length", JobID("id", strings.Repeat("a", MaxJobIDLen)), true},
		{"job id above length", JobID("id", strings.Repeat("a", MaxJobIDLen+1)), false},
		{"job id generated", JobID("id", strings.Repeat("s", MaxNameLen)+"-abcdefghijklmnop"), true},
		{"job id slash", JobID("id", "a/b"), false},
		{"job id dot-dot", JobID("id", ".."), false},
		{"job id NUL", JobID("id", "a\x00b"), false},
		{"job id escape", JobID("id", "a\x1b[31m"), false},
		{"name at length", Name("shard", strings.Repeat("n", MaxNameLen)), true},
		{"name above length", Name("shard", strings.Repeat("n", MaxNameLen+1)), false},
		{"label dot", PathComponent("label", "."), false},
		{"label slash", PathComponent("label", "a/b"), false},
		{"label ok", PathComponent("label", "run-1"), true},
		{"key at length", Key("key", strings.Repeat("k", MaxKeyLen)), true},
		{"key above length", Key("key", strings.Repeat("k", MaxKeyLen+1)), false},
		{"key with slash", Key("key", "m/w/1"), true},
		{"key control", Key("key", "a\nb"), false},
		{"payload below", Payload("payload", MaxPayloadBytes-1), true},
		{"payload at", Payload("payload", MaxPayloadBytes), true},
		{"payload above", Payload("payload", MaxPayloadBytes+1), false},
		{"capabilities at count", Capabilities("caps", caps(MaxCapabilities, 1)), true},
		{"capabilities above count", Capabilities("caps", caps(MaxCapabilities+1, 1)), false},
		{"capability at length", Capabilities("caps", caps(1, MaxCapabilityLen)), true},
		{"capability above length", Capabilities("caps", caps(1, MaxCapabilityLen+1)), false},
		{"capability empty", Capabilities("caps", []string{""}), false},
		{"labels at count", Labels("labels", caps(MaxLabels, MaxLabelLen)), true},
		{"labels above count", Labels("labels", caps(MaxLabels+1, 1)), false},
		{"label above length", Labels("labels", caps(1, MaxLabelLen+1)), false},
		{"priority at max", Priority("p", MaxPriority), true},
		{"priority above max", Priority("p", MaxPriority+1), false},
		{"priority at min", Priority("p", -MaxPriority), true},
		{"priority below min", Priority("p", -MaxPriority-1), false},
		{"priority MaxInt64", Priority("p", math.MaxInt64), false},
		{"count at max", Count("n", MaxCount), true},
		{"count above max", Count("n", MaxCount+1), false},
		{"count negative", Count("n", -1), false},
		{"duration at max", DurationMs("d", MaxDurationMs), true},
		{"duration above max", DurationMs("d", MaxDurationMs+1), false},
		{"duration MaxInt64", DurationMs("interval_ms", math.MaxInt64), false},
		{"duration negative", DurationMs("d", -1), false},
		{"attempts default", Attempts("max_attempts", 0), true},
		{"attempts below max", Attempts("max_attempts", MaxAttempts-1), true},
		{"attempts at max", Attempts("max_attempts", MaxAttempts), true},
		{"attempts above max", Attempts("max_attempts", MaxAttempts+1), false},
		{"attempts negative", Attempts("max_attempts", -1), false},
		{"micro at max", Micro("m", MaxMicro), true},
		{"micro above max", Micro("m", MaxMicro+1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", tc.err, tc.ok)
			}
			if tc.err != nil && !errors.Is(tc.err, ErrLimit) {
				t.Fatalf("%v does not wrap ErrLimit", tc.err)
			}
		})
	}
}

func TestCredits(t *testing.T) {
	tests := []struct {
		in   float64
		want int64
		ok   bool
	}{
		{0, 0, true},
		{1.75, 1_750_000, true},
		{0.0000005, 1, true},
		{0.0000004, 0, true},
		{MaxCredits, MaxMicro, true},
		{MaxCredits + 0.5, 0, false},
		{9.3e12, 0, false}, // wrapped to MinInt64 before the check existed
		{1e300, 0, false},
		{-0.000001, 0, false},
		{math.NaN(), 0, false},
		{math.Inf(1), 0, false},
		{math.Inf(-1), 0, false},
	}
	for _, tc := range tests {
		got, err := Credits("value", tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Credits(%v) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "value") {
			t.Errorf("Credits(%v) error %q does not name the field", tc.in, err)
		}
	}
	for _, c := range []float64{1e13, 9.3e12, math.MaxFloat64, math.Inf(1)} {
		if got := SaturatingMicro(c); got != MaxMicro {
			t.Errorf("SaturatingMicro(%v) = %d, want %d", c, got, int64(MaxMicro))
		}
		if got := SaturatingMicro(-c); got != -MaxMicro {
			t.Errorf("SaturatingMicro(%v) = %d, want %d", -c, got, -int64(MaxMicro))
		}
	}
	if SaturatingMicro(math.NaN()) != 0 || SaturatingMicro(-1.5) != -1_500_000 {
		t.Errorf("SaturatingMicro NaN/negative")
	}
}

// FuzzCredits checks that no float converts outside [0, MaxMicro] and that
// every accepted amount round-trips within half a micro-credit.
func FuzzCredits(f *testing.F) {
	for _, c := range []float64{0, 1.75, 0.0000005, MaxCredits, 9.3e12, 9.223372036854775807e12, -1, 1e300} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, c float64) {
		mu, err := Credits("value", c)
		if err != nil {
			if !errors.Is(err, ErrLimit) || mu != 0 {
				t.Fatalf("Credits(%v) = %d, %v", c, mu, err)
			}
		} else {
			if mu < 0 || mu > MaxMicro {
				t.Fatalf("Credits(%v) = %d outside [0, %d]", c, mu, int64(MaxMicro))
			}
			if d := math.Abs(float64(mu)/MicroPerCredit - c); d > 1e-6*1.01+c*1e-15 {
				t.Fatalf("Credits(%v) = %d, off by %g credits", c, mu, d)
			}
		}
		if s := SaturatingMicro(c); s < -MaxMicro || s > MaxMicro {
			t.Fatalf("SaturatingMicro(%v) = %d", c, s)
		}
	})
}
