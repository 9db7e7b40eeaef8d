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
Usage: planetary version

  Prints the planetary version, the Go version it was built with and the
  plugin protocol version.`)
}

func (c *VersionCommand) Synopsis() string { return "Print the planetary version" }

func (c *VersionCommand) Run(args []string) int {
	if len(args) != 0 {
		return cli.RunResultHelp
	}
	c.Ui.Output(fmt.Sprintf("planetary v%s (%s %s/%s)", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH))
	return 0
}

var _ cli.Command = (*VersionCommand)(nil)
