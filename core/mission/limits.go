package mission

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/planetary/planetary/core/limits"
)

// parseHCL parses src after checking its tokens (checkTokens): the HCL
// parser and evaluator recurse once per nesting level, evaluate for
// expressions and templates by expanding them, and write numbers out in
// full decimal, so a file that is too deep, uses an expansion or spells
// too large a number is refused before either sees it.
func parseHCL(p *hclparse.Parser, src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	if d := checkTokens(src, filename); d != nil {
		return nil, hcl.Diagnostics{d}
	}
	return p.ParseHCL(src, filename)
}

// depthFrame is one open bracket, template or template directive.
type depthFrame struct {
	brace bool // a newline separates items here (block bodies, objects)
	ops   int  // operators chained at this level since the last separator
	// digits are the decimal digits of the numbers the current item
	// combines; most the largest of its items so far.
	digits, most int64
}

// item ends the frame's current item (at a separator or its close) and
// returns the digits of its largest.
func (f *depthFrame) item() int64 {
	f.most = max(f.most, f.digits)
	f.digits = 0
	return f.most
}

// checkTokens lexes src (the lexer does not recurse) and checks, in one
// pass:
//
//   - how deep the parser would go: one level per open bracket, quoted or
//     heredoc template, interpolation and template directive, plus one per
//     operator chained within a level (unary and binary operators,
//     conditionals and index steps nest expressions too), at most
//     limits.MaxExprDepth;
//   - that nothing expands: for expressions ([for x in ...], {for ...}),
//     template interpolations ${...} and directives %{...} are refused
//     (planetary files are constants, with no variables or functions for
//     them to work on; an expansion's cost is the product of its nested
//     collections, so a few lines could ask for billions of elements);
//   - the numbers: every number literal, and every quoted string that
//     converts to one, counts its digits plus its exponent, summed over
//     the numbers one item (a bracket's element, an attribute's value)
//     combines, at most limits.MaxNumberDigits.
//
// It returns a diagnostic at the first token past a limit (the depth's
// first, since the other checks rely on the nesting being sound), or nil.
func checkTokens(src []byte, filename string) *hcl.Diagnostic {
	toks, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	stack := []depthFrame{{brace: true}}
	depth := 0
	prev := hclsyntax.TokenNil
	var expand, number *hcl.Diagnostic
	for i, t := range toks {
		top := &stack[len(stack)-1]
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			if t.Type == hclsyntax.TokenOBrack && closes(prev) {
				// An index step a[0][0]... nests one IndexExpr each.
				top.ops++
				depth++
			}
			stack = append(stack, depthFrame{brace: t.Type == hclsyntax.TokenOBrace})
			depth++
			switch {
			case expand != nil:
			case t.Type == hclsyntax.TokenTemplateInterp || t.Type == hclsyntax.TokenTemplateControl:
				expand = expansionDiag(t.Range, "Template interpolations ${...} and directives %{...}",
					"write the value itself ($${ and %%{ stand for a literal ${ and %{)")
			case (t.Type == hclsyntax.TokenOBrack || t.Type == hclsyntax.TokenOBrace) && i+2 < len(toks) &&
				toks[i+1].Type == hclsyntax.TokenIdent && string(toks[i+1].Bytes) == "for" && toks[i+2].Type == hclsyntax.TokenIdent:
				expand = expansionDiag(toks[i+1].Range, "For expressions", "write the elements out")
			}
			if t.Type == hclsyntax.TokenTemplateControl && i+1 < len(toks) && toks[i+1].Type == hclsyntax.TokenIdent {
				// %{ if } and %{ for } open a directive closed by
				// %{ endif } / %{ endfor }.
				switch string(toks[i+1].Bytes) {
				case "if", "for":
					top.ops++
					depth++
				case "endif", "endfor":
					if top.ops > 0 {
						top.ops--
						depth--
					}
				}
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if len(stack) > 1 {
				depth -= 1 + top.ops
				d := top.item()
				stack = stack[:len(stack)-1]
				parent := &stack[len(stack)-1]
				parent.digits = satAdd(parent.digits, d)
				if parent.digits > limits.MaxNumberDigits && number == nil {
					number = numberDiag(t.Range)
				}
			}
		case hclsyntax.TokenComma:
			depth -= top.ops
			top.ops = 0
			top.item()
		case hclsyntax.TokenNewline:
			if top.brace {
				depth -= top.ops
				top.ops = 0
				top.item()
			}
		case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash,
			hclsyntax.TokenPercent, hclsyntax.TokenAnd, hclsyntax.TokenOr, hclsyntax.TokenBang,
			hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan, hclsyntax.TokenLessThanEq,
			hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq, hclsyntax.TokenQuestion, hclsyntax.TokenColon,
			hclsyntax.TokenDot, hclsyntax.TokenEllipsis:
			top.ops++
			depth++
		case hclsyntax.TokenNumberLit, hclsyntax.TokenQuotedLit, hclsyntax.TokenStringLit:
			top.digits = satAdd(top.digits, numberDigits(t.Bytes))
			if top.digits > limits.MaxNumberDigits && number == nil {
				number = numberDiag(t.Range)
			}
		}
		if depth > limits.MaxExprDepth {
			rng := t.Range
			return &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Nesting too deep",
				Detail: fmt.Sprintf("Expressions, brackets and templates here nest more than %d levels deep "+
					"(each bracket, template and chained operator is a level); the file was not parsed.", limits.MaxExprDepth),
				Subject: &rng,
			}
		}
		prev = t.Type
	}
	if expand != nil {
		return expand
	}
	return number
}

