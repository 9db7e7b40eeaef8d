package main

import (
	"sort"
	"strings"

	"github.com/hashicorp/cli"

	"github.com/planetary/planetary/plugins"
	"github.com/planetary/planetary/sdk"
)

// PluginServeCommand serves a built-in agent over go-plugin. The agent's
// catalog runs it as a child process; users do not call it directly.
type PluginServeCommand struct{ Meta }

func (c *PluginServeCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary plugin serve <name>

  Serves the built-in agent <name> as an out-of-process plugin. The agent's
  plugin catalog starts it; running it by hand prints the go-plugin notice.

  Built-in agents: ` + strings.Join(builtinNames(), ", "))
}

func (c *PluginServeCommand) Synopsis() string { return "Serve a built-in agent plugin" }

func (c *PluginServeCommand) Run(args []string) int {
	if len(args) != 1 {
		return cli.RunResultHelp
	}
	factory, ok := plugins.Builtins()[args[0]]
	if !ok {
		return c.fail("Unknown built-in agent %q (known: %s)", args[0], strings.Join(builtinNames(), ", "))
	}
	sdk.Serve(factory)
	return 0
}

func builtinNames() []string {
	var names []string
	for n := range plugins.Builtins() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var _ cli.Command = (*PluginServeCommand)(nil)
