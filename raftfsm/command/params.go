package command

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Described owner commands. A command whose registry row is .described
// declares its arguments on its struct, one `param:"name,kind[,arg]"` tag
// (and a `help:"..."` text) per argument, and everything around it is
// derived from the row: the HTTP route (POST /v1/<noun>/{<arg>}/<verb>), the
// CLI command (planetary <noun> <verb> [flags] <arg>), the owner-schedule
// action and its reference, and the owner-command ledger's replayable line.
// A new owner command of this shape touches its struct, its row, its
// handler and its endpoint check only (docs/architecture.md, "Adding an
// owner command").

// ParamKind is the kind of a described argument: how it is written (a CLI
// flag, a JSON field, an HCL attribute) and what it holds.
type ParamKind string

const (
	// KindNode is a node id (a string the schedule checks names a node).
	KindNode ParamKind = "node"
	// KindShard is a shard name (checked to name a shard).
	KindShard ParamKind = "shard"
	// KindString is free text.
	KindString ParamKind = "string"
	// KindBool is a switch.
	KindBool ParamKind = "bool"
	// KindDuration is a duration, held as milliseconds (int64); written as
	// "1m30s" on the CLI and in HCL, as a number of ms in JSON.
	KindDuration ParamKind = "duration"
	// KindInt is a non-negative integer (int64).
	KindInt ParamKind = "int"
)

// Param is one argument of a described command.
type Param struct {
	// Name is the argument's name everywhere: the CLI flag, the JSON field
	// of the HTTP body and the schedule attribute.
	Name string
	Kind ParamKind
	// Arg marks the positional argument: the CLI's operand and the route's
	// path segment. A described command has exactly one.
	Arg  bool
	Help string

	index []int
}

// described marks an owner command whose arguments its struct declares
// (see Param); synopsis is a line, help the paragraph that explains it.
// It panics on a struct whose tags break the rules, so a mistake fails at
// init, in every test.
func (s Spec) described(synopsis, help string) Spec {
	s.Synopsis, s.Help = synopsis, help
	t := reflect.TypeOf(s.New()).Elem()
	args := 0
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("param")
		if !ok {
			continue
		}
		parts := strings.Split(tag, ",")
		p := Param{Name: parts[0], Kind: ParamKind(parts[1]), Help: f.Tag.Get("help"), index: f.Index}
		if len(parts) > 2 && parts[2] == "arg" {
			p.Arg = true
			args++
		}
		want := map[ParamKind]reflect.Kind{KindNode: reflect.String, KindShard: reflect.String, KindString: reflect.String,
			KindBool: reflect.Bool, KindDuration: reflect.Int64, KindInt: reflect.Int64}[p.Kind]
		if want == reflect.Invalid || f.Type.Kind() != want {
			panic(fmt.Sprintf("command: %s.%s: param kind %q does not fit a %s", t.Name(), f.Name, p.Kind, f.Type))
		}
		if p.Help == "" {
			panic(fmt.Sprintf("command: %s.%s: a param needs help", t.Name(), f.Name))
		}
		s.Params = append(s.Params, p)
	}
	if args != 1 {
		panic(fmt.Sprintf("command: %s has %d positional params, want 1", s.Name, args))
	}
	if _, ok := t.FieldByName("Meta"); !ok {
		panic(fmt.Sprintf("command: described command %s has no Meta", s.Name))
	}
	if strings.Count(s.Name, ".") != 1 {
		panic(fmt.Sprintf("command: described command %s is not named noun.verb", s.Name))
	}
	return s
}

// Described reports whether the row's arguments are declared on its struct.
func (s Spec) Described() bool { return s.Synopsis != "" }

// Noun is the first word of a described command's name ("node" of
// "node.drain"): the CLI group and the route's collection.
func (s Spec) Noun() string { n, _, _ := strings.Cut(s.Name, "."); return n }

// Verb is the second word of the name ("drain").
func (s Spec) Verb() string { _, v, _ := strings.Cut(s.Name, "."); return v }

// Arg is the positional param.
func (s Spec) Arg() Param {
	for _, p := range s.Params {
		if p.Arg {
			return p
		}
	}
	return Param{}
}

// Param returns the param named name.
func (s Spec) Param(name string) (Param, bool) {
	for _, p := range s.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// DescribedSpecs lists the described rows, in registry order.
func DescribedSpecs() []Spec {
	var out []Spec
	for _, s := range Specs() {
		if s.Described() {
			out = append(out, s)
		}
	}
	return out
}

func (p Param) field(c Command) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(p.index)
}

// Get returns the param's value in c: a string, bool or int64.
func (p Param) Get(c Command) any { return p.field(c).Interface() }

// Set stores v (a string, bool or int64, as Get returns) in c.
func (p Param) Set(c Command, v any) error {
	f := p.field(c)
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || rv.Type() != f.Type() {
		return fmt.Errorf("%s: want a %s, got %T", p.Name, f.Type(), v)
	}
	f.Set(rv)
	return nil
}

// Switch reports whether the param is a bool: a CLI flag without a value.
func (p Param) Switch() bool { return p.Kind == KindBool }

// IsZero reports whether the param is unset in c.
func (p Param) IsZero(c Command) bool { return p.field(c).IsZero() }

// Format writes the param's value in c as the CLI and HCL take it: a
// duration as "1m30s", a bool as true/false.
func (p Param) Format(c Command) string {
	switch v := p.Get(c).(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int64:
		if p.Kind == KindDuration {
			return (time.Duration(v) * time.Millisecond).String()
		}
		return strconv.FormatInt(v, 10)
	}
	return ""
}

// Parse reads text as the param's value: a duration of the form "90s",
// "1m30s" (Go syntax) as milliseconds; a bool as strconv reads one; an
// int as a non-negative integer.
func (p Param) Parse(text string) (any, error) {
	switch p.Kind {
	case KindBool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not true or false", p.Name, text)
		}
		return b, nil
	case KindDuration:
		d, err := time.ParseDuration(text)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%s: %q is not a duration such as \"90s\" or \"1m30s\"", p.Name, text)
		}
		return d.Milliseconds(), nil
	case KindInt:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s: %q is not a non-negative integer", p.Name, text)
		}
		return n, nil
	}
	return text, nil
}

// MetaOf points at a command's Meta field; nil for a command without one.
func MetaOf(c Command) *Meta {
	v := reflect.ValueOf(c).Elem().FieldByName("Meta")
	if !v.IsValid() {
		return nil
	}
	m, _ := v.Addr().Interface().(*Meta)
	return m
}

// TypeOf returns the registry type of command c, by its Go type.
func TypeOf(c Command) (MessageType, bool) {
	t := reflect.TypeOf(c)
	for _, s := range table {
		if s != nil && reflect.TypeOf(s.New()) == t {
			return s.Type, true
		}
	}
	return 0, false
}
