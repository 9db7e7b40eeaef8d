package state

import (
	"errors"
	"math"
	"testing"
)

func TestMeterCost(t *testing.T) {
	cases := []struct {
		name      string
		rate, qty int64
		want      int64
		err       error
	}{
		{"whole units", 2_000, 3 * Micro, 6_000, nil},
		{"fraction rounds half up", 1, Micro / 2, 1, nil},
		{"fraction rounds down", 1, Micro/2 - 1, 0, nil},
		{"negative rate rounds away from zero", -1, Micro / 2, -1, nil},
		{"zero quantity", 5_000, 0, 0, nil},
		{"product past 64 bits", 4_000_000_000, 4_000_000_000_000, 16_000_000_000_000_000, nil},
		{"largest result", math.MaxInt64, Micro, math.MaxInt64, nil},
		{"result past int64", math.MaxInt64, Micro + 1, 0, ErrMeterOverflow},
		{"quotient past 64 bits", math.MaxInt64, math.MaxInt64, 0, ErrMeterOverflow},
		{"most negative rate", math.MinInt64, Micro, math.MinInt64 + 1, ErrMeterOverflow},
		{"negative quantity", 1, -1, 0, ErrMeterOverflow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MeterCost(tc.rate, tc.qty)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if tc.err == nil && got != tc.want {
				t.Fatalf("MeterCost(%d, %d) = %d, want %d", tc.rate, tc.qty, got, tc.want)
			}
		})
	}
}

func TestAddMu(t *testing.T) {
	cases := []struct {
		a, b int64
		ok   bool
	}{
		{1, 2, true}, {math.MaxInt64, 0, true}, {math.MaxInt64, 1, false}, {math.MinInt64, -1, false},
		{math.MinInt64, math.MaxInt64, true}, {-5, 3, true},
	}
	for _, tc := range cases {
		s, err := AddMu(tc.a, tc.b)
		if (err == nil) != tc.ok || (tc.ok && s != tc.a+tc.b) {
			t.Errorf("AddMu(%d, %d) = %d, %v", tc.a, tc.b, s, err)
		}
	}
}

func TestSettle(t *testing.T) {
	// A node with base 0.1, a flat 0.05 for capability gpu, and 0.001 a
	// token metered; the job declares 1000 tokens: quote 0.1+0.05+1 = 1.15.
	job := func(maxPrice int64) *Job {
		return &Job{QuoteMu: 1_150_000, MaxPriceMu: maxPrice,
			Units:  []Quantity{{Unit: "token", Micro: 1000 * Micro}},
			Meters: []Meter{{Unit: "token", PerUnitMu: 1_000}}}
	}
	tokens := func(n int64) []Quantity { return []Quantity{{Unit: "token", Micro: n * Micro}} }
	cases := []struct {
		name  string
		j     *Job
		usage []Quantity
		want  int64
		basis string
	}{
		{"below the quote: usage price", job(0), tokens(400), 550_000, SettledUsage},
		{"exactly the quote", job(0), tokens(1000), 1_150_000, SettledUsage},
		{"above the quote: capped", job(0), tokens(5000), 1_150_000, SettledQuoteCap},
		{"no usage: the quote", job(0), nil, 1_150_000, SettledNoUsage},
		{"other dimension only: declared units", job(0), []Quantity{{Unit: "second", Micro: 9 * Micro}}, 1_150_000, SettledUsage},
		{"zero usage: the fixed part", job(0), tokens(0), 150_000, SettledUsage},
		{"max price below usage price", job(500_000), tokens(400), 500_000, SettledMaxPriceCap},
		{"max price above usage price", job(600_000), tokens(400), 550_000, SettledUsage},
		{"max price below quote, no usage", job(1_000_000), nil, 1_000_000, SettledMaxPriceCap},
		{"overflowing usage: quote cap", job(0), []Quantity{{Unit: "token", Micro: math.MaxInt64}}, 1_150_000, SettledQuoteCap},
		{"nothing metered", &Job{QuoteMu: 700_000}, tokens(3), 700_000, SettledUnmetered},
		{"fractional units", job(0), []Quantity{{Unit: "token", Micro: 1_500_000}}, 151_500, SettledUsage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, basis := Settle(tc.j, tc.usage)
			if got != tc.want || basis != tc.basis {
				t.Fatalf("Settle = %d (%s), want %d (%s)", got, basis, tc.want, tc.basis)
			}
		})
	}
}

