package main

import (
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/cli"

	"github.com/planetary/planetary/website/build"
)

// TestDocsCLIReference: every command of Commands() has its own section in
// the generated CLI reference, with its help text, and the built site has no
// broken links.
func TestDocsCLIReference(t *testing.T) {
	ui := cli.NewMockUi()
	site, err := buildSite(ui)
	if err != nil {
		t.Fatal(err)
	}
	page := site.Files["cli.html"]
	pl, err := build.ParseLinks(page)
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := commandDocs(ui)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != len(Commands(ui)) {
		t.Fatalf("%d command docs for %d commands", len(cmds), len(Commands(ui)))
	}
	for _, c := range cmds {
		if pl.IDs[build.CommandID(c.Name)] != 1 {
			t.Errorf("CLI reference: no section #%s for %q", build.CommandID(c.Name), c.Name)
		}
		usage := strings.SplitN(c.Help, "\n", 2)[0]
		if !strings.Contains(string(page), html.EscapeString(usage)) {
			t.Errorf("CLI reference: %q lacks its usage line %q", c.Name, usage)
		}
	}
}

func TestDocsBuildCommand(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"builds", []string{"-out", "OUT"}, 0},
		{"no arguments", []string{"-out", "OUT", "extra"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "public")
			args := append([]string(nil), tt.args...)
			for i, a := range args {
				if a == "OUT" {
					args[i] = out
				}
			}
			ui := cli.NewMockUi()
			c := &DocsBuildCommand{Meta: Meta{Ui: ui}}
			if code := c.Run(args); code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, ui.ErrorWriter.String())
			}
			if tt.code != 0 {
				return
			}
			for _, f := range []string{"index.html", "cli.html", "mission-reference.html", "style.css"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}
