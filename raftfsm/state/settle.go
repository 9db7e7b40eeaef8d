package state

import (
	"errors"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
)

// ErrMeterOverflow is returned when a metered amount does not fit in int64
// micro-credits (or micro-units).
var ErrMeterOverflow = errors.New("metered amount out of range")

// MaxUnits is the largest quantity of one dimension a job may declare or a
// plugin report, in units (a trillion: its micro-units fit in an int64).
const MaxUnits = 1e12

// MicroUnits converts a quantity in units (a decimal number, as HCL, JSON and
// plugins give it) to micro-units, rounded half away from zero. It is false
// for a quantity that is negative, not finite or above MaxUnits. It runs at
// the edges (parsing, the API), never in Apply.
func MicroUnits(units float64) (int64, bool) {
	if math.IsNaN(units) || math.IsInf(units, 0) || units < 0 || units > MaxUnits {
		return 0, false
	}
	return int64(math.Round(units * Micro)), true
}

// MaxDimensions bounds the metered dimensions of one job or result, and
// MaxUnitLen the length of a dimension's name.
const (
	MaxDimensions = 64
	MaxUnitLen    = 256
)

// Quantities turns a map of units per dimension into sorted quantities; the
// error names the first bad dimension (negative, not finite or too large, a
// name empty or over MaxUnitLen bytes) or too many of them. nil for an empty
// map.
func Quantities(m map[string]float64) ([]Quantity, error) {
	if len(m) == 0 {
		return nil, nil
	}
	if len(m) > MaxDimensions {
		return nil, errors.New(strconv.Itoa(len(m)) + " metered dimensions, at most " + strconv.Itoa(MaxDimensions) + " allowed")
	}
	out := make([]Quantity, 0, len(m))
	for u, v := range m {
		if u == "" || len(u) > MaxUnitLen {
			return nil, errors.New("a unit name must be 1 to " + strconv.Itoa(MaxUnitLen) + " bytes")
		}
		mu, ok := MicroUnits(v)
		if !ok {
			return nil, &QuantityError{Unit: u, Value: v}
		}
		out = append(out, Quantity{Unit: u, Micro: mu})
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Unit < out[k].Unit })
	return out, nil
}

// QuantityError names a quantity that cannot be metered.
type QuantityError struct {
	Unit  string
	Value float64
}

func (e *QuantityError) Error() string {
	return "units of " + e.Unit + " must be a finite number from 0 to " +
		strconv.FormatFloat(MaxUnits, 'g', -1, 64) + ", got " + strconv.FormatFloat(e.Value, 'g', -1, 64)
}

// QuantityOf returns the micro-units of unit in qs (sorted by Unit).
func QuantityOf(qs []Quantity, unit string) (int64, bool) {
	i := sort.Search(len(qs), func(i int) bool { return qs[i].Unit >= unit })
	if i < len(qs) && qs[i].Unit == unit {
		return qs[i].Micro, true
	}
	return 0, false
}

// MeterCost is the price of micro micro-units at perUnitMu micro-credits a
// unit: perUnitMu * micro / 1,000,000 rounded half away from zero, computed
// exactly in 128 bits. micro must not be negative.
func MeterCost(perUnitMu, micro int64) (int64, error) {
	if micro < 0 {
		return 0, ErrMeterOverflow
	}
	neg := perUnitMu < 0
	r := uint64(perUnitMu)
	if neg {
		r = uint64(-(perUnitMu + 1)) + 1 // |MinInt64| without overflow
	}
	hi, lo := bits.Mul64(r, uint64(micro))
	lo, carry := bits.Add64(lo, Micro/2, 0)
	hi += carry
	if hi >= Micro {
		return 0, ErrMeterOverflow // the quotient would not fit in 64 bits
	}
	q, _ := bits.Div64(hi, lo, Micro)
	if q > math.MaxInt64 {
		return 0, ErrMeterOverflow
	}
	if neg {
		return -int64(q), nil
	}
	return int64(q), nil
}

// AddMu adds two amounts, failing on overflow.
func AddMu(a, b int64) (int64, error) {
	s := a + b
	if (s > a) != (b > 0) {
		return 0, ErrMeterOverflow
	}
	return s, nil
}

// MeteredMu is the sum over meters of each rate's cost for the quantity in
// qs; a dimension absent from qs counts its quantity in fallback (nil: zero).
func MeteredMu(meters []Meter, qs, fallback []Quantity) (int64, error) {
	var sum int64
	for _, m := range meters {
		q, ok := QuantityOf(qs, m.Unit)
		if !ok {
			q, _ = QuantityOf(fallback, m.Unit)
		}
		c, err := MeterCost(m.PerUnitMu, q)
		if err != nil {
			return 0, err
		}
		if sum, err = AddMu(sum, c); err != nil {
			return 0, err
		}
	}
	return sum, nil
}

