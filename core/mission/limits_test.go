package mission

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/planetary/planetary/core/limits"
)

// deepMission nests n parentheses in the seed's expression.
func deepMission(open, close string, n int) []byte {
	return []byte("mission \"m\" {\n  seed = " + strings.Repeat(open, n) + "1" + strings.Repeat(close, n) + "\n}\n")
}

// TestNestingDepth checks that a file nested past the limit is refused with
// a diagnostic before the parser recurses (100k parentheses overflowed the
// stack), and that one at the limit parses.
func TestNestingDepth(t *testing.T) {
	ok := limits.MaxExprDepth - 1 // the mission block is one level
	tests := []struct {
		name string
		src  []byte
		deep bool
	}{
		{"parens below", deepMission("(", ")", ok-1), false},
		{"parens at", deepMission("(", ")", ok), false},
		{"parens above", deepMission("(", ")", ok+1), true},
		{"parens 100k", deepMission("(", ")", 100_000), true},
		{"brackets 100k", deepMission("[", "]", 100_000), true},
		{"braces 100k", deepMission("{a=", "}", 100_000), true},
		{"unary 100k", deepMission("!", "", 100_000), true},
		{"binary chain 100k", deepMission("1+", "", 100_000), true},
		{"conditional chain 100k", deepMission("true ? 1 : ", "", 100_000), true},
		{"index chain 100k", deepMission("[1]", "[0]", 100_000), true},
		{"templates 100k", deepMission(`"${`, `}"`, 100_000), true},
		{"directives 100k", []byte("mission \"m\" {\n  name = \"" + strings.Repeat("%{if true}", 100_000) + strings.Repeat("%{endif}", 100_000) + "\"\n}\n"), true},
		{"blocks 100k", []byte(strings.Repeat("a {\n", 100_000) + strings.Repeat("}\n", 100_000)), true},
		{"long flat list", []byte("mission \"m\" {\n  seed = 1\n  note = [" + strings.Repeat("1, ", 100_000) + "1]\n}\n"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse(tc.src, "deep.hcl")
			_, jdiags := ParseJobs(tc.src, "deep.hcl")
			for _, ds := range [][]string{summaries(diags), summaries(jdiags)} {
				has := false
				for _, s := range ds {
					has = has || s == "Nesting too deep"
				}
				if has != tc.deep {
					t.Fatalf("nesting refused = %v, want %v (%v)", has, tc.deep, ds)
				}
			}
		})
	}
}