func numberDiag(rng hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Number too large",
		Detail: fmt.Sprintf("The numbers here spell more than %d decimal digits (digits plus exponent, "+
			"summed over the numbers one value combines); the file was not parsed.", limits.MaxNumberDigits),
		Subject: &rng,
	}
}

func expansionDiag(rng hcl.Range, what, fix string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Expression not supported",
		Detail: fmt.Sprintf("%s are not supported: planetary files are constants, with no variables or functions "+
			"for them to work on; %s. The file was not parsed.", what, fix),
		Subject: &rng,
	}
}

// numberDigits is what a literal counts against limits.MaxNumberDigits:
// for a number (a number literal, or a string that converts to one, such
// as "-1.5e300") its digits plus the size of its exponent, else 0.
func numberDigits(b []byte) int64 {
	if bytes.IndexByte(b, '\\') >= 0 {
		// An escaped string literal: count what it unescapes to.
		if u, err := strconv.Unquote(`"` + string(b) + `"`); err == nil {
			b = []byte(u)
		}
	}
	b = bytes.TrimSpace(b)
	i := 0
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	var digits int64
	for ; i < len(b) && (b[i] >= '0' && b[i] <= '9' || b[i] == '.'); i++ {
		if b[i] != '.' {
			digits++
		}
	}
	if digits == 0 {
		return 0
	}
	if i == len(b) {
		return digits
	}
	if b[i] != 'e' && b[i] != 'E' {
		return 0
	}
	i++
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	var exp int64
	start := i
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		exp = min(exp*10+int64(b[i]-'0'), 1<<40)
	}
	if i == start || i != len(b) {
		return 0
	}
	return satAdd(digits, exp)
}

func satAdd(a, b int64) int64 { return min(a+b, 1<<50) }

func closes(t hclsyntax.TokenType) bool {
	switch t {
	case hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCBrace, hclsyntax.TokenIdent,
		hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
		return true
	}
	return false
}

// capDiagnostics keeps the first limits.MaxDiagnostics diagnostics and
// says how many more there were.
func capDiagnostics(diags hcl.Diagnostics) hcl.Diagnostics {
	if len(diags) <= limits.MaxDiagnostics {
		return diags
	}
	more := len(diags) - limits.MaxDiagnostics
	out := append(hcl.Diagnostics{}, diags[:limits.MaxDiagnostics]...)
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Too many errors",
		Detail:   fmt.Sprintf("%d more diagnostics were found and are not shown; fix the ones above first.", more),
	}
	if s := diags[limits.MaxDiagnostics].Subject; s != nil {
		d.Subject = s
	}
	return append(out, d)
}

// limit reports a limits refusal of attribute name as a diagnostic at its
// expression.
func (r *reader) limit(name string, err error) {
	if err != nil {
		r.errorf(r.Range(name), "Value out of range", "Attribute %q: %v (docs/limits.md).", name, err)
	}
}
