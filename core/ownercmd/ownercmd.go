// Package ownercmd is the edge of the described owner commands
// (raftfsm/command, params.go): the HTTP route, path and body of each, its
// decoding with errors that name the request field, and its CLI line. The
// API server, the CLI, the owner schedule and the owner-command ledger all
// read it, so a described command is written once, on its struct.
package ownercmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/planetary/planetary/raftfsm/command"
)

// Spec and Param are the registry's, for callers that may not import
// raftfsm (the CLI).
type (
	Spec  = command.Spec
	Param = command.Param
)

// All lists the described owner commands, in registry order.
func All() []Spec { return command.DescribedSpecs() }

// Lookup returns the described command named name (e.g. "node.drain").
func Lookup(name string) (Spec, bool) {
	s, ok := command.ByName(name)
	if !ok || !s.Described() {
		return Spec{}, false
	}
	return s, true
}

// Words are the CLI words of a described command: "node drain".
func Words(s Spec) string { return s.Noun() + " " + s.Verb() }

// Route is the command's HTTP route pattern, its path segment named as its
// positional param, e.g. "POST /v1/node/{node}/drain".
func Route(s Spec) string { return "POST /v1/" + s.Noun() + "/{" + s.Arg().Name + "}/" + s.Verb() }

// Path is the request path of the command on arg.
func Path(s Spec, arg string) string {
	return "/v1/" + s.Noun() + "/" + url.PathEscape(arg) + "/" + s.Verb()
}

// Flag is the CLI flag of a param: "-deadline 1m0s", "-force"; "" when the
// param is unset in c.
func Flag(p Param, c command.Command) string {
	if p.IsZero(c) {
		return ""
	}
	if p.Kind == command.KindBool {
		return " -" + p.Name
	}
	return " -" + p.Name + " " + Quote(p.Format(c))
}

// Body is the JSON body of the command's request: its set params but the
// positional one (which is in the path), and the reason. A duration is
// written as Go writes one ("1m0s").
func Body(s Spec, c command.Command) map[string]any {
	out := map[string]any{}
	for _, p := range s.Params {
		if p.Arg || p.IsZero(c) {
			continue
		}
		if p.Kind == command.KindDuration {
			out[p.Name] = p.Format(c)
		} else {
			out[p.Name] = p.Get(c)
		}
	}
	if m := command.MetaOf(c); m != nil && m.Reason != "" {
		out["reason"] = m.Reason
	}
	return out
}

// FieldError is a request body's mistake, naming its field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Msg }

// Decode builds the command s from a request: arg is the path's positional
// argument, body the JSON object of the other params and "reason" (empty:
// none). A field the command does not have, or a value of the wrong type,
// is a *FieldError naming it.
func Decode(s Spec, arg string, body []byte) (command.Command, error) {
	c := s.New()
	a := s.Arg()
	if arg == "" {
		return nil, &FieldError{Field: a.Name, Msg: fmt.Sprintf("%s is required", a.Name)}
	}
	if err := a.Set(c, arg); err != nil {
		return nil, &FieldError{Field: a.Name, Msg: err.Error()}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return c, nil
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil {
		return nil, &FieldError{Msg: fmt.Sprintf("the body is not a JSON object: %v", err)}
	}
	if dec.More() {
		return nil, &FieldError{Msg: "trailing data after the JSON object"}
	}
	for _, n := range slices.Sorted(maps.Keys(fields)) {
		raw := fields[n]
		if n == "reason" {
			if err := json.Unmarshal(raw, &command.MetaOf(c).Reason); err != nil {
				return nil, &FieldError{Field: n, Msg: "reason: want a string"}
			}
			continue
		}
		p, ok := s.Param(n)
		if !ok || p.Arg {
			return nil, &FieldError{Field: n, Msg: fmt.Sprintf("%s has no field %q (fields: %s)", s.Name, n, fieldNames(s))}
		}
		v, err := decodeValue(p, raw)
		if err != nil {
			return nil, &FieldError{Field: n, Msg: err.Error()}
		}
		if err := p.Set(c, v); err != nil {
			return nil, &FieldError{Field: n, Msg: err.Error()}
		}
	}
	return c, nil
}

func decodeValue(p Param, raw json.RawMessage) (any, error) {
	switch p.Kind {
	case command.KindBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("%s: want true or false", p.Name)
		}
		return b, nil
	case command.KindDuration:
		var text string
		if json.Unmarshal(raw, &text) == nil {
			return p.Parse(text)
		}
		var ms int64
		if err := json.Unmarshal(raw, &ms); err != nil || ms < 0 {
			return nil, fmt.Errorf("%s: want a duration such as \"90s\" or a number of milliseconds", p.Name)
		}
		return ms, nil
	case command.KindInt:
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil || n < 0 {
			return nil, fmt.Errorf("%s: want a non-negative integer", p.Name)
		}
		return n, nil
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return nil, fmt.Errorf("%s: want a string", p.Name)
	}
	return text, nil
}

func fieldNames(s Spec) string {
	var out []string
	for _, p := range s.Params {
		if !p.Arg {
			out = append(out, p.Name)
		}
	}
	return strings.Join(append(out, "reason"), ", ")
}

// CLI is the command line that issues c: "planetary node drain -deadline
// 1m0s -reason 'swap' earth.a".
func CLI(s Spec, c command.Command) string {
	var b strings.Builder
	b.WriteString("planetary " + Words(s))
	for _, p := range s.Params {
		if !p.Arg {
			b.WriteString(Flag(p, c))
		}
	}
	if m := command.MetaOf(c); m != nil && m.Reason != "" {
		b.WriteString(" -reason " + Quote(m.Reason))
	}
	b.WriteString(" " + Quote(s.Arg().Format(c)))
	return b.String()
}

// Quote writes s as a shell word: bare when it is safe, single-quoted
// otherwise.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,=@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// JSONValue reads a CLI flag's text as the param's value in a request
// body: a bool or an integer as such, a duration as its checked text.
func JSONValue(p Param, text string) (any, error) {
	v, err := p.Parse(text)
	if err != nil || p.Kind != command.KindDuration {
		return v, err
	}
	return text, nil
}
