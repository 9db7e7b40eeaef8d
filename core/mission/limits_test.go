package mission

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		"many-invalid-blocks", "money-overflow", "interval-overflow"} {
		if _, err := os.Stat(filepath.Join("testdata/fuzz/FuzzParse", name)); err != nil {
			t.Error(err)
		}
	}
}
