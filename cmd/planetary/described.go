package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	"github.com/planetary/planetary/core/ownercmd"
)

// describedCommands are the CLI commands of the described owner commands
// (core/ownercmd): "planetary <noun> <verb> [flags] <arg>", their flags and
// help built from the command's registry row.
func describedCommands(m Meta) map[string]cli.CommandFactory {
	out := map[string]cli.CommandFactory{}
	for _, s := range ownercmd.All() {
		out[ownercmd.Words(s)] = func() (cli.Command, error) { return &DescribedCommand{Meta: m, spec: s}, nil }
	}
	return out
}

// DescribedCommand issues one described owner command.
type DescribedCommand struct {
	Meta
	spec ownercmd.Spec
}

func (c *DescribedCommand) Help() string {
	s := c.spec
	arg := "<" + s.Arg().Name + ">"
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: planetary %s [options] %s\n\n", ownercmd.Words(s), arg)
	b.WriteString(indent(s.Help) + "\n\n")
	fmt.Fprintf(&b, "%s Options:\n\n", titleWord(s.Verb()))
	for _, p := range s.Params {
		if p.Arg {
			continue
		}
		if p.Switch() {
			fmt.Fprintf(&b, "  -%s\n", p.Name)
		} else {
			fmt.Fprintf(&b, "  -%s=<%s>\n", p.Name, p.Kind)
		}
		b.WriteString(wrap(p.Help, "    ", 78) + "\n\n")
	}
	b.WriteString("  -reason=<text>\n    A reason recorded with the owner command.\n")
	return strings.TrimSpace(b.String()) + "\n" + apiOptionsHelp
}

func indent(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for i, l := range lines {
		lines[i] = "  " + strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}

// wrap fills text into lines of at most width columns, each begun with
// prefix.
func wrap(text, prefix string, width int) string {
	var lines []string
	line := prefix
	for _, w := range strings.Fields(text) {
		if line != prefix && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = prefix
		}
		if line != prefix {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\n")
}

func titleWord(w string) string {
	if w == "" {
		return w
	}
	return strings.ToUpper(w[:1]) + w[1:]
}

func (c *DescribedCommand) Synopsis() string { return c.spec.Synopsis }

// paramFlag is a flag.Value that checks its text as the param's value,
// and holds it as the request body takes it.
type paramFlag struct {
	p    ownercmd.Param
	text string
	v    any
}

func (f *paramFlag) String() string { return f.text }

func (f *paramFlag) Set(text string) error {
	v, err := ownercmd.JSONValue(f.p, text)
	if err != nil {
		// The flag package names the flag already.
		return errors.New(strings.TrimPrefix(err.Error(), f.p.Name+": "))
	}
	f.text, f.v = text, v
	return nil
}

func (f *paramFlag) IsBoolFlag() bool { return f.p.Switch() }

func (c *DescribedCommand) Run(args []string) int {
	s := c.spec
	fs := c.FlagSet(ownercmd.Words(s), true)
	var flags []*paramFlag
	for _, p := range s.Params {
		if p.Arg {
			continue
		}
		f := &paramFlag{p: p}
		flags = append(flags, f)
		fs.Var(f, p.Name, "")
	}
	var reason string
	fs.StringVar(&reason, "reason", "", "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos, "<"+s.Arg().Name+">") {
		return cli.RunResultHelp
	}
	body := map[string]any{}
	for _, f := range flags {
		if f.v != nil {
			body[f.p.Name] = f.v
		}
	}
	if reason != "" {
		body["reason"] = reason
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	res, err := client.Command(ctx, ownercmd.Path(s, pos[0]), body)
	if err != nil {
		return c.apiFail("running "+s.Name, err)
	}
	if c.json {
		return c.printJSON(res)
	}
	c.Ui.Output(fmt.Sprintf("%s %q: %s applied at index %d", titleWord(s.Arg().Name), pos[0], s.Name, res.Index))
	return 0
}

func (c *DescribedCommand) AutocompleteArgs() complete.Predictor { return complete.PredictAnything }

func (c *DescribedCommand) AutocompleteFlags() complete.Flags {
	out := complete.Flags{"-reason": complete.PredictAnything}
	for _, p := range c.spec.Params {
		if p.Arg {
			continue
		}
		if p.Switch() {
			out["-"+p.Name] = complete.PredictNothing
		} else {
			out["-"+p.Name] = complete.PredictAnything
		}
	}
	return apiFlags(out)
}

var (
	_ cli.Command             = (*DescribedCommand)(nil)
	_ cli.CommandAutocomplete = (*DescribedCommand)(nil)
	_ flag.Value              = (*paramFlag)(nil)
)
