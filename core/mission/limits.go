package mission

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/planetary/planetary/core/limits"
)

// parseHCL parses src after checking its nesting depth on the tokens: the
// HCL parser and evaluator recurse once per level, so a file nested
// deeper than limits.MaxExprDepth is refused before either sees it.
func parseHCL(p *hclparse.Parser, src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	if d := checkDepth(src, filename); d != nil {
		return nil, hcl.Diagnostics{d}
	}
	return p.ParseHCL(src, filename)
}

// depthFrame is one open bracket, template or template directive.
type depthFrame struct {
	brace bool // a newline separates items here (block bodies, objects)
	ops   int  // operators chained at this level since the last separator
}

// checkDepth lexes src (the lexer does not recurse) and measures how deep
// the parser would go: one level per open bracket, quoted or heredoc
// template, interpolation and template directive, plus one per operator
// chained within a level (unary and binary operators, conditionals and
// index steps nest expressions too). It returns a diagnostic at the token
// that passes limits.MaxExprDepth, or nil.
func checkDepth(src []byte, filename string) *hcl.Diagnostic {
	toks, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	stack := []depthFrame{{brace: true}}
	depth := 0
	prev := hclsyntax.TokenNil
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
				stack = stack[:len(stack)-1]
			}
		case hclsyntax.TokenComma:
			depth -= top.ops
			top.ops = 0
		case hclsyntax.TokenNewline:
			if top.brace {
				depth -= top.ops
				top.ops = 0
			}
		case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash,
			hclsyntax.TokenPercent, hclsyntax.TokenAnd, hclsyntax.TokenOr, hclsyntax.TokenBang,
			hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan, hclsyntax.TokenLessThanEq,
			hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq, hclsyntax.TokenQuestion, hclsyntax.TokenColon,
			hclsyntax.TokenDot, hclsyntax.TokenEllipsis:
			top.ops++
			depth++
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
	return nil
}

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
