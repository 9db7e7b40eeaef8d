// Package golden holds the checks behind the persisted-format tests of
// raftfsm/command and raftfsm/snapshot: golden fixture files (the encoded
// bytes of a command or snapshot record, written once by the code of the day
// and decoded by every later build), the rule that every persisted field has
// a msg tag, and the rule that the fixtures set every persisted field.
//
// A persisted field's tag is its name forever (docs/architecture.md,
// Persisted format): the generated msgp codec keys a map-encoded struct by the
// tag, so renaming the Go field keeps the bytes as long as the tag stays.
package golden

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
)

// ErrMissing is returned by Load for a fixture that does not exist and was
// not written (the test runs without -update).
var ErrMissing = errors.New("golden: fixture missing")

// Load returns the bytes of fixture dir/name. A missing fixture is written
// from encode when update is set (and reported as written), else ErrMissing.
// An existing fixture is never rewritten: the bytes of the past are the
// test.
func Load(dir, name string, update bool, encode func() ([]byte, error)) (b []byte, written bool, err error) {
	path := filepath.Join(dir, name)
	b, err = os.ReadFile(path)
	if err == nil {
		return b, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("golden: %w", err)
	}
	if !update {
		return nil, false, fmt.Errorf("%w: %s (run the test with -update to write it from today's code)", ErrMissing, path)
	}
	b, err = encode()
	if err != nil {
		return nil, false, fmt.Errorf("golden: encode %s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false, fmt.Errorf("golden: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return nil, false, fmt.Errorf("golden: %w", err)
	}
	return b, true, nil
}

// Compare reports how got (decoded from a fixture) differs from want, the
// value the fixture was written from, or nil when they are deeply equal.
// The message names the first differing field path.
func Compare(got, want any) error {
	if reflect.DeepEqual(got, want) {
		return nil
	}
	path := diff(reflect.ValueOf(got), reflect.ValueOf(want), reflect.TypeOf(want).String())
	return fmt.Errorf("decoded value differs from the fixture's at %s", path)
}

func diff(a, b reflect.Value, path string) string {
	if !a.IsValid() || !b.IsValid() || a.Type() != b.Type() {
		return path
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return path
		}
		return diff(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
				return diff(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name)
			}
		}
	case reflect.Slice, reflect.Array:
		if a.Kind() == reflect.Slice && (a.Len() != b.Len() || a.IsNil() != b.IsNil()) {
			return fmt.Sprintf("%s (len %d, want %d)", path, a.Len(), b.Len())
		}
		for i := 0; i < a.Len(); i++ {
			if !reflect.DeepEqual(a.Index(i).Interface(), b.Index(i).Interface()) {
				return diff(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	return fmt.Sprintf("%s (got %v, want %v)", path, a.Interface(), b.Interface())
}

// Structs returns every struct type reachable from roots through fields,
// pointers, slices and arrays, whose package path starts with module, sorted
// by name.
func Structs(module string, roots ...reflect.Type) []reflect.Type {
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || !strings.HasPrefix(t.PkgPath(), module) || seen[t] {
			return
		}
		seen[t] = true
		for i := 0; i < t.NumField(); i++ {
			walk(t.Field(i).Type)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	out := make([]reflect.Type, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Tag returns the encoded name of a field from its msg tag ("" when the
// field has no tag or an empty name).
func Tag(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("msg"), ",")
	return name
}

// CheckTags returns a problem for every field of the given struct types that
// has no msg tag naming it, is skipped (msg:"-"), or shares its tag with
// another field of its struct.
func CheckTags(types []reflect.Type) []string {
	var problems []string
	for _, t := range types {
		names := map[string]string{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := Tag(f)
			switch {
			case name == "":
				problems = append(problems, fmt.Sprintf("%s.%s has no msg tag: add `msg:%q` (the name it is encoded under today)", t, f.Name, f.Name))
			case name == "-":
				problems = append(problems, fmt.Sprintf("%s.%s is not persisted (msg:\"-\"): persisted types hold persisted fields only", t, f.Name))
			case names[name] != "":
				problems = append(problems, fmt.Sprintf("%s.%s and %s.%s share the msg tag %q", t, names[name], t, f.Name, name))
			default:
				names[name] = f.Name
			}
		}
	}
	return problems
}

// Coverage records which fields of which struct types hold a non-zero value
// in some fixture.
type Coverage map[reflect.Type]map[int]bool

// Add walks v and marks every struct field it finds set.
func (c Coverage) Add(v any) { c.walk(reflect.ValueOf(v)) }

func (c Coverage) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			c.walk(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			c.walk(v.Index(i))
		}
	case reflect.Struct:
		t := v.Type()
		if c[t] == nil {
			c[t] = map[int]bool{}
		}
		for i := 0; i < v.NumField(); i++ {
			if !v.Field(i).IsZero() {
				c[t][i] = true
			}
			c.walk(v.Field(i))
		}
	}
}

// Unset returns the fields of types that no fixture sets: a fixture of a
// zero field cannot tell a renamed field from an absent one.
func (c Coverage) Unset(types []reflect.Type) []string {
	var out []string
	for _, t := range types {
		for i := 0; i < t.NumField(); i++ {
			if !c[t][i] {
				out = append(out, fmt.Sprintf("%s.%s", t, t.Field(i).Name))
			}
		}
	}
	return out
}