// TestNumberDigits checks the bound on the digits numbers spell (a
// literal's digits plus its exponent, summed over what one value combines)
// below, at and above the limit, in number literals and in strings that
// convert to numbers: 1e100000000 took hours to write out in decimal.
func TestNumberDigits(t *testing.T) {
	n := limits.MaxNumberDigits
	e := func(digits int) string { return fmt.Sprintf("1e%d", digits-1) } // spells digits digits
	tests := []struct {
		name  string
		value string
		big   bool
	}{
		{"literal below", e(n - 1), false},
		{"literal at", e(n), false},
		{"literal above", e(n + 1), true},
		{"negative exponent above", fmt.Sprintf("1e-%d", n), true},
		{"many digits above", strings.Repeat("9", n+1), true},
		{"string at", `"` + e(n) + `"`, false},
		{"string above", `"` + e(n+1) + `"`, true},
		{"escaped string above", `"\u0031e` + fmt.Sprint(n) + `"`, true},
		{"product at", e(n/2) + " * " + e(n/2), false},
		{"product above", e(n/2) + " * " + e(n/2+1), true},
		{"nested products above", "(" + e(n/4) + " * " + e(n/4) + ") * (" + e(n/4) + " * " + e(n/4+1) + ")", true},
		{"list items apart", "[" + e(n) + ", " + e(n) + "]", false},
		{"indexed list above", "[" + e(n) + ", 1][0] * " + e(2), true},
		{"exponent 1e100000000", "1e100000000", true},
		{"string 1e100000000", `"1e100000000"`, true},
		{"plain string", `"2026-12-07 4646 127.0.0.1:8080"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte("mission \"m\" {\n  seed = " + tc.value + "\n}\n")
			_, diags := Parse(src, "n.hcl")
			_, jdiags := ParseJobs(src, "n.hcl")
			for _, ds := range []hcl.Diagnostics{diags, jdiags} {
				refused := len(ds) == 1 && ds[0].Summary == "Number too large"
				if refused != tc.big {
					t.Fatalf("refused = %v, want %v (%v)", refused, tc.big, ds)
				}
				if !refused {
					for _, d := range ds {
						if d.Summary == "Number too large" {
							t.Fatalf("refused among other diagnostics: %v", ds)
						}
					}
				}
			}
		})
	}
}

// TestExpansionsRefused checks that for expressions and template
// interpolations and directives, whose evaluation expands (seven nested
// for expressions over ten elements ask for ten million), are refused on
// the tokens with one diagnostic naming them: the parser never sees the
// file, so no work proportional to the expansion is done. Escaped ${ and
// %{ and an attribute named for stay literal.
func TestExpansionsRefused(t *testing.T) {
	tests := []struct {
		name, value string
		refused     bool
	}{
		{"tuple for", "[for a in [1, 2]: a]", true},
		{"object for", "{for k, v in {a = 1}: k => v}", true},
		{"interpolation", `"${1}"`, true},
		{"directive", `"%{if true}x%{endif}"`, true},
		{"heredoc interpolation", "<<EOT\n${1}\nEOT\n", true},
		{"escaped", `"$${1} %%{if}"`, false},
		{"attribute named for", "{ for = 1 }", false},
		{"string for", `"for a in b"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte("mission \"m\" {\n  seed = 1\n}\nshard \"s\" {\n  display_name = " + tc.value + "\n}\n")
			_, diags := Parse(src, "x.hcl")
			refused := len(diags) == 1 && diags[0].Summary == "Expression not supported" &&
				strings.Contains(diags[0].Detail, "was not parsed") && diags[0].Subject.Start.Line >= 5
			if refused != tc.refused {
				t.Fatalf("refused = %v, want %v (%v)", refused, tc.refused, diags)
			}
		})
	}
}

func summaries(diags interface{ Error() string }) []string {
	var out []string
	for _, line := range strings.Split(diags.Error(), ";") {
		if i := strings.LastIndex(line, ": "); i >= 0 {
			line = line[i+2:]
		}
		out = append(out, strings.TrimSpace(line))
	}
	return out
}

// TestDiagnosticCap checks that a file with 20k invalid blocks reports a
// bounded number of diagnostics, the last saying how many were left out.
func TestDiagnosticCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("mission \"m\" {\n  seed = 1\n}\n")
	for i := range 20_000 {
		fmt.Fprintf(&b, "shard \"s%d\" {\n  max_queue = \"x\"\n  colour = 1\n}\n", i)
	}
	file, diags := Parse([]byte(b.String()), "many.hcl")
	if len(diags) != limits.MaxDiagnostics+1 {
		t.Fatalf("%d diagnostics, want %d", len(diags), limits.MaxDiagnostics+1)
	}
	last := diags[len(diags)-1]
	if last.Summary != "Too many errors" || !strings.Contains(last.Detail, "more diagnostics") {
		t.Fatalf("last diagnostic %+v", last)
	}
	if err := FormatDiagnostics(io.Discard, file.Sources, diags); err != nil {
		t.Fatal(err)
	}
}

// TestRegressionInputs checks that the inputs that crashed or hung the
// parser are checked in: FuzzParse runs each of them on every go test.
func TestRegressionInputs(t *testing.T) {
	for _, name := range []string{"deep-parens", "deep-brackets", "deep-unary", "deep-templates", "deep-blocks",
		"many-invalid-blocks", "money-overflow", "interval-overflow",
		"huge-exponent", "huge-exponent-string", "huge-exponent-product", "interpolated-exponent",
		"nested-for", "nested-template-for", "payload-infinite"} {
		if _, err := os.Stat(filepath.Join("testdata/fuzz/FuzzParse", name)); err != nil {
			t.Error(err)
		}
	}
}
