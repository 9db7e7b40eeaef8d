package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/hashicorp/cli"
)

// Version is the planetary release version.
const Version = "0.1.0"

// VersionCommand prints the version.
type VersionCommand struct{ Meta }

func (c *VersionCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary version [-json]

  Prints the planetary version and the Go version, OS and architecture it
  was built for. With -json: {version, go, os, arch}.`)
}

func (c *VersionCommand) Synopsis() string { return "Print the planetary version" }

func (c *VersionCommand) Run(args []string) int {
	fs := c.FlagSet("version", false)
	fs.BoolVar(&c.json, "json", false, "")
	if !c.parse(fs, args) || fs.NArg() != 0 {
		return cli.RunResultHelp
	}
	if c.json {
		return c.printJSON(map[string]string{"version": Version, "go": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH})
	}
	c.Ui.Output(fmt.Sprintf("planetary v%s (%s %s/%s)", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH))
	return 0
}

var _ cli.Command = (*VersionCommand)(nil)
