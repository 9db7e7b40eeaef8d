package mission

import (
	"fmt"
	"io"
	"strings"
)

// WriteReference renders the reference of every block, attribute and
// schedule action as Markdown, from the same tables the decoder uses.
func WriteReference(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# planetary file reference\n\n")
	b.WriteString("Generated from `core/mission` (`go test ./core/mission -update`); do not edit by hand.\n")
	kinds := []struct{ file, title string }{
		{"agent", "Agent config"}, {"mission", "Mission"}, {"job", "Job files"},
	}
	for _, k := range kinds {
		fmt.Fprintf(&b, "\n## %s\n", k.title)
		for _, d := range Reference() {
			if d.File == k.file {
				writeBlock(&b, d, "###", "")
			}
		}
	}
	b.WriteString("\n## Schedule actions\n\nSet `action` in a `schedule` block; the arguments follow in the same block.\n")
	for _, a := range ActionReference() {
		fmt.Fprintf(&b, "\n### `%s`\n\n%s\n", a.Name, a.Description)
		if len(a.OneOf) > 0 {
			fmt.Fprintf(&b, "\nAt least one of: %s.\n", codeList(a.OneOf))
		}
		writeAttrs(&b, a.Attributes)
		for _, c := range a.Blocks {
			writeBlock(&b, c, "####", "")
		}
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write reference: %w", err)
	}
	return nil
}

func writeBlock(b *strings.Builder, d BlockDoc, level, parent string) {
	header := d.Name
	for _, l := range d.Labels {
		header += fmt.Sprintf(" \"%s\"", strings.ToUpper(l))
	}
	path := strings.TrimSpace(parent + " " + header)
	fmt.Fprintf(b, "\n%s `%s`\n\n%s", level, path, d.Description)
	var notes []string
	if d.Repeatable {
		notes = append(notes, "repeatable")
	}
	if d.Required {
		notes = append(notes, "required")
	}
	if len(notes) > 0 {
		fmt.Fprintf(b, " (%s)", strings.Join(notes, ", "))
	}
	b.WriteString("\n")
	writeAttrs(b, d.Attributes)
	for _, c := range d.Blocks {
		writeBlock(b, c, level, path)
	}
}

func writeAttrs(b *strings.Builder, as []AttrDoc) {
	if len(as) == 0 {
		return
	}
	b.WriteString("\n| attribute | type | default | description |\n|---|---|---|---|\n")
	for _, a := range as {
		def := a.DefaultString()
		if a.Required {
			def = "required"
		}
		desc := a.Description
		if a.Example != "" {
			desc += " Example: `" + a.Example + "`."
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", a.Name, a.Type, cell(def), cell(desc))
	}
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func codeList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = "`" + s + "`"
	}
	return strings.Join(q, ", ")
}