func TestMicroUnits(t *testing.T) {
	cases := []struct {
		in   float64
		want int64
		ok   bool
	}{
		{812, 812 * Micro, true}, {0.0000005, 1, true}, {1.25, 1_250_000, true}, {0, 0, true},
		{-1, 0, false}, {math.NaN(), 0, false}, {math.Inf(1), 0, false}, {MaxUnits + 10, 0, false},
	}
	for _, tc := range cases {
		got, ok := MicroUnits(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("MicroUnits(%v) = %d, %v", tc.in, got, ok)
		}
	}
	q, err := Quantities(map[string]float64{"token": 3, "gpu_second": 1.5})
	if err != nil || len(q) != 2 || q[0] != (Quantity{"gpu_second", 1_500_000}) || q[1] != (Quantity{"token", 3 * Micro}) {
		t.Fatalf("Quantities = %v, %v", q, err)
	}
	var qe *QuantityError
	if _, err := Quantities(map[string]float64{"token": -2}); !errors.As(err, &qe) || qe.Unit != "token" {
		t.Fatalf("negative: %v", err)
	}
}

func TestFormatMicro(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 1_500_000: "1.5", 20_000: "0.02", -3: "-0.000003", 7 * Micro: "7",
		math.MinInt64: "-9223372036854.775808"} {
		if got := FormatMicro(in); got != want {
			t.Errorf("FormatMicro(%d) = %q, want %q", in, got, want)
		}
	}
}

// An older, shorter Job tuple (before metering) of a completed job decodes
// as paid its quote, so the payments invariant holds over old snapshots.
func TestUnmarshalOldCompletedJobSettlesAtQuote(t *testing.T) {
	j := fullJob()
	j.State = JobCompleted
	full, _ := j.MarshalMsg(nil)
	body := full[3:]
	rest := body
	for range 25 {
		var err error
		if rest, err = skipOne(rest); err != nil {
			t.Fatal(err)
		}
	}
	old := append([]byte{0xdc, 0, 25}, body[:len(body)-len(rest)]...)
	var got Job
	if _, err := NewInterner().UnmarshalJob(old, &got); err != nil {
		t.Fatal(err)
	}
	if got.SettledMu != j.QuoteMu || got.Units != nil || got.Usage != nil || got.Origin != "mars" {
		t.Fatalf("old tuple: %+v", got)
	}
}

func TestSettleDetailRoundTrip(t *testing.T) {
	j := &Job{QuoteMu: 1_150_000, SettledMu: 550_000,
		Usage: []Quantity{{Unit: "second", Micro: 2_500_000}, {Unit: "token", Micro: 400 * Micro}}}
	d := SettleDetail(j, SettledUsage)
	if d != "quote 1.15, usage second=2.5 token=400, settled 0.55 (usage)" {
		t.Fatalf("detail %q", d)
	}
	q, u, s, b, ok := ParseSettleDetail(d)
	if !ok || q != j.QuoteMu || s != j.SettledMu || b != SettledUsage || len(u) != 2 || u[0] != j.Usage[0] || u[1] != j.Usage[1] {
		t.Fatalf("parse: %d %v %d %q %v", q, u, s, b, ok)
	}
	j.Usage = nil
	if _, u, _, b, ok := ParseSettleDetail(SettleDetail(j, SettledNoUsage)); !ok || u != nil || b != SettledNoUsage {
		t.Fatalf("no usage: %v %q %v", u, b, ok)
	}
	for _, bad := range []string{"", "retryable failure", "quote x, usage none, settled 1 (usage)"} {
		if _, _, _, _, ok := ParseSettleDetail(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
