package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/cli"

	api "github.com/planetary/planetary/core/api/client"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test -run %s -update rewrites it; review the diff):\n%s", path, t.Name(), diffLines(string(want), got))
	}
}

// diffLines lists the first lines that differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < max(len(w), len(g)) && n < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
			n++
		}
	}
	return b.String()
}

// TestHelpGolden: the help of every command and group, and the root
// listing, as a user sees them. Every one has a summary line.
func TestHelpGolden(t *testing.T) {
	cmds := Commands(cli.NewMockUi())
	names := make([]string, 0, len(cmds))
	for k := range cmds {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		c, err := cmds[name]()
		if err != nil {
			t.Fatal(err)
		}
		syn := c.Synopsis()
		if syn == "" || len(syn) > 50 {
			t.Errorf("%s: synopsis %q (want a line under 50 characters)", name, syn)
		}
		help := c.Help()
		if !strings.HasPrefix(help, "Usage: planetary "+name) {
			t.Errorf("%s: help does not open with its usage line: %q", name, strings.SplitN(help, "\n", 2)[0])
		}
		fmt.Fprintf(&b, "=== planetary %s -- %s\n%s\n\n", name, syn, help)
	}
	golden(t, "cli-help.golden", b.String())
}

// TestErrorTextsGolden: the error texts of the CLI's common mistakes, each
// printed once: a missing or extra argument names what the command takes,
// failed calls say what was being done in proper words, and no message
// repeats its own prefix.
func TestErrorTextsGolden(t *testing.T) {
	a := startAgent(t)
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	if err := os.WriteFile(bad, []byte("shard \"x\" {\n  max_queue = \"lots\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mc, err := api.NewClient(api.ClientConfig{Address: a.url, Token: a.secret})
	if err != nil {
		t.Fatal(err)
	}
	reader, err := mc.CreateToken(context.Background(), "golden-read", "read")
	if err != nil {
		t.Fatal(err)
	}
	api := []string{"-address", a.url, "-token", a.secret}
	wrong := []string{"-address", a.url, "-token", "00000000-0000-0000-0000-000000000000"}
	readOnly := []string{"-address", a.url, "-token", reader.SecretID}
	addrOnly := []string{"-address", a.url}
	// env is PLANETARY_TOKEN for the case ("" unsets it).
	cases := []struct {
		cmd  string
		args []string
		env  string
	}{
		{"job status", nil, ""},
		{"job status", []string{"a", "b"}, ""},
		{"node retire", nil, ""},
		{"operator shard deregister", []string{"-cancel"}, ""},
		{"image import", []string{"only-one"}, ""},
		{"job list", []string{"extra"}, ""},
		{"job status", append(append([]string{}, api...), "no-such-job"), ""},
		{"operator pause", wrong, ""},
		{"operator resume", wrong, ""},
		{"operator pause", addrOnly, "00000000-0000-0000-0000-000000000000"},
		{"operator resume", addrOnly, ""},
		{"operator pause", readOnly, ""},
		{"mission apply", append(append([]string{}, api...), bad), ""},
		{"job submit", append(append([]string{}, api...), bad), ""},
		{"agent", []string{"-dev", "-data-dir", filepath.Join(file, "data")}, ""},
	}
	var b strings.Builder
	for _, tc := range cases {
		t.Setenv("PLANETARY_TOKEN", tc.env)
		ui := cli.NewMockUi()
		c, err := Commands(ui)[tc.cmd]()
		if err != nil {
			t.Fatal(err)
		}
		code := c.Run(tc.args)
		if code == cli.RunResultHelp {
			code = 1 // the exit code cli.CLI gives it, after printing the usage
		}
		norm := func(s string) string {
			s = strings.ReplaceAll(s, a.url, "$ADDR")
			s = strings.ReplaceAll(s, a.secret, "$TOKEN")
			s = strings.ReplaceAll(s, reader.SecretID, "$READ_TOKEN")
			s = strings.ReplaceAll(s, filepath.Dir(bad), "$DIR")
			s = strings.ReplaceAll(s, filepath.Dir(file), "$DIR")
			return s
		}
		args := norm(strings.Join(tc.args, " "))
		if tc.env != "" {
			args = "(PLANETARY_TOKEN=" + tc.env + ") " + args
		}
		out, errOut := norm(ui.OutputWriter.String()), norm(ui.ErrorWriter.String())
		fmt.Fprintf(&b, "=== planetary %s %s\n--- exit %d\n--- stdout\n%s--- stderr\n%s\n", tc.cmd, args, code, out, errOut)
		for _, bad := range []string{"server: server:", "api: api:", "agent: agent:", "eing", "Error: Error"} {
			if strings.Contains(errOut, bad) {
				t.Errorf("%s %s: %q in %q", tc.cmd, args, bad, errOut)
			}
		}
		// Each diagnostic once.
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		seen := map[string]bool{}
		for _, l := range lines {
			if strings.Contains(l, ".hcl:") && seen[l] {
				t.Errorf("%s %s: diagnostic printed twice: %q", tc.cmd, args, l)
			}
			seen[l] = true
		}
	}
	golden(t, "cli-errors.golden", b.String())
}

// TestExitCodesDocumented: docs/cli.md holds the exit codes of every
// command as commandExits gives them (the website's CLI reference prints
// the same under each command), and every command has at least 0 and 1.
func TestExitCodesDocumented(t *testing.T) {
	cmds := Commands(cli.NewMockUi())
	for name := range cmds {
		_, isGroup := commandIsGroup(cmds, name)
		codes := commandExits(name, isGroup)
		seen := map[int]bool{}
		for _, c := range codes {
			seen[c.Code] = true
		}
		if !isGroup && (!seen[0] || !seen[1]) {
			t.Errorf("%s: exit codes %v lack 0 or 1", name, codes)
		}
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- exit codes: generated by TestExitCodesDocumented -->\n", "<!-- end of exit codes -->"
	doc := string(b)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("docs/cli.md lacks the exit code table between %q and %q", begin, end)
	}
	want := exitTable(cmds)
	if got := doc[i+len(begin) : j]; got != want {
		if *update {
			doc = doc[:i+len(begin)] + want + doc[j:]
			if err := os.WriteFile(filepath.Join("..", "..", "docs", "cli.md"), []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("docs/cli.md exit codes differ (go test ./cmd/planetary -run ExitCodes -update rewrites them):\n%s", diffLines(got, want))
	}
}

// TestExitCodesOfTheCLI: the codes the table promises for groups, help and
// unknown commands are what the CLI returns (the commands' own codes are
// held by the tests against a live fabric).
func TestExitCodesOfTheCLI(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"job"}, 1},
		{[]string{"job", "-h"}, 0},
		{[]string{"job", "status", "-h"}, 0},
		{[]string{"job", "status"}, 1},
		{[]string{"no-such-command"}, exitUnknownCommand},
		{[]string{"version"}, 0},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			if got := RunWithUi(tc.args, cli.NewMockUi()); got != tc.code {
				t.Fatalf("exit %d, want %d", got, tc.code)
			}
		})
	}
}

