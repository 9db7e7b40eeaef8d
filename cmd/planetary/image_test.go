package main

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/cli"
)

// TestImageCommands runs the image commands against the real filesystem
// (and podman, when installed) and checks exit codes and messages.
func TestImageCommands(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "bb.tar")
	notTar := filepath.Join(dir, "missing.tar")
	_, busyboxErr := os.Stat("/bin/busybox")
	cases := []struct {
		name    string
		cmd     string
		args    []string
		code    int
		out     string // substring of stdout
		err     string // substring of stderr
		busybox bool   // needs /bin/busybox
	}{
		{"import usage", "image import", []string{"only-one"}, cli.RunResultHelp, "", "", false},
		{"import bad flag", "image import", []string{"-x", "a", "b"}, cli.RunResultHelp, "", "", false},
		{"import missing file", "image import", []string{notTar, "bb:1"}, 1, "", "cannot read root filesystem tar", false},
		{"import directory", "image import", []string{dir, "bb:1"}, 1, "", "is a directory", false},
		{"import runtime missing", "image import", []string{"-runtime", "no-such-runtime", "/etc/hostname", "bb:1"}, 1, "", `container runtime "no-such-runtime" not found`, false},
		{"import bad ref", "image import", []string{"/etc/hostname", "b b"}, 1, "", "invalid image reference", false},
		{"build usage", "image build-busybox", nil, cli.RunResultHelp, "", "", false},
		{"build busybox missing", "image build-busybox", []string{"-busybox", filepath.Join(dir, "nope"), out}, 1, "", "busybox-static", false},
		{"build bad applet", "image build-busybox", []string{"-applets", "sh,a/b", filepath.Join(dir, "bad.tar")}, 1, "", "bad applet name", true},
		{"build", "image build-busybox", []string{"-applets", "sh,echo", out}, 0, "Wrote " + out, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.busybox && busyboxErr != nil {
				t.Skip("needs /bin/busybox (apt-get install busybox-static)")
			}
			ui := cli.NewMockUi()
			cmd, err := imageCommands(Meta{Ui: ui})[c.cmd]()
			if err != nil {
				t.Fatal(err)
			}
			if got := cmd.Run(c.args); got != c.code {
				t.Fatalf("exit %d, want %d; stderr %q", got, c.code, ui.ErrorWriter.String())
			}
			if !strings.Contains(ui.OutputWriter.String(), c.out) || !strings.Contains(ui.ErrorWriter.String(), c.err) {
				t.Fatalf("stdout %q stderr %q; want %q / %q", ui.OutputWriter.String(), ui.ErrorWriter.String(), c.out, c.err)
			}
		})
	}
	if busyboxErr != nil {
		return
	}
	t.Run("tar contents", func(t *testing.T) {
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		names := map[string]bool{}
		tr := tar.NewReader(f)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			names[h.Name] = true
		}
		for _, n := range []string{"bin/busybox", "bin/sh", "bin/echo", "tmp/"} {
			if !names[n] {
				t.Errorf("tar lacks %s: %v", n, names)
			}
		}
	})
	t.Run("import with podman", func(t *testing.T) {
		if _, err := exec.LookPath("podman"); err != nil {
			t.Skip("podman not installed (apt-get install podman runc busybox-static)")
		}
		ui := cli.NewMockUi()
		cmd, _ := imageCommands(Meta{Ui: ui})["image import"]()
		if got := cmd.Run([]string{out, "localhost/planetary-cli-test:1"}); got != 0 {
			t.Fatalf("exit %d: %s", got, ui.ErrorWriter.String())
		}
		b, err := exec.Command("podman", "images", "--format", "{{.Repository}}:{{.Tag}}").Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "localhost/planetary-cli-test:1") {
			t.Fatalf("image not listed:\n%s", b)
		}
	})
}

func TestImageCommandShape(t *testing.T) {
	for key, f := range imageCommands(Meta{Ui: cli.NewMockUi()}) {
		t.Run(key, func(t *testing.T) {
			c, _ := f()
			if first := strings.SplitN(c.Help(), "\n", 2)[0]; !strings.HasPrefix(first, "Usage: planetary "+key) {
				t.Errorf("help starts %q", first)
			}
			if s := c.Synopsis(); s == "" || len(s) >= 50 {
				t.Errorf("synopsis %q: want 1..49 chars", s)
			}
		})
	}
}
