package ownercmd

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/planetary/planetary/raftfsm/command"
)

// TestEveryDescribedCommandRoundTrips renders every described command with
// every param set, decodes its body back, and checks that the decoded
// command holds the same values: the route, the body and the CLI of a
// command are derived from the one row.
func TestEveryDescribedCommandRoundTrips(t *testing.T) {
	if len(All()) == 0 {
		t.Skip("no described command in the registry")
	}
	for _, s := range All() {
		c := s.New()
		for _, p := range s.Params {
			var v any
			switch p.Kind {
			case command.KindBool:
				v = true
			case command.KindDuration:
				v = int64(90_000)
			case command.KindInt:
				v = int64(7)
			default:
				v = "x-" + p.Name
			}
			if err := p.Set(c, v); err != nil {
				t.Fatal(err)
			}
		}
		body, err := json.Marshal(Body(s, c))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(s, s.Arg().Format(c), body)
		if err != nil {
			t.Fatalf("%s: decode %s: %v", s.Name, body, err)
		}
		for _, p := range s.Params {
			if p.Get(got) != p.Get(c) {
				t.Errorf("%s: %s: got %v, want %v", s.Name, p.Name, p.Get(got), p.Get(c))
			}
		}
		if Route(s) != "POST /v1/"+s.Noun()+"/{"+s.Arg().Name+"}/"+s.Verb() {
			t.Errorf("%s: route %q", s.Name, Route(s))
		}
		line := CLI(s, c)
		if !strings.HasPrefix(line, "planetary "+Words(s)+" ") || !strings.HasSuffix(line, " x-"+s.Arg().Name) {
			t.Errorf("%s: CLI line %q", s.Name, line)
		}
	}
}

// TestDecodeNamesTheField checks that a body's mistakes name their field.
func TestDecodeNamesTheField(t *testing.T) {
	if len(All()) == 0 {
		t.Skip("no described command in the registry")
	}
	s := All()[0]
	var other Param
	for _, p := range s.Params {
		if !p.Arg {
			other = p
			break
		}
	}
	cases := []struct {
		name, arg, body, field string
	}{
		{"unknown field", "a", `{"nope": 1}`, "nope"},
		{"no arg", "", `{}`, s.Arg().Name},
		{"reason not a string", "a", `{"reason": 3}`, "reason"},
	}
	if other.Name != "" {
		cases = append(cases, struct{ name, arg, body, field string }{"wrong type", "a", `{"` + other.Name + `": [1]}`, other.Name})
	}
	for _, tc := range cases {
		_, err := Decode(s, tc.arg, []byte(tc.body))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: got %v, want a FieldError naming %q", tc.name, err, tc.field)
		}
	}
	if _, err := Decode(s, "a", []byte(`{} {}`)); err == nil {
		t.Error("trailing data accepted")
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"earth.a": "earth.a", "": "''", "a b": "'a b'", "it's": `'it'\''s'`} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %q, want %q", in, got, want)
		}
	}
}
