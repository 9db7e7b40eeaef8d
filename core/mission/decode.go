package mission

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/planetary/planetary/core/limits"
	"github.com/planetary/planetary/raftfsm/state"
)

// content decodes a block body against doc. It reports unknown, missing and
// duplicated items and returns a reader over the attributes and the nested
// blocks by type.
func content(doc *BlockDoc, body hcl.Body, defRange hcl.Range, diags *hcl.Diagnostics) (*reader, map[string]hcl.Blocks) {
	c, d := body.Content(doc.bodySchema())
	*diags = append(*diags, d...)
	return newReader(doc.Attributes, c.Attributes, defRange, diags), groupBlocks(doc.Blocks, c.Blocks, diags)
}

func groupBlocks(docs []BlockDoc, blocks hcl.Blocks, diags *hcl.Diagnostics) map[string]hcl.Blocks {
	by := map[string]hcl.Blocks{}
	for _, b := range blocks {
		by[b.Type] = append(by[b.Type], b)
	}
	for _, d := range docs {
		bs := by[d.Name]
		if !d.Repeatable && len(bs) > 1 {
			for _, dup := range bs[1:] {
				*diags = append(*diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  fmt.Sprintf("Duplicate %s block", d.Name),
					Detail:   fmt.Sprintf("Only one %s block is allowed here; the first is at %s.", d.Name, bs[0].DefRange),
					Subject:  dup.DefRange.Ptr(),
				})
			}
			by[d.Name] = bs[:1]
		}
	}
	return by
}

// reader reads typed attribute values, applying the declared defaults.
type reader struct {
	docs     []AttrDoc
	attrs    hcl.Attributes
	defRange hcl.Range
	diags    *hcl.Diagnostics
}

func newReader(docs []AttrDoc, attrs hcl.Attributes, defRange hcl.Range, diags *hcl.Diagnostics) *reader {
	return &reader{docs: docs, attrs: attrs, defRange: defRange, diags: diags}
}

func (r *reader) doc(name string, t AttrType) *AttrDoc {
	for i := range r.docs {
		if r.docs[i].Name == name {
			if r.docs[i].Type != t {
				panic(fmt.Sprintf("mission: attribute %q is declared %s, read as %s", name, r.docs[i].Type, t))
			}
			return &r.docs[i]
		}
	}
	panic(fmt.Sprintf("mission: attribute %q is not declared", name))
}

// Has reports whether the attribute is set (and not null).
func (r *reader) Has(name string) bool {
	a, ok := r.attrs[name]
	if !ok {
		return false
	}
	v, _ := a.Expr.Value(nil)
	return !v.IsNull()
}

// Range is the attribute's expression range, or the block header's.
func (r *reader) Range(name string) hcl.Range {
	if a, ok := r.attrs[name]; ok {
		return a.Expr.Range()
	}
	return r.defRange
}

func (r *reader) errorf(rng hcl.Range, summary, format string, args ...any) {
	*r.diags = append(*r.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: rng.Ptr(),
	})
}

