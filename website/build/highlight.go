package build

import (
	"html"
	"strings"
)

// Token classes in the rendered HTML (see assets/style.css).
const (
	clsComment = "c"  // comments
	clsString  = "s"  // string literals
	clsNumber  = "n"  // numbers, true/false/null
	clsKeyword = "k"  // keywords and HCL block types
	clsAttr    = "a"  // HCL attribute names, JSON keys, shell flags
	clsVar     = "v"  // shell variables
	clsPrompt  = "p"  // the "$ " of a shell session
	clsOutput  = "o"  // output lines of a shell session
	clsCommand = "cm" // the program name at the start of a shell command
)

// language describes how one language is tokenized.
type language struct {
	lineComments []string
	blockComment bool // /* ... */
	quotes       string
	keywords     map[string]bool
	identDash    bool // identifiers may contain '-'
	hclAttrs     bool // identifier followed by '=' is an attribute, at line start before '{' or '"' a block type
	jsonKeys     bool // a string followed by ':' is a key
	shell        bool
}

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// languageFor returns the tokenizer for a fenced block's language, or nil
// for plain text.
func languageFor(lang string) *language {
	switch lang {
	case "hcl", "terraform", "tf":
		return &language{lineComments: []string{"#", "//"}, blockComment: true, quotes: `"`,
			keywords: words("true false null for in if"), identDash: true, hclAttrs: true}
	case "go", "golang":
		return &language{lineComments: []string{"//"}, blockComment: true, quotes: "\"`'",
			keywords: words("break case chan const continue default defer else fallthrough for func go goto if import interface map package range return select struct switch type var nil true false iota")}
	case "json":
		return &language{quotes: `"`, keywords: words("true false null"), jsonKeys: true}
	case "sh", "shell", "bash", "console":
		return &language{lineComments: []string{"#"}, quotes: `"'`, identDash: true, shell: true,
			keywords: words("export cd if then else fi for do done while case esac in echo")}
	case "proto", "protobuf":
		return &language{lineComments: []string{"//"}, blockComment: true, quotes: `"`,
			keywords: words("syntax package import option message service rpc returns stream repeated map enum oneof bool string bytes int32 int64 uint32 uint64 double float")}
	}
	return nil
}

