package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	"github.com/planetary/planetary/plugins/container"
)

// ImageImportCommand imports a root filesystem tar as a container image, so a
// container node can run jobs with no registry.
type ImageImportCommand struct{ Meta }

func (c *ImageImportCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary image import [options] <rootfs.tar> <name:tag>

  Imports a root filesystem tar (for instance one written by
  planetary image build-busybox) into the local image store of podman or
  docker as <name:tag>. No registry is involved, so this works on hosts
  without network access.

  A container node advertises the capability image:<name:tag> for every
  local image, and a container job requires the capability of its payload's
  image: after an import, jobs naming the image are routed to this host's
  container nodes (at their next fingerprint, within fingerprint_interval).
  podman lists an image imported as bb:1 as localhost/bb:1; jobs may use
  either name.

Import Options:

  -runtime=<name>
    The container runtime: podman, docker, or a path to either binary.
    Default: podman
`)
}

func (c *ImageImportCommand) Synopsis() string { return "Import a rootfs tar as a container image" }

func (c *ImageImportCommand) Run(args []string) int {
	fs := c.FlagSet("image import", false)
	runtime := fs.String("runtime", "podman", "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos, "<rootfs.tar>", "<name:tag>") {
		return cli.RunResultHelp
	}
	tarPath, ref := pos[0], pos[1]
	if ref == "" || strings.ContainsAny(ref, " \t\n") {
		return c.fail("Error: invalid image reference %q (want name:tag, e.g. planetary-busybox:1)", ref)
	}
	if st, err := os.Stat(tarPath); err != nil {
		return c.fail("Error: cannot read root filesystem tar: %v", err)
	} else if st.IsDir() {
		return c.fail("Error: %s is a directory; want a root filesystem tar", tarPath)
	}
	ctx, cancel := c.context()
	defer cancel()
	if err := container.ImportRootfs(ctx, *runtime, tarPath, ref); err != nil {
		if errors.Is(err, container.ErrRuntimeMissing) {
			return c.fail("Error: container runtime %q not found on PATH; install it (Debian: apt-get install podman runc) or pass -runtime", *runtime)
		}
		return c.fail("Error: %v", err)
	}
	c.Ui.Output(fmt.Sprintf("Imported %s as %s", tarPath, ref))
	return 0
}

func (c *ImageImportCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictFiles("*.tar")
}

func (c *ImageImportCommand) AutocompleteFlags() complete.Flags {
	return complete.Flags{"-runtime": complete.PredictSet("podman", "docker")}
}

// ImageBuildBusyboxCommand writes a minimal busybox root filesystem tar.
type ImageBuildBusyboxCommand struct{ Meta }

func (c *ImageBuildBusyboxCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary image build-busybox [options] <out.tar>

  Writes a minimal root filesystem tar: a statically linked busybox as
  /bin/busybox, a /bin link per applet, and empty /tmp, /etc, /proc, /dev,
  /sys and /root. Import it with planetary image import to get an image for
  container jobs without a registry:

    planetary image build-busybox bb.tar
    planetary image import bb.tar planetary-busybox:1

Build Options:

  -busybox=<path>
    A statically linked busybox (Debian: apt-get install busybox-static).
    Default: /bin/busybox

  -applets=<list>
    Comma-separated applets to link in /bin.
    Default: ` + strings.Join(container.DefaultBusyboxApplets(), ",") + `
`)
}

func (c *ImageBuildBusyboxCommand) Synopsis() string { return "Write a busybox root filesystem tar" }

func (c *ImageBuildBusyboxCommand) Run(args []string) int {
	fs := c.FlagSet("image build-busybox", false)
	busybox := fs.String("busybox", "/bin/busybox", "")
	applets := fs.String("applets", "", "")
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos, "<out.tar>") {
		return cli.RunResultHelp
	}
	if _, err := os.Stat(*busybox); err != nil {
		return c.fail("Error: busybox binary: %v (Debian: apt-get install busybox-static, or pass -busybox)", err)
	}
	var list []string
	if *applets != "" {
		list = strings.Split(*applets, ",")
	}
	if err := container.WriteBusyboxRootfs(pos[0], *busybox, list); err != nil {
		_ = os.Remove(pos[0])
		return c.fail("Error: %v", err)
	}
	c.Ui.Output(fmt.Sprintf("Wrote %s (busybox from %s)", pos[0], *busybox))
	return 0
}

func (c *ImageBuildBusyboxCommand) AutocompleteArgs() complete.Predictor {
	return complete.PredictFiles("*.tar")
}

func (c *ImageBuildBusyboxCommand) AutocompleteFlags() complete.Flags {
	return complete.Flags{"-busybox": complete.PredictFiles("*"), "-applets": complete.PredictAnything}
}

// imageCommands are the image subcommands.
func imageCommands(m Meta) map[string]cli.CommandFactory {
	return map[string]cli.CommandFactory{
		"image import":        func() (cli.Command, error) { return &ImageImportCommand{Meta: m}, nil },
		"image build-busybox": func() (cli.Command, error) { return &ImageBuildBusyboxCommand{Meta: m}, nil },
	}
}

var (
	_ cli.Command             = (*ImageImportCommand)(nil)
	_ cli.CommandAutocomplete = (*ImageImportCommand)(nil)
	_ cli.Command             = (*ImageBuildBusyboxCommand)(nil)
	_ cli.CommandAutocomplete = (*ImageBuildBusyboxCommand)(nil)
)