// value evaluates name and converts it to want; ok is false when the
// attribute is absent, null or wrong (a diagnostic was added then).
func (r *reader) value(name string, want cty.Type) (cty.Value, bool) {
	a, ok := r.attrs[name]
	if !ok {
		return cty.NilVal, false
	}
	v, d := a.Expr.Value(nil)
	*r.diags = append(*r.diags, d...)
	if d.HasErrors() || v.IsNull() {
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		// Only an expression that failed to parse evaluates to an unknown
		// without diagnostics; the parser has reported it.
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, want)
	if err != nil {
		r.errorf(a.Expr.Range(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s required, got %s.", name, want.FriendlyName(), v.Type().FriendlyName())
		return cty.NilVal, false
	}
	if want.IsListType() {
		for it := cv.ElementIterator(); it.Next(); {
			if _, e := it.Element(); e.IsNull() {
				r.errorf(a.Expr.Range(), "Incorrect attribute value type", "Attribute %q must not contain null.", name)
				return cty.NilVal, false
			}
		}
	}
	return cv, true
}

// String reads a string attribute.
func (r *reader) String(name string) string {
	d := r.doc(name, TypeString)
	if v, ok := r.value(name, cty.String); ok {
		return v.AsString()
	}
	s, _ := d.Default.(string)
	return s
}

// NonEmpty reads a string that, when set, must not be empty.
func (r *reader) NonEmpty(name string) string {
	s := r.String(name)
	if r.Has(name) && strings.TrimSpace(s) == "" {
		r.errorf(r.Range(name), "Empty value", "Attribute %q must not be empty.", name)
	}
	return s
}

// Bool reads a bool attribute.
func (r *reader) Bool(name string) bool {
	d := r.doc(name, TypeBool)
	if v, ok := r.value(name, cty.Bool); ok {
		return v.True()
	}
	b, _ := d.Default.(bool)
	return b
}

// Int reads a whole number.
func (r *reader) Int(name string) int64 {
	d := r.doc(name, TypeInt)
	def, _ := d.Default.(int64)
	v, ok := r.value(name, cty.Number)
	if !ok {
		return def
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact {
		r.errorf(r.Range(name), "Invalid integer", "Attribute %q must be a whole number, got %s.", name, bf.Text('g', 10))
		return def
	}
	return i
}

// NonNegInt reads a whole number that must be >= 0.
func (r *reader) NonNegInt(name string) int64 {
	i := r.Int(name)
	if i < 0 {
		r.errorf(r.Range(name), "Negative value", "Attribute %q must not be negative, got %d.", name, i)
		return 0
	}
	if i > limits.MaxCount {
		r.errorf(r.Range(name), "Value out of range", "Attribute %q must be at most %d, got %d.", name, limits.MaxCount, i)
		return 0
	}
	return i
}

// Float reads a number.
func (r *reader) Float(name string) float64 {
	d := r.doc(name, TypeFloat)
	def, _ := d.Default.(float64)
	v, ok := r.value(name, cty.Number)
	if !ok {
		return def
	}
	f, _ := v.AsBigFloat().Float64()
	if math.IsInf(f, 0) {
		r.errorf(r.Range(name), "Value out of range", "Attribute %q must be a finite number, got %g.", name, f)
		return def
	}
	if f < 0 {
		r.errorf(r.Range(name), "Negative value", "Attribute %q must not be negative, got %g.", name, f)
		return def
	}
	return f
}

// Credits reads a non-negative decimal amount of credits as micro-credits.
func (r *reader) Credits(name string) int64 {
	d := r.doc(name, TypeCredits)
	def, _ := d.Default.(float64)
	v, ok := r.value(name, cty.Number)
	if !ok {
		return Credits(def)
	}
	f, _ := v.AsBigFloat().Float64()
	switch {
	case f < 0:
		r.errorf(r.Range(name), "Negative value", "Attribute %q must not be negative, got %g.", name, f)
		return Credits(def)
	case f > maxCredits:
		r.errorf(r.Range(name), "Value out of range", "Attribute %q must be at most %g credits.", name, float64(maxCredits))
		return Credits(def)
	}
	return Credits(f)
}

// Strings reads a list of strings.
func (r *reader) Strings(name string) []string {
	d := r.doc(name, TypeStrings)
	v, ok := r.value(name, cty.List(cty.String))
	if !ok {
		def, _ := d.Default.([]string)
		return append([]string{}, def...)
	}
	out := []string{}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e.AsString())
	}
	return out
}

// StringRanges returns the range of each element of a list attribute when
// the list is written literally, else the attribute's range for each.
func (r *reader) StringRanges(name string, n int) []hcl.Range {
	out := make([]hcl.Range, n)
	a, ok := r.attrs[name]
	for i := range out {
		out[i] = r.Range(name)
	}
	if !ok {
		return out
	}
	exprs, d := hcl.ExprList(a.Expr)
	if d.HasErrors() || len(exprs) != n {
		return out
	}
	for i, e := range exprs {
		out[i] = e.Range()
	}
	return out
}

// Duration reads a duration string as milliseconds; def is -1 when the doc
// declares no default.
func (r *reader) Duration(name string) int64 {
	d := r.doc(name, TypeDuration)
	def := int64(-1)
	if s, ok := d.Default.(string); ok {
		dd, err := time.ParseDuration(s)
		if err != nil {
			panic(fmt.Sprintf("mission: bad default duration %q for %q", s, name))
		}
		def = dd.Milliseconds()
	}
	v, ok := r.value(name, cty.String)
	if !ok {
		return def
	}
	ms, ok := parseDurationMs(v.AsString())
	if ok && ms > limits.MaxDurationMs {
		r.errorf(r.Range(name), "Value out of range",
			"Attribute %q must be at most 366 days (%d ms), got %q.", name, int64(limits.MaxDurationMs), v.AsString())
		return def
	}
	if !ok {
		r.errorf(r.Range(name), "Invalid duration",
			"Attribute %q must be a non-negative duration such as \"900ms\", \"30s\" or \"2m\", got %q.", name, v.AsString())
		return def
	}
	return ms
}

func parseDurationMs(s string) (int64, bool) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		return 0, false
	}
	return d.Milliseconds(), true
}

