package host

import (
	"errors"
	"fmt"
	"sort"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/internal/convert"
)

var (
	// ErrUnknownAttribute is a config key the schema does not declare.
	ErrUnknownAttribute = errors.New("unknown attribute")
	// ErrWrongType is a value whose type differs from the schema.
	ErrWrongType = errors.New("wrong type")
	// ErrMissingRequired is a required attribute without a value.
	ErrMissingRequired = errors.New("missing required attribute")
)

// ValidateConfig checks values against schema and fills defaults into
// values (which must be non-nil when the schema has defaults). Numbers are
// normalised to float64 and lists of strings to []string. It returns every
// problem found, in attribute order, or nil.
func ValidateConfig(schema sdk.Schema, values map[string]any) []error {
	var errs []error
	declared := make(map[string]sdk.Attribute, len(schema.Attributes))
	for _, a := range schema.Attributes {
		declared[a.Name] = a
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := declared[k]; !ok {
			errs = append(errs, fmt.Errorf("%q: %w", k, ErrUnknownAttribute))
		}
	}
	for _, a := range schema.Attributes {
		v, ok := values[a.Name]
		if !ok || v == nil {
			switch {
			case a.Required:
				errs = append(errs, fmt.Errorf("%q: %w", a.Name, ErrMissingRequired))
			case a.Default != nil && values != nil:
				values[a.Name] = a.Default
			}
			continue
		}
		nv, err := coerce(a.Type, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q: %w: %w", a.Name, ErrWrongType, err))
			continue
		}
		values[a.Name] = nv
	}
	return errs
}

func coerce(t sdk.AttributeType, v any) (any, error) {
	switch t {
	case sdk.TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case sdk.TypeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case sdk.TypeNumber:
		if f, ok := convert.Number(v); ok {
			return f, nil
		}
	case sdk.TypeStringList:
		switch x := v.(type) {
		case []string:
			return x, nil
		case []any:
			out := make([]string, 0, len(x))
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("want %s, got a list holding %T", t, e)
				}
				out = append(out, s)
			}
			return out, nil
		}
	default:
		return nil, fmt.Errorf("schema declares unknown type %q", t)
	}
	return nil, fmt.Errorf("want %s, got %T", t, v)
}
