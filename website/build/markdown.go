package build

import (
	"bytes"
	"fmt"
	"html"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	ghtml "github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Info is a fenced code block's info string split into a language and
// attributes: "sh {test poll}" is language "sh" with attributes test and
// poll; "hcl {file=hello.hcl}" has attribute file = "hello.hcl".
type Info struct {
	Lang  string
	Attrs map[string]string
}

// Has reports whether the attribute is present.
func (i Info) Has(name string) bool { _, ok := i.Attrs[name]; return ok }

// ParseInfo splits a fenced code block's info string.
func ParseInfo(s string) Info {
	s = strings.TrimSpace(s)
	info := Info{Attrs: map[string]string{}}
	lang, rest, _ := strings.Cut(s, " ")
	if strings.HasPrefix(lang, "{") {
		lang, rest = "", s
	}
	info.Lang = strings.ToLower(lang)
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "{") && strings.HasSuffix(rest, "}") {
		for _, f := range strings.Fields(rest[1 : len(rest)-1]) {
			k, v, _ := strings.Cut(f, "=")
			info.Attrs[k] = strings.Trim(v, `"`)
		}
	}
	return info
}

// heading is one h2 or h3 of a page, for the page's table of contents.
type heading struct {
	Level int
	ID    string
	Text  string
}

// rendered is one Markdown page turned into HTML.
type rendered struct {
	Title    string
	HTML     string
	Headings []heading
}

// newMarkdown builds the goldmark pipeline: GFM, heading ids and
// attributes, links to .md sources rewritten to .html, and code blocks
// highlighted at build time.
func newMarkdown() goldmark.Markdown {
	return goldmark.New(
		goldmark.WithExtensions(extension.GFM),
		goldmark.WithParserOptions(
			parser.WithAutoHeadingID(),
			parser.WithAttribute(),
			parser.WithASTTransformers(util.Prioritized(linkRewriter{}, 100)),
		),
		goldmark.WithRendererOptions(
			ghtml.WithUnsafe(),
			renderer.WithNodeRenderers(util.Prioritized(codeRenderer{}, 100)),
		),
	)
}

// renderMarkdown converts src and collects its title (the first h1) and
// its h2/h3 headings.
func renderMarkdown(md goldmark.Markdown, src []byte) (rendered, error) {
	doc := md.Parser().Parse(text.NewReader(src))
	var out rendered
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		h, ok := n.(*ast.Heading)
		if !ok || !entering {
			return ast.WalkContinue, nil
		}
		label := plainText(h, src)
		id := ""
		if v, ok := h.AttributeString("id"); ok {
			if b, ok := v.([]byte); ok {
				id = string(b)
			}
		}
		switch {
		case h.Level == 1 && out.Title == "":
			out.Title = label
		case h.Level == 2 || h.Level == 3:
			out.Headings = append(out.Headings, heading{Level: h.Level, ID: id, Text: label})
		}
		return ast.WalkSkipChildren, nil
	})
	if err != nil {
		return out, fmt.Errorf("walk: %w", err)
	}
	var buf bytes.Buffer
	if err := md.Renderer().Render(&buf, src, doc); err != nil {
		return out, fmt.Errorf("render: %w", err)
	}
	out.HTML = buf.String()
	return out, nil
}

func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch t := c.(type) {
		case *ast.Text:
			b.Write(t.Segment.Value(src))
			if t.SoftLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(t.Value)
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// linkRewriter turns links to sibling Markdown sources ("concepts.md#ledger")
// into links to the rendered pages ("concepts.html#ledger").
type linkRewriter struct{}

func (linkRewriter) Transform(doc *ast.Document, reader text.Reader, pc parser.Context) {
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if l, ok := n.(*ast.Link); ok && entering {
			l.Destination = []byte(rewriteLink(string(l.Destination)))
		}
		return ast.WalkContinue, nil
	})
}

func rewriteLink(dest string) string {
	if strings.Contains(dest, "://") || strings.HasPrefix(dest, "#") || strings.HasPrefix(dest, "mailto:") {
		return dest
	}
	path, frag, hasFrag := strings.Cut(dest, "#")
	if strings.HasSuffix(path, ".md") && !strings.Contains(path, "/") {
		path = strings.TrimSuffix(path, ".md") + ".html"
	}
	if hasFrag {
		return path + "#" + frag
	}
	return path
}

// codeRenderer renders fenced and indented code blocks with highlighting.
// Attributes of the info string do not reach the page; a block with a
// file attribute shows the file name above the code.
type codeRenderer struct{}

func (codeRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindFencedCodeBlock, renderCode)
	reg.Register(ast.KindCodeBlock, renderCode)
}

func renderCode(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	var info Info
	if f, ok := n.(*ast.FencedCodeBlock); ok && f.Info != nil {
		info = ParseInfo(string(f.Info.Segment.Value(src)))
	}
	code := blockText(n, src)
	class := "lang-text"
	if info.Lang != "" {
		class = "lang-" + info.Lang
	}
	_, _ = w.WriteString(`<figure class="code">`)
	if name := info.Attrs["file"]; name != "" {
		fmt.Fprintf(w, `<figcaption>%s</figcaption>`, html.EscapeString(name))
	}
	fmt.Fprintf(w, `<pre class="%s"><code>%s</code></pre></figure>`+"\n", html.EscapeString(class), highlight(info.Lang, code))
	return ast.WalkSkipChildren, nil
}

func blockText(n ast.Node, src []byte) string {
	var b strings.Builder
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		b.Write(seg.Value(src))
	}
	return b.String()
}