// Object reads a free-form object and returns its deterministic JSON.
func (r *reader) Object(name string) []byte {
	r.doc(name, TypeObject)
	a, ok := r.attrs[name]
	if !ok {
		return nil
	}
	v, d := a.Expr.Value(nil)
	*r.diags = append(*r.diags, d...)
	if d.HasErrors() || v.IsNull() {
		return nil
	}
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		r.errorf(a.Expr.Range(), "Incorrect attribute value type", "Attribute %q must be an object, got %s.", name, v.Type().FriendlyName())
		return nil
	}
	g, err := ctyToGo(v)
	if err != nil {
		r.errorf(a.Expr.Range(), "Invalid value", "Attribute %q: %s.", name, err)
		return nil
	}
	b, err := json.Marshal(g)
	if err != nil {
		panic(fmt.Sprintf("mission: marshal payload: %v", err))
	}
	return b
}

// Units reads an object of numbers, units per metered dimension (e.g.
// { token = 800, gpu_second = 12.5 }), as quantities sorted by unit. Each
// number must be finite, not negative and at most state.MaxUnits.
func (r *reader) Units(name string) []state.Quantity {
	r.doc(name, TypeObject)
	a, ok := r.attrs[name]
	if !ok {
		return nil
	}
	v, d := a.Expr.Value(nil)
	*r.diags = append(*r.diags, d...)
	if d.HasErrors() || v.IsNull() {
		return nil
	}
	if !v.IsWhollyKnown() || (!v.Type().IsObjectType() && !v.Type().IsMapType()) {
		r.errorf(a.Expr.Range(), "Incorrect attribute value type",
			"Attribute %q must be an object of units per metered dimension, such as { token = 800 }, got %s.", name, v.Type().FriendlyName())
		return nil
	}
	m := map[string]float64{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		unit := k.AsString()
		if e.IsNull() || e.Type() != cty.Number {
			r.errorf(a.Expr.Range(), "Incorrect attribute value type",
				"Attribute %q: the units of %q must be a number, got %s.", name, unit, e.Type().FriendlyName())
			return nil
		}
		f, _ := e.AsBigFloat().Float64()
		m[unit] = f
	}
	q, err := state.Quantities(m)
	if err != nil {
		r.errorf(a.Expr.Range(), "Invalid units", "Attribute %q: %v.", name, err)
		return nil
	}
	return q
}

// ctyToGo converts a known constant to plain Go values; encoding/json then
// writes objects with sorted keys, so the JSON is deterministic.
func ctyToGo(v cty.Value) (any, error) {
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsWhollyKnown() {
		return nil, fmt.Errorf("value must be a constant")
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString(), nil
	case t == cty.Bool:
		return v.True(), nil
	case t == cty.Number:
		g := numberToGo(v.AsBigFloat())
		if f, ok := g.(float64); ok && math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s is out of range", v.AsBigFloat().Text('g', 6))
		}
		return g, nil
	case t.IsObjectType() || t.IsMapType():
		m := map[string]any{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			g, err := ctyToGo(e)
			if err != nil {
				return nil, err
			}
			m[k.AsString()] = g
		}
		return m, nil
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		l := []any{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			g, err := ctyToGo(e)
			if err != nil {
				return nil, err
			}
			l = append(l, g)
		}
		return l, nil
	}
	return nil, fmt.Errorf("unsupported value of type %s", t.FriendlyName())
}