// Settlement bases: how a completed job's amount was arrived at.
const (
	SettledUsage       = "usage"
	SettledNoUsage     = "quote: no usage reported"
	SettledUnmetered   = "quote: nothing metered"
	SettledQuoteCap    = "capped at quote"
	SettledMaxPriceCap = "capped at max_price"
)

// Settle returns what job j (assigned, with its quote's Meters recorded) is
// paid for a completed attempt whose plugin reported usage, and the basis.
// It is pure integer arithmetic and runs in Apply:
//
//	fixed   = QuoteMu - sum(meter rate * declared units)   (base, flat capability rates, expression)
//	settled = fixed + sum(meter rate * reported units)     (a dimension not reported counts its declared units)
//
// then capped at QuoteMu and at MaxPriceMu (when set), and at least 0. A job
// whose quote meters nothing, or whose plugin reported no usage, settles at
// its quote (capped at MaxPriceMu); an overflow settles at the quote cap.
func Settle(j *Job, usage []Quantity) (int64, string) {
	amount, basis := j.QuoteMu, SettledUsage
	switch {
	case len(j.Meters) == 0:
		basis = SettledUnmetered
	case len(usage) == 0:
		basis = SettledNoUsage
	default:
		declared, err := MeteredMu(j.Meters, j.Units, nil)
		var used int64
		if err == nil {
			used, err = MeteredMu(j.Meters, usage, j.Units)
		}
		var fixed int64
		if err == nil && declared != math.MinInt64 {
			fixed, err = AddMu(j.QuoteMu, -declared)
		} else if err == nil {
			err = ErrMeterOverflow
		}
		if err == nil {
			amount, err = AddMu(fixed, used)
		}
		if err != nil || amount > j.QuoteMu {
			amount, basis = j.QuoteMu, SettledQuoteCap
		}
	}
	if j.MaxPriceMu > 0 && amount > j.MaxPriceMu {
		amount, basis = j.MaxPriceMu, SettledMaxPriceCap
	}
	return max(amount, 0), basis
}

// FormatQuantities renders quantities as "unit=1.5 unit2=3" (units, not
// micro-units), for event details and CLI output.
func FormatQuantities(qs []Quantity) string {
	var b strings.Builder
	for i, q := range qs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(q.Unit)
		b.WriteByte('=')
		b.WriteString(FormatMicro(q.Micro))
	}
	return b.String()
}

// FormatMicro renders an amount in millionths as a decimal with trailing
// zeros trimmed: 1500000 is "1.5", 20000 is "0.02".
func FormatMicro(v int64) string {
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-(v + 1)) + 1
	}
	s := strconv.FormatUint(u/Micro, 10)
	if f := u % Micro; f != 0 {
		fs := strconv.FormatUint(f+Micro, 10)[1:]
		s += "." + strings.TrimRight(fs, "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// SettleDetail is a job.completed event's detail: the quote, the reported
// usage and the settled amount with its basis, amounts in credits, e.g.
// "quote 1.15, usage token=400, settled 0.55 (usage)". ParseSettleDetail
// reads it back.
func SettleDetail(j *Job, basis string) string {
	u := FormatQuantities(j.Usage)
	if u == "" {
		u = "none"
	}
	return "quote " + FormatMicro(j.QuoteMu) + ", usage " + u + ", settled " + FormatMicro(j.SettledMu) + " (" + basis + ")"
}

// ParseSettleDetail reads what SettleDetail wrote; ok is false for any other
// text (an event written before settlement was recorded has none).
func ParseSettleDetail(s string) (quoteMu int64, usage []Quantity, settledMu int64, basis string, ok bool) {
	q, rest, ok1 := strings.Cut(s, ", usage ")
	u, rest, ok2 := strings.Cut(rest, ", settled ")
	amt, b, ok3 := strings.Cut(rest, " (")
	q, ok4 := strings.CutPrefix(q, "quote ")
	b, ok5 := strings.CutSuffix(b, ")")
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return 0, nil, 0, "", false
	}
	var err error
	if quoteMu, err = parseMicro(q); err != nil {
		return 0, nil, 0, "", false
	}
	if settledMu, err = parseMicro(amt); err != nil {
		return 0, nil, 0, "", false
	}
	if u != "none" {
		for _, f := range strings.Fields(u) {
			unit, v, found := strings.Cut(f, "=")
			mu, err := parseMicro(v)
			if !found || err != nil {
				return 0, nil, 0, "", false
			}
			usage = append(usage, Quantity{Unit: unit, Micro: mu})
		}
	}
	return quoteMu, usage, settledMu, b, true
}

// parseMicro is the inverse of FormatMicro.
func parseMicro(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 6 || whole == "" {
		return 0, ErrMeterOverflow
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, err
	}
	f := int64(0)
	if frac != "" {
		if f, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64); err != nil {
			return 0, err
		}
	}
	if w > (math.MaxInt64-f)/Micro {
		return 0, ErrMeterOverflow
	}
	v := w*Micro + f
	if neg {
		v = -v
	}
	return v, nil
}
