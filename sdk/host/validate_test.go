package host

import (
	"errors"
	"reflect"
	"testing"

	"github.com/planetary/planetary/sdk"
)

func TestValidateConfig(t *testing.T) {
	schema := sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "name", Type: sdk.TypeString, Required: true},
		{Name: "rate", Type: sdk.TypeNumber, Default: 1.5},
		{Name: "on", Type: sdk.TypeBool, Default: false},
		{Name: "allow", Type: sdk.TypeStringList},
	}}
	tests := []struct {
		name     string
		values   map[string]any
		wantErrs []error
		want     map[string]any
	}{
		{"defaults filled", map[string]any{"name": "x"}, nil,
			map[string]any{"name": "x", "rate": 1.5, "on": false}},
		{"numbers and lists normalised", map[string]any{"name": "x", "rate": 3, "allow": []any{"a"}}, nil,
			map[string]any{"name": "x", "rate": 3.0, "on": false, "allow": []string{"a"}}},
		{"missing required", map[string]any{}, []error{ErrMissingRequired}, nil},
		{"unknown", map[string]any{"name": "x", "nope": 1}, []error{ErrUnknownAttribute}, nil},
		{"wrong types", map[string]any{"name": 1, "on": "yes", "allow": []any{1}},
			[]error{ErrWrongType, ErrWrongType, ErrWrongType}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := ValidateConfig(schema, tt.values)
			if len(errs) != len(tt.wantErrs) {
				t.Fatalf("errs = %v, want %d errors", errs, len(tt.wantErrs))
			}
			for i := range errs {
				if !errors.Is(errs[i], tt.wantErrs[i]) {
					t.Errorf("err %d = %v, want %v", i, errs[i], tt.wantErrs[i])
				}
			}
			if tt.want != nil && !reflect.DeepEqual(tt.values, tt.want) {
				t.Fatalf("values = %#v, want %#v", tt.values, tt.want)
			}
		})
	}
}