func numberToGo(bf *big.Float) any {
	if bf.IsInt() {
		if i, acc := bf.Int64(); acc == big.Exact {
			return i
		}
	}
	f, _ := bf.Float64()
	return f
}

// configValues reads a free-form config block: each attribute must be a
// string, number, bool or list of strings.
func configValues(b *hcl.Block, diags *hcl.Diagnostics) (map[string]any, ConfigSource) {
	attrs, d := b.Body.JustAttributes()
	*diags = append(*diags, d...)
	out := map[string]any{}
	src := ConfigSource{Block: b.DefRange, Attrs: map[string]hcl.Range{}}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := attrs[n]
		src.Attrs[n] = a.Expr.Range()
		v, d := a.Expr.Value(nil)
		*diags = append(*diags, d...)
		if d.HasErrors() || v.IsNull() {
			continue
		}
		bad := func() {
			*diags = append(*diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Unsupported config value",
				Detail:  fmt.Sprintf("Config attribute %q must be a string, number, bool or list of strings, got %s.", n, v.Type().FriendlyName()),
				Subject: a.Expr.Range().Ptr(),
			})
		}
		t := v.Type()
		switch {
		case t == cty.String:
			out[n] = v.AsString()
		case t == cty.Bool:
			out[n] = v.True()
		case t == cty.Number:
			f, _ := v.AsBigFloat().Float64()
			if math.IsInf(f, 0) {
				*diags = append(*diags, &hcl.Diagnostic{
					Severity: hcl.DiagError, Summary: "Value out of range",
					Detail:  fmt.Sprintf("Config attribute %q: number %s is out of range.", n, v.AsBigFloat().Text('g', 6)),
					Subject: a.Expr.Range().Ptr(),
				})
				continue
			}
			out[n] = f
		case t.IsListType() || t.IsTupleType() || t.IsSetType():
			lv, err := convert.Convert(v, cty.List(cty.String))
			if err != nil || !lv.IsWhollyKnown() {
				bad()
				continue
			}
			l := []string{}
			for it := lv.ElementIterator(); it.Next(); {
				_, e := it.Element()
				if e.IsNull() {
					bad()
					continue
				}
				l = append(l, e.AsString())
			}
			out[n] = l
		default:
			bad()
		}
	}
	return out, src
}

// maxCredits keeps micro-credit amounts well inside int64 (docs/limits.md).
const maxCredits = limits.MaxCredits

// Credits converts decimal credits to micro-credits (1 credit = 1,000,000),
// rounding half away from zero on the decimal value as written (so 0.0000005
// is 1, not 0 because of binary floating point). Values beyond the int64
// range saturate.
func Credits(c float64) int64 {
	switch {
	case math.IsNaN(c):
		return 0
	case c >= math.MaxInt64/1e6:
		return math.MaxInt64
	case c <= math.MinInt64/1e6:
		return math.MinInt64
	}
	s := strconv.FormatFloat(math.Abs(c), 'f', -1, 64)
	ip, fp, _ := strings.Cut(s, ".")
	fp += strings.Repeat("0", 7)
	whole, _ := strconv.ParseInt(ip, 10, 64)
	frac, _ := strconv.ParseInt(fp[:6], 10, 64)
	mu := whole*1_000_000 + frac
	if fp[6] >= '5' {
		mu++
	}
	if c < 0 {
		return -mu
	}
	return mu
}

// validName reports whether s is a usable shard, node, workload or entry name.
func validName(s string) bool {
	if s == "" || len(s) > limits.MaxNameLen {
		return false
	}
	for _, c := range s {
		ok := c == '-' || c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

func labelRange(b *hcl.Block) hcl.Range {
	if len(b.LabelRanges) > 0 {
		return b.LabelRanges[0]
	}
	return b.DefRange
}

func checkName(b *hcl.Block, what string, diags *hcl.Diagnostics) string {
	if len(b.Labels) == 0 {
		return ""
	}
	name := b.Labels[0]
	if !validName(name) {
		*diags = append(*diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Invalid " + what + " name",
			Detail:  fmt.Sprintf("%q is not a valid %s name: use 1-%d letters, digits, '.', '-' and '_'.", name, what, limits.MaxNameLen),
			Subject: labelRange(b).Ptr(),
		})
	}
	return name
}
