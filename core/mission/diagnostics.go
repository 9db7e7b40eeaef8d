package mission

import (
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// maxSnippets bounds the source snippets FormatDiagnostics renders.
const maxSnippets = 10

// FormatDiagnostics writes one line per problem,
//
//	<file>:<line>,<col>: <summary>; <detail>
//
// (warnings say "warning:" after the position), then the snippets rendered
// by hcl's text writer for the first maxSnippets. files supplies sources for the snippets; a file a
// diagnostic names that is missing from files is read from disk when it can
// be, so callers holding only diagnostics still get snippets.
func FormatDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) error {
	if len(diags) == 0 {
		return nil
	}
	all := map[string]*hcl.File{}
	for k, v := range files {
		all[k] = v
	}
	p := hclparse.NewParser()
	for _, d := range diags {
		if d.Subject == nil {
			continue
		}
		name := d.Subject.Filename
		if _, ok := all[name]; ok || name == "" {
			continue
		}
		if src, err := os.ReadFile(name); err == nil {
			if f, _ := parseHCL(p, src, name); f != nil {
				all[name] = f
			}
		}
	}
	for _, d := range diags {
		loc := "-"
		if d.Subject != nil {
			loc = fmt.Sprintf("%s:%d,%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		sev := ""
		if d.Severity == hcl.DiagWarning {
			sev = "warning: "
		}
		line := fmt.Sprintf("%s: %s%s", loc, sev, d.Summary)
		if d.Detail != "" {
			line += "; " + d.Detail
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return fmt.Errorf("write diagnostics: %w", err)
		}
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return fmt.Errorf("write diagnostics: %w", err)
	}
	// The text writer scans the source from its start for each snippet, so
	// only the first maxSnippets diagnostics get one: a large file with
	// many errors renders in bounded time.
	if len(diags) > maxSnippets {
		diags = diags[:maxSnippets]
	}
	tw := hcl.NewDiagnosticTextWriter(w, all, 0, false)
	if err := tw.WriteDiagnostics(diags); err != nil {
		return fmt.Errorf("write diagnostics: %w", err)
	}
	return nil
}
