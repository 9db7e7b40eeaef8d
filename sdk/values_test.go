package sdk

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestValues(t *testing.T) {
	v := Values{"s": "x", "n": 2.5, "i": 3, "b": true, "l": []any{"a", "b"}, "ls": []string{"c"},
		"d": "150ms", "ds": 2.0, "bad": []any{1}, "nil": nil}
	cases := []struct {
		name string
		get  func() (any, error)
		want any
		bad  bool
	}{
		{"string", func() (any, error) { return v.String("s", "d") }, "x", false},
		{"string default", func() (any, error) { return v.String("missing", "d") }, "d", false},
		{"string nil is default", func() (any, error) { return v.String("nil", "d") }, "d", false},
		{"string wrong type", func() (any, error) { return v.String("n", "") }, "", true},
		{"float", func() (any, error) { return v.Float("n", 0) }, 2.5, false},
		{"float from int", func() (any, error) { return v.Float("i", 0) }, 3.0, false},
		{"float wrong type", func() (any, error) { return v.Float("s", 0) }, 0.0, true},
		{"bool", func() (any, error) { return v.Bool("b", false) }, true, false},
		{"bool wrong type", func() (any, error) { return v.Bool("s", false) }, false, true},
		{"strings from any", func() (any, error) { return v.Strings("l") }, []string{"a", "b"}, false},
		{"strings", func() (any, error) { return v.Strings("ls") }, []string{"c"}, false},
		{"strings bad element", func() (any, error) { return v.Strings("bad") }, []string(nil), true},
		{"duration string", func() (any, error) { return v.Duration("d", 0) }, 150 * time.Millisecond, false},
		{"duration seconds", func() (any, error) { return v.Duration("ds", 0) }, 2 * time.Second, false},
		{"duration bad", func() (any, error) { return v.Duration("s", 0) }, time.Duration(0), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.get()
			if tc.bad {
				if !errors.Is(err, ErrBadValue) {
					t.Fatalf("err = %v, want ErrBadValue", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
	if Credits(1.0000005) != 1000001 || Credits(-0.5e-6) != -1 {
		t.Errorf("Credits rounding: %d %d", Credits(1.0000005), Credits(-0.5e-6))
	}
}
