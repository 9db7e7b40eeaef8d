package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/hashicorp/cli"

	"github.com/planetary/planetary/website"
	"github.com/planetary/planetary/website/build"
)

// DocsBuildCommand renders the documentation site into a directory.
type DocsBuildCommand struct{ Meta }

func (c *DocsBuildCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary docs build [options]

  Renders the documentation site: the Markdown pages built into this binary,
  the mission.hcl reference generated from the schema the parser uses and
  the CLI reference generated from every command's help text. Every internal
  link and anchor is checked; a broken one fails the build. The output is
  static HTML and one stylesheet, with no JavaScript and no external assets.

Options:

  -out=<dir>
    Output directory. Default: website/public`)
}

func (c *DocsBuildCommand) Synopsis() string { return "Build the documentation site" }

func (c *DocsBuildCommand) Run(args []string) int {
	fs := c.FlagSet("docs build", false)
	out := fs.String("out", "website/public", "")
	if !c.parse(fs, args) {
		return 1
	}
	if fs.NArg() != 0 {
		return c.fail("Error: docs build takes no arguments, got %q", fs.Args())
	}
	site, err := buildSite(c.Ui)
	if err != nil {
		return c.fail("Error: %v", err)
	}
	if err := site.Write(*out); err != nil {
		return c.fail("Error: %v", err)
	}
	c.Ui.Output(fmt.Sprintf("Built %d files into %s", len(site.Files), *out))
	return 0
}

// DocsServeCommand serves the documentation site over HTTP.
type DocsServeCommand struct{ Meta }

func (c *DocsServeCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary docs serve [options]

  Builds the documentation site in memory and serves it over HTTP until
  interrupted.

Options:

  -addr=<host:port>
    Listen address. Default: 127.0.0.1:4680`)
}

func (c *DocsServeCommand) Synopsis() string { return "Serve the documentation site" }

func (c *DocsServeCommand) Run(args []string) int {
	fs := c.FlagSet("docs serve", false)
	addr := fs.String("addr", "127.0.0.1:4680", "")
	if !c.parse(fs, args) {
		return 1
	}
	if fs.NArg() != 0 {
		return c.fail("Error: docs serve takes no arguments, got %q", fs.Args())
	}
	site, err := buildSite(c.Ui)
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c.Ui.Output(fmt.Sprintf("Serving the documentation at http://%s/", ln.Addr()))
	if err := build.Serve(ctx, ln, site.Handler()); err != nil {
		return c.fail("Error: %v", err)
	}
	return 0
}

// buildSite renders the site with the CLI reference of this binary.
func buildSite(ui cli.Ui) (*build.Site, error) {
	cmds, err := commandDocs(ui)
	if err != nil {
		return nil, err
	}
	cfg := build.DefaultConfig()
	cfg.Content = website.Content()
	cfg.Stylesheet = website.Stylesheet()
	cfg.Commands = cmds
	cfg.Version = Version
	b, err := build.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("docs: %w", err)
	}
	site, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("docs: %w", err)
	}
	return site, nil
}

// commandDocs builds every command of Commands and records its help.
func commandDocs(ui cli.Ui) ([]build.CommandDoc, error) {
	factories := Commands(ui)
	names := make([]string, 0, len(factories))
	for name := range factories {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]build.CommandDoc, 0, len(names))
	for _, name := range names {
		cmd, err := factories[name]()
		if err != nil {
			return nil, fmt.Errorf("docs: command %q: %w", name, err)
		}
		_, isGroup := cmd.(*GroupCommand)
		out = append(out, build.CommandDoc{Name: name, Synopsis: cmd.Synopsis(), Help: cmd.Help(),
			Exits: renderExits(commandExits(name, isGroup))})
	}
	return out, nil
}

var (
	_ cli.Command = (*DocsBuildCommand)(nil)
	_ cli.Command = (*DocsServeCommand)(nil)
)