// TestDiagnosticsOnceGolden: a bad file given to run, job submit, mission
// apply and agent -config prints each of its diagnostics exactly once (its
// position line, then its source line), held in testdata/cli-diagnostics.golden.
func TestDiagnosticsOnceGolden(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hcl")
	src := "mission \"x\" {\n  seed = \"abc\"\n}\nbogus {}\n"
	if err := os.WriteFile(bad, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, tc := range []struct {
		args  []string
		diags []string // the position of each diagnostic
	}{
		{[]string{"run", "-plan", bad}, []string{"bad.hcl:4,1:", "bad.hcl:2,10:"}},
		{[]string{"job", "submit", bad}, []string{"bad.hcl:1,1:", "bad.hcl:4,1:"}},
		{[]string{"mission", "apply", "-address", "http://127.0.0.1:1", bad}, []string{"bad.hcl:4,1:", "bad.hcl:2,10:"}},
		{[]string{"agent", "-config", bad}, []string{"bad.hcl:4,1:", "bad.hcl:2,10:"}},
	} {
		ui := cli.NewMockUi()
		if code := RunWithUi(tc.args, ui); code != 1 {
			t.Errorf("%v: exit %d, want 1", tc.args, code)
		}
		out := ui.OutputWriter.String() + ui.ErrorWriter.String()
		for _, pos := range tc.diags {
			if n := strings.Count(out, pos); n != 1 {
				t.Errorf("%v: %q printed %d times, want once:\n%s", tc.args, pos, n, out)
			}
		}
		if n := strings.Count(out, "^\n"); n != len(tc.diags) {
			t.Errorf("%v: %d snippets, want %d:\n%s", tc.args, n, len(tc.diags), out)
		}
		fmt.Fprintf(&b, "$ planetary %s\n%s\n", strings.Join(tc.args[:len(tc.args)-1], " ")+" bad.hcl",
			strings.ReplaceAll(out, dir+string(filepath.Separator), ""))
	}
	golden(t, "cli-diagnostics.golden", b.String())
}
