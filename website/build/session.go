package build

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// CodeBlock is one fenced code block of a Markdown page.
type CodeBlock struct {
	Info Info
	Text string
	Line int // 1-based line of the opening fence
}

// CodeBlocks returns the fenced code blocks of a Markdown source in order.
func CodeBlocks(src []byte) []CodeBlock {
	doc := newMarkdown().Parser().Parse(text.NewReader(src))
	var out []CodeBlock
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		f, ok := n.(*ast.FencedCodeBlock)
		if !ok || !entering {
			return ast.WalkContinue, nil
		}
		cb := CodeBlock{Text: blockText(f, src)}
		if f.Info != nil {
			cb.Info = ParseInfo(string(f.Info.Segment.Value(src)))
		} else {
			cb.Info = ParseInfo("")
		}
		if f.Lines().Len() > 0 {
			cb.Line = strings.Count(string(src[:f.Lines().At(0).Start]), "\n")
		}
		out = append(out, cb)
		return ast.WalkSkipChildren, nil
	})
	return out
}

// A tested shell session is a fenced block written ```sh {test}: lines
// starting with "$ " are commands (a trailing backslash continues a command
// on the next line) and the lines after a command are its expected output
// (stdout and stderr together). In expected output, a line "..." matches
// any number of lines and <name> matches any text within a line. With
// {test poll} each command is re-run until its output matches or a
// deadline passes, for output that settles (a job finishing).
//
// Files a session needs are fenced blocks with a file attribute
// (```hcl {file=hello.hcl}); they are written to the session's working
// directory. A file block with the config attribute as well is the file
// the page's dev agent is started with (-config).

// Step is one command of a session and its expected output.
type Step struct {
	Command string
	Want    []string
	Line    int
}

// Session is one tested shell block.
type Session struct {
	Poll  bool
	Steps []Step
	Line  int
}

// Sessions returns the tested shell sessions of a Markdown source, the
// files they need (name -> contents) and the name of the agent config
// file, if any.
func Sessions(src []byte) (sessions []Session, files map[string]string, config string) {
	files = map[string]string{}
	for _, cb := range CodeBlocks(src) {
		if name := cb.Info.Attrs["file"]; name != "" {
			files[name] = cb.Text
			if cb.Info.Has("config") {
				config = name
			}
		}
		if !cb.Info.Has("test") {
			continue
		}
		s := Session{Poll: cb.Info.Has("poll"), Line: cb.Line}
		cont := false
		for i, line := range strings.Split(strings.TrimRight(cb.Text, "\n"), "\n") {
			switch {
			case cont:
				st := &s.Steps[len(s.Steps)-1]
				st.Command += "\n" + line
				cont = strings.HasSuffix(line, `\`)
			case strings.HasPrefix(line, "$ "):
				s.Steps = append(s.Steps, Step{Command: line[2:], Line: cb.Line + 1 + i})
				cont = strings.HasSuffix(line, `\`)
			case len(s.Steps) > 0:
				st := &s.Steps[len(s.Steps)-1]
				st.Want = append(st.Want, line)
			}
		}
		sessions = append(sessions, s)
	}
	return sessions, files, config
}

var placeholder = regexp.MustCompile(`<[A-Za-z][A-Za-z0-9_ .-]*>`)

// MatchOutput reports whether got (a command's output) matches the
// expected lines: line by line after trimming trailing spaces, with "..."
// lines and <placeholders> as wildcards.
func MatchOutput(want []string, got string) bool {
	re, err := outputPattern(want)
	if err != nil {
		return false
	}
	return re.MatchString(normalize(got))
}

func normalize(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n \t"), "\n")
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimRight(l, " \t\r"))
		b.WriteByte('\n')
	}
	out := b.String()
	if out == "\n" {
		return ""
	}
	return out
}

func outputPattern(want []string) (*regexp.Regexp, error) {
	for len(want) > 0 && strings.TrimSpace(want[len(want)-1]) == "" {
		want = want[:len(want)-1]
	}
	var b strings.Builder
	b.WriteString(`\A`)
	for _, w := range want {
		w = strings.TrimRight(w, " \t")
		if w == "..." {
			b.WriteString(`(?:[^\n]*\n)*?`)
			continue
		}
		last := 0
		for _, m := range placeholder.FindAllStringIndex(w, -1) {
			b.WriteString(regexp.QuoteMeta(w[last:m[0]]))
			b.WriteString(`[^\n]*?`)
			last = m[1]
		}
		b.WriteString(regexp.QuoteMeta(w[last:]))
		b.WriteString(`[ \t]*\n`)
	}
	b.WriteString(`\z`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("build: expected output: %w", err)
	}
	return re, nil
}
