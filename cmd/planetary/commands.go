package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/cli"
)

// Run runs the CLI with args and returns the exit code.
func Run(args []string) int {
	ui := &cli.BasicUi{Reader: os.Stdin, Writer: os.Stdout, ErrorWriter: os.Stderr}
	return RunWithUi(args, ui)
}

// RunWithUi runs the CLI against ui (tests pass a cli.MockUi).
func RunWithUi(args []string, ui cli.Ui) int {
	c := &cli.CLI{
		Name:                       "planetary",
		Version:                    Version,
		Args:                       args,
		Commands:                   Commands(ui),
		Autocomplete:               true,
		AutocompleteNoDefaultFlags: true,
		HelpWriter:                 os.Stdout,
		ErrorWriter:                os.Stderr,
	}
	code, err := c.Run()
	if err != nil {
		ui.Error(fmt.Sprintf("Error: %v", err))
		return 1
	}
	return code
}

// Commands is the command factory map. Nested commands are keys with spaces.
func Commands(ui cli.Ui) map[string]cli.CommandFactory {
	m := Meta{Ui: ui}
	cmds := map[string]cli.CommandFactory{
		"version":      func() (cli.Command, error) { return &VersionCommand{Meta: m}, nil },
		"agent":        func() (cli.Command, error) { return &AgentCommand{Meta: m}, nil },
		"plugin serve": func() (cli.Command, error) { return &PluginServeCommand{Meta: m}, nil },
		"docs build":   func() (cli.Command, error) { return &DocsBuildCommand{Meta: m}, nil },
		"docs serve":   func() (cli.Command, error) { return &DocsServeCommand{Meta: m}, nil },

		"drill acceptance": func() (cli.Command, error) { return &DrillAcceptanceCommand{Meta: m}, nil },
	}
	for k, f := range apiCommands(m) {
		cmds[k] = f
	}
	for k, f := range runCommands(m) {
		cmds[k] = f
	}
	for k, f := range benchCommands(m) {
		cmds[k] = f
	}
	for k, f := range imageCommands(m) {
		cmds[k] = f
	}
	addGroups(m, cmds)
	return cmds
}