// highlight renders code as HTML with token spans. Shell blocks are treated
// as sessions when any line starts with "$ ": prompt lines are highlighted
// as commands and the other lines as output.
func highlight(lang, code string) string {
	l := languageFor(lang)
	if l == nil {
		return html.EscapeString(code)
	}
	if l.shell && isSession(code) {
		var b strings.Builder
		cont := false
		for i, line := range strings.SplitAfter(code, "\n") {
			_ = i
			body := strings.TrimSuffix(line, "\n")
			nl := line[len(body):]
			switch {
			case strings.HasPrefix(body, "$ "):
				b.WriteString(span(clsPrompt, "$ "))
				b.WriteString(l.tokens(body[2:]))
				cont = strings.HasSuffix(body, `\`)
			case cont:
				b.WriteString(l.tokens(body))
				cont = strings.HasSuffix(body, `\`)
			case body != "":
				b.WriteString(span(clsOutput, html.EscapeString(body)))
			}
			b.WriteString(nl)
		}
		return b.String()
	}
	return l.tokens(code)
}

func isSession(code string) bool {
	for _, line := range strings.Split(code, "\n") {
		if strings.HasPrefix(line, "$ ") {
			return true
		}
	}
	return false
}

func span(cls, escaped string) string {
	return `<span class="` + cls + `">` + escaped + `</span>`
}

func isIdentStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// tokens highlights src, which may span several lines.
func (l *language) tokens(src string) string {
	var b strings.Builder
	lineStart := true    // only whitespace so far on this line
	commandStart := true // shell: the next word is a program name
	i := 0
	emit := func(cls, text string) {
		if cls == "" {
			b.WriteString(html.EscapeString(text))
			return
		}
		b.WriteString(span(cls, html.EscapeString(text)))
	}
	for i < len(src) {
		c := src[i]
		rest := src[i:]
		if c == '\n' {
			b.WriteByte('\n')
			i++
			lineStart, commandStart = true, true
			continue
		}
		if c == ' ' || c == '\t' {
			j := i
			for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
				j++
			}
			b.WriteString(src[i:j])
			i = j
			continue
		}
		if n := l.commentLen(rest, i == 0 || src[i-1] == ' ' || src[i-1] == '\t' || src[i-1] == '\n'); n > 0 {
			emit(clsComment, rest[:n])
			i += n
			continue
		}
		if strings.IndexByte(l.quotes, c) >= 0 {
			n := quotedLen(rest)
			cls := clsString
			if l.jsonKeys && strings.HasPrefix(strings.TrimLeft(rest[n:], " "), ":") {
				cls = clsAttr
			}
			emit(cls, rest[:n])
			i += n
			lineStart, commandStart = false, false
			continue
		}
		if l.shell && c == '$' && i+1 < len(src) && (isIdentStart(src[i+1]) || src[i+1] == '{' || src[i+1] == '(') {
			j := i + 1
			if src[j] == '{' {
				for j < len(src) && src[j] != '}' && src[j] != '\n' {
					j++
				}
				if j < len(src) && src[j] == '}' {
					j++
				}
			} else if src[j] == '(' {
				j++
			} else {
				for j < len(src) && (isIdentStart(src[j]) || isDigit(src[j])) {
					j++
				}
			}
			emit(clsVar, src[i:j])
			i = j
			lineStart, commandStart = false, false
			continue
		}
		if l.shell && c == '-' && (i == 0 || src[i-1] == ' ') {
			j := i
			for j < len(src) && src[j] != ' ' && src[j] != '\n' && src[j] != '=' {
				j++
			}
			emit(clsAttr, src[i:j])
			i = j
			lineStart, commandStart = false, false
			continue
		}
		if isDigit(c) && (i == 0 || !isWordByte(src[i-1], l.identDash)) && !l.shell {
			j := i
			for j < len(src) && (isDigit(src[j]) || src[j] == '.' || src[j] == '_' || src[j] == 'x' || src[j] == 'e' ||
				('a' <= src[j] && src[j] <= 'f') || ('A' <= src[j] && src[j] <= 'F')) {
				j++
			}
			emit(clsNumber, src[i:j])
			i = j
			lineStart = false
			continue
		}
		if isIdentStart(c) || (l.shell && (isDigit(c) || c == '.' || c == '/')) {
			j := i
			for j < len(src) && isWordByte(src[j], l.identDash) || (l.shell && j < len(src) && strings.IndexByte("./:@%+,", src[j]) >= 0) {
				j++
			}
			word := src[i:j]
			after := strings.TrimLeft(src[j:], " \t")
			cls := ""
			switch {
			case l.shell && commandStart && !strings.Contains(word, "="):
				cls = clsCommand
				if l.keywords[word] {
					cls = clsKeyword
				}
			case l.keywords[word] && !l.shell:
				cls = clsKeyword
				if word == "true" || word == "false" || word == "null" || word == "nil" {
					cls = clsNumber
				}
			case l.hclAttrs && strings.HasPrefix(after, "=") && !strings.HasPrefix(after, "=="):
				cls = clsAttr
			case l.hclAttrs && lineStart && (strings.HasPrefix(after, "{") || strings.HasPrefix(after, `"`)):
				cls = clsKeyword
			}
			emit(cls, word)
			i = j
			lineStart, commandStart = false, false
			continue
		}
		if l.shell && (c == '|' || c == ';' || c == '&') {
			j := i
			for j < len(src) && (src[j] == '|' || src[j] == ';' || src[j] == '&') {
				j++
			}
			emit("", src[i:j])
			i = j
			commandStart = true
			continue
		}
		emit("", string(c))
		i++
		lineStart = false
	}
	return b.String()
}

func isWordByte(c byte, dash bool) bool {
	return isIdentStart(c) || isDigit(c) || (dash && c == '-')
}

// commentLen is the length of a comment starting at s, or 0.
func (l *language) commentLen(s string, afterSpace bool) int {
	if l.blockComment && strings.HasPrefix(s, "/*") {
		if end := strings.Index(s[2:], "*/"); end >= 0 {
			return end + 4
		}
		return len(s)
	}
	for _, p := range l.lineComments {
		if strings.HasPrefix(s, p) && (!l.shell || afterSpace) {
			if end := strings.IndexByte(s, '\n'); end >= 0 {
				return end
			}
			return len(s)
		}
	}
	return 0
}

// quotedLen is the length of the quoted string at s (including quotes),
// stopping at the closing quote or the end of the line.
func quotedLen(s string) int {
	q := s[0]
	for j := 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if q != '\'' && q != '`' {
				j++
			}
		case q:
			return j + 1
		case '\n':
			if q != '`' {
				return j
			}
		}
	}
	return len(s)
}
