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

	"github.com/planetary/planetary/core/api"
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
