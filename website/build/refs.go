package build

import (
	"fmt"
	"sort"
	"strings"

	"github.com/planetary/planetary/core/mission"
)

// CommandDoc is one CLI command as the CLI reference shows it: the name as
// typed after "planetary" (nested commands contain spaces), its synopsis
// its full Help() text and its exit codes.
type CommandDoc struct {
	Name     string
	Synopsis string
	Help     string
	// Exits are the command's exit codes, one "<code>  <meaning>" a line.
	Exits string
}

// CommandID is the anchor of a command in the CLI reference:
// "operator snapshot save" -> "operator-snapshot-save".
func CommandID(name string) string { return strings.Join(strings.Fields(name), "-") }

// BlockID is the anchor of a block in the mission reference, from the path
// of block names: ["agent", "server"] -> "agent-server".
func BlockID(path []string) string { return strings.Join(path, "-") }

// AttrID is the anchor of an attribute in the mission reference.
func AttrID(path []string, attr string) string { return BlockID(path) + "--" + attr }

// ActionID is the anchor of a schedule action in the mission reference.
func ActionID(name string) string { return "action-" + strings.ReplaceAll(name, ".", "-") }

// cliReference renders the CLI reference page from cmds.
func cliReference(cmds []CommandDoc) string {
	cmds = append([]CommandDoc(nil), cmds...)
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	var b strings.Builder
	b.WriteString("# CLI reference\n\n")
	b.WriteString("Every command of the `planetary` binary. This page is generated from each command's own help text, " +
		"so it is exactly what `planetary <command> -h` prints. Commands that talk to an agent take the API options " +
		"`-address` (or `PLANETARY_ADDR`, default `http://127.0.0.1:4646`), `-token` (or `PLANETARY_TOKEN`) and `-json`. " +
		"Each command's exit codes follow its help; an unknown command exits 127.\n\n")
	b.WriteString("| command | synopsis |\n|---|---|\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "| [`planetary %s`](#%s) | %s |\n", c.Name, CommandID(c.Name), cell(c.Synopsis))
	}
	group := ""
	for _, c := range cmds {
		g := strings.Fields(c.Name)[0]
		if g != group && strings.Contains(c.Name, " ") {
			fmt.Fprintf(&b, "\n## %s commands {#group-%s}\n", g, g)
		}
		group = g
		fmt.Fprintf(&b, "\n### planetary %s {#%s}\n\n", c.Name, CommandID(c.Name))
		if c.Synopsis != "" {
			fmt.Fprintf(&b, "%s.\n\n", strings.TrimSuffix(c.Synopsis, "."))
		}
		fmt.Fprintf(&b, "```text\n%s\n```\n", strings.TrimRight(c.Help, "\n"))
		if c.Exits != "" {
			fmt.Fprintf(&b, "\nExit codes:\n\n```text\n%s\n```\n", strings.TrimRight(c.Exits, "\n"))
		}
	}
	return b.String()
}

// missionReference renders the reference of every block, attribute and
// schedule action from mission.Reference() and mission.ActionReference().
func missionReference(blocks []mission.BlockDoc, actions []mission.ActionDoc) string {
	var b strings.Builder
	b.WriteString("# mission.hcl reference\n\n")
	b.WriteString("Generated from `mission.Reference()` in `core/mission`, the same tables the parser decodes with, " +
		"so every block and attribute the parser accepts is listed here with its type, default and an example. " +
		"See [Mission files](concepts.md#missions) for how the three kinds of file fit together and " +
		"[Job files](job-files.md) for a walk-through of job files.\n\n")
	b.WriteString("Types: `string`; `integer`; `number`; `bool`; `list(string)`; `duration`, a string such as `\"900ms\"`, " +
		"`\"30s\"` or `\"2m\"`; `credits`, a decimal number of credits stored as integer micro-credits " +
		"(1 credit = 1,000,000, rounded half away from zero); `object`, an object of constants. " +
		"Expressions are constants only: no variables or functions.\n")
	kinds := []struct{ file, title, intro string }{
		{"agent", "Agent config", "Per host. Read by `planetary agent -config FILE`; may share a file with a mission."},
		{"mission", "Mission", "Cluster-wide. Installed by `planetary mission apply FILE` or by an agent started with a file that holds one; applying the same content again changes nothing."},
		{"job", "Job files", "Submitted with `planetary job submit FILE`."},
	}
	for _, k := range kinds {
		fmt.Fprintf(&b, "\n## %s {#file-%s}\n\n%s\n", k.title, k.file, k.intro)
		for _, d := range blocks {
			if d.File == k.file {
				writeBlockRef(&b, d, nil)
			}
		}
	}
	b.WriteString("\n## Schedule actions {#actions}\n\nSet `action` in a [`schedule`](#schedule) block; the action's arguments are " +
		"attributes of the same block (or the one nested block named below).\n")
	for _, a := range actions {
		fmt.Fprintf(&b, "\n### `%s` {#%s}\n\n%s\n", a.Name, ActionID(a.Name), a.Description)
		if len(a.OneOf) > 0 {
			fmt.Fprintf(&b, "\nAt least one of: %s.\n", codeList(a.OneOf))
		}
		path := []string{"action", strings.ReplaceAll(a.Name, ".", "-")}
		writeAttrTable(&b, path, a.Attributes)
		for _, c := range a.Blocks {
			writeBlockRef(&b, c, path)
		}
	}
	return b.String()
}

func writeBlockRef(b *strings.Builder, d mission.BlockDoc, parent []string) {
	path := append(append([]string(nil), parent...), d.Name)
	title := strings.Join(path, " ")
	if parent != nil && parent[0] == "action" {
		title = d.Name
	}
	for _, l := range d.Labels {
		title += fmt.Sprintf(` "%s"`, strings.ToUpper(l))
	}
	fmt.Fprintf(b, "\n### `%s` {#%s}\n\n%s", title, BlockID(path), d.Description)
	var notes []string
	if d.Repeatable {
		notes = append(notes, "repeatable")
	}
	if d.Required {
		notes = append(notes, "required")
	}
	if len(notes) > 0 {
		fmt.Fprintf(b, " *(%s)*", strings.Join(notes, ", "))
	}
	b.WriteString("\n")
	if len(parent) > 0 {
		fmt.Fprintf(b, "\nInside [`%s`](#%s).\n", parent[len(parent)-1], BlockID(parent))
	}
	writeAttrTable(b, path, d.Attributes)
	if len(d.Blocks) > 0 {
		links := make([]string, len(d.Blocks))
		for i, c := range d.Blocks {
			links[i] = fmt.Sprintf("[`%s`](#%s)", c.Name, BlockID(append(append([]string(nil), path...), c.Name)))
		}
		fmt.Fprintf(b, "\nNested blocks: %s.\n", strings.Join(links, ", "))
	}
	if len(d.Actions) > 0 {
		links := make([]string, len(d.Actions))
		for i, a := range d.Actions {
			links[i] = fmt.Sprintf("[`%s`](#%s)", a.Name, ActionID(a.Name))
		}
		fmt.Fprintf(b, "\nActions: %s.\n", strings.Join(links, ", "))
	}
	if !d.FreeForm {
		fmt.Fprintf(b, "\n```hcl\n%s```\n", exampleBlock(d, ""))
	}
	for _, c := range d.Blocks {
		writeBlockRef(b, c, path)
	}
}

func writeAttrTable(b *strings.Builder, path []string, as []mission.AttrDoc) {
	if len(as) == 0 {
		return
	}
	b.WriteString("\n| attribute | type | default | description |\n|---|---|---|---|\n")
	for _, a := range as {
		def := a.DefaultString()
		if a.Required {
			def = "*required*"
		} else if def == "" {
			def = "none"
		} else {
			def = "`" + def + "`"
		}
		desc := a.Description
		if a.Example != "" {
			desc += " Example: `" + a.Name + " = " + a.Example + "`."
		}
		fmt.Fprintf(b, "| <code id=\"%s\">%s</code> | %s | %s | %s |\n", AttrID(path, a.Name), a.Name, a.Type, cell(def), cell(desc))
	}
}

// exampleBlock writes an HCL example of d: every attribute with its
// example, or its default, or a value of its type.
func exampleBlock(d mission.BlockDoc, indent string) string {
	var b strings.Builder
	head := d.Name
	for _, l := range d.Labels {
		head += fmt.Sprintf(` "%s"`, strings.ToUpper(l))
	}
	fmt.Fprintf(&b, "%s%s {\n", indent, head)
	width := 0
	for _, a := range d.Attributes {
		width = max(width, len(a.Name))
	}
	for _, a := range d.Attributes {
		fmt.Fprintf(&b, "%s  %-*s = %s\n", indent, width, a.Name, exampleValue(a))
	}
	for _, c := range d.Blocks {
		if c.FreeForm {
			fmt.Fprintf(&b, "%s  %s {\n%s    # constants checked against the plugin's schema\n%s  }\n", indent, c.Name, indent, indent)
			continue
		}
		b.WriteString(exampleBlock(c, indent+"  "))
	}
	fmt.Fprintf(&b, "%s}\n", indent)
	return b.String()
}

func exampleValue(a mission.AttrDoc) string {
	if a.Example != "" {
		return a.Example
	}
	if a.Default != nil && a.DefaultText == "" {
		switch v := a.Default.(type) {
		case []string:
			if len(v) > 0 {
				return a.DefaultString()
			}
		default:
			return a.DefaultString()
		}
	}
	switch a.Type {
	case mission.TypeString:
		return `"..."`
	case mission.TypeInt:
		return "1"
	case mission.TypeFloat, mission.TypeCredits:
		return "0.5"
	case mission.TypeBool:
		return "true"
	case mission.TypeStrings:
		return `["..."]`
	case mission.TypeDuration:
		return `"30s"`
	case mission.TypeObject:
		return "{ key = \"value\" }"
	}
	return `"..."`
}

func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

func codeList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = "`" + s + "`"
	}
	return strings.Join(q, ", ")
}
