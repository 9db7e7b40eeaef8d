package mission

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// maxSnippets bounds the source snippets FormatDiagnostics renders.
const maxSnippets = 10

// FormatDiagnostics writes each diagnostic once, as
//
//	<file>:<line>,<col>: <summary>; <detail>
//	  <line> | <the source line>
//	         ^
//
// (warnings say "warning:" after the position). The source line and a
// caret under the column follow for the first maxSnippets diagnostics whose
// source is known. files supplies the sources; a file a diagnostic names that
// is missing from files is read from disk when it can be, so callers holding
// only diagnostics still get snippets.
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
	snippets := 0
	for _, d := range diags {
		loc := "-"
		if d.Subject != nil {
			loc = fmt.Sprintf("%s:%d,%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		sev := ""
		if d.Severity == hcl.DiagWarning {
			sev = "warning: "
		}
		out := fmt.Sprintf("%s: %s%s", loc, sev, d.Summary)
		if d.Detail != "" {
			out += "; " + d.Detail
		}
		out += "\n"
		// Finding a line scans the source from its start, so only the
		// first maxSnippets get one: a large file with many errors
		// renders in bounded time.
		if d.Subject != nil && snippets < maxSnippets {
			if f := all[d.Subject.Filename]; f != nil {
				if src, ok := sourceLine(f.Bytes, d.Subject.Start.Line); ok {
					snippets++
					num := fmt.Sprintf("  %d | ", d.Subject.Start.Line)
					out += num + src + "\n"
					col := max(d.Subject.Start.Column-1, 0)
					// The caret goes under the column, counted in characters
					// (tabs kept, so it lines up in a terminal).
					pad := []rune(src)
					if col > len(pad) {
						col = len(pad)
					}
					var b strings.Builder
					b.WriteString(strings.Repeat(" ", len(num)))
					for _, r := range pad[:col] {
						if r == '\t' {
							b.WriteRune('\t')
						} else {
							b.WriteRune(' ')
						}
					}
					out += b.String() + "^\n"
				}
			}
		}
		if _, err := io.WriteString(w, out); err != nil {
			return fmt.Errorf("write diagnostics: %w", err)
		}
	}
	return nil
}

// sourceLine returns line n (1-based) of src without its line ending.
func sourceLine(src []byte, n int) (string, bool) {
	if n < 1 {
		return "", false
	}
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(src, '\n')
		if j < 0 {
			return "", false
		}
		src = src[j+1:]
	}
	if j := bytes.IndexByte(src, '\n'); j >= 0 {
		src = src[:j]
	}
	return strings.TrimRight(string(src), "\r"), true
}
